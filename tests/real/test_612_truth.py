"""Debian 13's 6.12 kernel: page classification checked against the guest's
own /proc/kpageflags, read just before QEMU dumped it (makedumpfile 1.7.2
predates 6.12's page-type encoding and excludes slab pages as user data
there, so it is not the reference).

kpageflags was read a moment before the dump, so a few pages may have
changed state in between; the bounds below allow that few and no more, and
no page of kernel data (slab, page tables) may ever be excluded.
"""

from __future__ import annotations

from array import array
from pathlib import Path

import pytest

from pymakedumpfile import open_dump
from pymakedumpfile.filter import make_write_context

# /proc/kpageflags bits (Documentation/admin-guide/mm/pagemap.rst)
LRU, SLAB, BUDDY, ANON, SWAPCACHE, SWAPBACKED, HUGE, NOPAGE, PGTABLE = 5, 7, 10, 12, 13, 14, 17, 20, 26
PRIVATE = 35


@pytest.fixture(scope="module")
def trixie(mem512: Path) -> Path:
    from util import need

    d = Path(str(mem512.parent.parent) + "-trixie") / "dumps" / "mem512"
    need((d / "kpageflags.bin").exists() and (d / "qemu-elf").exists(), f"no 6.12 rig run in {d}")
    return d


@pytest.fixture(scope="module")
def kpf(trixie: Path) -> array:
    a = array("Q")
    a.frombytes((trixie / "kpageflags.bin").read_bytes())
    return a


def excluded(path: Path, level: int) -> tuple[set[int], set[int]]:
    """(pfns excluded at ``level``, pfns the dump holds at level 0)."""
    with open_dump(path) as src:
        assert src.attr["linux.uts.release"].startswith("6.12")
        w = make_write_context(src, format="kdump", dump_level=level)
        keep = w.pagemap
        stored = {p for a, b in src.pagemap.runs() for p in range(a, b)}
        return {p for p in stored if not keep.test(p)}, stored


def has(f: int, b: int) -> bool:
    return bool(f >> b & 1)


@pytest.mark.parametrize("dump", ["qemu-elf", "vmcore.elf"])
def test_classes_agree_with_kpageflags(dump: str, trixie: Path, kpf: array) -> None:
    ex31, stored = excluded(trixie / dump, 31)
    present = sorted(p for p in stored if p < len(kpf))  # compare the pages the dump holds
    # kernel data is never excluded
    kernel = [p for p in present if has(kpf[p], SLAB) or has(kpf[p], PGTABLE)]
    assert len(kernel) > 1000
    assert [p for p in kernel if p in ex31] == []
    # cache levels agree exactly (page cache does not change while the guest sleeps)
    ex2, _ = excluded(trixie / dump, 2)
    ex4, _ = excluded(trixie / dump, 4)
    cache = {p for p in present if not has(kpf[p], ANON) and (has(kpf[p], LRU) or has(kpf[p], SWAPCACHE))}
    assert ex4 == cache
    assert ex2 == {p for p in cache if not has(kpf[p], PRIVATE)}
    # user and free pages: agreement but for pages that changed state in between
    ex8, _ = excluded(trixie / dump, 8)
    ex16, _ = excluded(trixie / dump, 16)
    # kpageflags calls a slab page ANON when the slab's field over page->mapping has
    # bit 0 set: a slab page is kernel data whatever that bit (truth_compare's order)
    anon = {p for p in present if (has(kpf[p], ANON) or has(kpf[p], HUGE))
            and not (has(kpf[p], BUDDY) or has(kpf[p], SLAB) or has(kpf[p], PGTABLE))}
    buddy = {p for p in present if has(kpf[p], BUDDY)}
    assert len(anon) > 20000 and len(buddy) > 5000
    changed = {
        "anon not excluded": len(anon - ex8), "excluded as user, not anon": len(ex8 - anon),
        "buddy not excluded": len(buddy - ex16), "excluded as free, not buddy": len(ex16 - buddy),
    }
    print(dump, changed)
    assert changed["anon not excluded"] <= 0.002 * len(anon)
    assert changed["excluded as user, not anon"] <= 0.002 * len(anon)
    assert changed["buddy not excluded"] <= 0.005 * len(buddy)
    # the crash kernel's copy is taken later than kpageflags: more pages were freed by then
    assert changed["excluded as free, not buddy"] <= (0.002 if dump == "qemu-elf" else 0.02) * len(buddy)
