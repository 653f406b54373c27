"""I/O errors on chosen pages of the input (issue 8): the dump is still
written, those pages are excluded and reported, every other page is right,
and the exit status says so unless --ignore-read-errors.

The machine has no device-mapper (no ``error`` target), so the faults come
from tests/tools/eio_shim.c, preloaded into the tool: every pread(2) of the
input that reaches a chosen byte range fails with EIO (a read starting
before it is cut short there, as on a disk with a bad sector).  The file
offsets of the chosen pages are computed here from the ELF program headers
and the kdump header, descriptors and bitmap, independently of our readers.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from util import REPO, lkdf, need, our_digests

ZERO = hashlib.blake2b(bytes(4096), digest_size=8).hexdigest()


def elf_loads(path: Path) -> list[tuple[int, int, int, int]]:
    """(vaddr, paddr, offset, filesz) of each PT_LOAD of an ELF64 little-endian vmcore."""
    with open(path, "rb") as f:
        eh = f.read(64)
        phoff, = struct.unpack_from("<Q", eh, 32)
        phentsize, phnum = struct.unpack_from("<HH", eh, 54)
        f.seek(phoff)
        ph = f.read(phentsize * phnum)
    out = []
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, p_paddr, p_filesz = struct.unpack_from("<IIQQQQ", ph, i * phentsize)
        if p_type == 1:
            out.append((p_vaddr, p_paddr, p_offset, p_filesz))
    return out


def choose_bad(path: Path) -> list[int]:
    """The pfns to make unreadable, chosen from the vmcore's own program headers (KASLR moves
    the kernel-text PT_LOAD, which repeats part of RAM, from one boot to the next): a run of
    four across a 1024-page read batch of the writers (batches count from the start of the
    largest RAM PT_LOAD), one page alone, and one in the last PT_LOAD.  Each is held by exactly
    one PT_LOAD (a page held twice has two file ranges) and is not a zero page (so every dump
    level keeps it and a kdump file has its data)."""
    loads = elf_loads(path)
    spans = [(pa >> 12, (pa + size) >> 12) for _, pa, _, size in loads]
    with open(path, "rb") as f:
        def usable(pfn: int) -> bool:
            held = [(a, off) for (a, b), (_, _, off, _) in zip(spans, loads) if a <= pfn < b]
            if len(held) != 1:
                return False
            a, off = held[0]
            f.seek(off + ((pfn - a) << 12))
            return f.read(4096).strip(b"\0") != b""

        ram = max(spans, key=lambda s: s[1] - s[0])
        run = next([b - 2, b - 1, b, b + 1] for b in range(ram[0] + 0x9000, ram[1] - 2, 0x400)
                   if all(usable(p) for p in range(b - 2, b + 2)))
        lone = next(p for p in range(run[-1] + 0x1023, ram[1]) if usable(p))
        last = spans[-1]
        tail = next(p for p in range(last[0] + (last[1] - last[0]) // 4, last[1]) if usable(p))
    return [*run, lone, tail]


@pytest.fixture(scope="module")
def bad_pfns(mem512: Path) -> list[int]:
    bad = choose_bad(mem512 / "vmcore.elf")
    assert len(set(bad)) == 6
    return bad


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    need(cc is not None, "no C compiler for the fault injector")
    so = tmp_path_factory.mktemp("eio") / "eio_shim.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(so), str(REPO / "tests/tools/eio_shim.c"), "-ldl"],
                   check=True)
    return so


def elf_ranges(path: Path, pfns: list[int]) -> list[tuple[int, int]]:
    """File byte ranges holding ``pfns`` in an ELF64 little-endian vmcore."""
    out = []
    for _, p_paddr, p_offset, p_filesz in elf_loads(path):
        for pfn in pfns:
            a = pfn * 4096
            if p_paddr <= a < p_paddr + p_filesz:
                out.append((p_offset + a - p_paddr, p_offset + a - p_paddr + 4096))
    return out


def kdump_ranges(path: Path, pfns: list[int]) -> list[tuple[int, int]]:
    """File byte ranges of the page data of ``pfns`` in a 64-bit
    kdump-compressed file: the descriptor is the pfn's rank in bitmap 2."""
    with open(path, "rb") as f:
        hdr = f.read(4096)
        assert hdr[:8] == b"KDUMP   "
        block_size, sub_hdr_size, bitmap_blocks = struct.unpack_from("<iii", hdr, 428)  # after status (timeval at 408)
        f.seek((1 + sub_hdr_size) * block_size)
        bitmaps = f.read(bitmap_blocks * block_size)
        bm2 = bitmaps[len(bitmaps) // 2 :]
        pd_off = (1 + sub_hdr_size + bitmap_blocks) * block_size
        out = []
        for pfn in pfns:
            assert bm2[pfn >> 3] >> (pfn & 7) & 1, f"pfn {pfn:#x} is not in {path}"
            rank = (sum(bin(b).count("1") for b in bm2[: pfn >> 3])
                    + bin(bm2[pfn >> 3] & ((1 << (pfn & 7)) - 1)).count("1"))
            f.seek(pd_off + 24 * rank)
            offset, size, _flags, _ = struct.unpack("<qIIQ", f.read(24))
            out.append((offset, offset + size))
    return out


def run_faulty(shim: Path, src: Path, ranges: list[tuple[int, int]], log: Path,
               *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LD_PRELOAD=str(shim), PMD_EIO_PATH=str(src), PMD_EIO_LOG=str(log),
               PMD_EIO_RANGES=",".join(f"{a:#x}-{b:#x}" for a, b in ranges))
    return subprocess.run([sys.executable, "-m", "pymakedumpfile", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=600)


def reported(stderr: str) -> set[int]:
    """The pfns the one report line names."""
    lines = [ln for ln in stderr.splitlines() if "could not be read and were excluded" in ln]
    assert len(lines) == 1, stderr
    m = re.search(r"\(pfn ([^)]*)\)", lines[0])
    assert m, lines[0]
    out: set[int] = set()
    for part in m.group(1).split(", "):
        a, _, b = part.partition("-")
        out.update(range(int(a, 16), int(b or a, 16) + 1))
    return out


def clean(src: Path, tmp: Path, *opts: str) -> dict[int, str]:
    out = tmp / "clean"
    p = subprocess.run([sys.executable, "-m", "pymakedumpfile", *opts, str(src), str(out)], capture_output=True,
                       text=True, cwd=REPO)
    assert p.returncode == 0, p.stderr
    return lkdf(out)["pages"]  # type: ignore[return-value]


def test_kdump_output_excludes_and_reports_unreadable_pages(mem512: Path, shim: Path, tmp_path: Path,
                                                           bad_pfns: list[int], libkdumpfile: str, crash: str,
                                                           makedumpfile: str, release: str) -> None:
    src = mem512 / "vmcore.elf"
    ranges = elf_ranges(src, bad_pfns)
    assert len(ranges) == len(bad_pfns)
    out, log = tmp_path / "dump", tmp_path / "eio.log"
    p = run_faulty(shim, src, ranges, log, "-l", "-d", "1", "--message-level", "31", str(src), str(out))
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr
    assert log.exists() and log.read_text().strip(), "the injector never failed a read"
    assert reported(p.stdout + p.stderr) == set(bad_pfns)
    assert f"{src}: 6 pages could not be read" in p.stderr and "Input/output error" in p.stderr
    assert re.search(r"Unreadable pages\s+: 0x0+6\b", p.stdout)  # the report, on stdout
    got = lkdf(out)["pages"]
    want = {pfn: h for pfn, h in clean(src, tmp_path, "-l", "-d", "1").items() if pfn not in bad_pfns}
    assert got == want  # the bad pages excluded, every other page right
    assert our_digests(out) == want
    r = subprocess.run([crash, "--osrelease", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == release, r.stdout + r.stderr
    # makedumpfile reads the descriptors by bitmap rank: a refilter sees the same pages
    again = tmp_path / "again"
    r = subprocess.run([makedumpfile, "-d", "0", str(out), str(again)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert lkdf(again)["pages"] == want


def test_ignore_read_errors_exits_zero(mem512: Path, shim: Path, tmp_path: Path, bad_pfns: list[int]) -> None:
    src = mem512 / "vmcore.elf"
    out = tmp_path / "dump"
    p = run_faulty(shim, src, elf_ranges(src, bad_pfns[:1]), tmp_path / "eio.log", "-l", "-d", "31",
                   "--ignore-read-errors", str(src), str(out))
    # the page may be filtered out at level 31 before it is read; when read, it is reported
    assert p.returncode == 0, p.stderr
    with_report = "could not be read and were excluded" in p.stderr
    assert with_report == (tmp_path / "eio.log").exists()


def test_elf_output_fills_unreadable_pages_with_zeros(mem512: Path, shim: Path, tmp_path: Path,
                                                     libkdumpfile: str, bad_pfns: list[int]) -> None:
    src = mem512 / "vmcore.elf"
    out = tmp_path / "dump"
    p = run_faulty(shim, src, elf_ranges(src, bad_pfns), tmp_path / "eio.log", "-E", "-d", "1", str(src), str(out))
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert reported(p.stdout + p.stderr) == set(bad_pfns)
    got = lkdf(out)["pages"]
    want = clean(src, tmp_path, "-E", "-d", "1")
    assert all(got[pfn] == ZERO for pfn in bad_pfns)
    assert {k: v for k, v in got.items() if k not in bad_pfns} == {k: v for k, v in want.items() if k not in bad_pfns}


def test_kdump_input_with_unreadable_page_data(mem512: Path, shim: Path, tmp_path: Path, libkdumpfile: str,
                                               bad_pfns: list[int]) -> None:
    src = mem512 / "mdf-ref" / "dump.l.d1"  # makedumpfile's file: compressed pages
    bad = [bad_pfns[2], bad_pfns[5]]
    out = tmp_path / "dump"
    p = run_faulty(shim, src, kdump_ranges(src, bad), tmp_path / "eio.log", "-c", "-d", "0", str(src), str(out))
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert reported(p.stderr) == set(bad)
    src_pages = lkdf(src)["pages"]
    assert lkdf(out)["pages"] == {k: v for k, v in src_pages.items() if k not in bad}  # type: ignore[union-attr]


def test_split_output_parts_agree_on_unreadable_pages(mem512: Path, shim: Path, tmp_path: Path, libkdumpfile: str,
                                                      crash: str, release: str, bad_pfns: list[int]) -> None:
    src = mem512 / "vmcore.elf"
    parts = [tmp_path / "p1", tmp_path / "p2"]
    p = run_faulty(shim, src, elf_ranges(src, bad_pfns), tmp_path / "eio.log", "--split", "-l", "-d", "1",
                   "--splitblock-size", str(64 << 10), str(src), *map(str, parts))
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert reported(p.stdout + p.stderr) == set(bad_pfns)
    want = {pfn: h for pfn, h in clean(src, tmp_path, "-l", "-d", "1").items() if pfn not in bad_pfns}
    assert our_digests([str(x) for x in parts]) == want  # our reader checks that the parts' bitmaps agree
    got = lkdf(parts[0], parts[1], max_pfn=0x20000)["pages"]
    assert got == want
    r = subprocess.run([crash, "--osrelease", str(parts[0])], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == release, r.stdout + r.stderr
