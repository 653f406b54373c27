"""The readers against synthetic dumps built by tests/gen.

Every dump here is written by ``tests.gen``, which shares no code with the
package, and read back with :func:`pymakedumpfile.open_dump` /
:func:`pymakedumpfile.input.open_reader`:

1. kdump-compressed variants (header versions, ABI layouts, byte orders,
   signatures, every page kind, incomplete files, notes and attributes);
2. ELF variants (classes, byte orders, QEMU and PN_XNUM program headers,
   filesz < memsz, overlapping and unaligned PT_LOADs);
3. all of the above flattened, read in place;
4. split sets, in every order, and broken sets;
5. damaged files: every failure is a :class:`DumpError` naming the file,
   found without allocating what the headers claim; plus byte-flip fuzzing;
6. the command line on damaged input.

Tests that decompress LZO run under both accel backends (the ``backend``
fixture; ``accel_backend`` patches every accel kernel, popcount included).
"""

from __future__ import annotations

import itertools
import os
import random
import struct
import subprocess
import sys
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from gen import (
    EM_386,
    EM_X86_64,
    CompressorUnavailable,
    ElfInfo,
    KdumpInfo,
    Page,
    build_elf,
    build_kdump,
    flat_header,
    flat_record,
    flatten,
    liblzo2_compressor,
    make_note,
    prstatus_note,
    snappy_compressor,
    split_files,
    split_ranges,
    vmcoreinfo_text,
    zstd_compressor,
)
from gen.flat import FLAT_END
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymakedumpfile import accel, open_dump
from pymakedumpfile.core.context import Attributes, Context
from pymakedumpfile.core.errors import (
    CorruptDumpError,
    DumpError,
    PageExcludedError,
    TruncatedDumpError,
    UnsupportedDumpError,
)
from pymakedumpfile.input import open_reader

REPO = Path(__file__).resolve().parents[2]
KFix = tuple[KdumpInfo, bytes]  # a built kdump file and its bytes
EFix = tuple[ElfInfo, bytes]
PS = 4096
MiB = 1 << 20
MEM_LIMIT = 64 * MiB  # peak allocation allowed while opening a damaged file

try:
    LZO: Callable[[bytes], bytes] = liblzo2_compressor()
except CompressorUnavailable:  # no liblzo2: our own compressor still makes valid streams
    LZO = accel.implementations("lzo1x_1_compress")["python"]

CODECS = ("zlib", "lzo", "snappy", "zstd")
ALL_HOWS = ("raw", *CODECS)


# ---------------------------------------------------------------------------
# helpers


def text(pfn: int, ps: int = PS) -> bytes:
    """A compressible page, different for every pfn."""
    return (b"page %d of the synthetic dump; " % pfn * (ps // 16 + 1))[:ps]


def noise(pfn: int, ps: int = PS) -> bytes:
    """A page that no codec can shrink."""
    return random.Random(pfn * 7919 + ps).randbytes(ps)


def expected(pages: dict[int, Page], pfn: int, ps: int) -> bytes | None:
    p = pages.get(pfn)
    if p is None or p.how in ("excluded", "hole"):
        return None
    if p.how == "zero":
        return bytes(ps)
    return p.data


@pytest.fixture
def accel_backend(backend: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Use the given accel backend for every kernel: LZO decompression, and
    popcount for the bitmaps.  Patched before any reader is opened
    (codecs.decompressor looks the function up when it is called)."""
    for name in accel.NAMES:
        monkeypatch.setattr(accel, name, accel.implementations(name)[backend])
    return backend


def kdump(path: Path, pages: dict[int, Page], **kw: object) -> KdumpInfo:
    kw.setdefault("lzo_compress", LZO)
    return build_kdump(path, pages, **kw)  # type: ignore[arg-type]


def variant_pages(ps: int, max_mapnr: int) -> dict[int, Page]:
    """Every kind of page, a mixed run across a 4096-pfn rank block, and the last pfn."""
    pages = {
        0: Page(text(0, ps), "raw"),
        1: Page(text(1, ps), "zlib"),
        2: Page(text(2, ps), "lzo"),
        3: Page(text(3, ps), "snappy"),
        4: Page(text(4, ps), "zstd"),
        5: Page.zero(ps),
        6: Page.excluded(),
        7: Page.hole(),
        8: Page(noise(8, ps), "zlib"),  # none of these compress: stored raw
        9: Page(noise(9, ps), "lzo"),
        10: Page(noise(10, ps), "snappy"),
        11: Page(noise(11, ps), "zstd"),
        12: Page(bytes(ps), "zlib"),  # a zero page that was compressed, not deduplicated
        max_mapnr - 1: Page(text(max_mapnr - 1, ps), "zlib"),
    }
    if max_mapnr > 4200:
        for pfn in range(4090, 4110):
            pages[pfn] = Page(text(pfn, ps), ALL_HOWS[pfn % 5]) if pfn % 7 else Page.excluded()
    return pages


def probe_pfns(pages: dict[int, Page], max_mapnr: int) -> list[int]:
    extra = {13, 14, 100, 4089, 4110, max_mapnr - 2}
    return sorted({p for p in pages} | {p for p in extra if 0 <= p < max_mapnr})


def check_pages(ctx: Context, pages: dict[int, Page], max_mapnr: int, ps: int) -> None:
    """Every probed pfn reads what was built (or is excluded, as built)."""
    assert ctx.page_size == ps
    assert ctx.max_pfn == max_mapnr
    dumpable = {p for p in pages if expected(pages, p, ps) is not None}
    assert ctx.pagemap.count() == len(dumpable)
    for pfn in probe_pfns(pages, max_mapnr):
        want = expected(pages, pfn, ps)
        if want is None:
            with pytest.raises(PageExcludedError) as ei:
                ctx.read_pfn(pfn)
            assert ei.value.pfn == pfn
            assert ctx.name in str(ei.value)
            p = pages.get(pfn)
            in_ram = p is not None and p.how != "hole"
            assert ctx.attr["memory.pagemap"].test(pfn) == in_ram
        else:
            assert ctx.pagemap.test(pfn)
            assert ctx.read_pfn(pfn) == want, pfn
    # a run through the reader's batched path
    assert ctx.reader.read_pages(0, 6) == b"".join(expected(pages, p, ps) for p in range(6))  # type: ignore[misc]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readers")


# ---------------------------------------------------------------------------
# 1. kdump-compressed variants

# (layout, endian, arch): arch only picks utsname.machine and the PRSTATUS size
ABIS = [
    ("64", "<", "x86_64"),
    ("64", ">", "s390x"),
    ("i386", "<", "i386"),
    ("i386", ">", "i386"),
    ("32pad", "<", "arm"),
    ("32pad", ">", "ppc"),
]


@pytest.mark.parametrize("version", [0, 1, 2, 3, 4, 5, 6])  # 0: the first diskdump files (no sub header)
@pytest.mark.parametrize("abi", ABIS, ids=lambda a: f"{a[0]}{a[1]}")
def test_kdump_versions_and_layouts(version: int, abi: tuple[str, str, str], accel_backend: str,
                                    tmp_path: Path) -> None:
    layout, endian, arch = abi
    # 8192 is a power of two that an ILP32 header read as LP64 takes for block_size
    max_mapnr = 8192
    pages = variant_pages(PS, max_mapnr)
    vmci = vmcoreinfo_text(OSRELEASE="5.14.0-test", CRASHTIME=1690000000)
    erase = b"erase modules size 64\n"
    path = tmp_path / "dump"
    info = kdump(path, pages, max_mapnr=max_mapnr, layout=layout, endian=endian, arch=arch,
                 header_version=version, vmcoreinfo=vmci, nr_cpus=2, eraseinfo=erase, release="5.14.0-test")
    with open_dump(path) as ctx:
        check_pages(ctx, pages, max_mapnr, PS)
        a = ctx.attr
        assert a["file.format"] == "kdump"
        assert a["file.description"] == "Compressed KDUMP"
        assert a["kdump.header_version"] == version
        # the packed and padded ILP32 sub headers are the same bytes before v3
        assert a["kdump.layout"] == ("i386" if layout == "32pad" and version < 3 else layout)
        assert a["arch.byte_order"] == ("little" if endian == "<" else "big")
        assert a["file.incomplete"] is False
        assert a["linux.uts.release"] == "5.14.0-test"
        assert a["cpu.number"] == (2 if version >= 4 else 0)
        assert a["file.eraseinfo.raw"] == (erase if version >= 5 else b"")
        if version >= 3:
            assert a["linux.vmcoreinfo.lines.OSRELEASE"] == "5.14.0-test"
            assert a["linux.crashtime"] == 1690000000
        else:
            assert "linux.vmcoreinfo.lines.OSRELEASE" not in a
        assert a["kdump.num_dumpable"] == info.num_dumpable


def test_kdump_raw_fallback_is_flagged_raw(tmp_path: Path) -> None:
    """Pages that did not compress were stored raw with flags 0 (the builder
    checks it); the reader returns them as they are."""
    pages = {0: Page(noise(0), "zlib"), 1: Page(noise(1), "zstd"), 2: Page(text(2), "zlib")}
    info = kdump(tmp_path / "d", pages, max_mapnr=4)
    assert info.page_data[0][1:] == (PS, 0) and info.page_data[1][1:] == (PS, 0)
    assert info.page_data[2][2] == 1 and info.page_data[2][1] < PS
    with open_dump(tmp_path / "d") as ctx:
        assert [ctx.read_pfn(p) for p in range(3)] == [pages[p].data for p in range(3)]


def test_kdump_ppc64_big_endian_64k_pages(accel_backend: str, tmp_path: Path) -> None:
    ps = 65536
    max_mapnr = 600
    pages = variant_pages(ps, max_mapnr)
    vmci = vmcoreinfo_text(OSRELEASE="6.6.0-ppc", PAGESIZE=ps)
    kdump(tmp_path / "d", pages, max_mapnr=max_mapnr, page_size=ps, arch="ppc64", endian=">",
          vmcoreinfo=vmci, nr_cpus=3)
    with open_dump(tmp_path / "d") as ctx:
        check_pages(ctx, pages, max_mapnr, ps)
        assert ctx.attr["arch.name"] == "ppc64"
        assert ctx.attr["arch.byte_order"] == "big"
        assert ctx.attr["arch.page_size"] == ps and ctx.attr["arch.page_shift"] == 16
        assert ctx.attr["cpu.number"] == 3


@pytest.mark.parametrize("signature", [b"KDUMP   ", b"DISKDUMP"])
def test_kdump_signatures(signature: bytes, accel_backend: str, tmp_path: Path) -> None:
    pages = variant_pages(PS, 64)
    kdump(tmp_path / "d", pages, max_mapnr=64, signature=signature)
    with open_dump(tmp_path / "d") as ctx:
        check_pages(ctx, pages, 64, PS)
        assert ctx.attr["kdump.signature"] == signature.decode()
        assert ctx.attr["file.description"] == ("Diskdump" if signature == b"DISKDUMP" else "Compressed KDUMP")


def test_open_reader_direct(accel_backend: str, tmp_path: Path) -> None:
    pages = variant_pages(PS, 64)
    kdump(tmp_path / "d", pages, max_mapnr=64)
    r = open_reader(tmp_path / "d")
    try:
        assert r.format_name == "kdump"
        for pfn in pages:
            want = expected(pages, pfn, PS)
            if want is None:
                with pytest.raises(PageExcludedError):
                    r.read_page(pfn)
            else:
                assert r.read_page(pfn) == want
    finally:
        r.close()


@pytest.mark.parametrize("how", ["excluded", "hole"])
def test_kdump_excluded_and_hole(how: str, tmp_path: Path) -> None:
    pages = {0: Page(text(0)), 1: Page(b"", how), 2: Page(text(2))}
    kdump(tmp_path / "d", pages, max_mapnr=8)
    with open_dump(tmp_path / "d") as ctx:
        with pytest.raises(PageExcludedError) as ei:
            ctx.read_pfn(1)
        assert ei.value.pfn == 1 and str(tmp_path / "d") in str(ei.value)
        assert ctx.attr["memory.pagemap"].test(1) == (how == "excluded")
        with pytest.raises(PageExcludedError):
            ctx.read_phys(PS - 8, 16)  # crosses into pfn 1
        assert ctx.read_phys(PS - 8, 8) == text(0)[-8:]


@pytest.mark.parametrize("dropped", [1, 3, 7])
def test_kdump_incomplete(dropped: int, accel_backend: str, tmp_path: Path) -> None:
    pages = {p: Page(text(p), ALL_HOWS[p % 5]) for p in range(20)}
    pages[5] = Page.zero()
    info = kdump(tmp_path / "d", pages, max_mapnr=32, drop_last_n_descriptors=dropped)
    lost = set(info.dropped_pfns)
    assert len(lost) == dropped
    with open_dump(tmp_path / "d") as ctx:
        assert ctx.attr["file.incomplete"] is True
        for pfn in range(20):
            if pfn in lost:
                with pytest.raises(PageExcludedError):
                    ctx.read_pfn(pfn)
            else:
                assert ctx.read_pfn(pfn) == expected(pages, pfn, PS)
        with pytest.raises(PageExcludedError):
            ctx.reader.read_pages(0, 20)


def test_kdump_incomplete_descriptors_cut_off(tmp_path: Path) -> None:
    """An incomplete file may also end inside the descriptor area: the
    descriptors that are not there are lost pages, not an error."""
    pages = {p: Page(text(p), "zlib") for p in range(10)}
    info = kdump(tmp_path / "d", pages, max_mapnr=16, drop_last_n_descriptors=1)
    with open(tmp_path / "d", "r+b") as f:
        f.truncate(info.offset_pd + 4 * 24 + 10)
    with open_dump(tmp_path / "d") as ctx:
        assert ctx.attr["file.incomplete"] is True
        for pfn in range(10):  # descriptors 0-3 are there, but no data: lost too
            with pytest.raises(PageExcludedError):
                ctx.read_pfn(pfn)
        with pytest.raises(PageExcludedError):
            ctx.reader.read_pages(0, 10)


def test_kdump_eraseinfo(tmp_path: Path) -> None:
    erase = b"erase modules size 64\nerase jiffies nullify\n"
    info = kdump(tmp_path / "d", {0: Page(text(0), "zlib")}, max_mapnr=8, eraseinfo=erase)
    assert info.size_eraseinfo == len(erase)
    with open_dump(tmp_path / "d") as ctx:
        assert ctx.attr["file.eraseinfo.raw"] == erase
        assert ctx.read_pfn(0) == text(0)


VMCI_ENTRIES = {
    "SYMBOL(swapper_pg_dir)": 0xFFFFFFFF82A0B000,
    "SYMBOL(init_uts_ns)": 0xFFFFFFFF8300E4C0,
    "OFFSET(page.flags)": 0,
    "OFFSET(uts_namespace.name)": 4,
    "SIZE(page)": 64,
    "LENGTH(zone.free_area)": 11,
    "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)": -129,
    "NUMBER(phys_base)": 0x1000000,
    "KERNELOFFSET": "1a000000",
}


def check_vmcoreinfo_attrs(a: Attributes, vmci: bytes) -> None:
    assert a["linux.vmcoreinfo.raw"] == vmci
    assert a["linux.vmcoreinfo.lines.OSRELEASE"] == "6.8.0-attrs"
    assert a["linux.vmcoreinfo.lines.KERNELOFFSET"] == "1a000000"
    assert a["linux.vmcoreinfo.SYMBOL.swapper_pg_dir"] == 0xFFFFFFFF82A0B000
    assert a["linux.vmcoreinfo.SYMBOL.init_uts_ns"] == 0xFFFFFFFF8300E4C0
    assert a["linux.vmcoreinfo.OFFSET.page.flags"] == 0
    assert a["linux.vmcoreinfo.SIZE.page"] == 64
    assert a["linux.vmcoreinfo.LENGTH.zone.free_area"] == 11
    assert a["linux.vmcoreinfo.NUMBER.PAGE_BUDDY_MAPCOUNT_VALUE"] == -129
    assert a["linux.crashtime"] == 1712345678
    assert a["linux.phys_base"] == 0x1000000


def notes_blob(endian: str = "<", arch: str = "x86_64", ncpu: int = 3, vmci: bytes = b"") -> bytes:
    blob = b"".join(prstatus_note(arch, pid=i + 1, endian=endian) for i in range(ncpu))
    blob += make_note(b"CORE", 2, bytes(512), endian=endian)  # NT_PRFPREG: not a CPU
    blob += make_note(b"LINUX", 1, bytes(64), endian=endian)  # type 1 but not CORE
    if vmci:
        blob += make_note(b"VMCOREINFO", 0, vmci, endian=endian)
    return blob


@pytest.mark.parametrize("endian", ["<", ">"])
def test_kdump_vmcoreinfo_uts_cpus(endian: str, tmp_path: Path) -> None:
    vmci = vmcoreinfo_text(VMCI_ENTRIES, OSRELEASE="6.8.0-attrs", CRASHTIME=1712345678)
    arch = "x86_64" if endian == "<" else "s390x"
    kdump(tmp_path / "d", {0: Page(text(0))}, max_mapnr=8, endian=endian, arch=arch,
          notes=notes_blob(endian, arch, 3, vmci), vmcoreinfo=vmci, nodename="crashed-host",
          version="#7 SMP Tue", domainname="example.org")
    with open_dump(tmp_path / "d") as ctx:
        a = ctx.attr
        check_vmcoreinfo_attrs(a, vmci)
        assert a["cpu.number"] == 3
        assert len(a["cpu.2.PRSTATUS"]) == 336
        assert struct.unpack_from(endian + "i", a["cpu.1.PRSTATUS"], 32)[0] == 2  # pr_pid
        assert a["linux.uts.sysname"] == "Linux"
        assert a["linux.uts.nodename"] == "crashed-host"
        assert a["linux.uts.release"] == "6.8.0-attrs"
        assert a["linux.uts.version"] == "#7 SMP Tue"
        assert a["linux.uts.machine"] == ("x86_64" if endian == "<" else "s390x")
        assert a["linux.uts.domainname"] == "example.org"
        assert a["linux.uts"]["nodename"] == "crashed-host"  # a directory lookup


def test_kdump_vmcoreinfo_v3_text_after_sub_header(tmp_path: Path) -> None:
    vmci = vmcoreinfo_text(VMCI_ENTRIES, OSRELEASE="6.8.0-attrs", CRASHTIME=1712345678)
    kdump(tmp_path / "d", {0: Page(text(0))}, max_mapnr=8, header_version=3, vmcoreinfo=vmci)
    with open_dump(tmp_path / "d") as ctx:
        check_vmcoreinfo_attrs(ctx.attr, vmci)


def test_kdump_empty_utsname_uses_vmcoreinfo(tmp_path: Path) -> None:
    """QEMU writes an empty utsname: the release comes from VMCOREINFO."""
    vmci = vmcoreinfo_text(OSRELEASE="6.1.0-qemu")
    kdump(tmp_path / "d", {0: Page(text(0))}, max_mapnr=8, vmcoreinfo=vmci, sysname="", nodename="",
          release="", version="", machine="", domainname="")
    with open_dump(tmp_path / "d") as ctx:
        assert ctx.attr["linux.uts.release"] == "6.1.0-qemu"
        assert ctx.read_pfn(0) == text(0)


# ---------------------------------------------------------------------------
# 2. ELF

ELF_MACHINES = {(64, "<"): EM_X86_64, (64, ">"): 21, (32, "<"): EM_386, (32, ">"): 20}


def elf_segments(bits: int) -> tuple[list[tuple[int, int, bytes, int]], dict[int, bytes | None]]:
    """RAM with a hole, a segment whose tail is not in the file, and a
    memsz-only segment; and what every pfn should read."""
    vbase = 0xFFFF888000000000 if bits == 64 else 0xC0000000
    segs = []
    want: dict[int, bytes | None] = {}
    data0 = b"".join(text(p) for p in range(0, 16))
    segs.append((0, vbase, data0, len(data0)))
    for p in range(16):
        want[p] = text(p)
    for p in range(16, 32):
        want[p] = None  # hole
    data1 = b"".join(text(p) for p in range(32, 36))
    segs.append((32 * PS, vbase + 32 * PS, data1, 8 * PS))  # filesz < memsz
    for p in range(32, 36):
        want[p] = text(p)
    for p in range(36, 40):
        want[p] = None
    segs.append((48 * PS, vbase + 48 * PS, b"", 4 * PS))  # nothing in the file
    for p in range(48, 52):
        want[p] = None
    return segs, want


ELF_STYLES = ["plain", "qemu", "pn_xnum"]


def build_elf_variant(path: Path, bits: int, endian: str, style: str, vmci: bytes = b"") -> dict[int, bytes | None]:
    segs, want = elf_segments(bits)
    vmci = vmci or vmcoreinfo_text(OSRELEASE="6.8.0-attrs", PAGESIZE=PS, CRASHTIME=1712345678)
    arch = "x86_64" if bits == 64 else "i386"
    build_elf(path, segs, elfclass=bits, endian=endian, machine=ELF_MACHINES[bits, endian],
              notes=notes_blob(endian, arch, 2, vmci), phoff_after_shdrs=style == "qemu",
              use_pn_xnum=style == "pn_xnum", shnum=3 if style == "qemu" else 1)
    return want


def check_elf_pages(ctx: Context, want: dict[int, bytes | None]) -> None:
    for pfn, w in want.items():
        if w is None:
            with pytest.raises(PageExcludedError) as ei:
                ctx.read_pfn(pfn)
            assert ei.value.pfn == pfn
        else:
            assert ctx.read_pfn(pfn) == w, pfn


@pytest.mark.parametrize("style", ELF_STYLES)
@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("bits", [64, 32])
def test_elf_variants(bits: int, endian: str, style: str, tmp_path: Path) -> None:
    want = build_elf_variant(tmp_path / "e", bits, endian, style)
    with open_dump(tmp_path / "e") as ctx:
        a = ctx.attr
        assert a["file.format"] == "elf"
        assert a["elf.class"] == bits
        assert a["arch.byte_order"] == ("little" if endian == "<" else "big")
        assert a["cpu.number"] == 2
        assert a["linux.vmcoreinfo.lines.OSRELEASE"] == "6.8.0-attrs"
        assert a["linux.crashtime"] == 1712345678
        assert ctx.page_size == PS
        assert ctx.max_pfn == 52
        check_elf_pages(ctx, want)
        mem = a["memory.pagemap"]
        assert [mem.test(p) for p in (0, 15, 16, 31, 32, 39, 40, 48, 51)] == [1, 1, 0, 0, 1, 1, 0, 1, 1]
        assert list(ctx.pagemap.runs()) == [(0, 16), (32, 36)]
        assert ctx.reader.read_pages(2, 5) == b"".join(text(p) for p in range(2, 7))
        assert ctx.read_phys(3 * PS - 5, 10) == text(2)[-5:] + text(3)[:5]


@pytest.mark.parametrize("text_first", [False, True])
def test_elf_overlapping_loads_first_wins(text_first: bool, tmp_path: Path) -> None:
    """A kernel-text PT_LOAD repeating part of a RAM PT_LOAD: the address
    reads from the first PT_LOAD (in header order) that holds it."""
    ram = b"".join(text(p) for p in range(8))
    ktext = b"".join(text(1000 + p) for p in range(4))  # different bytes, to tell them apart
    ram_seg = (0, 0xFFFF888000000000, ram, len(ram))
    text_seg = (6 * PS, 0xFFFFFFFF81000000, ktext, len(ktext))  # pfn 6..9: half inside RAM
    segs = [text_seg, ram_seg] if text_first else [ram_seg, text_seg]
    build_elf(tmp_path / "e", segs, notes=make_note(b"VMCOREINFO", 0, vmcoreinfo_text()))
    with open_dump(tmp_path / "e") as ctx:
        assert ctx.max_pfn == 10
        assert list(ctx.pagemap.runs()) == [(0, 10)]
        got = [ctx.read_pfn(p) for p in range(10)]
        for p in range(6):
            assert got[p] == text(p)
        for p in (6, 7):
            assert got[p] == (text(1000 + p - 6) if text_first else text(p))
        assert got[8] == text(1002) and got[9] == text(1003)
        assert ctx.reader.read_pages(4, 6) == b"".join(got[4:10])


def test_elf_many_overlaps(tmp_path: Path) -> None:
    """Several PT_LOADs covering each other in every way; page by page the
    first that holds the page wins."""
    rnd = random.Random(5)
    segs = []
    owner: dict[int, bytes] = {}
    for i in range(12):
        start = rnd.randrange(0, 40)
        n = rnd.randrange(1, 12)
        data = b"".join(text(10000 * (i + 1) + p) for p in range(n))
        segs.append((start * PS, 0, data, len(data)))
        for k in range(n):
            owner.setdefault(start + k, text(10000 * (i + 1) + k))
    build_elf(tmp_path / "e", segs)
    with open_dump(tmp_path / "e") as ctx:
        for pfn in range(60):
            if pfn in owner:
                assert ctx.read_pfn(pfn) == owner[pfn], pfn
            else:
                with pytest.raises(PageExcludedError):
                    ctx.read_pfn(pfn)


def test_elf_partial_pages(tmp_path: Path) -> None:
    """A PT_LOAD ending mid-page, and one starting mid-page: the partial
    pages read zero-padded."""
    d0 = b"".join(text(p) for p in range(3))[: 2 * PS + PS // 2]  # ends in the middle of pfn 2
    d1 = text(50) + text(51)  # starts at byte 1024 of pfn 10
    build_elf(tmp_path / "e", [(0, 0, d0, len(d0)), (10 * PS + 1024, 0, d1, len(d1))])
    with open_dump(tmp_path / "e") as ctx:
        assert ctx.read_pfn(0) == text(0)
        assert ctx.read_pfn(2) == text(2)[: PS // 2] + bytes(PS // 2)
        assert ctx.read_pfn(10) == bytes(1024) + text(50)[: PS - 1024]
        assert ctx.read_pfn(11) == text(50)[PS - 1024 :] + text(51)[: PS - 1024]
        assert ctx.read_pfn(12) == text(51)[PS - 1024 :] + bytes(PS - 1024)
        assert ctx.reader.read_pages(10, 3) == b"".join(ctx.read_pfn(p) for p in (10, 11, 12))
        with pytest.raises(PageExcludedError):
            ctx.read_pfn(3)


def test_elf_incomplete_truncated(tmp_path: Path) -> None:
    """makedumpfile -E marks a cut-off file with e_flags bit 0: what is
    missing reads as excluded, and so does the page the cut goes through
    (its tail is not known: zeros would be invented data)."""
    data = b"".join(text(p) for p in range(16))
    info = build_elf(tmp_path / "e", [(0, 0, data, len(data))], e_flags=1)
    with open(tmp_path / "e", "r+b") as f:
        f.truncate(info.loads[0][0] + 5 * PS + 100)
    with open_dump(tmp_path / "e") as ctx:
        assert ctx.attr["file.incomplete"] is True
        for p in range(5):
            assert ctx.read_pfn(p) == text(p)
        for p in range(5, 16):
            with pytest.raises(PageExcludedError):
                ctx.read_pfn(p)


@pytest.mark.parametrize("endian", ["<", ">"])
def test_elf_notes_attributes(endian: str, tmp_path: Path) -> None:
    vmci = vmcoreinfo_text(VMCI_ENTRIES, OSRELEASE="6.8.0-attrs", CRASHTIME=1712345678)
    build_elf(tmp_path / "e", [(0, 0, text(0), PS)], endian=endian, machine=ELF_MACHINES[64, endian],
              notes=notes_blob(endian, "x86_64", 4, vmci))
    with open_dump(tmp_path / "e") as ctx:
        check_vmcoreinfo_attrs(ctx.attr, vmci)
        assert ctx.attr["cpu.number"] == 4
        assert ctx.attr["linux.uts.release"] == "6.8.0-attrs"


# ---------------------------------------------------------------------------
# 3. flattened


def _flat_sources(d: Path) -> dict[str, Path]:
    out = {}
    pages = variant_pages(PS, 8192)
    vmci = vmcoreinfo_text(OSRELEASE="6.8.0-flat")
    kdump(d / "kdump", pages, max_mapnr=8192, vmcoreinfo=vmci, nr_cpus=2, eraseinfo=b"erase x size 4\n")
    out["kdump"] = d / "kdump"
    kdump(d / "kdump-ppc64", variant_pages(65536, 64), max_mapnr=64, page_size=65536, arch="ppc64", endian=">",
          vmcoreinfo=vmcoreinfo_text(PAGESIZE=65536))
    out["kdump-ppc64"] = d / "kdump-ppc64"
    kdump(d / "kdump-i386", variant_pages(PS, 64), max_mapnr=64, layout="i386", arch="i386", header_version=4,
          vmcoreinfo=vmci, nr_cpus=1)
    out["kdump-i386"] = d / "kdump-i386"
    kdump(d / "kdump-32pad-v3", variant_pages(PS, 64), max_mapnr=64, arch="arm", header_version=3, vmcoreinfo=vmci)
    out["kdump-32pad-v3"] = d / "kdump-32pad-v3"
    kdump(d / "kdump-incomplete", variant_pages(PS, 64), max_mapnr=64, drop_last_n_descriptors=4)
    out["kdump-incomplete"] = d / "kdump-incomplete"
    kdump(d / "diskdump", variant_pages(PS, 64), max_mapnr=64, signature=b"DISKDUMP", header_version=1)
    out["diskdump"] = d / "diskdump"
    build_elf_variant(d / "elf64", 64, "<", "plain")
    out["elf64"] = d / "elf64"
    build_elf_variant(d / "elf32be-qemu", 32, ">", "qemu")
    out["elf32be-qemu"] = d / "elf32be-qemu"
    build_elf_variant(d / "elf64-xnum", 64, ">", "pn_xnum")
    out["elf64-xnum"] = d / "elf64-xnum"
    d0 = text(0)[: PS // 2]
    build_elf(d / "elf-partial", [(0, 0, d0, len(d0)), (3 * PS + 100, 0, text(3), PS)])
    out["elf-partial"] = d / "elf-partial"
    return out


@pytest.fixture(scope="module")
def flat_sources(files: Path) -> dict[str, Path]:
    return _flat_sources(files)


def comparable_attrs(ctx: Context) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in ctx.attr.items():
        if k.endswith("pagemap"):
            v = list(v.runs())
        out[k] = v
    return out


def read_outcome(ctx: Context, pfn: int) -> object:
    try:
        return ctx.read_pfn(pfn)
    except DumpError as e:
        return (type(e), e.message)


def assert_same_dump(a: Context, b: Context) -> None:
    assert comparable_attrs(a) == comparable_attrs(b)
    mem = a.attr["memory.pagemap"]
    pfns: set[int] = set()
    for lo, hi in itertools.chain(mem.runs(), a.pagemap.runs()):
        pfns.update(range(lo, min(hi, lo + 64)))
        pfns.update(range(max(lo, hi - 8), hi))
    pfns.update({lo - 1 for lo, _ in mem.runs() if lo})
    for pfn in sorted(pfns):
        assert read_outcome(a, pfn) == read_outcome(b, pfn), pfn


FLAT_MODES = {
    "plain": {},
    "shuffle": {"shuffle": True, "chunk": 1000, "seed": 3},
    "rewrite": {"overlap_rewrite": True, "chunk": 3000, "seed": 4},
    "shuffle-rewrite": {"shuffle": True, "overlap_rewrite": True, "chunk": 777, "seed": 5},
}


@pytest.mark.parametrize("mode", list(FLAT_MODES))
@pytest.mark.parametrize(
    "src",
    ["kdump", "kdump-ppc64", "kdump-i386", "kdump-32pad-v3", "kdump-incomplete", "diskdump",
     "elf64", "elf32be-qemu", "elf64-xnum", "elf-partial"],
)
def test_flattened_reads_like_the_file(src: str, mode: str, flat_sources: dict[str, Path], accel_backend: str,
                                       tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    info = flatten(flat_sources[src], flat, **FLAT_MODES[mode])  # type: ignore[arg-type]
    if mode != "plain":
        assert len(info.records) > 3
    with open_dump(flat_sources[src]) as plain, open_dump(flat) as ctx:
        assert ctx.name == str(flat)
        assert_same_dump(plain, ctx)


# ---------------------------------------------------------------------------
# 4. split sets


def split_pages() -> dict[int, Page]:
    rnd = random.Random(11)
    pages: dict[int, Page] = {}
    for pfn in range(300):
        r = rnd.random()
        if r < 0.15:
            continue  # hole
        if r < 0.25:
            pages[pfn] = Page.excluded()
        elif r < 0.35:
            pages[pfn] = Page.zero()
        else:
            pages[pfn] = Page(text(pfn), ALL_HOWS[rnd.randrange(5)])
    return pages


@pytest.fixture(scope="module")
def split_sets(files: Path) -> dict[int, tuple[list[Path], dict[int, Page]]]:
    pages = split_pages()
    out = {}
    for n in (2, 3):
        paths = [files / f"split{n}.{i}" for i in range(n)]
        split_files(paths, pages, max_mapnr=300, lzo_compress=LZO, nr_cpus=2,
                    vmcoreinfo=vmcoreinfo_text(OSRELEASE="6.8.0-split"))
        out[n] = (paths, pages)
    return out


@pytest.mark.parametrize("n", [2, 3])
def test_split_every_order(n: int, split_sets: dict[int, tuple[list[Path], dict[int, Page]]],
                           accel_backend: str) -> None:
    paths, pages = split_sets[n]
    for order in itertools.permutations(paths):
        with open_dump(list(order)) as ctx:
            assert ctx.attr["file.set.number"] == n
            assert [ctx.attr[f"file.set.{i}.name"] for i in range(n)] == [str(p) for p in paths]
            assert ctx.attr["kdump.split"] == 0
            assert ctx.attr["linux.vmcoreinfo.lines.OSRELEASE"] == "6.8.0-split"
            assert ctx.attr["cpu.number"] == 2
            assert ctx.pagemap.count() == sum(1 for p in pages if expected(pages, p, PS) is not None)
            for pfn in range(300):
                want = expected(pages, pfn, PS)
                if want is None:
                    with pytest.raises(PageExcludedError):
                        ctx.read_pfn(pfn)
                else:
                    assert ctx.read_pfn(pfn) == want, pfn
            # a batched read spanning every part
            lo, hi = 0, 300
            stored = [p for p in range(lo, hi) if ctx.pagemap.test(p)]
            run_start = stored[0]
            run_end = run_start
            while run_end + 1 in stored:
                run_end += 1
            assert ctx.reader.read_pages(run_start, run_end + 1 - run_start) == b"".join(
                expected(pages, p, PS) for p in range(run_start, run_end + 1)  # type: ignore[misc]
            )


def test_split_part_alone_holds_its_range(split_sets: dict[int, tuple[list[Path], dict[int, Page]]],
                                          accel_backend: str) -> None:
    paths, pages = split_sets[2]
    with open_dump(paths[1]) as ctx:
        start, end = ctx.attr["kdump.start_pfn"], ctx.attr["kdump.end_pfn"]
        assert 0 < start < end == 300
        for pfn in range(300):
            want = expected(pages, pfn, PS)
            if want is None or not start <= pfn < end:
                with pytest.raises(PageExcludedError):
                    ctx.read_pfn(pfn)
            else:
                assert ctx.read_pfn(pfn) == want


def _assert_names_one_of(e: DumpError, paths: list[Path]) -> None:
    s = str(e)
    assert any(str(p) in s for p in paths), s
    assert "Traceback" not in s


@pytest.mark.parametrize("which", [[0, 2], [0, 1], [1, 2], [2, 0], [1]])
def test_split_missing_part(which: list[int], split_sets: dict[int, tuple[list[Path], dict[int, Page]]],
                            tmp_path: Path) -> None:
    """One disk of a split set lost: the parts left still open (in any order); the pfns of the lost
    parts read as excluded and are named, by the reader, by --info and when converting."""
    paths, pages = split_sets[3]
    ranges = split_ranges(pages, 300, 3)  # the ranges the builder gave the parts
    given = [paths[i] for i in which]
    lost = [ranges[i] for i in range(3) if i not in which]
    with open_dump(given if len(given) > 1 else given[0]) as ctx:  # one part alone opens as that part
        if len(given) > 1:
            gaps = ctx.attr["file.set.missing"]
            merged: list[tuple[int, int]] = []
            for a, b in sorted(lost):
                if merged and merged[-1][1] == a:
                    merged[-1] = (merged[-1][0], b)
                else:
                    merged.append((a, b))
            assert gaps == merged
        held = [p for p in range(300) if expected(pages, p, PS) is not None
                and any(a <= p < b for a, b in (ranges[i] for i in which))]
        assert ctx.pagemap.count() == len(held)
        assert [p for p in range(300) if ctx.pagemap.test(p)] == held
        for pfn in range(300):
            if pfn in held:
                assert ctx.read_pfn(pfn) == expected(pages, pfn, PS)
            else:
                with pytest.raises(PageExcludedError):
                    ctx.read_pfn(pfn)
    if len(given) < 2:
        return
    info = subprocess.run([sys.executable, "-m", "pymakedumpfile", "--info", *map(str, given)],
                          capture_output=True, text=True, check=True)
    for a, b in lost:
        assert f"Missing part    : pfns {a:#x}-{b:#x} are in no file given" in info.stdout, info.stdout
    out = tmp_path / "joined"
    r = subprocess.run([sys.executable, "-m", "pymakedumpfile", "--reassemble", *map(str, given), str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "in no file of the split set given" in r.stderr and "Traceback" not in r.stderr
    with open_dump(out) as ctx:
        assert [p for p in range(300) if ctx.pagemap.test(p)] == held
        assert all(ctx.read_pfn(p) == expected(pages, p, PS) for p in held)


def test_split_overlapping_parts(tmp_path: Path) -> None:
    pages = split_pages()
    paths = [tmp_path / "a", tmp_path / "b"]
    split_files(paths, pages, max_mapnr=300, ranges=[(0, 170), (120, 300)], lzo_compress=LZO)
    with pytest.raises(CorruptDumpError) as ei:
        open_dump(paths)
    assert str(paths[1]) in str(ei.value) and "overlaps" in str(ei.value)


def test_split_same_part_twice(split_sets: dict[int, tuple[list[Path], dict[int, Page]]]) -> None:
    paths, _ = split_sets[2]
    with pytest.raises(CorruptDumpError) as ei:
        open_dump([paths[0], paths[0], paths[1]])
    _assert_names_one_of(ei.value, paths)


def test_split_with_foreign_files(split_sets: dict[int, tuple[list[Path], dict[int, Page]]], tmp_path: Path) -> None:
    paths, _ = split_sets[2]
    # a whole (not split) kdump file
    kdump(tmp_path / "whole", split_pages(), max_mapnr=300)
    with pytest.raises(CorruptDumpError) as ei:
        open_dump([paths[0], tmp_path / "whole"])
    assert str(tmp_path / "whole") in str(ei.value)
    # a part of another dump (different bitmaps)
    other = split_pages()
    other[299] = Page.hole() if 299 in other else Page(text(299))
    others = [tmp_path / "o0", tmp_path / "o1"]
    split_files(others, other, max_mapnr=300, lzo_compress=LZO)
    with pytest.raises(CorruptDumpError) as ei:
        open_dump([paths[0], others[1]])
    _assert_names_one_of(ei.value, [paths[0], others[1]])
    # an ELF file
    build_elf(tmp_path / "elf", [(0, 0, text(0), PS)])
    with pytest.raises(UnsupportedDumpError) as ei2:
        open_dump([paths[0], tmp_path / "elf"])
    assert str(tmp_path / "elf") in str(ei2.value)


def test_open_dump_no_files() -> None:
    with pytest.raises(DumpError):
        open_dump([])


# ---------------------------------------------------------------------------
# 5. damaged input


def open_limited(path: Path | list[Path]) -> tuple[Context | None, DumpError | None, int]:
    """Open ``path``; return (context or None, the DumpError or None, peak bytes
    allocated while opening).  Any other exception fails the test."""
    tracemalloc.start()
    try:
        try:
            ctx = open_dump(path)
            err = None
        except DumpError as e:
            ctx, err = None, e
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEM_LIMIT, f"opening allocated {peak / MiB:.0f} MiB"
    return ctx, err, peak


def expect_open_error(path: Path, cls: type[DumpError] = DumpError) -> DumpError:
    ctx, err, _ = open_limited(path)
    if ctx is not None:
        ctx.close()
        pytest.fail(f"{path} opened; expected {cls.__name__}")
    assert isinstance(err, cls), repr(err)
    assert str(path) in str(err), str(err)
    return err


def expect_read_error(path: Path, pfns: list[int], cls: type[DumpError] = CorruptDumpError) -> DumpError:
    """Opening may fail (with a DumpError naming the file); if it succeeds,
    reading each of ``pfns`` must raise ``cls``."""
    ctx, err, _ = open_limited(path)
    if err is not None:
        assert str(path) in str(err), str(err)
        return err
    assert ctx is not None
    with ctx:
        for pfn in pfns:
            with pytest.raises(DumpError) as ei:
                ctx.read_pfn(pfn)
            assert isinstance(ei.value, cls), repr(ei.value)
            assert str(path) in str(ei.value)
        return ei.value


def read_everything(ctx: Context, limit: int = 400) -> None:
    """Read stored pages (at most ``limit``), one by one and batched; only
    DumpError may come out."""
    n = 0
    for a, b in ctx.pagemap.runs():
        try:
            ctx.reader.read_pages(a, min(b - a, 32))
        except DumpError:
            pass
        for pfn in range(a, b):
            try:
                ctx.read_pfn(pfn)
            except DumpError:
                pass
            n += 1
            if n >= limit:
                return


DAMAGE_PAGES = {
    0: Page(text(0), "raw"),
    1: Page(text(1), "zlib"),
    2: Page(text(2), "lzo"),
    3: Page(text(3), "snappy"),
    4: Page(text(4), "zstd"),
    5: Page.zero(),
    6: Page.excluded(),
    8: Page(noise(8), "zlib"),
    9: Page(text(9), "zlib"),
    10: Page(text(10), "zlib"),
}


@pytest.fixture(scope="module")
def good_kdump(files: Path) -> KFix:
    vmci = vmcoreinfo_text(OSRELEASE="6.8.0-good")
    info = kdump(files / "good-kdump", DAMAGE_PAGES, max_mapnr=64, vmcoreinfo=vmci, nr_cpus=2,
                 eraseinfo=b"erase x size 4\n")
    return info, (files / "good-kdump").read_bytes()


@pytest.fixture(scope="module")
def good_elf(files: Path) -> EFix:
    segs = [(0, 0xFFFF888000000000, b"".join(text(p) for p in range(4)), 4 * PS),
            (8 * PS, 0xFFFF888000008000, text(8) + text(9), 4 * PS)]
    notes = notes_blob("<", "x86_64", 2, vmcoreinfo_text())
    info = build_elf(files / "good-elf", segs, notes=notes)
    return info, (files / "good-elf").read_bytes()


def write_copy(tmp_path: Path, data: bytes, name: str = "bad") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_good_files_are_good(good_kdump: KFix, good_elf: EFix, accel_backend: str) -> None:
    for info, _ in (good_kdump, good_elf):
        with open_dump(info.path) as ctx:
            read_everything(ctx)
            for a, b in ctx.pagemap.runs():
                for pfn in range(a, b):
                    ctx.read_pfn(pfn)


@pytest.fixture(scope="module")
def trunc_kdump(files: Path) -> KFix:
    """Like good_kdump but without eraseinfo, so the file ends with page data."""
    info = kdump(files / "trunc-kdump", DAMAGE_PAGES, max_mapnr=64, vmcoreinfo=vmcoreinfo_text(), nr_cpus=2)
    return info, (files / "trunc-kdump").read_bytes()


def kdump_truncations(info: KdumpInfo, erase_info: KdumpInfo) -> list[tuple[str, int, list[int] | None]]:
    """(where, offset, pfns that must fail to read if it opens) -- None: must not open."""
    d = info.page_data
    return [
        ("empty", 0, None),
        ("7", 7, None),
        ("100", 100, None),
        ("header", 300, None),
        ("header-end", 463, None),
        ("sub-header", info.offset_sub_header + 50, None),
        ("notes", info.offset_note + 30, None),
        ("bitmap1", info.offset_bitmap1 + 4, None),
        ("bitmap2", info.offset_bitmap2 + 4, None),
        ("descriptors", info.offset_pd + 24 * 3 + 5, [4, 9, 10]),
        ("zero-page", info.offset_data + 10, [0, 1, 5, 10]),
        ("page-data", d[3][0] + d[3][1] // 2, [3, 4, 10]),
        ("last-page", d[10][0] + d[10][1] - 1, [10]),
        ("eraseinfo", erase_info.file_size - 1, None),  # in good_kdump, whose eraseinfo ends the file
    ]


@pytest.mark.parametrize("case", range(14))
def test_kdump_truncated(case: int, trunc_kdump: KFix, good_kdump: KFix, accel_backend: str, tmp_path: Path) -> None:
    info, data = trunc_kdump
    where, offset, pfns = kdump_truncations(info, good_kdump[0])[case]
    if where == "eraseinfo":
        data = good_kdump[1]
    path = write_copy(tmp_path, data[:offset], f"trunc-{where}")
    if pfns is None:
        expect_open_error(path)
        return
    # the headers are intact: it opens, and the pages cut off fail to read
    ctx, err, _ = open_limited(path)
    assert err is None, err
    assert ctx is not None
    with ctx:
        for pfn in pfns:
            with pytest.raises(CorruptDumpError) as ei:
                ctx.read_pfn(pfn)
            assert str(path) in str(ei.value)
        intact = [pfn for pfn, (off, size, _) in info.page_data.items()
                  if off + size <= offset and info.desc_offsets[pfn] + 24 <= offset]
        assert intact or where in ("descriptors", "zero-page")
        for pfn in intact:
            assert ctx.read_pfn(pfn) == expected(DAMAGE_PAGES, pfn, PS)
        read_everything(ctx)


def elf_offsets(bits: int = 64) -> dict[str, int]:
    if bits == 64:
        return {"e_type": 16, "e_phoff": 32, "e_shoff": 40, "e_flags": 48, "e_phentsize": 54, "e_phnum": 56,
                "p_offset": 8, "p_filesz": 32, "p_memsz": 40}
    return {"e_type": 16, "e_phoff": 28, "e_shoff": 32, "e_flags": 36, "e_phentsize": 42, "e_phnum": 44,
            "p_offset": 4, "p_filesz": 16, "p_memsz": 20}


@pytest.mark.parametrize("where", ["empty", "7", "ident", "ehdr", "phdrs", "notes", "load0", "load1", "last-byte"])
def test_elf_truncated(where: str, good_elf: EFix, tmp_path: Path) -> None:
    info, data = good_elf
    cut = {
        "empty": 0,
        "7": 7,
        "ident": 12,
        "ehdr": 40,
        "phdrs": info.e_phoff + 60,
        "notes": info.note_offset + 100,
        "load0": info.loads[0][0] + PS + 10,
        "load1": info.loads[1][0] + 10,
        "last-byte": info.file_size - 1,
    }[where]
    expect_open_error(write_copy(tmp_path, data[:cut]))


def patched(tmp_path: Path, data: bytes, patches: list[tuple[int, bytes]], name: str = "bad") -> Path:
    buf = bytearray(data)
    for off, b in patches:
        buf[off : off + len(b)] = b
    return write_copy(tmp_path, bytes(buf), name)


def field_patch(info: KdumpInfo, name: str, value: int | bytes) -> tuple[int, bytes]:
    return info.fields[name], struct.pack(info.field_formats[name], value)


KDUMP_FIELD_DAMAGE: list[tuple[str, int | bytes, type[DumpError] | None]] = [
    ("header.signature", b"KDUMPXXX", UnsupportedDumpError),
    ("header.signature", b"\0" * 8, UnsupportedDumpError),
    ("header.header_version", 7, UnsupportedDumpError),
    ("header.header_version", 1000, DumpError),
    ("header.header_version", -1, CorruptDumpError),
    ("header.block_size", 0, CorruptDumpError),
    ("header.block_size", 3000, CorruptDumpError),
    ("header.block_size", 256, CorruptDumpError),
    ("header.block_size", 1 << 30, CorruptDumpError),
    ("header.block_size", -4096, CorruptDumpError),
    ("header.block_size", 8192, None),  # sane but wrong: may open; reads give DumpErrors or garbage
    ("header.sub_hdr_size", 0, CorruptDumpError),
    ("header.sub_hdr_size", -1, CorruptDumpError),
    ("header.sub_hdr_size", 0x7FFFFFFF, CorruptDumpError),
    ("header.bitmap_blocks", 3, CorruptDumpError),
    ("header.bitmap_blocks", 0, CorruptDumpError),
    ("header.bitmap_blocks", 0xFFFFFFFE, CorruptDumpError),
    ("sub.max_mapnr_64", 4096 * 8 + 1, CorruptDumpError),  # bitmap shorter than max_mapnr
    ("sub.max_mapnr_64", 1 << 50, CorruptDumpError),
    ("sub.offset_note", 1 << 62, CorruptDumpError),
    ("sub.offset_note", -5, CorruptDumpError),
    ("sub.size_note", 1 << 40, CorruptDumpError),
    ("sub.size_note", 60 * MiB, CorruptDumpError),
    ("sub.size_note", (64 * MiB) + 1, CorruptDumpError),
    ("sub.size_note", 0xFFFFFFFFFFFFFFFF, CorruptDumpError),
    ("sub.offset_eraseinfo", 1 << 62, CorruptDumpError),
    ("sub.size_eraseinfo", 63 * MiB, CorruptDumpError),
    ("sub.split", 1, CorruptDumpError),  # with start_pfn 50 > end_pfn 10 (patched below)
]


@pytest.mark.parametrize("case", range(len(KDUMP_FIELD_DAMAGE)),
                         ids=lambda i: "{}={!r}".format(*KDUMP_FIELD_DAMAGE[i][:2]))
def test_kdump_bad_field(case: int, good_kdump: KFix, tmp_path: Path) -> None:
    info, data = good_kdump
    name, value, cls = KDUMP_FIELD_DAMAGE[case]
    patches = [field_patch(info, name, value)]
    if name == "sub.split":  # an impossible range
        patches += [field_patch(info, "sub.start_pfn_64", 50), field_patch(info, "sub.end_pfn_64", 10)]
    path = patched(tmp_path, data, patches)
    if cls is None:
        ctx, err, _ = open_limited(path)
        if ctx is not None:
            with ctx:
                read_everything(ctx)
        return
    expect_open_error(path, cls)


def test_kdump_terabyte_claims(good_kdump: KFix, tmp_path: Path) -> None:
    """Bitmaps of terabytes: refused from the file size, nothing allocated."""
    info, data = good_kdump
    for mapnr, blocks in ((1 << 40, 0xFFFFFFFE), (1 << 44, 0xFFFFFFFE), (0xFFFFFFFF, 0x10000)):
        p = patched(tmp_path, data, [field_patch(info, "sub.max_mapnr_64", mapnr),
                                     field_patch(info, "header.bitmap_blocks", blocks)])
        expect_open_error(p, CorruptDumpError)


def test_kdump_old_header_bad_max_mapnr(tmp_path: Path) -> None:
    """Before v6 max_mapnr comes from the main header."""
    info = kdump(tmp_path / "v5", {0: Page(text(0))}, max_mapnr=64, header_version=5)
    data = (tmp_path / "v5").read_bytes()
    for v in (4096 * 8 + 1, 0xFFFFFFFF):
        expect_open_error(patched(tmp_path, data, [field_patch(info, "header.max_mapnr", v)]), CorruptDumpError)


def test_kdump_v3_bad_vmcoreinfo(tmp_path: Path) -> None:
    info = kdump(tmp_path / "v3", {0: Page(text(0))}, max_mapnr=64, header_version=3,
                 vmcoreinfo=vmcoreinfo_text())
    data = (tmp_path / "v3").read_bytes()
    for name, v in (("sub.offset_vmcoreinfo", 1 << 61), ("sub.size_vmcoreinfo", 1 << 40),
                    ("sub.size_vmcoreinfo", 50 * MiB), ("sub.offset_vmcoreinfo", -1)):
        expect_open_error(patched(tmp_path, data, [field_patch(info, name, v)]), CorruptDumpError)


def test_kdump_i386_bad_fields(tmp_path: Path) -> None:
    info = kdump(tmp_path / "i386", {0: Page(text(0))}, max_mapnr=64, layout="i386", arch="i386",
                 vmcoreinfo=vmcoreinfo_text(), nr_cpus=1)
    data = (tmp_path / "i386").read_bytes()
    for name, v in (("sub.size_note", 0xFFFFFFFF), ("sub.offset_note", 1 << 62), ("header.bitmap_blocks", 1),
                    ("sub.max_mapnr_64", 1 << 50), ("header.block_size", 0)):
        expect_open_error(patched(tmp_path, data, [field_patch(info, name, v)]), CorruptDumpError)


# page-descriptor damage: (page, pfns to read, error class)
DESC_DAMAGE: dict[str, tuple[Page, type[DumpError]]] = {
    "offset-past-eof": (Page(text(1), "zlib", desc_offset=10**12), CorruptDumpError),
    "offset-max": (Page(text(1), "raw", desc_offset=(1 << 63) - 1), CorruptDumpError),
    "offset-negative": (Page(text(1), "zlib", desc_offset=-4096), CorruptDumpError),
    "offset-in-header": (Page(text(1), "raw", desc_offset=100), CorruptDumpError),
    "size-page+1": (Page(text(1), "raw", desc_size=PS + 1), CorruptDumpError),
    "size-4G": (Page(text(1), "zlib", desc_size=0xFFFFFFFF), CorruptDumpError),
    "size-0": (Page(text(1), "zlib", desc_size=0), CorruptDumpError),
    "raw-short": (Page(text(1), "raw", stored=text(1)[:100]), CorruptDumpError),
    "flag-unknown-raw": (Page(text(1), "raw", desc_flags=0x40), UnsupportedDumpError),
    "flag-unknown-zlib": (Page(text(1), "zlib", desc_flags=0x41), UnsupportedDumpError),
    "flag-incomplete-bit": (Page(text(1), "raw", desc_flags=0x08), UnsupportedDumpError),
    "flag-high": (Page(text(1), "raw", desc_flags=0x80000000), UnsupportedDumpError),
    "flag-two-codecs": (Page(text(1), "zlib", desc_flags=0x03), UnsupportedDumpError),
}


@pytest.mark.parametrize("case", list(DESC_DAMAGE))
def test_kdump_bad_descriptor(case: str, tmp_path: Path) -> None:
    page, cls = DESC_DAMAGE[case]
    pages = {0: Page(text(0)), 1: page, 2: Page(text(2), "zlib")}
    path = tmp_path / "bad"
    kdump(path, pages, max_mapnr=8)
    expect_read_error(path, [1], cls)
    with open_dump(path) as ctx:  # the neighbours are fine
        assert ctx.read_pfn(0) == text(0) and ctx.read_pfn(2) == text(2)
        with pytest.raises(cls):
            ctx.reader.read_pages(0, 3)


def _zstd_no_size(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=1, write_content_size=False).compress(data)


def corrupt_streams(how: str) -> dict[str, bytes]:
    """Broken compressed data for one page of codec ``how``."""
    comp = {"zlib": lambda d: zlib.compress(d, 1), "lzo": LZO, "snappy": snappy_compressor(),
            "zstd": zstd_compressor(1)}[how]
    good = comp(text(1))
    rnd = random.Random(how)
    out = {
        "garbage": rnd.randbytes(300),
        "truncated": good[: len(good) // 2],
        "short": comp(text(1)[: PS // 2]),  # a valid stream of half a page
        "long": comp(text(1) + text(2)),  # a valid stream of two pages
        "bitflips": bytes(b ^ (0x5A if i % 7 == 3 else 0) for i, b in enumerate(good)),
        "empty-ish": good[:1],
    }
    if how == "zstd":
        out["long-no-size"] = _zstd_no_size(text(1) + text(2))
        out["short-no-size"] = _zstd_no_size(text(1)[:100])
    if how == "snappy":
        out["varint-page-garbage"] = b"\x80\x20" + rnd.randbytes(200)  # says 4096, then junk
    if how == "lzo":
        out["overrun"] = comp(noise(1) + noise(2))[: PS - 1]
    return out


CORRUPT_CASES = [(how, kind) for how in CODECS for kind in corrupt_streams(how)]


@pytest.mark.parametrize("how,kind", CORRUPT_CASES)
def test_kdump_corrupt_compressed_data(how: str, kind: str, accel_backend: str, tmp_path: Path) -> None:
    stored = corrupt_streams(how)[kind]
    pages = {0: Page(text(0), how), 1: Page(text(1), how, stored=stored), 2: Page(text(2), how)}
    path = tmp_path / "bad"
    kdump(path, pages, max_mapnr=8)
    expect_read_error(path, [1], CorruptDumpError)
    with open_dump(path) as ctx:
        assert ctx.read_pfn(0) == text(0) and ctx.read_pfn(2) == text(2)


ELF_DAMAGE = [
    ("e_phnum", "H", 0xFFFE),
    ("e_phoff", "Q", 1 << 40),
    ("e_phoff", "Q", 0xFFFFFFFFFFFFFFF0),
    ("e_phentsize", "H", 55),
    ("e_phentsize", "H", 0),
    ("e_type", "H", 2),
    ("load0.p_filesz", "Q", 5 * PS),  # > p_memsz
    ("load0.p_offset", "Q", 1 << 40),
    ("load0.p_offset", "Q", 0xFFFFFFFFFFFFF000),
    ("load1.p_filesz", "Q", 1 << 60),
    ("note.p_offset", "Q", 1 << 40),
    ("note.p_filesz", "Q", 1 << 40),
    ("note.p_filesz", "Q", 60 * MiB),
]


@pytest.mark.parametrize("case", range(len(ELF_DAMAGE)), ids=lambda i: f"{ELF_DAMAGE[i][0]}={ELF_DAMAGE[i][2]:#x}")
def test_elf_bad_field(case: int, good_elf: EFix, tmp_path: Path) -> None:
    info, data = good_elf
    name, fmt, value = ELF_DAMAGE[case]
    offs = elf_offsets()
    if "." in name:
        seg, fld = name.split(".")
        idx = {"note": 0, "load0": 1, "load1": 2}[seg]
        off = info.phdr_offsets[idx] + offs[fld]
    else:
        off = offs[name]
    expect_open_error(patched(tmp_path, data, [(off, struct.pack("<" + fmt, value))]))


def test_elf_bad_ident(good_elf: EFix, tmp_path: Path) -> None:
    _, data = good_elf
    expect_open_error(patched(tmp_path, data, [(4, b"\x03")], "class"), CorruptDumpError)
    expect_open_error(patched(tmp_path, data, [(5, b"\x00")], "data"), CorruptDumpError)
    expect_open_error(patched(tmp_path, data, [(0, b"\x7fELG")], "magic"), UnsupportedDumpError)


@pytest.mark.parametrize("bits", [64, 32])
def test_elf_pn_xnum_damage(bits: int, tmp_path: Path) -> None:
    src = tmp_path / "x"
    info = build_elf(src, [(0, 0, text(0), PS)], elfclass=bits, use_pn_xnum=True)
    data = src.read_bytes()
    sh_info = info.e_shoff + (44 if bits == 64 else 28)
    e_shoff = elf_offsets(bits)["e_shoff"]
    word = "<Q" if bits == 64 else "<I"
    for name, patch in {
        "count-4G": (sh_info, struct.pack("<I", 0xFFFFFFFF)),
        "count-4M": (sh_info, struct.pack("<I", (1 << 22) - 1)),  # within MAX_PHNUM: 235 MB of headers claimed
        "count-0x10000": (sh_info, struct.pack("<I", 0x10000)),
        "shoff-past-eof": (e_shoff, struct.pack(word, 1 << 30)),
        "shoff-0": (e_shoff, struct.pack(word, 0)),
    }.items():
        expect_open_error(patched(tmp_path, data, [patch], name))


@pytest.mark.parametrize("bits", [64, 32])
def test_elf32_64_bad_loads(bits: int, tmp_path: Path) -> None:
    src = tmp_path / "e"
    info = build_elf(src, [(0, 0, text(0) + text(1), 2 * PS)], elfclass=bits, endian=">",
                     machine=ELF_MACHINES[bits, ">"])
    data = src.read_bytes()
    offs = elf_offsets(bits)
    w = ">Q" if bits == 64 else ">I"
    ph = info.phdr_offsets[1]
    for name, patch in {
        "filesz>memsz": (ph + offs["p_filesz"], struct.pack(w, 3 * PS)),
        "offset-past-eof": (ph + offs["p_offset"], struct.pack(w, 0xFFFF0000)),
        "phoff-past-eof": (offs["e_phoff"], struct.pack(w, 0xFFFF0000)),
        "phnum-huge": (offs["e_phnum"], struct.pack(">H", 0xFFF0)),
    }.items():
        expect_open_error(patched(tmp_path, data, [patch], name))


def test_not_dumps(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    expect_open_error(empty, UnsupportedDumpError)
    expect_open_error(tmp_path, DumpError)  # a directory
    expect_open_error(tmp_path / "does-not-exist", DumpError)
    junk = tmp_path / "junk"
    junk.write_bytes(random.Random(1).randbytes(8192))
    expect_open_error(junk, UnsupportedDumpError)
    text_file = tmp_path / "text"
    text_file.write_bytes(b"KDUMP   is not enough\n")
    expect_open_error(text_file, DumpError)
    with pytest.raises(DumpError) as ei:
        open_dump([tmp_path / "nope1", tmp_path / "nope2"])
    assert "nope1" in str(ei.value)


def test_flattened_damage(good_kdump: KFix, tmp_path: Path) -> None:
    info, data = good_kdump
    src = Path(info.path)
    fl = tmp_path / "flat"
    fi = flatten(src, fl, chunk=4096)
    stream = fl.read_bytes()
    rec0 = 4096  # first record header
    # no end marker
    flatten(src, tmp_path / "noend", chunk=4096, end_marker=False)
    expect_open_error(tmp_path / "noend", TruncatedDumpError)
    # header only
    expect_open_error(write_copy(tmp_path, stream[:4096], "hdr-only"), TruncatedDumpError)
    # negative size, negative offset
    expect_open_error(patched(tmp_path, stream, [(rec0 + 8, struct.pack(">q", -5))], "neg-size"), CorruptDumpError)
    expect_open_error(patched(tmp_path, stream, [(rec0, struct.pack(">q", -2))], "neg-off"), CorruptDumpError)
    # -1 offset with a real size is not the end marker
    expect_open_error(patched(tmp_path, stream, [(rec0, struct.pack(">q", -1))], "neg1-off"), CorruptDumpError)
    # a record running past the end of the stream
    expect_open_error(patched(tmp_path, stream, [(rec0 + 8, struct.pack(">q", 1 << 40))], "huge-rec"),
                      TruncatedDumpError)
    expect_open_error(write_copy(tmp_path, stream[: len(stream) - 100], "cut"), TruncatedDumpError)
    cut_mid_header = 4096 + (16 + 4096) * 2 + 7
    expect_open_error(write_copy(tmp_path, stream[:cut_mid_header], "cut-hdr"), TruncatedDumpError)
    assert len(fi.records) > 3
    # only an end marker: an empty file
    expect_open_error(write_copy(tmp_path, flat_header() + FLAT_END, "empty-flat"), UnsupportedDumpError)


def test_flattened_terabyte_claims(good_kdump: KFix, tmp_path: Path) -> None:
    """A record far away makes the flattened file huge; headers claiming
    terabytes of bitmaps must still not allocate them."""
    info, data = good_kdump
    buf = bytearray(data)
    for name, v in (("sub.max_mapnr_64", 1 << 40), ("header.bitmap_blocks", 0xFFFFFFFE)):
        off, b = field_patch(info, name, v)
        buf[off : off + len(b)] = b
    stream = flat_header() + flat_record(0, bytes(buf)) + flat_record(1 << 45, b"x") + FLAT_END
    expect_open_error(write_copy(tmp_path, stream, "far"), TruncatedDumpError)
    # the same for ELF: a note segment claiming 60 MiB nobody wrote
    src = tmp_path / "e"
    einfo = build_elf(src, [(0, 0, text(0), PS)], notes=make_note(b"VMCOREINFO", 0, vmcoreinfo_text()))
    ebuf = bytearray(src.read_bytes())
    struct.pack_into("<Q", ebuf, einfo.phdr_offsets[0] + 32, 60 * MiB)
    stream = flat_header() + flat_record(0, bytes(ebuf)) + flat_record(1 << 45, b"x") + FLAT_END
    expect_open_error(write_copy(tmp_path, stream, "far-elf"), TruncatedDumpError)


def test_flattened_sparse_gap_reads_zero(tmp_path: Path) -> None:
    """Small gaps no record covers read as zeros, as -R leaves them."""
    src = tmp_path / "k"
    kdump(src, {0: Page(text(0), "zlib"), 1: Page(text(1))}, max_mapnr=8)
    data = src.read_bytes()
    # drop the zero padding after the header and after the sub header
    stream = flat_header() + flat_record(0, data[:464]) + flat_record(PS, data[PS : PS + 200])
    stream += flat_record(2 * PS, data[2 * PS :]) + FLAT_END
    (tmp_path / "f").write_bytes(stream)
    with open_dump(src) as a, open_dump(tmp_path / "f") as b:
        assert_same_dump(a, b)


# ---- byte-flip fuzzing ------------------------------------------------------

FUZZ_SPAN = 16384


def _fuzz_sources(d: Path) -> dict[str, bytes]:
    out = {}
    pages = {
        0: Page(text(0, 2048), "raw"),
        1: Page(text(1, 2048), "zlib"),
        2: Page(text(2, 2048), "lzo"),
        3: Page(text(3, 2048), "snappy"),
        4: Page(text(4, 2048), "zstd"),
        5: Page.zero(2048),
        6: Page.excluded(),
        8: Page(noise(8, 2048), "lzo"),
    }
    for p in range(9, 30):
        pages[p] = Page(text(p, 2048), ALL_HOWS[p % 5])
    kdump(d / "fz-kdump", pages, max_mapnr=40, page_size=2048, nr_cpus=2,
          vmcoreinfo=vmcoreinfo_text(PAGESIZE=2048), eraseinfo=b"erase a size 1\n")
    out["kdump"] = (d / "fz-kdump").read_bytes()
    pages32 = {p: Page(text(p, 1024), ALL_HOWS[p % 5]) for p in range(24)}
    pages32[7] = Page.zero(1024)
    kdump(d / "fz-kdump32", pages32, max_mapnr=30, page_size=1024, arch="ppc", endian=">", nr_cpus=1,
          header_version=5, vmcoreinfo=vmcoreinfo_text(PAGESIZE=1024))
    out["kdump32"] = (d / "fz-kdump32").read_bytes()
    segs = [(0, 0xFFFF888000000000, text(0) + text(1)[:1000], 3 * PS), (5 * PS, 0xFFFF888000005000, text(5), PS)]
    build_elf(d / "fz-elf", segs, notes=notes_blob("<", "x86_64", 2, vmcoreinfo_text()))
    out["elf"] = (d / "fz-elf").read_bytes()
    build_elf(d / "fz-elf32", [(0, 0xC0000000, text(0), PS), (PS, 0xC0001000, text(1), 2 * PS)], elfclass=32,
              endian=">", machine=20, phoff_after_shdrs=True, notes=notes_blob(">", "i386", 1, vmcoreinfo_text()))
    out["elf32"] = (d / "fz-elf32").read_bytes()
    flatten(d / "fz-kdump", d / "fz-flat", chunk=1500, shuffle=True)
    out["flat"] = (d / "fz-flat").read_bytes()
    return out


@pytest.fixture(scope="module")
def fuzz_sources(files: Path) -> dict[str, bytes]:
    return _fuzz_sources(files)


def _fuzz_one(src: bytes, flips: list[tuple[int, int]], path: Path) -> None:
    buf = bytearray(src)
    for off, x in flips:
        if off < len(buf):
            buf[off] ^= x
    path.write_bytes(bytes(buf))
    ctx, err, _ = open_limited(path)
    if err is not None:
        assert str(path) in str(err)
        return
    assert ctx is not None
    with ctx:
        read_everything(ctx, limit=150)


FLIPS = st.lists(st.tuples(st.integers(0, FUZZ_SPAN - 1), st.integers(1, 255)), min_size=1, max_size=12)
FUZZ_SETTINGS = settings(max_examples=200, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.parametrize("kind", ["kdump", "kdump32", "flat"])
@FUZZ_SETTINGS
@given(flips=FLIPS)
def test_fuzz_kdump(kind: str, flips: list[tuple[int, int]], fuzz_sources: dict[str, bytes], accel_backend: str,
                    tmp_path: Path) -> None:
    _fuzz_one(fuzz_sources[kind], flips, tmp_path / f"fuzz-{kind}")


@pytest.mark.parametrize("kind", ["elf", "elf32"])
@FUZZ_SETTINGS
@given(flips=FLIPS)
def test_fuzz_elf(kind: str, flips: list[tuple[int, int]], fuzz_sources: dict[str, bytes], tmp_path: Path) -> None:
    _fuzz_one(fuzz_sources[kind], flips, tmp_path / f"fuzz-{kind}")


# ---------------------------------------------------------------------------
# 6. the command line on damaged input


def _cli_cases(d: Path, good_kdump: KFix, good_elf: EFix) -> dict[str, Path]:
    kinfo, kdata = good_kdump
    einfo, edata = good_elf
    cases = {
        "bad-signature": patched(d, kdata, [field_patch(kinfo, "header.signature", b"KDUMPXXX")], "bad-signature"),
        "truncated-header": write_copy(d, kdata[:300], "truncated-header"),
        "bitmap-short": patched(d, kdata, [field_patch(kinfo, "sub.max_mapnr_64", 1 << 50)], "bitmap-short"),
        "elf-phoff": patched(d, edata, [(32, struct.pack("<Q", 1 << 40))], "elf-phoff"),
        "missing": d / "missing-file",
        "empty": write_copy(d, b"", "empty"),
    }
    # opens fine, but a page is corrupt: found while writing
    kdump(d / "corrupt-page", {0: Page(text(0), "zlib"), 1: Page(text(1), "zlib", stored=b"garbage" * 10)},
          max_mapnr=8, dump_level=0)
    cases["corrupt-page"] = d / "corrupt-page"
    flatten(kinfo.path, d / "flat-noend", end_marker=False)
    cases["flat-noend"] = d / "flat-noend"
    return cases


CLI_CASES = [(c, False) for c in ("bad-signature", "truncated-header", "bitmap-short", "elf-phoff", "missing",
                                   "empty", "corrupt-page", "flat-noend")]
CLI_CASES += [("corrupt-page", True), ("bad-signature", True)]  # -E: the zero-page pre-pass reads every page


@pytest.mark.parametrize("case,elf", CLI_CASES)
def test_cli_damaged(case: str, elf: bool, good_kdump: KFix, good_elf: EFix, tmp_path: Path) -> None:
    bad = _cli_cases(tmp_path, good_kdump, good_elf)[case]
    out = tmp_path / "OUT"
    args = [sys.executable, "-m", "pymakedumpfile", "-d", "1", *(["-E"] if elf else []), str(bad), str(out)]
    p = subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert str(bad) in p.stderr, p.stderr
    assert "Traceback" not in p.stderr, p.stderr
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".OUT")]  # no temporary left either
    if case == "corrupt-page":
        # a page that cannot be read is left out and reported, the rest saved (exit 1)
        assert "1 pages could not be read and were excluded (pfn 0x1)" in p.stderr, p.stderr
        with open_dump(str(out)) as o:
            assert o.read_pfn(0) == text(0)
            if elf:  # ELF keeps a short excluded run as zeros (here the tail of the segment: cut)
                assert not o.reader.pagemap.test(1) or o.read_pfn(1) == bytes(PS)
            else:
                with pytest.raises(PageExcludedError):
                    o.read_pfn(1)
        return
    assert not out.exists()


def test_kdump_bitmaps_read_by_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large kdump bitmap is read a piece at a time (FileBitmap), never
    whole: forced here on the sample dump (and on a split set of it written
    by our writer), everything reads as with the bitmaps read whole: the
    maps, every page, and a refiltered copy, byte for byte."""
    import hashlib

    from pymakedumpfile.core.pagemap import FileBitmap
    from pymakedumpfile.filter import make_write_context
    from pymakedumpfile.input import kdump as kd
    from pymakedumpfile.output import write_dump
    from pymakedumpfile.output import write_split as split_out

    sample = Path(__file__).resolve().parents[2] / "samples" / "vmcore-6.1.0-56-amd64-c-d31.kdump"
    parts = [str(tmp_path / f"part{i}") for i in range(3)]
    with open_dump(str(sample)) as ctx:
        split_out(make_write_context(ctx, format="kdump", compression="zlib", dump_level=31), parts,
                  splitblock_size=1 << 22)

    def digest(paths: list[str], out: Path) -> tuple:
        with open_dump(paths if len(paths) > 1 else paths[0]) as c:
            r = c.reader
            maps = (list(c.pagemap.runs()), list(c.attr["memory.pagemap"].runs()), c.pagemap.count())
            pages = hashlib.sha256(b"".join(c.read_pfn(p) for a, b in c.pagemap.runs() for p in range(a, b)))
            write_dump(make_write_context(c, format="kdump", compression="lzo", dump_level=31), str(out), force=True)
            lazy = all(isinstance(getattr(p, "pagemap_full", None), FileBitmap)
                       for p in getattr(r, "parts", [r]))
        return maps, pages.hexdigest(), out.read_bytes(), lazy

    for paths in ([str(sample)], parts):
        whole = digest(paths, tmp_path / "whole")
        monkeypatch.setattr(kd, "LAZY_BITMAP_BYTES", 0)
        monkeypatch.setattr("pymakedumpfile.core.pagemap.RUNS_PIECE_BYTES", 4096)
        lazy = digest(paths, tmp_path / "lazy")
        monkeypatch.undo()
        assert not whole[3] and lazy[3]
        assert lazy[:3] == whole[:3]


@pytest.mark.parametrize("layout", ["64", "i386"])
def test_kdump_without_ram(layout: str, tmp_path: Path) -> None:
    """A kdump file of a machine with no RAM (max_mapnr 0): no bitmap blocks, and the file ends
    after its sub header (80 bytes packed for i386, where the padded ILP32 layout has 96).  It
    opens, with nothing in it."""
    arch = "x86_64" if layout == "64" else "i386"
    path = tmp_path / f"empty-{layout}"
    kdump(path, {}, max_mapnr=0, layout=layout, arch=arch, header_version=2,
          header_overrides={"bitmap_blocks": 0})
    size = {"64": 104, "i386": 80}[layout]  # sizeof(struct kdump_sub_header), header version 6 fields
    with open(path, "r+b") as f:
        f.truncate(PS + size)
    with open_dump(path) as ctx:
        assert ctx.max_pfn == 0 and ctx.pagemap.count() == 0
        assert ctx.attr["kdump.layout"] == layout
        assert ctx.attr["arch.name"] == ("x86_64" if layout == "64" else "ia32")


def test_kdump_we_write_without_ram_reads_back(tmp_path: Path) -> None:
    """Our writer on an ELF dump with no RAM: a kdump file our reader (and --info) opens."""
    elf = tmp_path / "noram.elf"
    build_elf(elf, [], notes=make_note(b"VMCOREINFO", 0, vmcoreinfo_text(OSRELEASE="6.1.0-noram")) + prstatus_note())
    out = tmp_path / "noram.kdump"
    for args in (["-c", "-d", "0", str(elf), str(out)], ["--info", str(out)]):
        r = subprocess.run([sys.executable, "-m", "pymakedumpfile", *args], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    assert "0 of RAM" in r.stdout and "6.1.0-noram" in r.stdout
    with open_dump(out) as ctx:
        assert ctx.max_pfn == 0 and ctx.attr["cpu.number"] == 1


@pytest.mark.parametrize(("bits", "machine", "arch", "ptr"), [
    (32, 22, "s390", 4), (64, 22, "s390x", 8),  # EM_S390 is both: the ELF class tells them apart
    (32, 20, "ppc", 4), (64, 21, "ppc64", 8), (32, EM_386, "ia32", 4), (64, EM_X86_64, "x86_64", 8),
])
def test_elf_machine_and_class(bits: int, machine: int, arch: str, ptr: int, tmp_path: Path) -> None:
    endian = "<" if machine in (EM_386, EM_X86_64) else ">"
    build_elf(tmp_path / "e", [(0, 0, text(0), PS)], elfclass=bits, endian=endian, machine=machine)
    with open_dump(tmp_path / "e") as ctx:
        assert (ctx.attr["arch.name"], ctx.attr["arch.ptr_size"]) == (arch, ptr)
