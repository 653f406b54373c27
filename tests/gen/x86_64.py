"""A minimal x86_64 "kernel" inside a synthetic dump.

Real tools (makedumpfile, libkdumpfile with ostype 'linux') walk the
kernel's page tables before they read anything by virtual address.  This
module makes the least a reader needs: a 4-level page table mapping the
kernel text (__START_KERNEL_map) and the direct map (PAGE_OFFSET) onto
physical address 0 with 1 GiB pages, an ``init_uts_ns`` holding a utsname,
and a ``mem_map`` pointer (FLATMEM) -- plus the matching VMCOREINFO
entries.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .kdump import Page

START_KERNEL_MAP = 0xFFFFFFFF80000000
PAGE_OFFSET = 0xFFFF888000000000  # 4-level paging, since 4.20 (KASLR off)
VMEMMAP_START = 0xFFFFEA0000000000

#: Debian's 6.1 kernel: VMCOREINFO entries of its struct page, zone and
#: mem_section layout (read from the rig's real VMCOREINFO)
LINUX_61_LAYOUT: dict[str, object] = {
    "OSRELEASE": "6.1.0-synthetic", "PAGESIZE": 4096,
    "SIZE(mem_section)": 32, "OFFSET(mem_section.section_mem_map)": 0, "LENGTH(mem_section)": 4096,
    "NUMBER(SECTION_SIZE_BITS)": 27, "NUMBER(MAX_PHYSMEM_BITS)": 46,
    "SIZE(page)": 64, "SIZE(pglist_data)": 174208, "SIZE(zone)": 1536, "SIZE(free_area)": 88,
    "SIZE(list_head)": 16, "SIZE(nodemask_t)": 128,
    "OFFSET(page.flags)": 0, "OFFSET(page._refcount)": 52, "OFFSET(page.mapping)": 24, "OFFSET(page.lru)": 8,
    "OFFSET(page._mapcount)": 48, "OFFSET(page.private)": 40, "OFFSET(page.compound_dtor)": 16,
    "OFFSET(page.compound_order)": 17, "OFFSET(page.compound_head)": 8,
    "OFFSET(pglist_data.node_zones)": 0, "OFFSET(pglist_data.nr_zones)": 171552,
    "OFFSET(zone.free_area)": 256, "OFFSET(zone.vm_stat)": 1344, "OFFSET(zone.spanned_pages)": 144,
    "OFFSET(free_area.free_list)": 0, "OFFSET(list_head.next)": 0, "OFFSET(list_head.prev)": 8,
    "LENGTH(zone.free_area)": 11, "LENGTH(free_area.free_list)": 5,
    "NUMBER(PG_lru)": 4, "NUMBER(PG_private)": 13, "NUMBER(PG_swapcache)": 10, "NUMBER(PG_swapbacked)": 19,
    "NUMBER(PG_slab)": 9, "NUMBER(PG_hwpoison)": 23, "NUMBER(PG_head_mask)": 65536,
    "NUMBER(HUGETLB_PAGE_DTOR)": 2, "NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)": -257,
}

_PRESENT, _RW, _ACCESSED, _DIRTY, _PSE = 0x1, 0x2, 0x20, 0x40, 0x80
_TABLE = _PRESENT | _RW | _ACCESSED | _DIRTY
_HUGE = _PRESENT | _RW | _ACCESSED | _DIRTY | _PSE


def _index(vaddr: int, shift: int) -> int:
    return (vaddr >> shift) & 511


@dataclass
class KernelBits:
    pages: dict[int, Page]
    vmcoreinfo: dict[str, object]
    symbols: dict[str, int] = field(default_factory=dict)


def x86_64_kernel(
    *,
    first_pfn: int = 1,
    release: str = "5.15.0-synthetic",
    page_size: int = 4096,
    uts: dict[str, str] | None = None,
    how: str = "raw",
) -> KernelBits:
    """Three pages from ``first_pfn``: PGD, PUD, and a data page holding
    ``init_uts_ns`` (kref int, then struct new_utsname) and ``mem_map``.

    The returned ``vmcoreinfo`` dict goes to
    ``vmcoreinfo_text(bits.vmcoreinfo)`` (merge your own keys into it)."""
    if page_size != 4096:
        raise ValueError("x86_64 uses 4 KiB pages")
    pgd_pfn, pud_pfn, data_pfn = first_pfn, first_pfn + 1, first_pfn + 2
    pgd = bytearray(page_size)
    pud = bytearray(page_size)
    for va in (START_KERNEL_MAP, PAGE_OFFSET):
        struct.pack_into("<Q", pgd, 8 * _index(va, 39), (pud_pfn << 12) | _TABLE)
        struct.pack_into("<Q", pud, 8 * _index(va, 30), 0 | _HUGE)  # 1 GiB at phys 0

    u = {
        "sysname": "Linux",
        "nodename": "synthetic",
        "release": release,
        "version": "#1 SMP",
        "machine": "x86_64",
        "domainname": "(none)",
    }
    if uts:
        u.update(uts)
    data = bytearray(page_size)
    uts_off = 0
    struct.pack_into("<i", data, uts_off, 1)  # kref
    pos = uts_off + 4
    for k in ("sysname", "nodename", "release", "version", "machine", "domainname"):
        b = u[k].encode()[:64]
        data[pos:pos + len(b)] = b
        pos += 65
    mem_map_off = 512
    struct.pack_into("<Q", data, mem_map_off, VMEMMAP_START)

    phys = lambda pfn, off=0: pfn * page_size + off  # noqa: E731
    sym = {
        "init_top_pgt": START_KERNEL_MAP + phys(pgd_pfn),
        "init_uts_ns": START_KERNEL_MAP + phys(data_pfn, uts_off),
        "mem_map": START_KERNEL_MAP + phys(data_pfn, mem_map_off),
    }
    vmci: dict[str, object] = {
        "OSRELEASE": release,
        "PAGESIZE": page_size,
        "SYMBOL(init_uts_ns)": sym["init_uts_ns"],
        "SYMBOL(init_top_pgt)": sym["init_top_pgt"],
        "SYMBOL(swapper_pg_dir)": sym["init_top_pgt"],
        "SYMBOL(mem_map)": sym["mem_map"],
        "OFFSET(uts_namespace.name)": 4,
        "SIZE(page)": 64,
        "OFFSET(page.flags)": 0,
        "OFFSET(page._refcount)": 52,
        "OFFSET(page.mapping)": 24,
        "NUMBER(phys_base)": 0,
        "NUMBER(pgtable_l5_enabled)": 0,
    }
    pages = {
        pgd_pfn: Page(bytes(pgd), how),
        pud_pfn: Page(bytes(pud), how),
        data_pfn: Page(bytes(data), how),
    }
    return KernelBits(pages, vmci, sym)
