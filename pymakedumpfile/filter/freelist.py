"""Free pages found by walking the buddy allocator's free lists.

Used, as makedumpfile's ``exclude_free_page`` does, when the kernel marks
no buddy page in ``struct page`` (no ``PAGE_BUDDY_MAPCOUNT_VALUE`` nor
``PG_buddy``): for each online node (``node_online_map``), its
``pglist_data`` (``node_data[]``, ``pgdat_list[]`` or ``contig_page_data``),
each zone with pages, each order and migrate type, follow
``free_area[order].free_list[type]`` through ``page.lru`` and exclude
``1 << order`` pages from each page found (docs/formats.md §5.3).
Every walk is bounded: a corrupt list cannot hang the tool.
"""

from __future__ import annotations

import bisect

from ..core.errors import CorruptDumpError, UnsupportedDumpError
from ..core.pagemap import Bitmap
from ..core.vmcoreinfo import VmcoreInfo
from ..translate import KernelMemory
from .memmap import MemMapRange

NEEDED = [
    ("SIZE", "zone"), ("OFFSET", "zone.free_area"), ("OFFSET", "zone.spanned_pages"),
    ("OFFSET", "pglist_data.node_zones"), ("OFFSET", "pglist_data.nr_zones"), ("SIZE", "free_area"),
    ("OFFSET", "free_area.free_list"), ("OFFSET", "list_head.next"), ("OFFSET", "list_head.prev"),
    ("OFFSET", "page.lru"), ("LENGTH", "zone.free_area"), ("SIZE", "page"),
]
MAX_ORDERS = 64  # free_area[] entries (MAX_ORDER is 11 on most kernels); an order is a shift
MAX_TYPES = 64  # migrate types per order (6 or so)
MAX_NODEMASK = 1 << 12  # bytes of nodemask_t (MAX_NUMNODES is at most 1 << 10 bits)


def _kernel_pointer(km: KernelMemory, p: int) -> bool:
    """A pointer into the kernel's half of the address space (its top bit set)."""
    return bool(p >> (8 * km.ptr_size - 1))


def online_nodes(vi: VmcoreInfo, km: KernelMemory) -> list[int]:
    """Node numbers set in ``node_online_map`` (node 0 alone when unknown)."""
    addr = vi.SYMBOL.get("node_online_map")
    if addr is None:
        return [0]
    size = vi.SIZE.get("nodemask_t", 8)
    if not 0 < size <= MAX_NODEMASK:
        raise CorruptDumpError(f"Cannot walk the free lists: SIZE(nodemask_t) {size} is absurd")
    mask = km.bitmap(km.read(addr, size))
    nodes = [n for n in range(size * 8) if mask >> n & 1]
    return nodes or [0]


def pgdat_of(vi: VmcoreInfo, km: KernelMemory, node: int) -> int | None:
    sym, length = vi.SYMBOL, vi.LENGTH
    if "node_data" in sym and "node_data" in length and node < length["node_data"]:
        p = km.ptr(sym["node_data"] + node * km.ptr_size)
        if _kernel_pointer(km, p):
            return p
    if "pgdat_list" in sym and (node == 0 or "pgdat_list" in length):
        p = km.ptr(sym["pgdat_list"] + node * km.ptr_size)
        if _kernel_pointer(km, p):
            return p
    if node == 0 and "contig_page_data" in sym:
        return sym["contig_page_data"]
    return None


def exclude_free_lists(vi: VmcoreInfo, km: KernelMemory, ranges: list[MemMapRange], keep: Bitmap,
                       max_pfn: int) -> int:
    """Clear the pages on the free lists from ``keep``; returns how many (as
    makedumpfile counts them: the pfns of the blocks found that were still to
    be dumped)."""
    missing = [f"{k}({n})" for k, n in NEEDED if n not in getattr(vi, k)]
    if "zone.free_pages" not in vi.OFFSET and "zone.vm_stat" not in vi.OFFSET:
        missing.append("OFFSET(zone.free_pages or zone.vm_stat)")
    if missing:
        raise UnsupportedDumpError(f"Cannot walk the free lists: VMCOREINFO lacks {', '.join(missing)}")
    off, size = vi.OFFSET, vi.SIZE
    orders = vi.LENGTH["zone.free_area"]
    types = vi.LENGTH.get("free_area.free_list", 1)
    page_sz = size["page"]
    if not 0 < orders <= MAX_ORDERS or not 0 < types <= MAX_TYPES or page_sz <= 0:
        raise CorruptDumpError(
            f"Cannot walk the free lists: LENGTH(zone.free_area) {orders}, LENGTH(free_area.free_list) {types} "
            f"or SIZE(page) {page_sz} is absurd"
        )
    starts = [r.mem_map for r in sorted(ranges, key=lambda r: r.mem_map)]
    by_map = sorted(ranges, key=lambda r: r.mem_map)

    def page_to_pfn(page: int) -> int:
        i = bisect.bisect_right(starts, page) - 1
        if i >= 0:
            r = by_map[i]
            idx = (page - r.mem_map) // page_sz
            if 0 <= idx < r.pfn_end - r.pfn_start:
                return r.pfn_start + idx
        raise CorruptDumpError(f"Cannot walk the free lists: {page:#x} is not a struct page")

    found = 0
    budget = max_pfn + 1  # list entries we may follow in all: no more blocks than pages
    for node in online_nodes(vi, km):
        pgdat = pgdat_of(vi, km, node)
        if pgdat is None:
            raise CorruptDumpError(f"Cannot walk the free lists: no pglist_data for node {node}")
        zones = pgdat + off["pglist_data.node_zones"]
        nr_zones = km.u32(pgdat + off["pglist_data.nr_zones"])
        if nr_zones > 16:
            raise CorruptDumpError(f"Cannot walk the free lists: node {node} has {nr_zones} zones")
        for z in range(nr_zones):
            zone = zones + z * size["zone"]
            if not km.ulong(zone + off["zone.spanned_pages"]):
                continue
            for order in range(orders - 1, -1, -1):
                for mt in range(types):
                    head = (zone + off["zone.free_area"] + size["free_area"] * order + off["free_area.free_list"]
                            + size.get("list_head", 16) * mt)
                    prev = head
                    cur = km.ptr(head + off["list_head.next"])
                    while cur != head:
                        budget -= 1
                        if budget < 0:
                            raise CorruptDumpError(
                                "Cannot walk the free lists: they hold more entries than pages (a loop)")
                        if km.ptr(cur + off["list_head.prev"]) != prev:
                            raise CorruptDumpError("Cannot walk the free lists: the free list is broken")
                        pfn = page_to_pfn(cur - off["page.lru"])
                        stop = min(pfn + (1 << order), max_pfn)
                        found += keep.count(pfn, stop) if stop > pfn else 0
                        keep.clear_range(pfn, stop)
                        prev = cur
                        cur = km.ptr(cur + off["list_head.next"])
    return found
