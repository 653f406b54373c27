"""Page classification parameters, taken from VMCOREINFO.

The decision chain is makedumpfile's ``__exclude_unnecessary_pages``
(docs/formats.md §5.2), applied by ``accel.classify`` (C, or its
pure-Python twin in :mod:`pymakedumpfile.accel.classify_py`).  Every
kernel-specific value is chosen here, by what VMCOREINFO holds, never by
kernel version.
"""

from __future__ import annotations

from array import array

from ..accel.classify_py import C, Cnt
from ..core.vmcoreinfo import VmcoreInfo

# Flag numbers makedumpfile assumes for kernels that do not export them
# (makedumpfile.h: PG_*_ORIGINAL, from 2.6.25).
PG_LRU_ORIGINAL = 5
PG_SLAB_ORIGINAL = 7
PG_PRIVATE_ORIGINAL = 11
PG_COMPOUND_ORIGINAL = 14
PG_SWAPCACHE_ORIGINAL = 15


class MissingInfo(Exception):
    """VMCOREINFO lacks what classification needs."""


def _s64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


def build_params(vi: VmcoreInfo, dump_level: int, ulong_size: int, big_endian: bool) -> array:
    """The params array for :func:`classify` from a dump's VMCOREINFO.

    :raises MissingInfo: a level needs an entry that VMCOREINFO lacks.
    """
    off, num, size, sym, length = vi.OFFSET, vi.NUMBER, vi.SIZE, vi.SYMBOL, vi.LENGTH
    need = [("SIZE(page)", size.get("page")), ("OFFSET(page.flags)", off.get("page.flags")),
            ("OFFSET(page.mapping)", off.get("page.mapping"))]
    for name, v in need:
        if v is None:
            raise MissingInfo(f"VMCOREINFO has no {name}")
    p = [0] * C.NPARAMS
    p[C.SIZE_PAGE] = size["page"]
    p[C.ULONG_SIZE] = ulong_size
    p[C.BIG_ENDIAN] = int(big_endian)
    p[C.DUMP_LEVEL] = dump_level
    p[C.OFF_FLAGS] = off["page.flags"]
    p[C.OFF_MAPPING] = off["page.mapping"]
    p[C.OFF_MAPCOUNT] = off.get("page._mapcount", -1)
    p[C.OFF_PRIVATE] = off.get("page.private", -1)
    p[C.OFF_COMPOUND_HEAD] = off.get("page.compound_info", off.get("page.compound_head", -1))

    # where a compound head keeps its order and destructor (in page[1])
    p[C.ORDER_OFF] = p[C.DTOR_OFF] = 0
    if "PAGE_HUGETLB_MAPCOUNT_VALUE" in num:  # Linux 6.9+: order in page[1].flags
        p[C.ORDER_MODE] = 3
        p[C.HUGETLB_MC] = num["PAGE_HUGETLB_MAPCOUNT_VALUE"] & 0xFFFFFFFF
    elif "PG_hugetlb" in num:  # 6.6-6.8: order in page[1].flags, PG_hugetlb there
        p[C.ORDER_MODE] = 2
        p[C.PG_HUGETLB] = num["PG_hugetlb"]
    else:
        p[C.ORDER_MODE] = 1
        ps = size["page"]
        order = dtor = None
        if "folio._folio_order" in off:  # 6.3+: u8 fields of struct folio
            order, ow = off["folio._folio_order"] - ps, 1
            dtor, dw = (off["folio._folio_dtor"] - ps, 1) if "folio._folio_dtor" in off else (None, 0)
        elif "page.compound_order" in off:
            order = off["page.compound_order"]
            dtor = off.get("page.compound_dtor")
            # u8 pairs (4.16+) sit side by side; wider ones (4.4-4.15) are read as u16
            ow = dw = 1 if dtor is not None and abs(order - dtor) == 1 else 2
        elif "page.lru" in off and "list_head.prev" in off:  # before 4.4: page[1].lru
            order, ow = off["page.lru"] + off["list_head.prev"], 2
            dtor, dw = off["page.lru"] + off.get("list_head.next", 0), 8
        else:
            ow = dw = 0
        if order is not None:
            p[C.ORDER_OFF], p[C.ORDER_WIDTH] = order, ow
        if dtor is not None:
            p[C.DTOR_OFF], p[C.DTOR_WIDTH] = dtor, dw
    p[C.HEAD_MASK] = _s64(num.get("PG_head_mask", 1 << PG_COMPOUND_ORIGINAL))
    p[C.PG_LRU] = num.get("PG_lru", PG_LRU_ORIGINAL)
    p[C.PG_PRIVATE] = num.get("PG_private", PG_PRIVATE_ORIGINAL)
    p[C.PG_SWAPCACHE] = num.get("PG_swapcache", PG_SWAPCACHE_ORIGINAL)
    swapbacked = num.get("PG_swapbacked")
    if swapbacked is None and p[C.PG_SWAPCACHE] < p[C.PG_PRIVATE]:
        swapbacked = p[C.PG_PRIVATE] + 6  # makedumpfile's guess for old kernels
    p[C.PG_SWAPBACKED] = -1 if swapbacked is None else swapbacked
    p[C.PG_SLAB] = num.get("PG_slab", PG_SLAB_ORIGINAL)
    p[C.PG_HWPOISON] = num.get("PG_hwpoison", -1)
    p[C.PG_BUDDY] = num.get("PG_buddy", -1)
    if p[C.ORDER_MODE] != 2:
        p[C.PG_HUGETLB] = -1
    if "page.private" in off and "PAGE_BUDDY_MAPCOUNT_VALUE" in num and "page._mapcount" in off:
        p[C.BUDDY_MODE], p[C.BUDDY_MC] = 3, num["PAGE_BUDDY_MAPCOUNT_VALUE"] & 0xFFFFFFFF
    elif "page.private" in off and "PAGE_BUDDY_MAPCOUNT_VALUE" not in num and "PG_buddy" in num:
        p[C.BUDDY_MODE] = 2
    for has, val, key in ((C.SLAB_MC_HAS, C.SLAB_MC, "PAGE_SLAB_MAPCOUNT_VALUE"),
                          (C.OFFLINE_HAS, C.OFFLINE_MC, "PAGE_OFFLINE_MAPCOUNT_VALUE"),
                          (C.UNACCEPTED_HAS, C.UNACCEPTED_MC, "PAGE_UNACCEPTED_MAPCOUNT_VALUE")):
        if key in num:
            p[has], p[val] = 1, num[key] & 0xFFFFFFFF
    if "HUGETLB_PAGE_DTOR" in num:
        p[C.HUGETLB_DTOR_HAS], p[C.HUGETLB_DTOR] = 1, _s64(num["HUGETLB_PAGE_DTOR"])
    if "free_huge_page" in sym:
        p[C.FREE_HUGE_PAGE_HAS], p[C.FREE_HUGE_PAGE] = 1, _s64(sym["free_huge_page"])
    p[C.FREE_AREA_LEN] = length.get("zone.free_area", -1)
    # what the kernel reads must lie inside a struct page: a corrupt VMCOREINFO stops here
    sz = p[C.SIZE_PAGE]
    if not 8 <= sz <= 4096:
        raise MissingInfo(f"SIZE(page) {sz} is absurd")
    for i in (C.OFF_FLAGS, C.OFF_MAPPING, C.OFF_MAPCOUNT, C.OFF_PRIVATE, C.OFF_COMPOUND_HEAD, C.ORDER_OFF, C.DTOR_OFF):
        if not -1 <= p[i] <= sz - 8 or (i in (C.OFF_FLAGS, C.OFF_MAPPING) and p[i] < 0):
            raise MissingInfo(f"a struct page offset ({p[i]}) lies outside SIZE(page) {sz}")
    if not 0 <= p[C.FREE_AREA_LEN] <= 64 and p[C.FREE_AREA_LEN] != -1:
        raise MissingInfo(f"LENGTH(zone.free_area) {p[C.FREE_AREA_LEN]} is absurd")
    for i in (C.PG_LRU, C.PG_PRIVATE, C.PG_SWAPCACHE, C.PG_SWAPBACKED, C.PG_SLAB, C.PG_HWPOISON, C.PG_BUDDY,
              C.PG_HUGETLB):
        if not -1 <= p[i] < 64:
            raise MissingInfo(f"a page flag number ({p[i]}) is absurd")
    p = [_s64(v) for v in p]
    return array("q", p)


def scan_needed(params: array) -> bool:
    """Whether makedumpfile would scan mem_map at all for these params."""
    level = params[C.DUMP_LEVEL]
    return bool(level & (2 | 4 | 8)) or params[C.PG_HWPOISON] >= 0 or bool(level & 16 and params[C.BUDDY_MODE])




__all__ = ["C", "Cnt", "MissingInfo", "build_params", "scan_needed"]
