"""Pure-Python twin of ``accel/classify.c`` (page classification), and the
index enums of its params and counters arrays (``PMD_C_*``/``PMD_CNT_*`` in
accel/accel.h).  The kernel-specific values are chosen in
:mod:`pymakedumpfile.filter.params`.
"""

from __future__ import annotations

import enum
from array import array

from ..core.hints import Literal


class C(enum.IntEnum):
    """Indexes of the params array (``PMD_C_*`` in accel/accel.h)."""

    SIZE_PAGE = 0
    ULONG_SIZE = enum.auto()
    BIG_ENDIAN = enum.auto()
    DUMP_LEVEL = enum.auto()
    OFF_FLAGS = enum.auto()
    OFF_MAPPING = enum.auto()
    OFF_MAPCOUNT = enum.auto()
    OFF_PRIVATE = enum.auto()
    OFF_COMPOUND_HEAD = enum.auto()
    ORDER_MODE = enum.auto()
    ORDER_OFF = enum.auto()
    ORDER_WIDTH = enum.auto()
    DTOR_OFF = enum.auto()
    DTOR_WIDTH = enum.auto()
    HEAD_MASK = enum.auto()
    PG_LRU = enum.auto()
    PG_PRIVATE = enum.auto()
    PG_SWAPCACHE = enum.auto()
    PG_SWAPBACKED = enum.auto()
    PG_SLAB = enum.auto()
    PG_HWPOISON = enum.auto()
    PG_BUDDY = enum.auto()
    PG_HUGETLB = enum.auto()
    BUDDY_MODE = enum.auto()
    BUDDY_MC = enum.auto()
    SLAB_MC_HAS = enum.auto()
    SLAB_MC = enum.auto()
    OFFLINE_HAS = enum.auto()
    OFFLINE_MC = enum.auto()
    UNACCEPTED_HAS = enum.auto()
    UNACCEPTED_MC = enum.auto()
    HUGETLB_MC = enum.auto()
    HUGETLB_DTOR_HAS = enum.auto()
    HUGETLB_DTOR = enum.auto()
    FREE_HUGE_PAGE_HAS = enum.auto()
    FREE_HUGE_PAGE = enum.auto()
    FREE_AREA_LEN = enum.auto()
    NPARAMS = enum.auto()


class Cnt(enum.IntEnum):
    """Indexes of the counters array (``PMD_CNT_*``)."""

    CACHE = 0
    CACHE_PRIVATE = 1
    USER = 2
    FREE = 3
    HWPOISON = 4
    OFFLINE = 5
    BAD_ORDER = 6
    N = 7


# ---- the pure-Python twin of accel/classify.c ------------------------------

_M64 = (1 << 64) - 1


def _test_bit(nr: int, v: int) -> bool:
    b = nr & 31
    m = (0xFFFFFFFF80000000 if b == 31 else 1 << b)  # an int mask, sign-extended
    return bool(m & v)


def classify_python(pages: bytes, nstruct: int, pfn0: int, count: int, skip_until: int, params: array,
                    valid: bytes, keep: bytearray, nbits: int, counters: array) -> int:
    """Pure-Python twin of ``pmd_classify`` (see accel/accel.h); same arguments."""
    P = [int(x) for x in params]
    sz = P[C.SIZE_PAGE]
    if sz <= 0 or nstruct < count or len(pages) // sz < nstruct or len(valid) * 8 < nbits or len(keep) * 8 < nbits:
        raise ValueError("buffer sizes do not match the arguments")
    for field in (C.OFF_FLAGS, C.OFF_MAPPING, C.OFF_MAPCOUNT, C.OFF_PRIVATE, C.OFF_COMPOUND_HEAD, C.ORDER_OFF,
                  C.DTOR_OFF):
        if P[field] < -1 or (P[field] >= 0 and P[field] + 8 > sz):
            raise ValueError("struct page field offsets out of range")
    if (P[C.OFF_FLAGS] < 0 or P[C.OFF_MAPPING] < 0 or (P[C.ORDER_WIDTH] > 0 and P[C.ORDER_OFF] < 0)
            or (P[C.DTOR_WIDTH] > 0 and P[C.DTOR_OFF] < 0) or P[C.ORDER_WIDTH] < 0 or P[C.DTOR_WIDTH] < 0):
        raise ValueError("struct page field offsets out of range")
    if P[C.ULONG_SIZE] not in (4, 8) or P[C.ORDER_WIDTH] > 8 or P[C.DTOR_WIDTH] > 8:
        raise ValueError("struct page field offsets out of range")
    bo: Literal["little", "big"] = "big" if P[C.BIG_ENDIAN] else "little"
    ul = P[C.ULONG_SIZE]
    level = P[C.DUMP_LEVEL]
    frm = int.from_bytes

    def rd(off: int, w: int) -> int:
        return frm(pages[off : off + w], bo)

    def is_slab(flags: int, mc: int) -> bool:
        if P[C.SLAB_MC_HAS] and mc == P[C.SLAB_MC]:
            return True
        return bool(flags & (1 << (P[C.PG_SLAB] & 63)))

    def is_anon(mapping: int, flags: int, mc: int) -> bool:
        return bool(mapping & 1) and not is_slab(flags, mc)

    def is_cache(flags: int) -> bool:
        if _test_bit(P[C.PG_LRU], flags):
            return True
        return (P[C.PG_SWAPBACKED] < 0 or _test_bit(P[C.PG_SWAPBACKED], flags)) and _test_bit(P[C.PG_SWAPCACHE], flags)

    def is_buddy(flags: int, mc: int) -> bool:
        mode = P[C.BUDDY_MODE]
        if mode == 3:
            return not is_slab(flags, mc) and mc == P[C.BUDDY_MC]
        if mode == 2:
            return bool(flags & (1 << (P[C.PG_BUDDY] & 63)))
        return False

    mapcount = priv = chead = 0
    pfn = max(pfn0, skip_until)
    end = pfn0 + count
    head_mask = P[C.HEAD_MASK] & _M64
    while pfn < end:
        i = pfn - pfn0
        base = i * sz
        if pfn >= nbits or not valid[pfn >> 3] >> (pfn & 7) & 1:
            pfn += 1
            continue
        flags = rd(base + P[C.OFF_FLAGS], ul)
        mapping = rd(base + P[C.OFF_MAPPING], ul)
        if P[C.OFF_MAPCOUNT] >= 0:
            mapcount = rd(base + P[C.OFF_MAPCOUNT], 4)
        order = dtor = 0
        dtor_hugetlb = False
        if flags & head_mask and i + 1 < nstruct:
            nx = base + sz
            mode = P[C.ORDER_MODE]
            if mode == 3:
                order = rd(nx + P[C.OFF_FLAGS], ul) & 0xFF
                dtor_hugetlb = mapcount == P[C.HUGETLB_MC]
            elif mode == 2:
                f1 = rd(nx + P[C.OFF_FLAGS], ul)
                order = f1 & 0xFF
                dtor_hugetlb = bool(f1 & (1 << (P[C.PG_HUGETLB] & 63)))
            elif mode == 1:
                if P[C.ORDER_WIDTH] > 0:
                    order = rd(nx + P[C.ORDER_OFF], P[C.ORDER_WIDTH])
                if P[C.DTOR_WIDTH] > 0:
                    dtor = rd(nx + P[C.DTOR_OFF], P[C.DTOR_WIDTH])
            if order >= 64 or pfn & ((1 << order) - 1):
                order = 0
        if P[C.OFF_COMPOUND_HEAD] >= 0:
            chead = rd(base + P[C.OFF_COMPOUND_HEAD], ul)
        if P[C.OFF_PRIVATE] >= 0:
            priv = rd(base + P[C.OFF_PRIVATE], ul)
        nr = 1 << order
        if chead & 1:
            pfn += 1
            continue
        if level & 16 and is_buddy(flags, mapcount):
            if P[C.FREE_AREA_LEN] >= 0 and priv >= P[C.FREE_AREA_LEN]:
                counters[Cnt.BAD_ORDER] += 1
                pfn += 1
                continue
            nr = 1 << (priv & 63)
            counter = Cnt.FREE
        elif level & 16 and P[C.UNACCEPTED_HAS] and mapcount == P[C.UNACCEPTED_MC]:
            nr = 1 << ((P[C.FREE_AREA_LEN] - 1) & 63)
            counter = Cnt.FREE
        elif (level & 2 and is_cache(flags) and not _test_bit(P[C.PG_PRIVATE], flags)
              and not is_anon(mapping, flags, mapcount)):
            counter = Cnt.CACHE
        elif level & 4 and is_cache(flags) and not is_anon(mapping, flags, mapcount):
            counter = Cnt.CACHE_PRIVATE if _test_bit(P[C.PG_PRIVATE], flags) else Cnt.CACHE
        elif level & 8 and (is_anon(mapping, flags, mapcount) or dtor_hugetlb
                            or (P[C.HUGETLB_DTOR_HAS] and dtor == P[C.HUGETLB_DTOR] & _M64)
                            or (P[C.FREE_HUGE_PAGE_HAS] and dtor == P[C.FREE_HUGE_PAGE] & _M64)):
            counter = Cnt.USER
        elif P[C.PG_HWPOISON] >= 0 and _test_bit(P[C.PG_HWPOISON], flags):
            counter = Cnt.HWPOISON
        elif P[C.OFFLINE_HAS] and not is_slab(flags, mapcount) and mapcount == P[C.OFFLINE_MC]:
            counter = Cnt.OFFLINE
        else:
            pfn += 1
            continue
        stop = min(pfn + nr, nbits)
        for k in range(pfn, stop):  # as makedumpfile: only pages still to be dumped count
            if keep[k >> 3] >> (k & 7) & 1:
                keep[k >> 3] &= ~(1 << (k & 7)) & 0xFF
                counters[counter] += 1
        pfn += nr
        if pfn > _M64:
            return _M64
    return pfn
