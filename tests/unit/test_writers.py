"""Differential tests of our writers against makedumpfile on synthetic ELF vmcores.

Inputs are ELF64 x86_64 vmcores made by ``tests/gen`` (an independent
builder), with ``x86_64_kernel()`` pages and VMCOREINFO so that makedumpfile
accepts them.  Both tools convert the same input; we compare

* ``-E -d 1``: the program headers and the whole file, byte for byte;
* kdump output (``-d 0``/``-d 1``, uncompressed, ``-c``, ``-l``): every main
  and sub header field, both bitmaps, which pfns point at the shared zero
  page, and every page as libkdumpfile (an independent reader) reads it.

Known and accepted differences, each checked precisely rather than ignored:

* The partial last page of a PT_LOAD that ends mid-page.  We keep it (it is
  RAM, and its bytes are in the input).  makedumpfile keeps it only in
  non-cyclic mode (``--work-dir``, or when its automatic cyclic buffer holds
  both bitmaps) and only from 1.7.6 on: before, ``exclude_nodata_pages``
  rounded down and cleared it from bitmap 2 (fixed by f2c5f76 "Fix incorrect
  page exclusion in exclude_nodata_pages()").  In cyclic mode
  (``create_bitmap_from_memhole``, still so in upstream HEAD) it is
  ``paddr_to_pfn(phys_end)``, rounded down: the page is in neither bitmap, so
  its data is lost.  The tests run makedumpfile in a fixed mode and check
  that this page is the *only* difference where one is expected, and expect
  identical output where none is.
* Our LZO compressor is an independent lzo1x implementation that does not
  reproduce liblzo2's bytes, so with ``-l`` page descriptors' sizes differ;
  every page must still decompress to the same data.
* A PT_LOAD that lies inside one page: makedumpfile counts the rest of the
  page as well and copies file bytes past the segment (see
  :func:`test_elf_pt_load_inside_one_page`); we keep the PT_LOAD exact.

The last tests check other writer properties on their own: ELF32 output,
PN_XNUM extended numbering, and output-file safety.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import re
import shutil
import stat
import struct
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gen import build_elf, make_note, prstatus_note, vmcoreinfo_text  # noqa: E402
from gen.layouts import HEADER_64, SUB_64  # noqa: E402
from gen.x86_64 import PAGE_OFFSET, x86_64_kernel  # noqa: E402
from needs import need, need_libkdumpfile, need_tool  # noqa: E402

import pymakedumpfile  # noqa: E402
from pymakedumpfile import accel  # noqa: E402
from pymakedumpfile.core.errors import OutputError, PageExcludedError, ReadError  # noqa: E402
from pymakedumpfile.core.pagemap import Bitmap  # noqa: E402
from pymakedumpfile.filter import make_write_context  # noqa: E402
from pymakedumpfile.input.base import DumpReader  # noqa: E402
from pymakedumpfile.output import write_dump  # noqa: E402

SYS_PYTHON = "/usr/bin/python3"
LKDF_PAGES = ROOT / "tests" / "tools" / "lkdf_pages.py"
TIMEOUT = 60
PS = 4096
KERNEL_PFN = 4200  # the x86_64_kernel pages get a PT_LOAD of their own here
PFN_EXCLUDED = 256


# ---------------------------------------------------------------------------
# tools
# ---------------------------------------------------------------------------
@cache
def makedumpfile_info() -> tuple[tuple[int, ...], dict[str, bool]]:
    exe = shutil.which("makedumpfile")
    if not exe:
        return (), {}
    r = subprocess.run([exe, "-v"], capture_output=True, text=True, timeout=TIMEOUT)
    out = r.stdout + r.stderr
    m = re.search(r"version (\d+)\.(\d+)\.(\d+)", out)
    version = tuple(int(x) for x in m.groups()) if m else ()
    feats = {c: bool(re.search(rf"^{c}\s+enabled", out, re.M)) for c in ("lzo", "snappy", "zstd")}
    return version, feats


# How makedumpfile keeps its bitmaps.  "auto": its own choice (non-cyclic when
# its automatic buffer, max_mapnr * 2 / 8 bytes rounded down, holds both
# bitmaps: when max_mapnr is a multiple of 4).  "work-dir": non-cyclic, the
# bitmaps in files.  "cyclic": a 1 KiB cyclic buffer.
MODES = {"auto": [], "work-dir": ["--work-dir", "{tmp}"], "cyclic": ["--cyclic-buffer", "1"]}


def drops_partial_tail(mode: str) -> bool:
    """True if makedumpfile leaves the partial last page of a PT_LOAD out of
    bitmap 2 (so out of the dump) in ``mode`` ("work-dir" or "cyclic")."""
    assert mode in ("work-dir", "cyclic")
    return mode == "cyclic" or makedumpfile_info()[0] < (1, 7, 6)


def run_makedumpfile(args: list[str], mode: str = "auto") -> None:
    exe = need_tool("makedumpfile")
    out_dir = os.path.dirname(args[-1]) or "."
    opts = [o.format(tmp=out_dir) for o in MODES[mode]]
    r = subprocess.run([exe, "--message-level", "4", *opts, *args], capture_output=True, timeout=TIMEOUT,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"makedumpfile {args} failed: {r.stderr.decode()}"


def lkdf_pages(path: Path) -> dict[int, str]:
    """pfn -> blake2b-8 digest of every page libkdumpfile can read."""
    r = subprocess.run([SYS_PYTHON, str(LKDF_PAGES), str(path)], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    return {int(k): v for k, v in json.loads(r.stdout)["pages"].items()}


def digest(page: bytes) -> str:
    return hashlib.blake2b(page, digest_size=8).hexdigest()


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------
@dataclass
class Input:
    path: Path
    loads: list[tuple[int, int]]  # (paddr, memsz) in bytes, as in the file
    mem: bytes  # physical memory as the input describes it (zeros outside loads)

    def page(self, pfn: int) -> bytes:
        return self.mem[pfn * PS : (pfn + 1) * PS]

    def tail_pfns(self) -> set[int]:
        """Partial last pages of PT_LOADs that end mid-page."""
        return {(a + m) // PS for a, m in self.loads if (a + m) % PS}


def make_input(path: Path, loads: list[tuple[int, int]], zero_runs: list[tuple[int, int]] = (), *,
               seed: int = 1, kernel_first: bool = False) -> Input:
    """An ELF64 vmcore with random memory in ``loads`` (paddr, memsz in bytes),
    the pfn runs ``zero_runs`` ((pfn, count)) zeroed, and the x86_64_kernel
    pages in a PT_LOAD of their own at KERNEL_PFN, the last one in the file
    (or the first with ``kernel_first``)."""
    kb = x86_64_kernel(first_pfn=KERNEL_PFN)
    kload = (KERNEL_PFN * PS, 4 * PS)
    loads = [kload, *loads] if kernel_first else [*loads, kload]
    top = -(-max(a + m for a, m in loads) // PS) * PS
    rnd = bytearray(random.Random(seed).randbytes(top))
    for pfn, n in zero_runs:
        rnd[pfn * PS : (pfn + n) * PS] = bytes(n * PS)
    for pfn, p in kb.pages.items():
        rnd[pfn * PS : (pfn + 1) * PS] = p.data
    mem = bytearray(top)
    for a, m in loads:
        mem[a : a + m] = rnd[a : a + m]
    notes = prstatus_note("x86_64") + make_note(b"VMCOREINFO", 0, vmcoreinfo_text(kb.vmcoreinfo))
    build_elf(path, [(a, PAGE_OFFSET + a, bytes(mem[a : a + m]), m) for a, m in loads], notes=notes)
    return Input(path, loads, bytes(mem))


def write_ours(src: Path, out: Path, *, fmt: str, level: int, comp: str = "none", force: bool = False) -> None:
    with pymakedumpfile.open_dump(str(src)) as ctx:
        w = make_write_context(ctx, format=fmt, dump_level=level, compression=comp)
        write_dump(w, str(out), force=force)


# ---------------------------------------------------------------------------
# ELF parsing (our own struct code, not the package's)
# ---------------------------------------------------------------------------
@dataclass
class Elf:
    cls: int
    ehdr: dict
    phdrs: list[dict]
    shdr0: dict | None

    @property
    def loads(self) -> list[dict]:
        return [p for p in self.phdrs if p["type"] == 1]


def parse_elf(path: Path) -> Elf:
    with open(path, "rb") as f:
        ident = f.read(16)
        assert ident[:4] == b"\x7fELF"
        cls = 64 if ident[4] == 2 else 32
        e = "<" if ident[5] == 1 else ">"
        f.seek(0)
        if cls == 64:
            v = struct.unpack(e + "16sHHIQQQIHHHHHH", f.read(64))
        else:
            v = struct.unpack(e + "16sHHIIIIIHHHHHH", f.read(52))
        names = ("ident type machine version entry phoff shoff flags ehsize phentsize phnum shentsize shnum "
                 "shstrndx").split()
        eh = dict(zip(names, v))
        shdr0 = None
        phnum = eh["phnum"]
        if eh["shoff"]:
            f.seek(eh["shoff"])
            sfmt = "IIQQQQIIQQ" if cls == 64 else "IIIIIIIIII"
            sv = struct.unpack(e + sfmt, f.read(struct.calcsize(sfmt)))
            shdr0 = dict(zip("name type flags addr offset size link info addralign entsize".split(), sv))
            if phnum == 0xFFFF:
                phnum = shdr0["info"]
        f.seek(eh["phoff"])
        raw = f.read(phnum * eh["phentsize"])
    phdrs = []
    for i in range(phnum):
        if cls == 64:
            t, fl, off, va, pa, fs, ms, al = struct.unpack_from(e + "IIQQQQQQ", raw, i * 56)
        else:
            t, off, va, pa, fs, ms, fl, al = struct.unpack_from(e + "IIIIIIII", raw, i * 32)
        phdrs.append(dict(type=t, flags=fl, offset=off, vaddr=va, paddr=pa, filesz=fs, memsz=ms, align=al))
    return Elf(cls, eh, phdrs, shdr0)


def phdr_table(elf: Elf) -> list[tuple[int, ...]]:
    return [(p["type"], p["paddr"], p["vaddr"], p["filesz"], p["memsz"], p["offset"]) for p in elf.phdrs]


def check_elf_against_input(out: Path, inp: Input) -> None:
    """Tool-independent invariants of an ``-E -d 1`` file: the PT_LOADs tile
    the input's, every non-zero page of the input is in the file, and the
    file's bytes are the input's memory."""
    elf = parse_elf(out)
    data = out.read_bytes()
    # memsz of the output segments, in order, covers each input PT_LOAD exactly
    segs = iter(elf.loads)
    for a, m in inp.loads:
        pos = a
        while pos < a + m:
            s = next(segs)
            assert s["paddr"] == pos and s["vaddr"] == PAGE_OFFSET + pos, s
            assert s["filesz"] <= s["memsz"]
            pos += s["memsz"]
        assert pos == a + m, f"segments of the PT_LOAD at {a:#x} cover up to {pos:#x}, not {a + m:#x}"
    assert next(segs, None) is None
    # memory rebuilt from the file (zeros where it has no data) is the input's:
    # the file data is right, and nothing but zeros was left out
    rebuilt = bytearray(len(inp.mem))
    for s in elf.loads:
        got = data[s["offset"] : s["offset"] + s["filesz"]]
        assert got == inp.mem[s["paddr"] : s["paddr"] + s["filesz"]], f"data of segment at {s['paddr']:#x}"
        rebuilt[s["paddr"] : s["paddr"] + s["filesz"]] = got
    if rebuilt != inp.mem:
        pfn = next(p for p in range(len(inp.mem) // PS) if inp.page(p) != rebuilt[p * PS : (p + 1) * PS])
        raise AssertionError(f"non-zero bytes of pfn {pfn} are not in the file")


# ---------------------------------------------------------------------------
# 1. ELF output segment planning (-E -d 1)
# ---------------------------------------------------------------------------
def _runs_case(n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Three PT_LOADs of 1300 pages; a run of n zero pages at the start of the
    first, in the middle of the second, at the end of the third."""
    L = 1300
    loads = [(0, L * PS), (1400 * PS, L * PS), (2800 * PS, L * PS)]
    return loads, [(0, n), (1400 + 150, n), (2800 + L - n, n)]


ELF_CASES: dict[str, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = {
    **{f"zero-run-{n}": _runs_case(n) for n in (1, 255, 256, 257, 1000)},
    # runs of every kind in one PT_LOAD, contiguous PT_LOADs with a run
    # across their boundary, and a hole between PT_LOADs
    "several-loads": (
        [(0, 2000 * PS), (2000 * PS, 500 * PS), (2500 * PS, 500 * PS), (3100 * PS, 500 * PS)],
        [(10, 255), (266, 1), (267, 256), (600, 1000), (1601, 1), (1602, 257),
         (2300, 400), (2900, 100), (3100, 100)],
    ),
    # PT_LOADs with no kept page: >= 256 and < 256 pages, mid-file and last
    # (the kernel's PT_LOAD goes first for this case)
    "empty-loads": (
        [(0, 64 * PS), (64 * PS, 300 * PS), (400 * PS, 10 * PS), (500 * PS, 100 * PS),
         (5000 * PS, 300 * PS), (5400 * PS, 10 * PS)],
        [(64, 300), (400, 10), (5000, 300), (5400, 10)],
    ),
    # PT_LOADs starting mid-page (ending on a page boundary): the partial
    # first page zero or not, followed by 300 / 256 / 255 zero pages
    "start-mid-page": (
        [(0x800, 600 * PS - 0x800), (700 * PS + 0x800, 600 * PS - 0x800), (1400 * PS + 0x100, 600 * PS - 0x100),
         (2100 * PS + 0xF00, 600 * PS - 0xF00), (2800 * PS + 0x800, 100 * PS - 0x800)],
        [(0, 301), (701, 300), (1401, 255), (2101, 256), (2800, 100)],
    ),
}

# PT_LOADs ending mid-page.  The page before each partial last page is kept,
# so that with makedumpfile < 1.7.6 the only change is the dropped tail.
ELF_TAIL_CASES: dict[str, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = {
    "end-mid-page": (
        [(0, 600 * PS + 0x800), (700 * PS + 0x800, 600 * PS), (1400 * PS, 600 * PS + 0x100),
         (2100 * PS, 600 * PS + 0xF00), (2800 * PS, 300 * PS + 0x800)],
        [(10, 256), (1000, 290), (1600, 1), (2101, 1), (2398, 1), (3100, 1)],
    ),
}


@pytest.mark.parametrize("case", list(ELF_CASES))
def test_elf_segments_match_makedumpfile(tmp_path: Path, case: str) -> None:
    loads, zeros = ELF_CASES[case]
    inp = make_input(tmp_path / "vmcore", loads, zeros, kernel_first=case == "empty-loads")
    theirs, ours = tmp_path / "m.elf", tmp_path / "p.elf"
    run_makedumpfile(["-E", "-d", "1", str(inp.path), str(theirs)])
    write_ours(inp.path, ours, fmt="elf", level=1)
    assert phdr_table(parse_elf(ours)) == phdr_table(parse_elf(theirs))
    assert ours.read_bytes() == theirs.read_bytes()
    check_elf_against_input(ours, inp)


def test_elf_segments_cli(tmp_path: Path) -> None:
    """The same through the command line (``-E -d 1``)."""
    loads, zeros = ELF_CASES["several-loads"]
    inp = make_input(tmp_path / "vmcore", loads, zeros)
    theirs, ours = tmp_path / "m.elf", tmp_path / "p.elf"
    run_makedumpfile(["-E", "-d", "1", str(inp.path), str(theirs)])
    r = subprocess.run([sys.executable, "-m", "pymakedumpfile", "-E", "-d", "1", str(inp.path), str(ours)],
                       capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert ours.read_bytes() == theirs.read_bytes()


@pytest.mark.parametrize("mode", ["work-dir", "cyclic"])
def test_elf_segments_pt_load_ending_mid_page(tmp_path: Path, mode: str) -> None:
    """PT_LOADs ending mid-page: we keep the partial last page when it is not
    zero, as makedumpfile 1.7.6+ does in non-cyclic mode; older makedumpfile,
    and any in cyclic mode, counts it in p_memsz only and loses its data (see
    the module docstring).  Everything else must be identical."""
    loads, zeros = ELF_TAIL_CASES["end-mid-page"]
    inp = make_input(tmp_path / "vmcore", loads, zeros)
    theirs, ours = tmp_path / "m.elf", tmp_path / "p.elf"
    run_makedumpfile(["-E", "-d", "1", str(inp.path), str(theirs)], mode)
    write_ours(inp.path, ours, fmt="elf", level=1)
    check_elf_against_input(ours, inp)
    if not drops_partial_tail(mode):
        assert ours.read_bytes() == theirs.read_bytes()
        return
    po, pt = parse_elf(ours), parse_elf(theirs)
    o_data, t_data = ours.read_bytes(), theirs.read_bytes()
    assert po.ehdr == pt.ehdr
    assert len(po.phdrs) == len(pt.phdrs)
    ends = {a + m for a, m in inp.loads}
    dropped = 0
    for o, t in zip(po.phdrs, pt.phdrs):
        assert (o["type"], o["paddr"], o["vaddr"], o["memsz"]) == (t["type"], t["paddr"], t["vaddr"], t["memsz"])
        if o["filesz"] != t["filesz"]:
            end = o["paddr"] + o["filesz"]
            # only the kept partial last page of a PT_LOAD is missing
            assert end in ends and end % PS and o["filesz"] - t["filesz"] == end % PS, (o, t)
            assert any(inp.page(end // PS)), "a zero partial page is excluded by both"
        if t["filesz"] or o["filesz"] == t["filesz"]:
            assert o["offset"] == t["offset"] + dropped, (o, t)
        assert o_data[o["offset"] : o["offset"] + t["filesz"]] == t_data[t["offset"] : t["offset"] + t["filesz"]]
        dropped += o["filesz"] - t["filesz"]
    assert dropped == sum(end % PS for end in ends if end % PS and any(inp.page(end // PS)))
    assert len(o_data) == len(t_data) + dropped


def test_elf_pt_load_inside_one_page(tmp_path: Path) -> None:
    """A PT_LOAD that starts and ends inside the same page.

    makedumpfile (1.7.2 and HEAD: ``write_elf_pages_cyclic`` starts with
    ``memsz = filesz = frac_head``, the rest of the first page, and never looks
    at ``p_memsz`` again because ``pfn_start > pfn_end``) writes a segment of
    page-size minus head bytes: it claims memory past the PT_LOAD and fills it
    with whatever follows the segment's data in the input file (here the next
    PT_LOAD's bytes).  We write the PT_LOAD exactly."""
    loads = [(0, 8 * PS), (9 * PS + 0x100, 0x200), (10 * PS + 0x100, 0xF00), (12 * PS, 4 * PS)]
    inp = make_input(tmp_path / "vmcore", loads)
    ours = tmp_path / "p.elf"
    write_ours(inp.path, ours, fmt="elf", level=1)
    check_elf_against_input(ours, inp)
    assert [(s["paddr"], s["filesz"], s["memsz"]) for s in parse_elf(ours).loads[1:3]] == [
        (9 * PS + 0x100, 0x200, 0x200),
        (10 * PS + 0x100, 0xF00, 0xF00),
    ]
    if shutil.which("makedumpfile"):
        theirs = tmp_path / "m.elf"
        run_makedumpfile(["-E", "-d", "1", str(inp.path), str(theirs)])
        t = parse_elf(theirs).loads[1]
        # evidence of makedumpfile's over-long segment (tolerate a fixed one)
        assert t["memsz"] in (0x200, PS - 0x100), t
        if t["memsz"] != 0x200:
            src = parse_elf(inp.path).loads[1]
            got = theirs.read_bytes()[t["offset"] : t["offset"] + t["filesz"]]
            assert got == inp.path.read_bytes()[src["offset"] : src["offset"] + t["filesz"]]
            assert got[0x200:0x210] == inp.mem[10 * PS + 0x100 : 10 * PS + 0x110]  # the next PT_LOAD's data


# ---------------------------------------------------------------------------
# 2. kdump-compressed output
# ---------------------------------------------------------------------------
@dataclass
class Kdump:
    header: dict
    sub: dict
    bitmap1: bytes
    bitmap2: bytes
    descs: dict[int, tuple[int, int, int, int]]  # pfn -> (offset, size, flags, page_flags)
    data_start: int
    raw: bytes

    def bits(self, bm: bytes) -> set[int]:
        n = self.sub["max_mapnr_64"]
        return {p for p in range(n) if bm[p >> 3] >> (p & 7) & 1}

    def zero_pfns(self) -> set[int]:
        return {p for p, d in self.descs.items() if d[0] == self.data_start}


def parse_kdump(path: Path) -> Kdump:
    d = path.read_bytes()
    h = {f.name: struct.unpack_from("<" + f.fmt, d, f.offset)[0] for f in HEADER_64.fields}
    assert h["signature"] == b"KDUMP   "
    B = h["block_size"]
    s = {f.name: struct.unpack_from("<" + f.fmt, d, B + f.offset)[0] for f in SUB_64.fields}
    bmo = (1 + h["sub_hdr_size"]) * B
    one = h["bitmap_blocks"] * B // 2
    bm1, bm2 = d[bmo : bmo + one], d[bmo + one : bmo + 2 * one]
    pdo = bmo + 2 * one
    dumpable = [p for p in range(s["max_mapnr_64"]) if bm2[p >> 3] >> (p & 7) & 1]
    descs = {p: struct.unpack_from("<qIIQ", d, pdo + 24 * i) for i, p in enumerate(dumpable)}
    return Kdump(h, s, bm1, bm2, descs, pdo + 24 * len(dumpable), d)


KDUMP_INPUTS: dict[str, tuple[str, list[tuple[int, int]], list[tuple[int, int]]]] = {
    # page-aligned PT_LOADs, makedumpfile in its own mode: the files must be
    # identical (except with -l)
    "aligned": (
        "auto",
        [(0, 2100 * PS), (2200 * PS, 10 * PS), (2300 * PS, 300 * PS)],
        [(16, 1), (100, 255), (400, 256), (700, 257), (1000, 1000), (2200, 10), (2300, 3)],
    ),
    # PT_LOADs starting and ending mid-page, the highest one too (max_mapnr),
    # makedumpfile non-cyclic and cyclic
    **{
        f"mid-page-{mode}": (
            mode,
            [(0x800, 2100 * PS - 0x400), (2200 * PS, 10 * PS), (2300 * PS + 0x100, 5 * PS),
             (4500 * PS, 10 * PS + 0x10)],
            [(0, 2), (16, 1), (100, 255), (400, 256), (700, 257), (1000, 1000), (2200, 10), (2302, 1)],
        )
        for mode in ("work-dir", "cyclic")
    },
}
KDUMP_OPTS = {"none": [], "zlib": ["-c"], "lzo": ["-l"]}


@pytest.mark.parametrize("level", [0, 1])
@pytest.mark.parametrize("comp", list(KDUMP_OPTS))
@pytest.mark.parametrize("case", list(KDUMP_INPUTS))
def test_kdump_matches_makedumpfile(tmp_path: Path, case: str, comp: str, level: int,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    need_tool("makedumpfile")
    need(comp != "lzo" or bool(makedumpfile_info()[1].get("lzo")), "makedumpfile was built without lzo")
    mode, loads, zeros = KDUMP_INPUTS[case]
    inp = make_input(tmp_path / "vmcore", loads, zeros, seed=len(case))
    theirs, ours = tmp_path / "m.kdump", tmp_path / "p.kdump"
    run_makedumpfile([*KDUMP_OPTS[comp], "-d", str(level), str(inp.path), str(theirs)], mode)
    write_ours(inp.path, ours, fmt="kdump", level=level, comp=comp)
    t, o = parse_kdump(theirs), parse_kdump(ours)

    assert o.header == t.header
    assert o.sub == t.sub
    # Only the partial last pages of PT_LOADs may differ (see the module
    # docstring): bitmap 1 in cyclic mode, bitmap 2 where makedumpfile drops them.
    tails = inp.tail_pfns()
    assert tails or mode == "auto"
    if mode == "cyclic":
        assert o.bits(o.bitmap1) - t.bits(t.bitmap1) == tails
        assert not t.bits(t.bitmap1) - o.bits(o.bitmap1)
    else:
        assert o.bitmap1 == t.bitmap1
    assert tails <= o.bits(o.bitmap1)
    kept_tails = {p for p in tails if level == 0 or any(inp.page(p))}
    extra = o.bits(o.bitmap2) - t.bits(t.bitmap2)
    assert not t.bits(t.bitmap2) - o.bits(o.bitmap2)
    assert extra == (kept_tails if tails and drops_partial_tail(mode) else set())
    assert kept_tails <= o.bits(o.bitmap2)

    # the shared zero page
    if level & 1:
        assert o.raw[o.data_start : o.data_start + PS] == bytes(PS)
        assert o.zero_pfns() == t.zero_pfns()
        assert o.zero_pfns() == {p for p in o.descs if not any(inp.page(p))}
    else:
        assert len({d[0] for d in o.descs.values()}) == len(o.descs)
        assert len({d[0] for d in t.descs.values()}) == len(t.descs)
    if comp == "zlib" and accel.ZLIB_ENGINE == "libdeflate":
        # libdeflate writes other zlib streams than makedumpfile's compress2:
        # the same pages compressed (their contents: libkdumpfile below) ...
        for p in t.descs:
            assert o.descs[p][2:] == t.descs[p][2:], p
        # ... and with compress2's engine our file is makedumpfile's, byte for byte
        monkeypatch.setattr(accel, "deflate_pages", accel.zlib_pages)
        write_ours(inp.path, tmp_path / "p2.kdump", fmt="kdump", level=level, comp=comp)
        o2 = parse_kdump(tmp_path / "p2.kdump")
        for p in t.descs:
            assert o2.descs[p][1:] == t.descs[p][1:], p
        if not extra:
            assert o2.raw == t.raw
    elif comp != "lzo":  # our lzo1x_1 does not reproduce liblzo2's bytes
        for p in t.descs:
            assert o.descs[p][1:] == t.descs[p][1:], p
        if not extra:
            assert o.raw == t.raw

    need_libkdumpfile()
    lt, lo = lkdf_pages(theirs), lkdf_pages(ours)
    assert set(lo) - set(lt) == extra
    assert all(lo[p] == lt[p] for p in lt)
    want = o.bits(o.bitmap2)
    assert set(lo) == want
    assert all(lo[p] == digest(inp.page(p)) for p in want)


@pytest.mark.parametrize("mode", ["work-dir", "cyclic"])
@pytest.mark.parametrize("level", [0, 1])
@pytest.mark.parametrize("fmt", ["elf", "kdump"])
def test_filtered_input_matches_makedumpfile(tmp_path: Path, fmt: str, level: int, mode: str) -> None:
    """An input whose PT_LOADs hold less file data than memory (p_filesz <
    p_memsz, page-aligned, as in an already filtered ELF dump; one with no
    data at all): the memsz-only pages are not in the dump, in either format."""
    kb = x86_64_kernel(first_pfn=KERNEL_PFN)
    rng = random.Random(4)

    def seg(a: int, filesz: int, memsz: int, zeros: tuple[tuple[int, int], ...] = ()) -> tuple:
        data = bytearray(rng.randbytes(filesz))
        for z, n in zeros:
            data[z * PS : (z + n) * PS] = bytes(n * PS)
        return (a, PAGE_OFFSET + a, bytes(data), memsz)

    kmem = bytearray(4 * PS)
    for pfn, p in kb.pages.items():
        kmem[(pfn - KERNEL_PFN) * PS : (pfn - KERNEL_PFN + 1) * PS] = p.data
    segs = [
        seg(0, 100 * PS, 600 * PS),
        seg(700 * PS, 300 * PS, 301 * PS, ((290, 10),)),
        seg(1100 * PS, 0, 400 * PS),
        seg(1600 * PS, 500 * PS, 1000 * PS, ((0, 300),)),
        (KERNEL_PFN * PS, PAGE_OFFSET + KERNEL_PFN * PS, bytes(kmem), 4 * PS),
    ]
    notes = prstatus_note("x86_64") + make_note(b"VMCOREINFO", 0, vmcoreinfo_text(kb.vmcoreinfo))
    src = tmp_path / "vmcore"
    build_elf(src, segs, notes=notes)
    theirs, ours = tmp_path / "m", tmp_path / "p"
    run_makedumpfile([*(["-E"] if fmt == "elf" else []), "-d", str(level), str(src), str(theirs)], mode)
    write_ours(src, ours, fmt=fmt, level=level)
    assert ours.read_bytes() == theirs.read_bytes()


# ---------------------------------------------------------------------------
# 3. ELF32 input
# ---------------------------------------------------------------------------
def test_elf32_output(tmp_path: Path) -> None:
    """An i386 ELF32 vmcore (makedumpfile 1.7.2 refuses it: it looks for
    system_utsname, so only our output is checked): ``-E`` gives ELF32 with
    the PT_LOADs planned as for ELF64, readelf parses it, we read it back."""
    rng = random.Random(32)
    mem = bytearray(rng.randbytes(1300 * PS))
    mem[10 * PS : 300 * PS] = bytes(290 * PS)  # >= 256: a new segment
    mem[500 * PS : 501 * PS] = bytes(PS)  # < 256: kept inside
    mem[1290 * PS :] = bytes(10 * PS)  # trailing: memsz only
    notes = make_note(b"VMCOREINFO", 0, vmcoreinfo_text(OSRELEASE="4.19.0-i386", PAGESIZE=4096))
    base = 0xC0000000
    segs = [(0, base, bytes(mem[: 1000 * PS]), 1000 * PS), (1000 * PS, base + 1000 * PS, bytes(mem[1000 * PS :]), None)]
    src, out = tmp_path / "vmcore32", tmp_path / "p.elf"
    build_elf(src, segs, elfclass=32, machine=3, notes=notes)
    write_ours(src, out, fmt="elf", level=1)

    elf = parse_elf(out)
    assert elf.cls == 32
    assert elf.ehdr["ident"][4:7] == b"\x01\x01\x01"
    assert (elf.ehdr["type"], elf.ehdr["machine"], elf.ehdr["ehsize"], elf.ehdr["phentsize"]) == (4, 3, 52, 32)
    assert (elf.ehdr["phoff"], elf.ehdr["shoff"], elf.ehdr["shnum"]) == (52, 0, 0)
    assert elf.ehdr["phnum"] == len(elf.phdrs) == 4
    note = elf.phdrs[0]
    assert note["type"] == 4 and note["offset"] == 52 + 4 * 32 and note["filesz"] == len(notes)
    assert out.read_bytes()[note["offset"] : note["offset"] + note["filesz"]] == notes
    data_off = note["offset"] + len(notes)
    assert [(p["paddr"], p["vaddr"], p["filesz"], p["memsz"], p["offset"]) for p in elf.loads] == [
        (0, base, 10 * PS, 300 * PS, data_off),
        (300 * PS, base + 300 * PS, 700 * PS, 700 * PS, data_off + 10 * PS),
        (1000 * PS, base + 1000 * PS, 290 * PS, 300 * PS, data_off + 710 * PS),
    ]
    assert all(p["flags"] == 7 for p in elf.loads)

    if shutil.which("readelf"):
        r = subprocess.run(["readelf", "-hlW", str(out)], capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0 and not r.stderr, r.stderr
        assert re.search(r"Class:\s+ELF32", r.stdout) and re.search(r"Machine:\s+Intel 80386", r.stdout)
        rows = re.findall(r"^\s+LOAD\s+(0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+)",
                          r.stdout, re.M)
        assert [tuple(int(x, 16) for x in row) for row in rows] == [
            (p["offset"], p["vaddr"], p["paddr"], p["filesz"], p["memsz"]) for p in elf.loads
        ]

    exe = shutil.which("makedumpfile")
    if exe:  # should it accept the input one day, the outputs must agree
        theirs = tmp_path / "m.elf"
        r = subprocess.run([exe, "--message-level", "4", "-E", "-d", "1", str(src), str(theirs)],
                           capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        if r.returncode == 0:
            assert phdr_table(parse_elf(theirs)) == phdr_table(elf)
            assert theirs.read_bytes()[note["offset"] :] == out.read_bytes()[note["offset"] :]

    with pymakedumpfile.open_dump(str(out)) as ctx:
        assert ctx.attr["elf.class"] == 32 and ctx.attr["arch.name"] == "ia32"
        for pfn in range(1300):
            zero = not any(mem[pfn * PS : (pfn + 1) * PS])
            if ctx.is_stored(pfn):
                assert ctx.read_pfn(pfn) == bytes(mem[pfn * PS : (pfn + 1) * PS]), pfn
            else:
                assert zero and (10 <= pfn < 300 or pfn >= 1290), pfn


# ---------------------------------------------------------------------------
# 4. PN_XNUM
# ---------------------------------------------------------------------------
def test_elf_pn_xnum(tmp_path: Path) -> None:
    """65535 kept pages, each followed by 256 excluded ones: 65535 PT_LOADs
    plus the PT_NOTE need extended numbering (e_phnum = PN_XNUM, the count in
    section header 0's sh_info).  The write context is built by hand over a
    small real input (68 GiB of described memory), with a reader returning
    made-up pages."""
    src = tmp_path / "vmcore"
    notes = make_note(b"VMCOREINFO", 0, vmcoreinfo_text(OSRELEASE="5.15.0", PAGESIZE=4096))
    build_elf(src, [(0, PAGE_OFFSET, bytes(4 * PS), 4 * PS)], notes=notes)
    n_kept, step = 0xFFFF, PFN_EXCLUDED + 1
    max_pfn = n_kept * step
    keep = Bitmap.empty(max_pfn)
    for i in range(n_kept):
        keep.set(i * step)

    def page(pfn: int) -> bytes:
        return struct.pack("<Q", pfn).ljust(PS, b"\xa5")

    out = tmp_path / "p.elf"
    try:
        _write_and_check_xnum(src, out, keep, max_pfn, n_kept, step, page)
    finally:  # 270 MB: do not leave it in pytest's kept temporary directories
        out.unlink(missing_ok=True)


def _write_and_check_xnum(src: Path, out: Path, keep: Bitmap, max_pfn: int, n_kept: int, step: int,
                          page: object) -> None:
    class Reader:
        pagemap = keep
        page_size = PS
        read_pages_salvaging = DumpReader.read_pages_salvaging

        def read_pages(self, pfn: int, n: int) -> bytes:
            assert keep.count(pfn, pfn + n) == n
            return b"".join(page(p) for p in range(pfn, pfn + n))  # type: ignore[operator]

    with pymakedumpfile.open_dump(str(src)) as ctx:
        w = make_write_context(ctx, format="elf", dump_level=0)
        w.attr["file.pagemap"] = keep
        w.attr["memory.pagemap"] = Bitmap.copy_of(keep)
        w.attr["max_pfn"] = max_pfn
        w.attr["elf.loads"] = ((0, PAGE_OFFSET, max_pfn * PS),)
        w.reader = Reader()  # type: ignore[assignment]
        write_dump(w, str(out))

    elf = parse_elf(out)
    nph = n_kept + 1
    assert elf.ehdr["phnum"] == 0xFFFF
    assert (elf.ehdr["shnum"], elf.ehdr["shentsize"], elf.ehdr["shstrndx"]) == (1, 64, 0)
    assert elf.ehdr["shoff"] == 64 + nph * 56  # right after the program headers, as makedumpfile
    assert elf.shdr0 == dict(name=0, type=0, flags=0, addr=0, offset=0, size=1, link=0, info=nph, addralign=0,
                             entsize=0)
    assert len(elf.phdrs) == nph and elf.phdrs[0]["type"] == 4
    assert elf.phdrs[0]["offset"] == elf.ehdr["shoff"] + 64
    loads = elf.loads
    assert len(loads) == n_kept
    first = loads[0]["offset"]
    for i in (0, 1, 2, n_kept // 2, n_kept - 2):
        assert (loads[i]["paddr"], loads[i]["filesz"], loads[i]["memsz"], loads[i]["offset"]) == (
            i * step * PS, PS, step * PS, first + i * PS)
    last = loads[-1]
    assert (last["paddr"], last["filesz"], last["memsz"]) == ((n_kept - 1) * step * PS, PS, step * PS)
    assert os.path.getsize(out) == first + n_kept * PS

    if shutil.which("readelf"):
        r = subprocess.run(["readelf", "-hlW", str(out)], capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0 and not r.stderr, r.stderr
        assert re.search(rf"Number of program headers:\s+65535 \({nph}\)", r.stdout), r.stdout[:2000]
        assert len(re.findall(r"^\s+LOAD\s", r.stdout, re.M)) == n_kept

    with pymakedumpfile.open_dump(str(out)) as back:
        assert back.max_pfn == max_pfn
        assert back.pagemap.count() == n_kept
        for i in (0, 1, 12345, n_kept - 1):
            assert back.read_pfn(i * step) == page(i * step)  # type: ignore[operator]
        assert not back.is_stored(step - 1) and not back.is_stored(1)


@pytest.mark.parametrize("nloads", [0xFFFD, 0xFFFE])
def test_elf_pn_xnum_boundary(tmp_path: Path, nloads: int) -> None:
    """PN_XNUM from exactly 0xffff program headers on: 0xfffd PT_LOADs + the
    PT_NOTE fit in e_phnum, 0xfffe do not.  The input ranges hold no kept page
    (p_filesz 0), so the file stays small."""
    src = tmp_path / "vmcore"
    notes = make_note(b"VMCOREINFO", 0, vmcoreinfo_text(OSRELEASE="5.15.0", PAGESIZE=4096))
    build_elf(src, [(0, PAGE_OFFSET, bytes(4 * PS), 4 * PS)], notes=notes)
    max_pfn = 2 * nloads
    out = tmp_path / "p.elf"
    with pymakedumpfile.open_dump(str(src)) as ctx:
        w = make_write_context(ctx, format="elf", dump_level=0)
        w.attr["file.pagemap"] = Bitmap.empty(max_pfn)
        w.attr["memory.pagemap"] = Bitmap.empty(max_pfn)
        w.attr["max_pfn"] = max_pfn
        w.attr["elf.loads"] = tuple((2 * i * PS, PAGE_OFFSET + 2 * i * PS, PS) for i in range(nloads))
        write_dump(w, str(out))
    elf = parse_elf(out)
    nph = nloads + 1
    assert len(elf.phdrs) == nph
    assert [(p["paddr"], p["filesz"], p["memsz"]) for p in elf.loads[:2]] == [(0, 0, PS), (2 * PS, 0, PS)]
    if nph < 0xFFFF:
        assert (elf.ehdr["phnum"], elf.ehdr["shoff"], elf.ehdr["shnum"], elf.shdr0) == (nph, 0, 0, None)
    else:
        assert (elf.ehdr["phnum"], elf.ehdr["shnum"]) == (0xFFFF, 1)
        assert elf.shdr0 is not None and elf.shdr0["info"] == nph
    if shutil.which("readelf"):
        r = subprocess.run(["readelf", "-hlW", str(out)], capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0 and not r.stderr, r.stderr
        assert len(re.findall(r"^\s+LOAD\s", r.stdout, re.M)) == nloads
    with pymakedumpfile.open_dump(str(out)) as back:
        assert back.max_pfn == max_pfn - 1 and back.pagemap.count() == 0


# ---------------------------------------------------------------------------
# 5. output safety
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_input(tmp_path_factory: pytest.TempPathFactory) -> Input:
    d = tmp_path_factory.mktemp("safety")
    return make_input(d / "vmcore", [(0, 600 * PS)], [(100, 300)])


class Boom(RuntimeError):
    pass


def write_failing(src: Path, out: Path, *, fmt: str, fail_after: int, force: bool = False,
                  on_fail: object = None) -> None:
    """Write with a reader that raises after ``fail_after`` pages (calling
    ``on_fail()`` first)."""
    with pymakedumpfile.open_dump(str(src)) as ctx:
        w = make_write_context(ctx, format=fmt, dump_level=0)
        real = ctx.reader
        seen = [0]

        class Failing:
            pagemap = real.pagemap
            page_size = real.page_size

            def read_pages(self, pfn: int, n: int) -> bytes:
                seen[0] += n
                if seen[0] > fail_after:
                    if on_fail is not None:
                        on_fail()  # type: ignore[operator]
                    raise Boom(f"read error at pfn {pfn}")
                return real.read_pages(pfn, n)

            def read_page(self, pfn: int) -> bytes:
                return self.read_pages(pfn, 1)

            read_pages_salvaging = DumpReader.read_pages_salvaging  # Boom is not a DumpError: it goes through

        w.reader = Failing()  # type: ignore[assignment]
        write_dump(w, str(out), force=force)


FMTS = ["kdump", "elf"]


@pytest.mark.parametrize("fmt", FMTS)
def test_output_mode_0600(tmp_path: Path, small_input: Input, fmt: str) -> None:
    out = tmp_path / "dump"
    old = os.umask(0)
    try:
        write_ours(small_input.path, out, fmt=fmt, level=1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


@pytest.mark.parametrize("fmt", FMTS)
def test_output_existing_refused_without_force(tmp_path: Path, small_input: Input, fmt: str) -> None:
    out = tmp_path / "dump"
    out.write_bytes(b"precious")
    os.chmod(out, 0o644)
    with pytest.raises(OutputError):
        write_ours(small_input.path, out, fmt=fmt, level=1)
    assert out.read_bytes() == b"precious"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["dump"]


@pytest.mark.parametrize("fmt", FMTS)
def test_output_force_replaces_at_the_end(tmp_path: Path, small_input: Input, fmt: str) -> None:
    out = tmp_path / "dump"
    out.write_bytes(b"precious")
    out.chmod(0o640)
    ino = os.stat(out).st_ino
    mid_write: list[tuple[bytes, list[str]]] = []

    def look() -> None:
        mid_write.append((out.read_bytes(), sorted(os.listdir(tmp_path))))

    # a failure mid-write leaves the old file as it was, and no temporary file
    with pytest.raises(Boom):
        write_failing(small_input.path, out, fmt=fmt, fail_after=300, force=True, on_fail=look)
    # while the new dump was being written, the old file was untouched
    # (worker threads may hit the failing read more than once)
    assert mid_write
    for during, names in mid_write:
        assert during == b"precious" and len(names) == 2 and "dump" in names
    assert out.read_bytes() == b"precious" and os.stat(out).st_ino == ino
    assert sorted(os.listdir(tmp_path)) == ["dump"]
    # a successful one replaces it
    write_ours(small_input.path, out, fmt=fmt, level=1, force=True)
    assert sorted(os.listdir(tmp_path)) == ["dump"]
    ref = tmp_path / "ref" / "dump"
    ref.parent.mkdir()
    write_ours(small_input.path, ref, fmt=fmt, level=1)
    assert out.read_bytes() == ref.read_bytes()
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640  # the replaced file's mode is kept, as makedumpfile's O_TRUNC
    assert stat.S_IMODE(os.stat(ref).st_mode) == 0o600  # a new file is 0600


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("dangling", [False, True])
def test_output_symlink_refused(tmp_path: Path, small_input: Input, force: bool, dangling: bool) -> None:
    target = tmp_path / "target"
    if not dangling:
        target.write_bytes(b"precious")
    link = tmp_path / "dump"
    link.symlink_to(target)
    with pytest.raises(OutputError):
        write_ours(small_input.path, link, fmt="kdump", level=1, force=force)
    assert link.is_symlink() and os.readlink(link) == str(target)
    if dangling:
        assert not target.exists()
    else:
        assert target.read_bytes() == b"precious"
    assert sorted(os.listdir(tmp_path)) == sorted(["dump"] + ([] if dangling else ["target"]))


@pytest.mark.parametrize("fmt", FMTS)
def test_output_failed_new_file_removed(tmp_path: Path, small_input: Input, fmt: str) -> None:
    out = tmp_path / "dump"
    with pytest.raises(Boom):
        write_failing(small_input.path, out, fmt=fmt, fail_after=300)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------
# 6. pages the input cannot give (EIO): excluded, reported, the rest intact
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(("fmt", "comp", "level"), [("kdump", "none", 0), ("kdump", "lzo", 1), ("kdump", "zlib", 0),
                                                     ("elf", "none", 0), ("elf", "none", 1)])
def test_unreadable_input_pages(tmp_path: Path, small_input: Input, fmt: str, comp: str, level: int, backend: str,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The input's file layer fails (ReadError, as FileSource raises on EIO)
    on chosen pages; the write goes on, reports exactly those pfns, and the
    output holds every other page of the input unchanged."""
    from pymakedumpfile import accel

    for name in accel.NAMES:
        monkeypatch.setattr(accel, name, accel.implementations(name)[backend])
    elf = parse_elf(small_input.path)
    bad = {5, 6, 7, 8, 511, 512, 599}  # a run, a 512-page boundary, the last page of the load
    spans = []
    for pfn in bad:
        (ph,) = [p for p in elf.loads if p["paddr"] <= pfn * PS < p["paddr"] + p["filesz"]]
        off = ph["offset"] + pfn * PS - ph["paddr"]
        spans.append((off, off + PS))
    out = tmp_path / "out"
    with pymakedumpfile.open_dump(str(small_input.path)) as ctx:
        src = ctx.reader.source
        real_pread = src.pread

        def pread(offset: int, size: int) -> bytes:
            if any(offset < b and offset + size > a for a, b in spans):
                raise ReadError(f"Cannot read {size} bytes at {offset:#x}: Input/output error", src.name, 5)
            return real_pread(offset, size)

        monkeypatch.setattr(src, "pread", pread)
        w = make_write_context(ctx, format=fmt, dump_level=level, compression=comp)
        res = write_dump(w, str(out))
        seen = {p for p, _ in res.unreadable} | {p for p, _ in w.attr["filter.stats"].unreadable}
    assert seen == bad
    assert not res.incomplete
    with pymakedumpfile.open_dump(str(out)) as o:
        for pfn in range(600):
            want = small_input.page(pfn)
            if pfn in bad:
                if fmt == "kdump":
                    with pytest.raises(PageExcludedError):
                        o.read_pfn(pfn)
                else:  # ELF keeps short excluded runs inside a segment as zeros, as makedumpfile does
                    try:
                        assert o.read_pfn(pfn) == bytes(PS)
                    except PageExcludedError:
                        assert level & 1  # excluded by the filter pass: may end a segment
            elif level & 1 and want == bytes(PS):
                continue  # a zero page: excluded at level 1
            else:
                assert o.read_pfn(pfn) == want, hex(pfn)


@pytest.mark.parametrize("fadvise_fails", [False, True])
def test_target_starts_writeback_as_it_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              fadvise_fails: bool) -> None:
    """Every WRITEBACK_BYTES written, the output asks the kernel to start
    writeback (FADV_DONTNEED on what is written), so that the final fsync
    does not wait for the whole dump; a system without it writes the same
    file.  The written bytes are all there, as given."""
    from pymakedumpfile.output import target as tg

    calls: list[tuple[int, int, int]] = []
    real = os.posix_fadvise

    def spy(fd: int, off: int, size: int, advice: int) -> None:
        calls.append((off, size, advice))
        if fadvise_fails:
            raise OSError(errno.ENOSYS, "not here")
        real(fd, off, size, advice)

    monkeypatch.setattr(tg.os, "posix_fadvise", spy)
    monkeypatch.setattr(tg, "WRITEBACK_BYTES", 1 << 20)
    rnd = random.Random(7)
    chunks = [rnd.randbytes(300_000) for _ in range(12)]  # 3.6 MB in writes that straddle the mark
    t = tg.Target(str(tmp_path / "out"))
    pos = 0
    for c in chunks:
        t.pwrite(c, pos)
        pos += len(c)
    t.finish()
    assert calls == [(0, 0, os.POSIX_FADV_DONTNEED)] * 3  # after 1.2, 2.4 and 3.6 MB
    assert (tmp_path / "out").read_bytes() == b"".join(chunks)


def test_elf_output_of_a_machine_past_1_tib(tmp_path: Path) -> None:
    """RAM at 2 TiB (2^29 pfns, past the 2^28 a whole bitmap was allowed):
    ELF output is filtered a cycle at a time and written; at -d 1 the same
    file as makedumpfile's: a run of 300 zero pages is left out (a new
    segment after it), a short one kept with its zeros, the rest equal."""
    kb = x86_64_kernel(first_pfn=KERNEL_PFN)
    rnd = random.Random(11)
    high, n = 1 << 41, 600  # 2 TiB
    data = bytearray(rnd.randbytes(n * PS))
    zero = [3, 4, 5, *range(100, 400)]
    for i in zero:
        data[i * PS : (i + 1) * PS] = bytes(PS)
    kmem = b"".join(kb.pages[KERNEL_PFN + i].data if KERNEL_PFN + i in kb.pages else bytes(PS) for i in range(4))
    notes = prstatus_note("x86_64") + make_note(b"VMCOREINFO", 0, vmcoreinfo_text(kb.vmcoreinfo))
    src = tmp_path / "vmcore"
    build_elf(src, [(KERNEL_PFN * PS, PAGE_OFFSET + KERNEL_PFN * PS, kmem, 4 * PS),
                    (high, PAGE_OFFSET + high, bytes(data), n * PS)], notes=notes)
    ours = tmp_path / "ours"
    write_ours(src, ours, fmt="elf", level=1)
    base = high // PS
    with pymakedumpfile.open_dump(str(ours)) as o:
        assert o.max_pfn == base + n
        for i in range(n):
            if 100 <= i < 400:
                assert not o.is_stored(base + i)
            else:
                assert o.read_pfn(base + i) == data[i * PS : (i + 1) * PS]
    loads = [p for p in parse_elf(ours).loads if p["paddr"] >= high]
    assert [(p["paddr"] - high) // PS for p in loads] == [0, 400]
    if shutil.which("makedumpfile"):
        theirs = tmp_path / "theirs"
        run_makedumpfile(["-E", "-d", "1", str(src), str(theirs)])
        assert ours.read_bytes() == theirs.read_bytes()
