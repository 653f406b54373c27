"""A 16 GiB synthetic machine (tests/gen/big.py: a realistic mem_map, 4
classification cycles): what -d 31 keeps follows from how the builder laid
out each 1024-pfn group, and makedumpfile agrees on the same file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from gen.big import GROUP, KINDS, BigInfo, build_big_elf, expected_kept, group_kind
from needs import need_tool

from pymakedumpfile import open_dump
from pymakedumpfile.core.pagemap import CyclicMap
from pymakedumpfile.filter import CYCLE_PFNS, make_write_context
from pymakedumpfile.output import write_dump

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> BigInfo:
    return build_big_elf(tmp_path_factory.mktemp("big") / "big16.elf", 16)


def expected(info: BigInfo, level: int) -> dict[str, int]:
    """Pages per kind the struct page tests keep at ``level``."""
    out = dict.fromkeys(KINDS, 0)
    for g in range(info.max_pfn // GROUP):
        k = group_kind(g, info.max_pfn)
        out[k] += expected_kept(k, level)
    return out


@pytest.mark.parametrize("level", [16, 30])
def test_classification_follows_the_layout(big: BigInfo, level: int) -> None:
    with open_dump(big.path) as src:
        assert src.max_pfn == 4 * CYCLE_PFNS
        w = make_write_context(src, format="kdump", dump_level=level)
        assert isinstance(w.pagemap, CyclicMap)
        want = expected(big, level)
        assert w.pagemap.count() == sum(want.values())
        st = w.attr["filter.stats"]
        groups = [group_kind(g, big.max_pfn) for g in range(big.max_pfn // GROUP)]
        n = {k: groups.count(k) for k in KINDS}
        assert st.free == (n["free"] * GROUP if level & 16 else 0)
        assert st.cache == (n["cache"] * GROUP + n["mixed"] * GROUP // 4 if level & 2 else 0)
        assert st.user == (n["anon"] * GROUP + n["mixed"] * GROUP // 4 if level & 8 else 0)
        # per group, spot checks across the cycles
        for g in range(0, big.max_pfn // GROUP, 97):
            k = groups[g]
            assert w.pagemap.count(g * GROUP, (g + 1) * GROUP) == expected_kept(k, level), (g, k)


def test_level31_output(big: BigInfo, tmp_path: Path) -> None:
    """At -d 31 only the kernel's pages and the struct pages have data: they
    are the pages stored, byte for byte; the rest kept are zero pages."""
    out = tmp_path / "out"
    with open_dump(big.path) as src:
        w = make_write_context(src, format="kdump", compression="lzo", dump_level=31)
        res = write_dump(w, str(out))
        assert not res.incomplete
        a, b = big.struct_pfns
        kept = w.pagemap.count()
        assert kept == sum(expected(big, 31).values())
        # every kept page but the kernel's 4 and the struct pages reads as zeros:
        # they share the one zero page (in bitmap 2, as makedumpfile does)
        assert res.zero_pages == kept - 4 - (b - a)
        with open_dump(str(out)) as o:
            assert o.reader.pagemap.count() == kept
            for pfn in (1, 2, 3, 4, a, a + 1, (a + b) // 2, b - 1):
                assert o.read_pfn(pfn) == src.read_pfn(pfn) != bytes(4096)


def test_makedumpfile_agrees(big: BigInfo, tmp_path: Path) -> None:
    mdf = need_tool("makedumpfile")
    ref, ours = tmp_path / "ref", tmp_path / "ours"
    p = subprocess.run([mdf, "-l", "-d", "31", "--message-level", "31", big.path, str(ref)], capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    q = subprocess.run([sys.executable, "-m", "pymakedumpfile", "-l", "-d", "31", "--message-level", "31", big.path,
                        str(ours)], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert q.returncode == 0, q.stderr

    def counts(text: str) -> list[str]:
        return re.findall(r"(?m)^\s*(?:Pages filled with zero|Non-private cache pages|Private cache pages|"
                          r"User process data pages|Free pages|Remaining pages)\s*:\s*(0x[0-9a-f]+)", text)

    assert counts(q.stdout) == counts(p.stdout)  # the report goes to standard output in both
    with open_dump(str(ref)) as r, open_dump(str(ours)) as o:
        assert list(r.reader.pagemap.runs()) == list(o.reader.pagemap.runs())


def test_elf_output_memory_does_not_grow(big: BigInfo, tmp_path: Path) -> None:
    """ELF output is filtered a cycle at a time too (zero pages found when
    a cycle is computed): from 4 to 16 GiB, on one thread, the peak of
    Python's allocations grows by less than a quarter of what a bitmap of the
    whole dump would grow (a list of runs, once, added 10 MB here; the whole
    bitmap 384 KiB)."""
    import os
    import tracemalloc

    from pymakedumpfile import accel

    if accel.BACKEND == "python":  # tracemalloc over the pure-Python classifier: minutes, not seconds
        pytest.skip("measured with the native kernels (the twin's logic is tested elsewhere)")
    small = build_big_elf(tmp_path / "big4.elf", 4)
    peaks = []
    for info in (small, big):
        out = tmp_path / "out.elf"
        tracemalloc.start()
        try:
            with open_dump(info.path) as src:
                w = make_write_context(src, format="elf", dump_level=31, threads=1)
                assert isinstance(w.pagemap, CyclicMap)
                write_dump(w, str(out), threads=1)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        os.unlink(out)
    bitmap_growth = (big.max_pfn - small.max_pfn) // 8
    assert peaks[1] - peaks[0] < bitmap_growth // 4, peaks


def test_cycles_classified_in_parallel_agree(big: BigInfo) -> None:
    """The counting pass classifies cycles on several threads: the same
    bits (every cycle) and the same counts as on one thread."""
    with open_dump(big.path) as src:
        res = []
        for threads in (1, 3):
            w = make_write_context(src, format="kdump", dump_level=31, threads=threads)
            st = w.attr["filter.stats"]
            bits = [w.pagemap.to_bytes(c0, min(c0 + CYCLE_PFNS, w.max_pfn)) for c0 in range(0, w.max_pfn, CYCLE_PFNS)]
            res.append((bits, st.cache, st.cache_private, st.user, st.free, w.pagemap.count()))
        assert res[0] == res[1]
        assert res[0][4] > 0 and res[0][3] > 0  # free and user pages were found in several cycles


@pytest.mark.parametrize("cyclic", [True, False])
def test_classify_gives_the_page_map_and_stats(big: BigInfo, cyclic: bool) -> None:
    """classify(ctx, level) is the filter without a write context: the map and the counts the
    layout says, as a cyclic map or a whole bitmap, leaving the input's map as it was."""
    from pymakedumpfile.core.pagemap import Bitmap
    from pymakedumpfile.filter import FilterStats, classify

    with open_dump(big.path) as src:
        pm, st = classify(src, 30, cyclic=cyclic)
        assert isinstance(pm, CyclicMap if cyclic else Bitmap) and isinstance(st, FilterStats)
        want = expected(big, 30)
        assert pm.count() == sum(want.values())
        groups = [group_kind(g, big.max_pfn) for g in range(big.max_pfn // GROUP)]
        assert st.free == groups.count("free") * GROUP
        assert src.pagemap.count() == src.attr["memory.pagemap"].count()  # the input's map is untouched
