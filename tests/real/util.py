"""Helpers for the real-dump tests: page digests by our reader and by
libkdumpfile, and running the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from needs import REQUIRE, need  # noqa: F401 - the real-dump tests import them from here

REPO = Path(__file__).resolve().parents[2]
RIG = Path(os.environ.get("PMD_RIG_DIR", Path.home() / ".cache/pymakedumpfile/rig"))
LKDF = REPO / "tests" / "tools" / "lkdf_pages.py"


def rig_release(dump_dir: Path) -> str:
    """The release of the kernel the rig booted to make the dumps in ``dump_dir``, from the
    rig's own run record (rig-run.json): the expected value of every release a reader reports.
    Debian replaces its kernel package often, so no test names a release."""
    rec = json.loads((dump_dir / "rig-run.json").read_text())
    return str(rec["kernel"])


def run_cli(*args: str, check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([sys.executable, "-m", "pymakedumpfile", *args], capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if check and p.returncode != 0:
        raise AssertionError(f"pymakedumpfile {' '.join(args)} exited {p.returncode}:\n{p.stderr}")
    return p


def our_digests(paths: str | os.PathLike[str] | Sequence[str]) -> dict[int, str]:
    """pfn -> digest of every page our reader says the dump holds."""
    from pymakedumpfile import open_dump

    out: dict[int, str] = {}
    with open_dump(paths) as ctx:  # type: ignore[arg-type]
        ps = ctx.page_size
        for a, b in ctx.reader.pagemap.runs():
            while a < b:
                n = min(256, b - a)
                buf = ctx.reader.read_pages(a, n)
                for i in range(n):
                    out[a + i] = hashlib.blake2b(buf[i * ps : (i + 1) * ps], digest_size=8).hexdigest()
                a += n
    return out


_LKDF_CACHE: dict[tuple[str, float, int], dict[str, object]] = {}


def lkdf(path: str | os.PathLike[str], *more: str | os.PathLike[str], max_pfn: int | None = None,
         machphys: bool = False) -> dict[str, object]:
    """libkdumpfile's view of a dump (or of a split set: ``path, *more``):
    max_pfn, release, VMCOREINFO keys, page digests."""
    st = os.stat(path)
    key = (os.fspath(path) + "".join("," + os.fspath(m) for m in more) + ("+m" if machphys else ""), st.st_mtime,
           st.st_size)
    if key not in _LKDF_CACHE:
        extra = (["--max-pfn", str(max_pfn)] if max_pfn is not None else []) + (["--machphys"] if machphys else [])
        cmd = ["/usr/bin/python3", str(LKDF), os.fspath(path), *map(os.fspath, more), *extra]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise AssertionError(f"libkdumpfile could not read {path}:\n{p.stderr[-2000:]}")
        d = json.loads(p.stdout)
        d["pages"] = {int(k): v for k, v in d["pages"].items()}
        _LKDF_CACHE[key] = d
    return _LKDF_CACHE[key]


def diff_pages(a: dict[int, str], b: dict[int, str], limit: int = 10) -> str:
    only_a = sorted(set(a) - set(b))
    only_b = sorted(set(b) - set(a))
    differ = sorted(p for p in set(a) & set(b) if a[p] != b[p])
    return (f"only in first: {len(only_a)} {[hex(p) for p in only_a[:limit]]}; "
            f"only in second: {len(only_b)} {[hex(p) for p in only_b[:limit]]}; "
            f"different: {len(differ)} {[hex(p) for p in differ[:limit]]}")


ZERO_DIGEST = hashlib.blake2b(bytes(4096), digest_size=8).hexdigest()


def assert_same_pages(got: dict[int, str], want: dict[int, str], *, zero_may_differ: bool = True) -> None:
    """Pages present on both sides are identical; a page present on one side
    only is allowed solely when it is a zero page and ``zero_may_differ``
    (libkdumpfile reads the unbacked edges of ELF PT_LOADs as zeros, and an
    ELF file cannot tell an excluded page from a hole)."""
    differ = [p for p in set(got) & set(want) if got[p] != want[p]]
    one_sided = {p: d for p, d in {**{p: got[p] for p in set(got) - set(want)},
                                    **{p: want[p] for p in set(want) - set(got)}}.items()}
    bad_one_sided = [p for p, d in one_sided.items() if not (zero_may_differ and d == ZERO_DIGEST)]
    assert not differ and not bad_one_sided, diff_pages(got, want)


def zero_pages_written(w, tmp_path: Path) -> int:  # type: ignore[no-untyped-def]
    """The zero pages that writing the kdump file of write context ``w`` counts (they are
    counted while writing); the file, as large as the dump at low levels, is removed at once."""
    from pymakedumpfile.output import write_dump

    out = tmp_path / "zero-count"
    try:
        res = write_dump(w, str(out), threads=2)
        assert not res.incomplete, res.reason
        return int(res.zero_pages)
    finally:
        out.unlink(missing_ok=True)


def qemu_user_tool(arch: str, root: Path, exe: str = "usr/bin/makedumpfile") -> list[str]:
    """The command line of a Debian tool of another architecture, unpacked in ``root`` by
    tests/rig/make-dumps.sh and run under ``qemu-ARCH-static`` (the test needs both)."""
    import shutil

    qemu = shutil.which(f"qemu-{arch}-static")
    need(qemu is not None and (root / exe).exists(),
         f"no qemu-{arch}-static or no {root / exe} (run-tests.sh installs qemu-user-static; make-dumps.sh the tool)")
    return [str(qemu), "-L", str(root), str(root / exe)]


_LKDF_REGS = """
import json, sys, kdumpfile
k = kdumpfile.kdumpfile(sys.argv[1])
cpus = k.attr["cpu"]
print(json.dumps([{"pid": int(cpus[str(i)]["pid"]), "regs": {n: int(v) for n, v in cpus[str(i)]["reg"].items()}}
                  for i in range(int(cpus["number"]))]))
"""


def lkdf_registers(path: Path) -> list[dict[str, Any]]:
    """Each CPU's pid and registers (by libkdumpfile's names) as libkdumpfile reads the dump."""
    p = subprocess.run(["/usr/bin/python3", "-c", _LKDF_REGS, str(path)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return list(json.loads(p.stdout))


def check_read_back(out: Path, source: Path, release: str, elf: bool, least: int, machphys: bool = False) -> None:
    """Every page of our output ``out`` reads back equal through libkdumpfile and through our
    reader, and equal to the page of ``source``; at least ``least`` pages (an ELF output may
    hold zero pages libkdumpfile shows and our reader leaves out as excluded).  ``machphys``:
    libkdumpfile is asked for machine physical addresses (arm: it maps no kernel physical ones)."""
    theirs = lkdf(out, machphys=machphys)
    assert theirs["release"] == release
    mine, src = our_digests(out), our_digests(source)
    pages: dict[int, str] = theirs["pages"]  # type: ignore[assignment]
    assert pages == mine or elf and set(mine) <= set(pages)
    assert all(pages[p] == d for p, d in mine.items())
    assert all(src[p] == d for p, d in mine.items()) and len(mine) >= least


def s390_ram(qemu_elf: Path) -> tuple[int, int]:
    """(file offset, size) of the one range of storage from address 0 in QEMU's big-endian ELF
    dump of an s390x guest (its program headers read with struct)."""
    import struct

    with open(qemu_elf, "rb") as f:
        eh = f.read(64)
        (phoff,) = struct.unpack_from(">Q", eh, 32)
        phentsize, phnum = struct.unpack_from(">HH", eh, 54)
        f.seek(phoff)
        ph = f.read(phentsize * phnum)
    loads = [struct.unpack_from(">IIQQQQQQ", ph, i * phentsize) for i in range(phnum)]
    ram = [(paddr, off, filesz) for t, _, off, _, paddr, filesz, _, _ in loads if t == 1]
    assert len(ram) == 1 and ram[0][0] == 0, ram  # one range of storage from 0
    return ram[0][1], ram[0][2]


def ioremaps(d: Path, skip: tuple[str, ...] = ()) -> list[tuple[int, int]]:
    """(virtual, physical) of each ioremap'ed area the rig's guest listed in /proc/vmallocinfo
    (``guest-vmallocinfo.txt`` of run folder ``d``), but for lines naming any of ``skip``."""
    import re

    out = []
    for line in (d / "guest-vmallocinfo.txt").read_text().splitlines():
        m = re.match(r"0x([0-9a-f]+)-0x[0-9a-f]+\s+\d+ .*?phys=0x([0-9a-f]+) ioremap\b", line)
        if m and not any(s in line for s in skip):
            out.append((int(m[1], 16), int(m[2], 16)))
    assert out, f"{d}/guest-vmallocinfo.txt lists no ioremap area"
    return out


def prstatus_notes(path: Path, nregs: int) -> list[tuple[int, list[int]]]:
    """(pr_pid, pr_reg) of each NT_PRSTATUS note of a little-endian ELF vmcore, read here with
    struct from the kernel's struct elf_prstatus: pr_pid and ``nregs`` registers of the pointer's
    width at 24 and 72 (a 32-bit kernel) or 32 and 112 (a 64-bit one)."""
    import struct

    data = path.read_bytes()[: 1 << 20]
    wide = data[4] == 2
    if wide:
        phoff, = struct.unpack_from("<Q", data, 32)
        phentsize, phnum = struct.unpack_from("<HH", data, 54)
    else:
        phoff, = struct.unpack_from("<I", data, 28)
        phentsize, phnum = struct.unpack_from("<HH", data, 42)
    pid_at, reg_at, reg = (32, 112, "Q") if wide else (24, 72, "I")
    out = []
    for i in range(phnum):
        ph = phoff + i * phentsize
        if wide:
            p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", data, ph)
        else:
            p_type, p_offset, _, _, p_filesz = struct.unpack_from("<IIIII", data, ph)
        at, end = p_offset, p_offset + p_filesz
        while p_type == 4 and at + 12 <= end:  # PT_NOTE
            namesz, descsz, ntype = struct.unpack_from("<III", data, at)
            desc = at + 12 + (namesz + 3) // 4 * 4
            if ntype == 1:  # NT_PRSTATUS
                regs = struct.unpack_from(f"<{nregs}{reg}", data, desc + reg_at)
                out.append((struct.unpack_from("<i", data, desc + pid_at)[0], list(regs)))
            at = desc + (descsz + 3) // 4 * 4
    return out


def log_begins_with(ours: list[str], guest: list[str]) -> bool:
    """Our --dump-dmesg lines begin with the guest's own ``dmesg`` (taken before the panic): line
    for line the same, but for the later lines of a record holding several (a message with a
    newline, such as a slow TCG guest's "Probably due to long platform interrupts"), which
    makedumpfile, and we, indent by the width of the time stamp where the guest's dmesg repeats
    the time stamp."""
    import re

    if len(ours) < len(guest):
        return False
    for o, g in zip(ours, guest):
        m = re.match(r"\[[ 0-9.]+\] ", g)
        if o != g and not (m and o == " " * m.end() + g[m.end():]):
            return False
    return True
