"""Page classification: the compiled kernel and its pure-Python twin agree,
and the decision chain does what makedumpfile's does on hand-made pages."""

from __future__ import annotations

import random
import struct
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from needs import need_native

from pymakedumpfile import accel
from pymakedumpfile.core.vmcoreinfo import VmcoreInfo
from pymakedumpfile.filter.params import C, Cnt, build_params

# VMCOREINFO of the real Debian 6.1 kernel (the rig's, 2026), the keys classification uses (the release is
# not one of them: no test depends on which 6.1 build Debian ships)
VI_61 = """OSRELEASE=6.1.0-debian-amd64
PAGESIZE=4096
SIZE(page)=64
OFFSET(page.flags)=0
OFFSET(page._refcount)=52
OFFSET(page.mapping)=24
OFFSET(page.lru)=8
OFFSET(page._mapcount)=48
OFFSET(page.private)=40
OFFSET(page.compound_dtor)=16
OFFSET(page.compound_order)=17
OFFSET(page.compound_head)=8
LENGTH(zone.free_area)=11
NUMBER(PG_lru)=4
NUMBER(PG_private)=13
NUMBER(PG_swapcache)=10
NUMBER(PG_swapbacked)=19
NUMBER(PG_slab)=9
NUMBER(PG_hwpoison)=23
NUMBER(PG_head_mask)=65536
NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129
NUMBER(HUGETLB_PAGE_DTOR)=2
NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)=-257
"""
# what 6.12 changed (PGTY_* << 24 page types; order in page[1].flags)
VI_612_EXTRA = """NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)=-150994945
NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)=-67108865
NUMBER(PAGE_UNACCEPTED_MAPCOUNT_VALUE)=-33554433
"""


def vi(text: str) -> VmcoreInfo:
    return VmcoreInfo(text.encode())


def run(backend: str, pages: bytes, n: int, params: array, valid: bytes | None = None, pfn0: int = 0):  # type: ignore[no-untyped-def]
    nbits = pfn0 + n
    keep = bytearray(b"\xff" * ((nbits + 7) // 8))
    valid = valid if valid is not None else b"\xff" * len(keep)
    counters = array("Q", [0] * Cnt.N)
    nxt = accel.implementations("classify")[backend](pages, n, pfn0, n, pfn0, params, valid, keep, nbits, counters)
    return bytes(keep), list(counters), nxt


def page(flags: int = 0, mapping: int = 0, mapcount: int = -1, private: int = 0, chead: int = 0,
         dtor: int = 0, order: int = 0) -> bytes:
    b = bytearray(64)
    struct.pack_into("<Q", b, 0, flags)
    struct.pack_into("<Q", b, 8, chead)
    b[16], b[17] = dtor, order
    struct.pack_into("<Q", b, 24, mapping)
    struct.pack_into("<Q", b, 40, private)
    struct.pack_into("<i", b, 48, mapcount)
    return bytes(b)


def test_decision_chain_61(backend: str) -> None:
    p = build_params(vi(VI_61), 31, 8, False)
    LRU, PRIV, SLAB, HWP, HEAD = 1 << 4, 1 << 13, 1 << 9, 1 << 23, 1 << 16
    pages = [
        page(flags=LRU),                                   # 0 cache
        page(flags=LRU | PRIV),                            # 1 cache private
        page(mapping=0x1001),                              # 2 anon -> user
        page(mapping=0x1001, flags=SLAB),                  # 3 slab with mapping bit: kept
        page(mapcount=-129, private=1),                    # 4,5 buddy order 1 -> 2 free
        page(),                                            # 5 (covered by the buddy)
        page(flags=HWP),                                   # 6 hwpoison
        page(mapcount=-257),                               # 7 offline
        page(flags=HEAD),                                  # 8 hugetlb head, order 2 (dtor in page[1])
        page(chead=0x8 * 64 + 1, dtor=2, order=2),         # 9 tail carrying dtor/order
        page(chead=1), page(chead=1),                      # 10, 11 tails
        page(),                                            # 12 kernel page: kept
        page(mapcount=-129, private=11),                   # 13 buddy with an invalid order: kept
    ]
    keep, cnt, nxt = run(backend, b"".join(pages), len(pages), p)
    kept = [i for i in range(len(pages)) if keep[i >> 3] >> (i & 7) & 1]
    assert kept == [3, 12, 13]
    assert cnt[Cnt.CACHE] == 1 and cnt[Cnt.CACHE_PRIVATE] == 1
    assert cnt[Cnt.USER] == 1 + 4 and cnt[Cnt.FREE] == 2
    assert cnt[Cnt.HWPOISON] == 1 and cnt[Cnt.OFFLINE] == 1 and cnt[Cnt.BAD_ORDER] == 1
    assert nxt == len(pages)


def test_level_bits_select(backend: str) -> None:
    LRU = 1 << 4
    pages = b"".join([page(flags=LRU), page(mapping=1), page(mapcount=-129)])
    for level, want in ((0, [0, 1, 2]), (2, [1, 2]), (8, [0, 2]), (16, [0, 1]), (26, [])):
        keep, _, _ = run(backend, pages, 3, build_params(vi(VI_61), level, 8, False))
        assert [i for i in range(3) if keep[0] >> i & 1] == want, level


def test_612_page_types(backend: str) -> None:
    """6.12: slab is a page type, so PG_slab (now PG_waiters-like) is not read
    as slab when the type says buddy; hugetlb is a type of the head."""
    p = build_params(vi(VI_61.replace("NUMBER(PG_slab)=9\n", "") + VI_612_EXTRA), 31, 8, False)
    assert p[C.ORDER_MODE] == 3 and p[C.PG_SLAB] == 7
    HEAD = 1 << 16
    pages = [
        page(mapcount=-129, private=0),           # buddy (raw compare of the 6.12 value is what the kernel exported)
        page(mapcount=-150994945, mapping=1),     # slab type: mapping bit 0 does not make it anon
        page(flags=HEAD, mapcount=-67108865),     # hugetlb head (type in _mapcount), order in page[1].flags
        page(flags=1, chead=2 * 64 + 1),          # page[1]: flags low byte = order 1
    ]
    keep, cnt, _ = run(backend, b"".join(pages), 4, p)
    assert [i for i in range(4) if keep[0] >> i & 1] == [1]
    assert cnt[Cnt.FREE] == 1 and cnt[Cnt.USER] == 2


INTERESTING_MC = [-1, -129, -257, -150994945, -67108865, -33554433, 0, 5]


@st.composite
def struct_pages(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(1, 80))
    out = []
    for _ in range(n):
        flags = draw(st.integers(0, (1 << 64) - 1)) if draw(st.booleans()) else draw(st.sampled_from(
            [0, 1 << 4, 1 << 13, 1 << 9, 1 << 23, 1 << 16, (1 << 4) | (1 << 13), (1 << 10) | (1 << 19), 1 << 31]))
        out.append(page(
            flags=flags,
            mapping=draw(st.sampled_from([0, 1, 0x1000, 0x1001, (1 << 64) - 1])),
            mapcount=draw(st.sampled_from(INTERESTING_MC)),
            private=draw(st.sampled_from([0, 1, 3, 10, 11, 63, 64, 1 << 40])),
            chead=draw(st.sampled_from([0, 0, 1, 0x1000])),
            dtor=draw(st.integers(0, 255)),
            order=draw(st.sampled_from([0, 1, 2, 3, 9, 64, 200])),
        ))
    return b"".join(out), n


@given(struct_pages(), st.integers(0, 31), st.booleans(), st.integers(0, 3), st.sampled_from([0, 1, 6, 64]))
@settings(max_examples=400, deadline=None)
def test_native_python_identical(sp, level: int, v612: bool, valid_seed: int, pfn0: int) -> None:  # type: ignore[no-untyped-def]
    need_native(accel.NATIVE_AVAILABLE, "native accel not built")
    pages, n = sp
    text = VI_61 + (VI_612_EXTRA if v612 else "")
    params = build_params(vi(text), level, 8, False)
    rnd = random.Random(valid_seed)
    nbits = pfn0 + n
    valid = bytes(rnd.choice([0xFF, 0xFF, 0xF0, 0x00]) for _ in range((nbits + 7) // 8))
    a = run_at("native", pages, n, params, valid, pfn0)
    b = run_at("python", pages, n, params, valid, pfn0)
    assert a == b


def run_at(backend: str, pages: bytes, n: int, params: array, valid: bytes, pfn0: int):  # type: ignore[no-untyped-def]
    nbits = pfn0 + n
    keep = bytearray(b"\xff" * ((nbits + 7) // 8))
    counters = array("Q", [0] * Cnt.N)
    nxt = accel.implementations("classify")[backend](pages, n, pfn0, n, pfn0, params, valid, keep, nbits, counters)
    return bytes(keep), list(counters), nxt


def test_rejects_bad_sizes(backend: str) -> None:
    p = build_params(vi(VI_61), 31, 8, False)
    fn = accel.implementations("classify")[backend]
    with pytest.raises(ValueError):
        fn(bytes(64), 2, 0, 2, 0, p, b"\xff", bytearray(1), 2, array("Q", [0] * Cnt.N))  # 1 struct for 2
    bad = array("q", p)
    bad[C.OFF_MAPPING] = 60  # an 8-byte field past the end of a 64-byte struct page
    with pytest.raises(ValueError):
        fn(bytes(64), 1, 0, 1, 0, bad, b"\xff", bytearray(1), 1, array("Q", [0] * Cnt.N))
