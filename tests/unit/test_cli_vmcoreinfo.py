"""-i VMCOREINFO as makedumpfile applies it (issue 15, points 1 and 3): a file made from the
kernel image (-g) holds link-time symbols, which the dump's KASLR offset moves; the release must
be the dump's, else exit 2 (makedumpfile's WRONG_RELEASE).  The -g file is made here from the
sample dump's own VMCOREINFO, as -g would write it (symbols less KERNELOFFSET, no KERNELOFFSET
line), and makedumpfile is run with the same file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from needs import cli_only, need_tool

from pymakedumpfile import open_dump

pytestmark = cli_only
REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "vmcore-6.1.0-56-amd64-c-d31.kdump"


def g_file(path: Path, release: str | None = None) -> Path:
    with open_dump(str(SAMPLE)) as ctx:
        text = ctx.reader.vmcoreinfo.raw.split(b"\0", 1)[0].decode()
    kaslr = int(next(ln for ln in text.splitlines() if ln.startswith("KERNELOFFSET=")).split("=")[1], 16)
    assert kaslr  # the sample is of a KASLR kernel
    out = []
    for ln in text.splitlines():
        key, _, value = ln.partition("=")
        if key == "KERNELOFFSET":
            continue
        if key.startswith("SYMBOL("):
            ln = f"{key}={int(value, 16) - kaslr:x}"
        if key == "OSRELEASE" and release:
            ln = f"OSRELEASE={release}"
        out.append(ln)
    path.write_text("\n".join(out) + "\n")
    return path


def ours(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pymakedumpfile", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=300)


def test_i_moves_symbols_by_the_dumps_kaslr_offset(tmp_path: Path) -> None:
    mdf = need_tool("makedumpfile")
    vmci = g_file(tmp_path / "vmci")
    p = subprocess.run([mdf, "-l", "-d", "31", "-i", str(vmci), str(SAMPLE), str(tmp_path / "theirs")],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    q = ours("-l", "-d", "31", "-i", str(vmci), str(SAMPLE), str(tmp_path / "ours"))
    assert q.returncode == 0, q.stderr
    with open_dump(str(tmp_path / "ours")) as a, open_dump(str(tmp_path / "theirs")) as b:
        assert a.pagemap.to_bytes() == b.pagemap.to_bytes()
        assert a.attr["memory.pagemap"].to_bytes() == b.attr["memory.pagemap"].to_bytes()
    # the kernel log through the same file: as without -i
    assert ours("--dump-dmesg", "-i", str(vmci), str(SAMPLE), str(tmp_path / "log-i")).returncode == 0
    assert ours("--dump-dmesg", str(SAMPLE), str(tmp_path / "log")).returncode == 0
    assert (tmp_path / "log-i").read_bytes() == (tmp_path / "log").read_bytes()


def test_i_of_another_release_exits_2(tmp_path: Path) -> None:
    mdf = need_tool("makedumpfile")
    vmci = g_file(tmp_path / "vmci", release="6.1.0-99-amd64")
    p = subprocess.run([mdf, "-l", "-d", "31", "-i", str(vmci), str(SAMPLE), str(tmp_path / "theirs")],
                       capture_output=True, text=True, timeout=300)
    q = ours("-l", "-d", "31", "-i", str(vmci), str(SAMPLE), str(tmp_path / "ours"))
    assert p.returncode == 2 and q.returncode == 2, (p.returncode, q.stderr)
    assert "6.1.0-99-amd64" in q.stderr and "Traceback" not in q.stderr
    assert not (tmp_path / "ours").exists()


def test_i_copied_from_a_dump_is_not_moved_twice(tmp_path: Path) -> None:
    """A VMCOREINFO copied from a dump has a KERNELOFFSET line and moved symbols: taken as it
    is (makedumpfile moves it again and fails; a deliberate difference, docs/compatibility.md)."""
    with open_dump(str(SAMPLE)) as ctx:
        (tmp_path / "copy").write_bytes(ctx.reader.vmcoreinfo.raw.split(b"\0", 1)[0])
    q = ours("-l", "-d", "31", "-i", str(tmp_path / "copy"), str(SAMPLE), str(tmp_path / "out"))
    assert q.returncode == 0, q.stderr


@pytest.mark.parametrize("missing", ["SYMBOL(mem_section)", "OFFSET(page.flags)"])
def test_i_lines_missing_come_from_the_dump(tmp_path: Path, missing: str) -> None:
    vmci = g_file(tmp_path / "vmci")
    vmci.write_text("".join(ln + "\n" for ln in vmci.read_text().splitlines() if not ln.startswith(missing)))
    q = ours("-l", "-d", "31", "-i", str(vmci), str(SAMPLE), str(tmp_path / "out"))
    assert q.returncode == 0, q.stderr
