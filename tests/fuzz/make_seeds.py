#!/usr/bin/env python3
"""Regenerate tests/fuzz/seeds/: the starting corpus of every fuzz target.

Two kinds of seed:

* heads of the REAL dumps made by the test rig (``~/.cache/pymakedumpfile/rig
  /dumps``, or ``PMD_RIG_DUMPS``): headers, notes, bitmaps and the first page
  descriptors, cut where the format's metadata ends, plus "incomplete"
  variants (the format's own flag set) so the page paths are reached even
  though the data is cut; page-table entries, kernel structures and
  ``struct page`` arrays recorded while walking the real dumps;
* small complete dumps from the independent builder ``tests/gen`` in every
  variant the readers know: ELF32/ELF64 in both byte orders, QEMU layout,
  PN_XNUM, filtered; kdump header versions 1-6, LP64 / i386 / 32pad, both
  byte orders, every page compression, DISKDUMP, split sets, incomplete;
  flattened (in order, shuffled, overlapping rewrites); zstd/lz4 streams.

Output is deterministic.  The real-dump seeds are skipped (with a note) when
the rig's dumps are absent; the committed seed files keep them.

    python3 tests/fuzz/make_seeds.py [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(HERE)]

from gen import (  # noqa: E402
    EM_386,
    Page,
    build_elf,
    build_kdump,
    flatten,
    liblzo2_compressor,
    make_note,
    prstatus_note,
    split_files,
    vmcoreinfo_text,
)
from gen.x86_64 import LINUX_61_LAYOUT, x86_64_kernel  # noqa: E402

RIG = Path(os.environ.get("PMD_RIG_DUMPS", Path.home() / ".cache/pymakedumpfile/rig/dumps"))
PS = 4096
FLAT_END = struct.pack(">qq", -1, -1)

try:
    LZO = liblzo2_compressor()
except Exception:  # noqa: BLE001 - no liblzo2: no LZO pages in the synthetic seeds
    LZO = None


def text(pfn: int, size: int = PS) -> bytes:
    """A compressible page that names its pfn."""
    line = f"pfn {pfn:#x} of a synthetic dump. ".encode()
    return (line * (size // len(line) + 1))[:size]


def noise(pfn: int, size: int = PS) -> bytes:
    """An incompressible page (stored raw by every codec)."""
    out = bytearray()
    x = pfn * 2654435761 + 1
    while len(out) < size:
        x = (x * 6364136223846793005 + 1442695040888963407) & (1 << 64) - 1
        out += x.to_bytes(8, "little")
    return bytes(out[:size])


class Writer:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.tmp = Path(tempfile.mkdtemp(prefix="pmd-seeds-"))
        self.count: dict[str, int] = {}

    def put(self, target: str, name: str, data: bytes) -> None:
        d = self.out / target
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
        self.count[target] = self.count.get(target, 0) + 1

    def path(self, name: str) -> Path:
        return self.tmp / name

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- synthetic dumps


def kernel_pages(how: str = "raw") -> tuple[dict[int, Page], bytes]:
    """The x86_64 kernel bits (page tables, init_uts_ns, mem_map) at pfns
    1-3 and the matching VMCOREINFO."""
    kb = x86_64_kernel(first_pfn=1, how=how)
    return kb.pages, vmcoreinfo_text(kb.vmcoreinfo)


def mixed_pages(n: int, size: int, hows: list[str]) -> dict[int, Page]:
    pages = {}
    for pfn in range(n):
        how = hows[pfn % len(hows)]
        if how == "lzo" and LZO is None:
            how = "zlib"
        if how == "zero":
            pages[pfn] = Page.zero(size)
        elif how == "excluded":
            pages[pfn] = Page.excluded()
        elif how == "hole":
            continue
        elif how == "noise":
            pages[pfn] = Page(noise(pfn, size), "raw")
        else:
            pages[pfn] = Page(text(pfn, size), how)
    return pages


ALL_HOWS = ["raw", "zlib", "lzo", "snappy", "zstd", "zero", "excluded", "hole", "zlib", "lzo"]


def kdump_seeds(w: Writer) -> dict[str, bytes]:
    out: dict[str, bytes] = {}

    def mk(name: str, pages: dict[int, Page], **kw: object) -> None:
        p = w.path(name)
        kw.setdefault("timestamp", 1700000000)
        build_kdump(p, pages, lzo_compress=LZO, **kw)  # type: ignore[arg-type]
        out[name] = p.read_bytes()

    kpages, kvmci = kernel_pages()
    pages = dict(mixed_pages(24, PS, ["zlib", "lzo", "zero", "excluded", "snappy", "zstd", "hole"]))
    pages.update(kpages)
    mk("x86_64-v6-kernel", pages, max_mapnr=24, vmcoreinfo=kvmci, nr_cpus=2, eraseinfo=b"erase foo size 8\n")
    small = 1024
    for v in range(1, 7):
        vmci = vmcoreinfo_text(PAGESIZE=small) if v >= 3 else None
        mk(f"v{v}-64le", mixed_pages(20, small, ALL_HOWS), max_mapnr=20, page_size=small, header_version=v,
           vmcoreinfo=vmci, nr_cpus=1, eraseinfo=b"erase x 4\n" if v >= 5 else b"")
    for v in (3, 4, 6):
        mk(f"v{v}-i386", mixed_pages(20, small, ALL_HOWS), max_mapnr=20, page_size=small, header_version=v,
           layout="i386", arch="i386", vmcoreinfo=vmcoreinfo_text(PAGESIZE=small), nr_cpus=1)
        mk(f"v{v}-32pad-arm", mixed_pages(20, small, ALL_HOWS), max_mapnr=20, page_size=small, header_version=v,
           layout="32pad", arch="arm", vmcoreinfo=vmcoreinfo_text(PAGESIZE=small), nr_cpus=1)
    mk("v6-ppc64-be", mixed_pages(20, small, ALL_HOWS), max_mapnr=20, page_size=small, arch="ppc64", endian=">",
       vmcoreinfo=vmcoreinfo_text(PAGESIZE=small), nr_cpus=1)
    mk("v5-ppc-be-32pad", mixed_pages(20, small, ALL_HOWS), max_mapnr=20, page_size=small, arch="ppc", endian=">",
       header_version=5, vmcoreinfo=vmcoreinfo_text(PAGESIZE=small))
    mk("diskdump-v1", mixed_pages(16, 512, ["raw", "zlib", "zero"]), max_mapnr=16, page_size=512,
       signature=b"DISKDUMP", header_version=1)
    mk("v6-incomplete", mixed_pages(20, small, ALL_HOWS), max_mapnr=20, page_size=small,
       vmcoreinfo=vmcoreinfo_text(PAGESIZE=small), drop_last_n_descriptors=4)
    mk("v6-raw-noise", mixed_pages(6, 512, ["noise", "raw", "zero"]), max_mapnr=40, page_size=512, dump_level=0,
       vmcoreinfo=vmcoreinfo_text(PAGESIZE=512))
    mk("v6-split-part", mixed_pages(20, small, ALL_HOWS), max_mapnr=20, page_size=small, split=(6, 14),
       vmcoreinfo=vmcoreinfo_text(PAGESIZE=small))
    mk("v6-max_mapnr_64", mixed_pages(12, small, ALL_HOWS), max_mapnr=12, page_size=small,
       vmcoreinfo=vmcoreinfo_text(PAGESIZE=small), header_overrides={"max_mapnr": 0xFFFFFFFF})
    return out


def elf_seeds(w: Writer) -> dict[str, bytes]:
    out: dict[str, bytes] = {}

    def mk(name: str, segs: list, **kw: object) -> None:
        p = w.path(name)
        build_elf(p, segs, **kw)  # type: ignore[arg-type]
        out[name] = p.read_bytes()

    kpages, kvmci = kernel_pages()
    kdata = b"".join(kpages[p].data for p in (1, 2, 3))
    notes = prstatus_note("x86_64", pid=1) + prstatus_note("x86_64", pid=2) + make_note(b"VMCOREINFO", 0, kvmci)
    segs = [(0, 0, text(0), PS), (PS, 0xFFFF888000000000 + PS, kdata, 3 * PS),
            (4 * PS, 0, text(4)[:1000], 3 * PS), (PS, 0xFFFFFFFF80000000 + PS, kdata[:PS], PS)]
    mk("elf64-le-kernel", segs, notes=notes)
    mk("elf64-le-kernel-incomplete", segs, notes=notes, e_flags=1)
    vm1k = make_note(b"VMCOREINFO", 0, vmcoreinfo_text(PAGESIZE=1024))
    segs1k = [(0, 0, text(0, 2048), 2048), (5 * 1024, 0, text(5, 1024), 4096)]
    mk("elf32-be-qemu", segs1k, elfclass=32, endian=">", machine=20, notes=vm1k, phoff_after_shdrs=True, shnum=3)
    mk("elf32-le-i386", segs1k, elfclass=32, machine=EM_386, notes=vm1k)
    mk("elf64-be-pn_xnum", segs1k, endian=">", machine=22, notes=vm1k, use_pn_xnum=True)
    mk("elf64-aligned-overlap", [(0, 0, text(0, 1024), 1024), (512, 0, text(9, 1024), 1024)], notes=vm1k,
       data_align=4096)
    return out


def split_seeds(w: Writer) -> list[tuple[str, list[bytes]]]:
    out = []
    pages = mixed_pages(30, 1024, ALL_HOWS)
    vmci = vmcoreinfo_text(PAGESIZE=1024)
    for n in (2, 3):
        paths = [w.path(f"split{n}.{i}") for i in range(n)]
        split_files(paths, pages, max_mapnr=30, page_size=1024, lzo_compress=LZO, vmcoreinfo=vmci, nr_cpus=1,
                    timestamp=1700000000)
        out.append((f"gen-{n}-parts", [p.read_bytes() for p in paths]))
    return out


def pack_parts(parts: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(p)) + p for p in parts)


def flat_of(w: Writer, name: str, data: bytes, **kw: object) -> bytes:
    src, dst = w.path(name + ".src"), w.path(name + ".flat")
    src.write_bytes(data)
    flatten(src, dst, **kw)  # type: ignore[arg-type]
    return dst.read_bytes()


# ---------------------------------------------------------------- real dumps


def flat_head(stream: bytes, limit: int) -> bytes:
    """The first records of a flattened stream that fit in ``limit`` bytes, and an end marker."""
    pos = 4096
    while pos + 16 <= len(stream):
        off, n = struct.unpack_from(">qq", stream, pos)
        if off < 0 or pos + 16 + n > limit:
            break
        pos += 16 + n
    return stream[:pos] + FLAT_END


def read_head(path: Path, n: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def set_elf_incomplete(data: bytes) -> bytes:
    b = bytearray(data)
    off = 48 if b[4] == 2 else 36  # e_flags
    fmt = ("<" if b[5] == 1 else ">") + "I"
    struct.pack_into(fmt, b, off, struct.unpack_from(fmt, b, off)[0] | 1)
    return bytes(b)


def set_kdump_incomplete(data: bytes) -> bytes:
    b = bytearray(data)
    off = 8 + 4 + 390 + 6 + 16  # status of the LP64 header
    b[off] |= 0x08
    return bytes(b)


def kdump_meta_end(path: Path) -> int:
    """Where a real kdump file's page descriptors start (header + sub + bitmaps)."""
    from pymakedumpfile import open_dump

    with open_dump(path) as c:
        return int(c.reader.pd_offset)  # type: ignore[attr-defined]


def real_seeds(w: Writer, mem512: Path) -> None:
    mdf = mem512 / "mdf-ref"
    for name in ("vmcore.elf", "qemu-elf", "mdf-ref/dump.elf.d31"):
        p = mem512 / name
        if p.exists():
            head = read_head(p, 16 << 10)
            tag = name.replace("/", "-")
            w.put("elf", f"real-{tag}-head", head)
            w.put("elf", f"real-{tag}-head-incomplete", set_elf_incomplete(head))
            if name == "vmcore.elf":
                w.put("file", f"real-{tag}-head-incomplete", set_elf_incomplete(head))
    for name in ("dump.l.d31", "dump.c.d1", "dump.z.d31", "dump.p.d31", "dump.none.d31"):
        p = mdf / name
        if p.exists():
            head = read_head(p, kdump_meta_end(p) + 4096)
            w.put("kdump", f"real-{name}-head", head)
            if name == "dump.l.d31":
                w.put("kdump", f"real-{name}-head-incomplete", set_kdump_incomplete(head))
                w.put("file", f"real-{name}-head-incomplete", set_kdump_incomplete(head))
    sample = REPO / "samples" / "vmcore-6.1.0-56-amd64-c-d31.kdump"
    if sample.exists():
        head = read_head(sample, kdump_meta_end(sample) + 2048)
        w.put("kdump", "real-sample-c-d31-head-incomplete", set_kdump_incomplete(head))
    q = mem512 / "qemu-kdump.zlib"
    if q.exists():
        from pymakedumpfile.input.source import open_source

        src = open_source(q)
        try:
            w.put("kdump", "real-qemu-kdump-head", src.pread(0, 16 << 10))
        finally:
            src.close()
        w.put("flat", "real-qemu-kdump.zlib-head", flat_head(read_head(q, 96 << 10), 64 << 10))
    for name in ("flat.l.d31", "flat.elf.d31"):
        p = mdf / name
        if p.exists():
            w.put("flat", f"real-{name}-head", flat_head(read_head(p, 96 << 10), 56 << 10))
    parts = [mdf / f"split.l.d31.{i}" for i in (1, 2, 3)]
    if all(p.exists() for p in parts):
        heads = [read_head(p, kdump_meta_end(p) + 1024) for p in parts]
        w.put("split", "real-split.l.d31-heads", pack_parts(heads))
        w.put("split", "real-split.l.d31-heads-incomplete", pack_parts([set_kdump_incomplete(h) for h in heads]))


def record(addr: int, data: bytes) -> bytes:
    out = b""
    for i in range(0, max(len(data), 1), 0xFFFF):
        out += struct.pack("<QH", addr + i, len(data[i : i + 0xFFFF])) + data[i : i + 0xFFFF]
    return out


def merge_reads(reads: list[tuple[int, bytes]]) -> bytes:
    """Records for a list of (address, bytes) reads, overlapping ones merged."""
    spans: dict[int, bytearray] = {}
    for addr, data in sorted(reads):
        for start, buf in spans.items():
            if start <= addr <= start + len(buf):
                end = addr + len(data)
                if end > start + len(buf):
                    buf.extend(bytes(end - start - len(buf)))
                buf[addr - start : end - start] = data
                break
        else:
            spans[addr] = bytearray(data)
    return b"".join(record(a, bytes(b)) for a, b in sorted(spans.items()))


def pagetable_seed(root_va: int, phys_base: int, l5: bool, sme: int, vaddrs: list[int],
                   entries: list[tuple[int, int]]) -> bytes:
    head = struct.pack("<QqBBQ", root_va, phys_base, (1 if l5 else 0) | 2, len(vaddrs), sme & (1 << 64) - 1)
    head += b"".join(struct.pack("<Q", v) for v in vaddrs)
    return head + merge_reads([(a, struct.pack("<Q", e)) for a, e in entries])


def real_walks(w: Writer, dump: Path, tag: str) -> None:
    """Seeds recorded from the real dump: page-table walks, mem_map/free-list
    structures, struct pages, VMCOREINFO."""
    from pymakedumpfile import open_dump
    from pymakedumpfile.filter.memmap import find_mem_map

    with open_dump(dump) as ctx:
        vi = ctx.reader.vmcoreinfo
        w.put("vmcoreinfo", f"real-{tag}", vi.raw)
        km = ctx.kernel_memory()
        xl = km.xlat
        phys_base = int(ctx.attr.get("linux.phys_base", 0))
        ranges = find_mem_map(vi, km, ctx.max_pfn, ctx.page_size, "x86_64")
        vaddrs = [vi.SYMBOL["init_uts_ns"], ranges[0].mem_map, ranges[-1].mem_map + 4096 * 64,
                  vi.SYMBOL["mem_section"], vi.SYMBOL.get("node_data", 0), 0xFFFFFFFFFF600000]
        entries = []
        for va in vaddrs:
            try:
                _, steps = xl.walk(va)
            except Exception:  # noqa: BLE001 - an unmapped address is a seed too
                continue
            entries += [(s.entry_addr, s.entry) for s in steps]
        root = vi.SYMBOL.get("init_top_pgt", vi.SYMBOL.get("swapper_pg_dir"))
        w.put("pagetable", f"real-{tag}", pagetable_seed(root, phys_base, xl.levels == 5,
                                                         vi.NUMBER.get("sme_mask", 0), vaddrs, entries))

        # kernel memory read by find_mem_map and the first steps of the free-list walk
        reads: list[tuple[int, bytes]] = []

        from pymakedumpfile.translate import MemoryReader

        class Stop(Exception):
            pass

        class RecKM(MemoryReader):
            def read(self, va: int, size: int) -> bytes:
                if len(reads) >= 400:
                    raise Stop
                data = km.read(va, size)
                reads.append((va, data))
                return data

        from pymakedumpfile.core.pagemap import Bitmap
        from pymakedumpfile.filter.freelist import exclude_free_lists

        rk = RecKM("little", 8)
        ranges = find_mem_map(vi, rk, ctx.max_pfn, ctx.page_size, "x86_64")  # type: ignore[arg-type]
        try:
            keep = Bitmap.empty(ctx.max_pfn)
            exclude_free_lists(vi, rk, ranges, keep, ctx.max_pfn)  # type: ignore[arg-type]
        except Stop:
            pass
        w.put("memmap", f"real-{tag}", memmap_seed(vi.raw, ctx.max_pfn, merge_reads(reads)))

        # struct pages of a stretch of memory, for the classifier
        for i, pfn in enumerate((0x1000, ctx.max_pfn // 2)):
            r = next(r for r in ranges if r.pfn_start <= pfn < r.pfn_end)
            pages = km.read(r.mem_map + (pfn - r.pfn_start) * 64, 65 * 64)
            w.put("classify", f"real-{tag}-{i}", classify_seed(vi.raw, 31, pfn, 64, pages))


# ---------------------------------------------------------------- synthetic kernel memory

REAL_61 = LINUX_61_LAYOUT  # the layout of Debian's 6.1 kernel (tests/gen/x86_64.py)
VMEMMAP = 0xFFFFEA0000000000
DIRECT = 0xFFFF888000000000


def memmap_seed(vmci: bytes, max_pfn: int, records: bytes) -> bytes:
    return struct.pack("<H", len(vmci)) + vmci + struct.pack("<I", max_pfn) + records


def classify_seed(vmci: bytes, level: int, pfn0: int, count: int, pages: bytes) -> bytes:
    return struct.pack("<H", len(vmci)) + vmci + struct.pack("<BIH", level, pfn0, count) + pages


def vmci_of(d: dict[str, object]) -> bytes:
    return vmcoreinfo_text({k: v for k, v in d.items()}, CRASHTIME=1700000000)


def synthetic_kernel(model: str, pgdat_via: str) -> bytes:
    """Kernel memory of a 3-section machine with free lists, laid out as
    Debian's 6.1 kernel: ``model`` is "extreme-ptr" (mem_section is a
    pointer to the root array, as 6.1), "extreme", "sparse" or "flat";
    ``pgdat_via`` "node_data", "pgdat_list" or "contig"."""
    vi = dict(REAL_61)
    off = {k[7:-1]: v for k, v in vi.items() if k.startswith("OFFSET(")}
    size = {k[5:-1]: v for k, v in vi.items() if k.startswith("SIZE(")}
    per_section = 1 << (27 - 12)
    max_pfn = 3 * per_section - 100
    reads: list[tuple[int, bytes]] = []
    q = lambda v: struct.pack("<Q", v & (1 << 64) - 1)  # noqa: E731
    sec = DIRECT + 0x100000
    if model == "flat":
        for k in ("SIZE(mem_section)", "OFFSET(mem_section.section_mem_map)", "LENGTH(mem_section)"):
            del vi[k]
        vi["SYMBOL(mem_map)"] = DIRECT + 0x1F0000
        reads.append((DIRECT + 0x1F0000, q(VMEMMAP)))
    else:
        ms = DIRECT + 0x200000  # the mem_section structs
        ms_raw = b"".join(q(VMEMMAP | 0x3) + bytes(24) if nr != 1 else bytes(32) for nr in range(3))
        reads.append((ms, ms_raw))
        if model == "extreme-ptr":
            vi["SYMBOL(mem_section)"] = sec
            reads.append((sec, q(sec + 0x1000)))
            reads.append((sec + 0x1000, q(ms)))
        elif model == "extreme":
            vi["SYMBOL(mem_section)"] = sec
            reads.append((sec, q(ms)))
        else:
            vi["SYMBOL(mem_section)"] = ms
            vi["LENGTH(mem_section)"] = 1 << (46 - 27)
    # node 0 and its zones
    pgdat = DIRECT + 0x400000
    vi["SYMBOL(node_online_map)"] = DIRECT + 0x300000
    reads.append((DIRECT + 0x300000, q(1) + bytes(120)))
    if pgdat_via == "node_data":
        vi["SYMBOL(node_data)"] = DIRECT + 0x300100
        vi["LENGTH(node_data)"] = 1024
        reads.append((DIRECT + 0x300100, q(pgdat)))
    elif pgdat_via == "pgdat_list":
        vi["SYMBOL(pgdat_list)"] = DIRECT + 0x300200
        reads.append((DIRECT + 0x300200, q(pgdat)))
    else:
        vi["SYMBOL(contig_page_data)"] = pgdat
    reads.append((pgdat + off["pglist_data.nr_zones"], struct.pack("<i", 2)))
    zone0 = pgdat + off["pglist_data.node_zones"]
    zone1 = zone0 + size["zone"]
    reads.append((zone0 + off["zone.spanned_pages"], q(0)))
    reads.append((zone1 + off["zone.spanned_pages"], q(max_pfn)))
    heads = []
    for order in range(11):
        for mt in range(5):
            h = zone1 + off["zone.free_area"] + size["free_area"] * order + off["free_area.free_list"] + 16 * mt
            heads.append((order, mt, h))
    lists = {(0, 1): [5, 7, 9], (3, 2): [16, 40], (10, 1): [0]}
    area = bytearray(size["free_area"] * 11)
    base = zone1 + off["zone.free_area"]
    for order, mt, h in heads:
        pfns = lists.get((order, mt), [])
        nodes = [VMEMMAP + p * 64 + off["page.lru"] for p in pfns]
        nxt = nodes[0] if nodes else h
        prv = nodes[-1] if nodes else h
        area[h - base : h - base + 16] = q(nxt) + q(prv)
        chain = [h] + nodes + [h]
        for i, n in enumerate(nodes):
            reads.append((n, q(chain[i + 2]) + q(chain[i])))
    reads.append((base, bytes(area)))
    return memmap_seed(vmci_of(vi), max_pfn, merge_reads(reads))


def pagetable_synthetic() -> list[tuple[str, bytes]]:
    out = []
    kb = x86_64_kernel(first_pfn=1)
    root = kb.symbols["init_top_pgt"]
    entries = []
    for pfn in (1, 2):
        data = kb.pages[pfn].data
        for i in range(0, PS, 8):
            e = struct.unpack_from("<Q", data, i)[0]
            if e:
                entries.append((pfn * PS + i, e))
    vaddrs = [kb.symbols["init_uts_ns"], 0xFFFF888000001234, 0xFFFFEA0000000000, 0x1000]
    out.append(("gen-4level-1g", pagetable_seed(root, 0, False, 0, vaddrs, entries)))
    # 5-level, with 2 MiB and 4 KiB leaves and an sme bit
    sme = 1 << 47
    t = {n: 0x10000 + n * PS for n in range(5)}  # pgd p4d pud pmd pte
    va = 0xFF11000012345678
    ents = []
    for lvl, shift in enumerate((48, 39, 30, 21)):
        ents.append((t[lvl] + 8 * ((va >> shift) & 511), t[lvl + 1] | sme | 0x63))
    ents.append((t[4] + 8 * ((va >> 12) & 511), 0x7654000 | sme | 0x63))
    va2 = va + (1 << 21)  # a 2 MiB page next to it
    ents.append((t[3] + 8 * ((va2 >> 21) & 511), 0x40000000 | sme | 0xE3))
    out.append(("gen-5level-sme", pagetable_seed(0xFFFFFFFF80000000 + t[0], 0, True, sme, [va, va2, va + 8],
                                                 ents)))
    return out


def classify_synthetic() -> list[tuple[str, bytes]]:
    vi = dict(REAL_61, **{"NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)": -129})
    pages = bytearray(65 * 64)
    flags = [1 << 4, 1 << 13, 1 << 10 | 1 << 19, 1 << 9, 1 << 23, 1 << 16, 0, 1 << 4 | 1 << 13]
    for i in range(65):
        struct.pack_into("<Q", pages, i * 64, flags[i % len(flags)])
        struct.pack_into("<Q", pages, i * 64 + 24, 0xFFFF888000123001 if i % 3 else 0xFFFF888000123000)
        struct.pack_into("<i", pages, i * 64 + 48, -129 if i % 5 == 0 else -1)
        struct.pack_into("<Q", pages, i * 64 + 40, i % 4)
    out = [("gen-6.1-buddy", classify_seed(vmci_of(vi), 31, 0x1000, 64, bytes(pages)))]
    vi2 = dict(REAL_61, **{"NUMBER(PG_buddy)": 18, "NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)": -1025})
    out.append(("gen-pg_buddy-hugetlb", classify_seed(vmci_of(vi2), 30, 64, 64, bytes(pages))))
    vi3 = {k: v for k, v in REAL_61.items() if "compound" not in k}
    vi3.update({"OFFSET(folio._folio_order)": 64 + 32, "OFFSET(folio._folio_dtor)": 64 + 33,
                "NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)": -513, "SYMBOL(free_huge_page)": 0xFFFFFFFF81234560})
    out.append(("gen-folio", classify_seed(vmci_of(vi3), 31, 0, 64, bytes(pages))))
    return out


def filter_kernel() -> tuple[dict[int, Page], bytes]:
    """24 pfns of a machine the dump-level filter can work on: the kernel
    bits of tests/gen (page tables, init_uts_ns, a FLATMEM mem_map pointer)
    with the vmemmap mapped too (PGD slot of VMEMMAP -> the PUD mapping
    physical 0), the struct pages of every pfn at pfn 0, a pglist_data with
    free lists at pfn 4, and user, cache, slab, free and zero pages."""
    kb = x86_64_kernel(first_pfn=1)
    n = 24
    pgd = bytearray(kb.pages[1].data)
    struct.pack_into("<Q", pgd, 8 * ((VMEMMAP >> 39) & 511), 2 * PS | 0x63)
    pages = dict(kb.pages)
    pages[1] = Page(bytes(pgd), "raw")
    struct_pages = bytearray(n * 64)
    free = {8: 3, 20: 0, 21: 0}  # pfn -> order of a free block
    for pfn in range(n):
        flags, mapping, mapcount, private = 0, 0, -1, 0
        kind = pfn % 6
        if pfn in free or 8 <= pfn < 16:
            if pfn in free:
                mapcount, private = -129, free[pfn]
        elif kind == 0:
            flags, mapping = 1 << 4 | 1 << 19, 0xFFFF888000123001  # anon, LRU
        elif kind == 1:
            flags, mapping = 1 << 4, 0xFFFF888000123000  # page cache
        elif kind == 2:
            flags, mapping = 1 << 4 | 1 << 13, 0xFFFF888000123000  # cache with private
        elif kind == 3:
            flags = 1 << 9  # slab
        struct.pack_into("<QQ", struct_pages, pfn * 64, flags, 0)
        struct.pack_into("<Q", struct_pages, pfn * 64 + 24, mapping)
        struct.pack_into("<q", struct_pages, pfn * 64 + 40, private)
        struct.pack_into("<i", struct_pages, pfn * 64 + 48, mapcount)
    # pglist_data at pfn 4 (contig_page_data), zone 1 with the free lists; node_online_map after it
    pg_phys = 4 * PS
    pg = bytearray(PS)
    zone1 = 1536
    struct.pack_into("<i", pg, 3072, 2)  # nr_zones
    struct.pack_into("<Q", pg, zone1 + 144, n)  # spanned_pages
    fa = zone1 + 256
    heads = {}
    for order in range(11):
        for mt in range(5):
            h = fa + 88 * order + 16 * mt
            heads[order, mt] = h
            struct.pack_into("<QQ", pg, h, 0xFFFFFFFF80000000 + pg_phys + h, 0xFFFFFFFF80000000 + pg_phys + h)
    lists = {(3, 1): [8], (0, 2): [20, 21]}
    for (order, mt), pfns in lists.items():
        head_va = 0xFFFFFFFF80000000 + pg_phys + heads[order, mt]
        nodes = [VMEMMAP + p * 64 + 8 for p in pfns]
        chain = [head_va] + nodes + [head_va]
        struct.pack_into("<QQ", pg, heads[order, mt], nodes[0], nodes[-1])
        for i, p in enumerate(pfns):
            struct.pack_into("<QQ", struct_pages, p * 64 + 8, chain[i + 2], chain[i])
    struct.pack_into("<Q", pg, 3584, 1)  # node_online_map
    data_page = bytearray(kb.pages[3].data)
    struct.pack_into("<Q", data_page, 512, VMEMMAP)
    pages[3] = Page(bytes(data_page), "raw")
    pages[0] = Page(bytes(struct_pages).ljust(PS, b"\0"), "zlib")
    pages[4] = Page(bytes(pg), "zlib")
    hows = ["lzo", "zlib", "zero", "snappy", "zstd", "raw"]
    for pfn in range(5, n):
        if pfn == 7:
            pages[pfn] = Page.zero(PS)
        else:
            pages[pfn] = Page(text(pfn), hows[pfn % len(hows)] if LZO or pfn % 6 else "zlib")
    vi = {k: v for k, v in REAL_61.items() if "mem_section" not in k}
    vi.update(kb.vmcoreinfo)
    vi.update({"OFFSET(pglist_data.nr_zones)": 3072, "SYMBOL(contig_page_data)": 0xFFFFFFFF80000000 + pg_phys,
               "SYMBOL(node_online_map)": 0xFFFFFFFF80000000 + pg_phys + 3584, "SIZE(nodemask_t)": 8,
               "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)": -129, "OSRELEASE": kb.vmcoreinfo["OSRELEASE"]})
    return pages, vmci_of(vi)


def filter_seeds(w: Writer) -> None:
    pages, vmci = filter_kernel()
    p = w.path("filter-kdump")
    build_kdump(p, pages, max_mapnr=24, vmcoreinfo=vmci, nr_cpus=1, dump_level=0, lzo_compress=LZO,
                timestamp=1700000000)
    w.put("filter", "gen-kdump-flatmem-freelists", p.read_bytes())
    raw = b"".join(bytes(PS) if pages[q].how == "zero" else pages[q].data for q in range(24))
    notes = prstatus_note("x86_64", pid=1) + make_note(b"VMCOREINFO", 0, vmci)
    build_elf(p, [(0, 0xFFFF888000000000, raw, 24 * PS), (PS, 0xFFFFFFFF80000000 + PS, raw[PS : 4 * PS])],
              notes=notes)
    w.put("filter", "gen-elf-flatmem-freelists", p.read_bytes())


def kcore_seeds(w: Writer) -> None:
    """/proc/kcore-like files of the filter machine: RAM and kernel-text
    PT_LOADs with p_paddr, a vmalloc PT_LOAD without; VMCOREINFO in a note,
    or only in memory at the address the 28-byte prefix gives."""
    pages, vmci = filter_kernel()
    note = make_note(b"VMCOREINFO", 0, vmci)
    mem = bytearray(b"".join(bytes(PS) if pages[q].how == "zero" else pages[q].data for q in range(24)))
    mem[16 * PS : 16 * PS + len(note)] = note
    for name, notes, excl in (("note", prstatus_note("x86_64", pid=1) + note, (20 * PS, 22 * PS)),
                              ("in-memory", prstatus_note("x86_64", pid=1), (0, 0))):
        p = w.path(f"kcore-{name}")
        build_elf(p, [((1 << 64) - 1, 0xFFFFC90000000000, b"\xa5" * (2 * PS)),
                      (PS, 0xFFFFFFFF80000000 + PS, bytes(mem[PS : 4 * PS])),
                      (0, 0xFFFF888000000000, bytes(mem))], notes=notes)
        prefix = struct.pack("<QQQI", excl[0], excl[1], 16 * PS, len(note))
        w.put("kcore", f"gen-{name}", prefix + p.read_bytes())


def rsp_seeds(w: Writer) -> None:
    """What gdb 13 sends when it connects, reads registers and memory, asks the monitor and
    detaches (framed by hand: '$', the data, '#', two hex digits of its sum)."""
    def pkt(d: bytes) -> bytes:
        return b"$" + d + b"#%02x" % (sum(d) & 0xFF)

    opening = [b"qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+", b"vMustReplyEmpty", b"QStartNoAckMode",
               b"Hg0", b"qXfer:features:read:target.xml:0,ffb", b"qXfer:features:read:target.xml:ffb,ffb", b"?",
               b"qfThreadInfo", b"qsThreadInfo", b"qAttached", b"qOffsets", b"g", b"p10", b"Hg1", b"g",
               b"qThreadExtraInfo,2", b"qXfer:memory-map:read::0,fff"]
    w.put("rsp", "gen-opening", b"".join(b"+" + pkt(p) for p in opening))
    reads = [b"mffffffff80000000,40", b"mffffffff8000fff0,20", b"m0,8", b"mffffffff80010000,8",
             b"qRcmd," + b"info".hex().encode(), b"M0,1:00", b"c", b"vCont?", b"vCont;c", b"D"]
    w.put("rsp", "gen-reads", b"".join(pkt(p) for p in reads))
    w.put("rsp", "gen-escaped", b"$m}\x03*!#00" + pkt(b"T2") + b"\x03" + pkt(b"k"))


def btf_seeds(w: Writer) -> None:
    """Blobs of tests/gen/btf.py: the structures and variables of tests/unit/test_btf.py."""
    from gen.btf import BtfWriter

    b = BtfWriter()
    i = b.int_("int", 4, signed=True)
    c = b.int_("char", 1)
    lh = b.placeholder()
    b.fill(lh, "list_head", 16, [("next", b.ptr(lh), 0), ("prev", b.ptr(lh), 64)])
    anon = b.struct("", 8, [("a", i, 0), ("b", i, 32)], union=True)
    f = b.fwd("thing")
    s = b.struct("thing", 48, [("id", b.typedef("u32", b.const(i)), 0), ("name", b.array(c, i, 16), 32),
                               ("", anon, 160), ("list", lh, 256), ("next", b.ptr(f), 384)])
    v = b.var("things", b.array(b.ptr(s), i, 4))
    b.datasec(".data", 32, [(v, 0, 32)])
    w.put("btf", "gen-small", b.blob())
    big = BtfWriter(">")
    bi = big.int_("long", 8)
    big.var("count", bi)
    w.put("btf", "gen-big-endian", big.blob())


def dwarf_seeds(w: Writer) -> None:
    """The small kernel image of tests/gen/vmlinux.py in DWARF 4, 5 and 5 with
    compressed sections (gcc's output: it depends on the compiler)."""
    from gen.vmlinux import build_vmlinux

    for name, flags in (("dwarf5", ("-gdwarf-5",)), ("dwarf4", ("-gdwarf-4",)),
                        ("dwarf5-gz", ("-gdwarf-5", "-gz=zlib"))):
        try:
            p = build_vmlinux(w.path(f"vmlinux-{name}"), *flags)
        except (FileNotFoundError, subprocess.CalledProcessError):
            print("note: no C compiler: dwarf seeds not made", file=sys.stderr)
            return
        w.put("dwarf", f"gen-{name}", p.read_bytes())


def image_seeds(w: Writer) -> None:
    """Memory images of the filter machine with its VMCOREINFO note in memory (page 16), as a
    live kernel keeps it: LiME (two ranges, one ending inside a page), AVML (blocks of 8
    pages, a block of zeros left out), a big-endian LiME header; Xen HVM and PV domain dumps;
    raw regions."""
    from gen.lime import build_lime
    from gen.xen import build_xc_core

    pages, vmci = filter_kernel()
    note = make_note(b"VMCOREINFO", 0, vmci)
    mem = bytearray(b"".join(bytes(PS) if pages[q].how == "zero" else pages[q].data for q in range(24)))
    mem[16 * PS : 16 * PS + len(note)] = note
    ranges = [(0, bytes(mem[: 12 * PS])), (14 * PS, bytes(mem[14 * PS : 24 * PS - 100]))]
    for name, kw in (("lime", {}), ("avml", {"avml": True, "block": 8 * PS}), ("lime-be", {"endian": ">"})):
        p = w.path(name)
        build_lime(p, ranges, **kw)  # type: ignore[arg-type]
        w.put("lime", f"gen-{name}", p.read_bytes())
    held = {q: bytes(mem[q * PS : (q + 1) * PS]) for q in range(24) if q not in (12, 13)}
    for name, gmfns in (("hvm", None), ("pv", {q: 0x1000 + 3 * q for q in held})):
        p = w.path(f"xc-{name}")
        build_xc_core(p, held, gmfns=gmfns, nr_vcpus=1)
        w.put("xc_core", f"gen-{name}", p.read_bytes())
    # a save image of the same memory: batches of 8, a page sent again, an invalid entry
    from gen.xen import build_xc_save

    p = w.path("xc-save")
    build_xc_save(p, {q: bytes(mem[q * PS : (q + 1) * PS]) for q in range(len(mem) // PS) if q != 3},
                  len(mem) // PS, batch=8, resend={5: bytes(mem[6 * PS : 7 * PS])}, invalid=(3,))
    w.put("xc_save", "gen-batches", p.read_bytes())
    regions = [(0, bytes(mem[: 10 * PS])), (14 * PS, bytes(mem[14 * PS :]))]
    w.put("raw", "gen-two", bytes([len(regions)]) + b"".join(struct.pack("<QI", a, len(d)) + d for a, d in regions))
    w.put("raw", "gen-one", bytes([1]) + struct.pack("<QI", 0, len(mem)) + bytes(mem))
    # s390x memory: the absolute lowcore points at a big-endian VMCOREINFO note
    from gen.s390dump import build_s390dump

    smem = bytearray(noise(0, 16 * PS))
    snote = make_note(b"VMCOREINFO", 0, b"OSRELEASE=6.1.0-s390\nPAGESIZE=4096\n", endian=">")
    smem[9 * PS : 9 * PS + len(snote)] = snote
    smem[0xE0C : 0xE0C + 8] = (9 * PS).to_bytes(8, "big")
    p = w.path("s390")
    build_s390dump(p, [bytes(smem)], len(smem))
    w.put("s390dump", "gen-lowcore", p.read_bytes())
    from gen.s390dump import build_s390dump_ext

    p = w.path("s390-ext")
    build_s390dump_ext(p, [(0, bytes(smem[: 10 * PS])), (12 * PS, bytes(smem[12 * PS :]))], len(smem))
    w.put("s390dump", "gen-extended", p.read_bytes())
    # z/VM VMDUMP of the same storage (zero pages left out) and of a range asked for
    from gen.vmdump import build_vmdump

    spages = {q: bytes(smem[q * PS : (q + 1) * PS]) for q in range(16)}
    for name, kw in (("64big", {}), ("range", {"ranges": [(0, 12 * PS - 1)]})):
        p = w.path(f"vmdump-{name}")
        build_vmdump(p, spages, len(smem), **kw)  # type: ignore[arg-type]
        w.put("vmdump", f"gen-{name}", p.read_bytes())
    # LKCD: v9 zlib (the records start at the header's buffer size), v7 RLE 32-bit, v1, big-endian v10
    from gen.lkcd import build_lkcd

    recs = [(q, bytes(mem[q * PS : (q + 1) * PS])) for q in range(24) if q != 12]
    for name, kw in (("v9-zlib", dict(version=9, compression=2, buffer_size=8192)),
                     ("v7-rle-32", dict(version=7, bits=32, compression=1)), ("v1", dict(version=1)),
                     ("v10-be-rle", dict(version=10, endian=">", compression=1, buffer_size=4096))):
        p = w.path(f"lkcd-{name}")
        build_lkcd(p, recs[::-1] if name == "v1" else recs, raw_every=5, **kw)  # type: ignore[arg-type]
        w.put("lkcd", f"gen-{name}", p.read_bytes())
    # SADUMP: single partition (RAM not all dumped) and media backup
    from gen.sadump import build_sadump

    for name, media in (("single", False), ("media", True)):
        p = w.path(f"sadump-{name}")
        build_sadump(p, {q: bytes(mem[q * PS : (q + 1) * PS]) for q in range(24) if q % 5}, max_mapnr=24,
                     ram=set(range(22)), media=media)
        w.put("sadump", f"gen-{name}", p.read_bytes())
    # a disk set of two disks, one after the other in one input
    files = build_sadump(w.path("sadump-diskset"), {q: bytes(mem[q * PS : (q + 1) * PS]) for q in range(24) if q % 5},
                         max_mapnr=24, disks=2)
    w.put("sadump", "gen-diskset", b"".join(Path(f).read_bytes() for f in files))
    # Xen hosts' crash dumps (-X): 32 frames, the hypervisor's variables in its first pages;
    # crash info version 2 and 1
    from gen.xen import XEN_VIRT_START, build_xen_host

    syms = {"pgd_l4": XEN_VIRT_START + 0x1000, "domain_list": XEN_VIRT_START + 0x2000,
            "dom_xen": XEN_VIRT_START + 0x2008, "dom_io": XEN_VIRT_START + 0x2010,
            "frame_table": XEN_VIRT_START + 0x2018, "max_page": XEN_VIRT_START + 0x2020}
    for name, ci in (("v2", 2), ("v1", 1)):
        p = w.path(f"xenhost-{name}")
        build_xen_host(p, ram=((0, 0x20000),), symbols=syms, xen_phys_start=0x1000, image_pages=3, heap_at=4,
                       crash_info=ci)
        w.put("xenhost", f"gen-{name}", p.read_bytes())


# ---------------------------------------------------------------- regressions


def regressions() -> dict[str, dict[str, bytes]]:
    """Small hand-made inputs for the bugs the fuzzers found (docs/fuzzing.md,
    "Bugs found"); the minimized fuzzer inputs themselves sit beside them."""
    def pt(root_va: int, vaddrs: list[int], recs: bytes, flags: int = 0) -> bytes:
        return struct.pack("<QqBBQ", root_va, 0, flags, len(vaddrs), 0) + b"".join(
            struct.pack("<Q", v) for v in vaddrs) + recs

    def mm(vi: dict[str, object], max_pfn: int, recs: bytes = b"") -> bytes:
        return memmap_seed(vmcoreinfo_text(vi, OSRELEASE=None, PAGESIZE=None, CRASHTIME=None), max_pfn, recs)

    sparse = {"SYMBOL(mem_section)": DIRECT, "SIZE(mem_section)": 32, "OFFSET(mem_section.section_mem_map)": 0,
              "SIZE(page)": 64}
    ms = record(DIRECT, struct.pack("<Q", DIRECT + 0x1000)) + record(DIRECT + 0x1000, struct.pack("<Q", VMEMMAP | 3))
    fl = {k: v for k, v in REAL_61.items() if k.startswith(("SIZE(", "OFFSET(", "LENGTH("))}
    def cl(vi: dict[str, object]) -> bytes:
        return classify_seed(vmcoreinfo_text(vi, OSRELEASE=None, PAGESIZE=None, CRASHTIME=None), 31, 0, 2, bytes(128))

    base = {"SIZE(page)": 64, "OFFSET(page.flags)": 0, "OFFSET(page.mapping)": 24}
    return {
        "classify": {
            # vmcoreinfo.py: a value no kernel prints (2**100) overflowed array("q") in build_params
            "value-beyond-64-bits": cl(dict(base, **{"OFFSET(page.flags)": 1 << 100})),
            # known issue classify-overflow (filter/params.py): in range, but their sum is not
            "known-overflow-sum": cl(dict(base, **{"OFFSET(page.lru)": (1 << 63) - 1, "OFFSET(list_head.prev)": 8})),
        },
        "vmcoreinfo": {
            "values-beyond-64-bits": b"SYMBOL(a)=1" + b"0" * 40 + b"\nNUMBER(b)=-" + b"9" * 30
                                     + b"\nCRASHTIME=" + b"9" * 25 + b"\nOFFSET(c)=" + b"1" * 4000 + b"\n",
        },
        "pagetable": {
            # x86_64.py: a root not 8-byte aligned made struct.unpack_from read past the table
            "unaligned-root": pt(0xFFFFFFFF80001FFE, [0], record(0x1000, b"")),
        },
        "memmap": {
            # memmap.py: SPARSEMEM without SIZE(page) -> KeyError
            "sparse-no-size-page": mm({k: v for k, v in sparse.items() if k != "SIZE(page)"}, 100, ms),
            # memmap.py: SIZE(mem_section) 0 or above a page -> ZeroDivisionError
            "mem_section-size-0": mm(dict(sparse, **{"SIZE(mem_section)": 0}), 100, ms),
            "mem_section-size-huge": mm(dict(sparse, **{"SIZE(mem_section)": 8192}), 100, ms),
            # memmap.py: SECTION_SIZE_BITS below the page shift -> negative shift count (ValueError)
            "section-bits-5": mm(dict(sparse, **{"NUMBER(SECTION_SIZE_BITS)": 5}), 100, ms),
            # memmap.py: an all-zero root array of a huge max_pfn walked section by section (a hang)
            "extreme-zero-roots": mm(dict(sparse, **{"NUMBER(SECTION_SIZE_BITS)": 12,
                                                     "NUMBER(MAX_PHYSMEM_BITS)": 64}), 0xFFFFFFFF,
                                     record(DIRECT, bytes(8))),
            # freelist.py: no SIZE(page) -> KeyError
            "freelist-no-size-page": mm({k: v for k, v in fl.items() if k != "SIZE(page)"}, 100),
        },
    }


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE / "seeds")
    ap.add_argument("--images-only", action="store_true",
                    help="write only the seeds of the memory-image targets (lime, xc_core, raw, s390dump, lkcd, "
                         "sadump, xenhost, vmdump, xc_save)")
    args = ap.parse_args()
    if args.images_only:
        w = Writer(args.out)
        for t in ("lime", "xc_core", "xc_save", "raw", "s390dump", "vmdump", "lkcd", "sadump", "xenhost"):
            shutil.rmtree(args.out / t, ignore_errors=True)
        try:
            image_seeds(w)
        finally:
            w.close()
        print(w.count)
        return 0
    if args.out.exists():
        shutil.rmtree(args.out)
    w = Writer(args.out)
    try:
        image_seeds(w)
        kd = kdump_seeds(w)
        for name, data in kd.items():
            w.put("kdump", f"gen-{name}", data)
        el = elf_seeds(w)
        for name, data in el.items():
            w.put("elf", f"gen-{name}", data)
        # flattened: in order, shuffled, overlapping rewrites, ELF and kdump inside
        w.put("flat", "gen-kdump-inorder", flat_of(w, "f1", kd["v6-64le"], chunk=4096))
        w.put("flat", "gen-kdump-shuffled-rewrite", flat_of(w, "f2", kd["x86_64-v6-kernel"], chunk=3000,
                                                           shuffle=True, overlap_rewrite=True, seed=1))
        w.put("flat", "gen-elf-shuffled", flat_of(w, "f3", el["elf64-le-kernel"], chunk=1000, shuffle=True, seed=2))
        w.put("flat", "gen-i386-rewrite", flat_of(w, "f4", kd["v4-i386"], chunk=700, overlap_rewrite=True, seed=3))
        w.put("flat", "gen-no-end", flat_of(w, "f5", kd["v2-64le"], chunk=4096, end_marker=False))
        for name, data in split_seeds(w):
            w.put("split", name, pack_parts(data))
            w.put("split", name + "-flattened", pack_parts([flat_of(w, f"s{i}", p, chunk=2048, shuffle=True, seed=i)
                                                             for i, p in enumerate(data)]))
        # whole files: each format, flattened, and inside zstd / lz4 streams
        import lz4.frame
        import zstandard

        w.put("file", "gen-kdump-v6", kd["v6-64le"])
        w.put("file", "gen-elf64", el["elf64-le-kernel"])
        w.put("file", "gen-flat-kdump", flat_of(w, "f6", kd["v3-i386"], chunk=4096))
        w.put("file", "gen-elf-zstd", zstandard.ZstdCompressor(level=3).compress(el["elf32-be-qemu"]))
        w.put("file", "gen-kdump-lz4", lz4.frame.compress(kd["v5-64le"]))
        w.put("file", "gen-flat-zstd", zstandard.ZstdCompressor(level=3).compress(
            flat_of(w, "f7", kd["v6-32pad-arm"], chunk=4096)))
        # VMCOREINFO
        w.put("vmcoreinfo", "gen-6.1", vmci_of(REAL_61))
        w.put("vmcoreinfo", "gen-kernel", kernel_pages()[1])
        w.put("vmcoreinfo", "gen-odd", b"OSRELEASE=x\nSYMBOL(a)=0xffffffff81000000\nNUMBER(b)=-0x10\nSIZE(c)=077\n"
                                       b"OFFSET(d.e)= 12 \nLENGTH(f)=1_000\nKERNELOFFSET=zz\nPAGESIZE=65536\n"
                                       b"CRASHTIME=-1\n=novalue\nNOEQUALS\nphys_base=-0x1000\n\0after NUL\n")
        for name, data in pagetable_synthetic():
            w.put("pagetable", name, data)
        for model in ("extreme-ptr", "extreme", "sparse", "flat"):
            for via in ("node_data", "pgdat_list", "contig"):
                if via == "node_data" or model == "extreme-ptr":
                    w.put("memmap", f"gen-{model}-{via}", synthetic_kernel(model, via))
        for name, data in classify_synthetic():
            w.put("classify", name, data)
        filter_seeds(w)
        kcore_seeds(w)
        dwarf_seeds(w)
        rsp_seeds(w)
        btf_seeds(w)
        mem512 = RIG / "mem512"
        if (mem512 / "vmcore.elf").exists():
            real_seeds(w, mem512)
            real_walks(w, mem512 / "vmcore.elf", "mem512")
            la57 = RIG / "mem512-la57" / "vmcore.elf"
            if la57.exists():
                real_walks(w, la57, "mem512-la57")
        else:
            print(f"note: no real dumps in {RIG}: real-dump seeds not made", file=sys.stderr)
    finally:
        w.close()
    for target, files in regressions().items():
        d = HERE / "regressions" / target
        d.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (d / f"crafted-{name}").write_bytes(data)
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    for t, n in sorted(w.count.items()):
        print(f"{t:12} {n:3} seeds")
    print(f"total {total / 1024:.0f} KiB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
