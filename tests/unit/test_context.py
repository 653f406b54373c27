"""Attribute trees, copy-on-write clones and page maps."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymakedumpfile.core.context import Attributes
from pymakedumpfile.core.pagemap import Bitmap, RangeMap


def test_clone_is_copy_on_write() -> None:
    base = Attributes()
    base["file.format"] = "elf"
    base["linux.uts.release"] = "6.1"
    base["linux.uts.machine"] = "x86_64"
    base["file.pagemap"] = Bitmap(bytearray(b"\xff"), 8)
    clone = Attributes(base)
    assert clone["file.format"] == "elf"
    clone["file.format"] = "kdump"
    assert base["file.format"] == "elf" and clone["file.format"] == "kdump"
    assert not clone.is_own("linux.uts.release")
    assert clone["linux.uts"] == {"release": "6.1", "machine": "x86_64"}
    pm = clone.mutable("file.pagemap")
    pm.clear(3)
    assert base["file.pagemap"].test(3) and not clone["file.pagemap"].test(3)
    del clone["linux.uts.machine"]
    assert "linux.uts.machine" not in clone and "linux.uts.machine" in base
    with pytest.raises(TypeError):
        clone["arch.page_size"] = "4096"


def _bits(pm: object, n: int) -> list[bool]:
    return [pm.test(i) for i in range(n)]  # type: ignore[attr-defined]


@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 300)), max_size=12), st.integers(0, 310))
@settings(max_examples=200, deadline=None)
def test_rangemap_and_bitmap_agree(ranges: list[tuple[int, int]], start: int) -> None:
    n = 300
    rm = RangeMap([(min(a, b), max(a, b)) for a, b in ranges], n)
    bm = Bitmap.copy_of(rm)
    assert _bits(rm, n) == _bits(bm, n)
    assert list(rm.runs(start)) == list(bm.runs(start))
    assert rm.count(start) == bm.count(start) == sum(_bits(rm, n)[start:])
    s8 = start & ~7
    assert rm.to_bytes(s8, n) == bm.to_bytes(s8, n)


@pytest.mark.parametrize("piece", [1, 3, 1 << 17])
def test_bitmap_runs_random(piece: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs are found a piece of the bitmap at a time: a run crossing pieces
    comes out whole, whatever the piece size and the bounds."""
    from pymakedumpfile.core import pagemap

    monkeypatch.setattr(pagemap, "RUNS_PIECE_BYTES", piece)
    rnd = random.Random(1)
    for _ in range(50):
        n = rnd.randrange(1, 5000)
        raw = bytearray(rnd.choice([0, 0xFF, rnd.randrange(256)]) for _ in range((n + 7) // 8))
        bm = Bitmap(raw, n)
        want: list[tuple[int, int]] = []
        for i in range(n):
            if bm.test(i):
                if want and want[-1][1] == i:
                    want[-1] = (want[-1][0], i + 1)
                else:
                    want.append((i, i + 1))
        assert list(bm.runs()) == want
        a, b = sorted(rnd.sample(range(n + 1), 2)) if n > 1 else (0, n)
        assert list(bm.runs(a, b)) == [(max(x, a), min(y, b)) for x, y in want if min(y, b) > max(x, a)]


def test_bitmap_set_clear_range() -> None:
    bm = Bitmap.empty(100)
    bm.set_range(3, 77)
    assert bm.count() == 74 and list(bm.runs()) == [(3, 77)]
    bm.clear_range(10, 20)
    assert list(bm.runs()) == [(3, 10), (20, 77)]


def test_a_dump_is_closed_when_its_contexts_go(tmp_path: Path) -> None:
    """Once a context and its clones are dropped, its reader (and the dump file it holds open)
    goes at once, without waiting for the cyclic garbage collector, even after a walk of the
    kernel's page tables.  A converter of many dumps would otherwise keep every file open, and
    the disk space of every file it deleted."""
    import gc
    import weakref

    from gen import build_elf, make_note, vmcoreinfo_text
    from gen.x86_64 import x86_64_kernel

    from pymakedumpfile import open_dump

    k = x86_64_kernel(first_pfn=1, release="6.1.0-test")
    data = bytearray(64 * 4096)
    for pfn, page in k.pages.items():
        data[pfn * 4096 : (pfn + 1) * 4096] = page.data
    notes = make_note(b"VMCOREINFO", 0, vmcoreinfo_text(k.vmcoreinfo))
    path = tmp_path / "vmcore"
    build_elf(path, [(0, 0xFFFF888000000000, bytes(data), len(data))], notes=notes)
    was = gc.isenabled()
    gc.disable()
    try:
        ctx = open_dump(path)
        ctx.kernel_memory().vtop(0xFFFF888000001000)
        clone = ctx.clone()
        clone.kernel_memory()
        reader = weakref.ref(ctx.reader)
        del ctx, clone
        assert reader() is None
    finally:
        if was:
            gc.enable()


def test_a_reader_dropped_without_close_closes_its_file(tmp_path: Path) -> None:
    """open_reader(...) used and dropped, never closed: its file descriptor goes with it."""
    import os

    from gen import build_elf

    from pymakedumpfile.input import open_reader

    path = tmp_path / "vmcore"
    build_elf(path, [(0, 0xFFFF888000000000, bytes(8 * 4096), 8 * 4096)])

    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = fds()
    for _ in range(5):
        assert open_reader(path).pagemap.count() == 8
    assert fds() == before
