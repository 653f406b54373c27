"""-i, --info/--json, and progress under a terminal, on the real dump."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from util import REPO, run_cli

from pymakedumpfile import open_dump
from pymakedumpfile.input import open_reader


def test_i_vmcoreinfo_gives_same_bitmap(mem512: Path, tmp_path: Path, release: str) -> None:
    vm = mem512 / "vmcore.elf"
    with open_dump(vm) as c:
        (tmp_path / "vmcoreinfo").write_bytes(c.attr["linux.vmcoreinfo.raw"])
    run_cli("-l", "-d", "31", "--message-level", "0", str(vm), str(tmp_path / "plain"))
    run_cli("-l", "-d", "31", "--message-level", "0", "-i", str(tmp_path / "vmcoreinfo"), str(vm), str(tmp_path / "i"))
    a, b = open_reader(tmp_path / "plain"), open_reader(tmp_path / "i")
    assert bytes(a.pagemap_full.buf) == bytes(b.pagemap_full.buf) and a.header == b.header
    # a VMCOREINFO of another kernel is refused in one line
    other = (tmp_path / "vmcoreinfo").read_bytes().replace(b"OSRELEASE=" + release.encode() + b"\n",
                                                             b"OSRELEASE=5.10.0-1-amd64\n")
    assert other != (tmp_path / "vmcoreinfo").read_bytes()
    (tmp_path / "other").write_bytes(other)
    p = run_cli("-d", "31", "-i", str(tmp_path / "other"), str(vm), str(tmp_path / "x"), check=False)
    assert p.returncode == 2 and "5.10.0-1-amd64" in p.stderr and "Traceback" not in p.stderr  # WRONG_RELEASE
    assert not (tmp_path / "x").exists()


def test_info_json(mem512: Path, release: str) -> None:
    p = run_cli("--info", "--json", str(mem512 / "mdf-ref/dump.l.d31"))
    r = json.loads(p.stdout)
    assert r["format"] == "kdump" and r["kdump"]["dump_level"] == 31 and r["compression"] == "lzo"
    assert r["kernel"]["release"] == release and r["arch"] == "x86_64"
    ref = open_reader(mem512 / "mdf-ref/dump.l.d31")
    assert r["pages"]["stored"] == ref.pagemap.count() and r["pages"]["ram"] == ref.memmap.count()
    # the categories of the whole memory, from the struct pages the dump kept,
    # equal makedumpfile's counts when it filtered the original vmcore
    summ = {c["case"]: c["stats"] for c in json.loads((mem512 / "mdf-ref/summary.json").read_text())["cases"]}
    for k in ("cache", "cache_private", "user", "free"):
        assert r["categories"][k] == summ["l-d31"][k], k
    p = run_cli("--info", *(str(mem512 / f"mdf-ref/split.l.d31.{i}") for i in (1, 2, 3)))
    assert "Split part" in p.stdout


def _run_with_pty_stderr(args: list[str]) -> tuple[int, bytes, bytes]:
    """Run the CLI with stderr on a pseudo-terminal and stdout on a pipe."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal of 100 columns
    import threading

    p = subprocess.Popen([sys.executable, "-m", "pymakedumpfile", *args], stdout=subprocess.PIPE, stderr=slave,
                         cwd=REPO)
    os.close(slave)
    outs: list[bytes] = []
    reader = threading.Thread(target=lambda: outs.append(p.stdout.read()))  # type: ignore[union-attr]
    reader.start()  # drain stdout meanwhile: -F writes megabytes there
    err = b""
    while True:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
        elif p.poll() is not None:
            break
    reader.join()
    out = outs[0]
    p.wait()
    os.close(master)
    return p.returncode, out, err


def test_progress_bar_on_terminal(mem512: Path, tmp_path: Path) -> None:
    rc, out, err = _run_with_pty_stderr(["-l", "-d", "1", str(mem512 / "vmcore.elf"), str(tmp_path / "d")])
    assert rc == 0
    assert b"Completed." in out and b"Copying data" not in out  # messages on stdout, as makedumpfile's
    assert b"Copying data" in err and b"page" in err and b"\r" in err  # a tqdm bar redrawn in place
    rc, out, err = _run_with_pty_stderr(["--message-level", "0", "-l", "-d", "1", str(mem512 / "vmcore.elf"),
                                         str(tmp_path / "e")])
    assert rc == 0 and out == b"" and err == b""
    rc, out, err = _run_with_pty_stderr(["-F", "-l", "-d", "31", str(mem512 / "vmcore.elf")])
    assert rc == 0 and out[:12] == b"makedumpfile" and out[-16:] == b"\xff" * 16  # only the stream
    assert b"Copying data" in err


def test_info_registers_equal_libkdumpfile(mem512: Path, libkdumpfile: str) -> None:
    """--info --json: each CPU's pid and registers from its PRSTATUS note, as libkdumpfile reads
    them (the arm64 runs are checked the same way in test_arm64_real)."""
    from util import lkdf_registers

    theirs = lkdf_registers(mem512 / "vmcore.elf")
    mine = json.loads(run_cli("--info", "--json", str(mem512 / "vmcore.elf")).stdout)["registers"]
    assert [(c["pid"], c["regs"]) for c in mine] == [(t["pid"], t["regs"]) for t in theirs] and len(mine) == 2
    assert any(c["regs"]["rip"] >> 31 == 0x1FFFFFFFF for c in mine)  # kernel text (-2 GiB and up)
