"""A large machine as a sparse ELF vmcore, for memory and speed tests.

``build_big_elf(path, mem_gib)`` writes an x86_64 "kernel" (tests/gen
x86_64_kernel: page tables, init_uts_ns, a FLATMEM ``mem_map`` pointer) with
a **realistic mem_map**: one 64-byte ``struct page`` (Linux 6.1 layout,
:data:`gen.x86_64.LINUX_61_LAYOUT`) for every pfn of ``mem_gib`` GiB, laid
out in 1024-pfn groups of one kind each:

* ``free``: one order-10 buddy block (head: ``_mapcount`` =
  PAGE_BUDDY_MAPCOUNT_VALUE, ``private`` = 10; tails: plain);
* ``cache``: LRU pages with a file mapping;
* ``anon``: LRU swap-backed pages with an anonymous mapping;
* ``mixed``: cache, anon and kernel pages in turn;
* ``kernel``: plain pages (kernel data), all zero in memory;
* the groups of the pfns that hold the struct pages themselves are
  ``PG_reserved`` kernel memory, as on a real machine.

The struct pages live at physical :data:`STRUCT_PHYS` and are mapped at
``VMEMMAP_START`` by 1 GiB pages.  Only the kernel pages and the struct
pages are stored: every other page is a hole of the sparse file and reads as
zeros.  256 GiB of memory is a 256 GiB file using 4 GiB of disk.

What each pfn is is decided here, from the group index, so a test can tell
what a filter must keep (:func:`group_kind`, :func:`expected_kept`).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from .notes import make_note, prstatus_note, vmcoreinfo_text
from .x86_64 import LINUX_61_LAYOUT, PAGE_OFFSET, VMEMMAP_START, x86_64_kernel

PS = 4096
GROUP = 1024  # pfns per group: an order-10 buddy block
SP = 64  # sizeof(struct page)
STRUCT_PHYS = 1 << 30  # the struct pages start at 1 GiB
DATA_OFF = 1 << 20  # file offset of physical address 0
BUDDY = -129  # PAGE_BUDDY_MAPCOUNT_VALUE (6.1)
PG_LRU, PG_RESERVED, PG_SLAB, PG_SWAPBACKED = 4, 12, 9, 19
FILE_MAPPING = 0xFFFF888100000000
ANON_MAPPING = 0xFFFF888100000001
KINDS = ("free", "cache", "anon", "mixed", "kernel", "reserved")


@dataclass
class BigInfo:
    path: str
    max_pfn: int
    struct_pfns: tuple[int, int]  # the pfns that hold the struct pages
    kernel_pfns: tuple[int, ...]  # pfns with data (page tables, init_uts_ns)


def group_kind(g: int, max_pfn: int) -> str:
    """The kind of group ``g`` (pfns g*1024 .. g*1024+1023)."""
    first = STRUCT_PHYS // PS
    last = first + -(-max_pfn * SP // PS)
    if g == 0:
        return "kernel"
    if first // GROUP <= g < -(-last // GROUP):
        return "reserved"
    h = (g * 2654435761) % 100
    return "free" if h < 55 else "cache" if h < 75 else "anon" if h < 90 else "mixed" if h < 98 else "kernel"


def _page(flags: int = 0, mapping: int = 0, mapcount: int = -1, private: int = 0) -> bytes:
    b = bytearray(SP)
    struct.pack_into("<Q", b, 0, flags)
    struct.pack_into("<QQ", b, 8, 0, 0)  # lru / compound_head: not a tail
    struct.pack_into("<Q", b, 24, mapping)
    struct.pack_into("<Q", b, 40, private)
    struct.pack_into("<ii", b, 48, mapcount, 1)  # _mapcount, _refcount
    return bytes(b)


def _templates() -> dict[str, bytes]:
    plain = _page()
    cache = _page(1 << PG_LRU, FILE_MAPPING)
    anon = _page(1 << PG_LRU | 1 << PG_SWAPBACKED, ANON_MAPPING, 0)
    return {
        "free": _page(0, 0, BUDDY, 10) + _page(0, 0, -1, 0) * (GROUP - 1),
        "cache": cache * GROUP,
        "anon": anon * GROUP,
        "mixed": b"".join((cache, anon, plain, _page(1 << PG_SLAB))[i % 4] for i in range(GROUP)),
        "kernel": plain * GROUP,
        "reserved": _page(1 << PG_RESERVED) * GROUP,
    }


def expected_kept(kind: str, level: int) -> int:
    """Pages of a group of ``kind`` that the struct page tests of ``level``
    keep (level bits 2, 4, 8, 16; zero pages, bit 1, aside: every page but
    the kernel's few and the struct pages is a hole and reads as zeros)."""
    if kind == "free":
        return 0 if level & 16 else GROUP
    if kind == "cache":
        return 0 if level & 6 else GROUP
    if kind == "anon":
        return 0 if level & 8 else GROUP
    if kind == "mixed":  # cache, anon, plain, slab in turn
        return GROUP // 2 + (0 if level & 6 else GROUP // 4) + (0 if level & 8 else GROUP // 4)
    return GROUP


def build_big_elf(path: str | os.PathLike[str], mem_gib: int, *, release: str = "6.1.0-synthetic-big") -> BigInfo:
    """Write the machine of ``mem_gib`` GiB (a multiple of 1 GiB, at least 2)
    as a sparse ELF64 vmcore with one PT_LOAD for all of memory."""
    if mem_gib < 2:
        raise ValueError("at least 2 GiB: the struct pages start at 1 GiB")
    mem = mem_gib << 30
    max_pfn = mem // PS
    nstruct = max_pfn * SP
    if STRUCT_PHYS + nstruct > mem:
        raise ValueError("no room for the struct pages")
    kb = x86_64_kernel(first_pfn=1, release=release)
    # the vmemmap: PGD slot -> a PUD at pfn 4 -> 1 GiB pages from STRUCT_PHYS
    pgd = bytearray(kb.pages[1].data)
    struct.pack_into("<Q", pgd, 8 * ((VMEMMAP_START >> 39) & 511), 4 * PS | 0x63)
    pud = bytearray(PS)
    for i in range(-(-nstruct // (1 << 30))):
        struct.pack_into("<Q", pud, 8 * (((VMEMMAP_START >> 30) + i) & 511), (STRUCT_PHYS + (i << 30)) | 0xE3)
    pages = {pfn: p.data for pfn, p in kb.pages.items()}
    pages[1], pages[4] = bytes(pgd), bytes(pud)
    vi = dict(LINUX_61_LAYOUT)
    vi = {k: v for k, v in vi.items() if "mem_section" not in k}
    vi.update(kb.vmcoreinfo)
    vi.update({"OSRELEASE": release, "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)": BUDDY, "NUMBER(PG_reserved)": PG_RESERVED})
    notes = prstatus_note("x86_64", pid=1) + make_note(b"VMCOREINFO", 0, vmcoreinfo_text(vi, CRASHTIME=1700000000))
    ehdr_size, phdr_size = 64, 56
    phnum = 2
    note_off = ehdr_size + phnum * phdr_size
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", ident, 4, 62, 1, 0, ehdr_size, 0, 0, ehdr_size, phdr_size, phnum, 0, 0, 0)
    ph_note = struct.pack("<IIQQQQQQ", 4, 0, note_off, 0, 0, len(notes), len(notes), 0)
    ph_load = struct.pack("<IIQQQQQQ", 1, 7, DATA_OFF, PAGE_OFFSET, 0, mem, mem, 0)
    assert note_off + len(notes) <= DATA_OFF
    tpl = _templates()
    with open(path, "wb") as f:
        f.write(ehdr + ph_note + ph_load + notes)
        f.truncate(DATA_OFF + mem)
        for pfn, data in pages.items():
            f.seek(DATA_OFF + pfn * PS)
            f.write(data)
        f.seek(DATA_OFF + STRUCT_PHYS)
        for g in range(-(-max_pfn // GROUP)):
            f.write(tpl[group_kind(g, max_pfn)])
    first = STRUCT_PHYS // PS
    return BigInfo(os.fspath(path), max_pfn, (first, first + -(-nstruct // PS)), tuple(sorted(pages)))
