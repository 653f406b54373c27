"""CyclicMap (a page map computed a cycle at a time) answers every question
exactly as a plain Bitmap with the same bits, however the calls fall across
cycle boundaries."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymakedumpfile.core.pagemap import Bitmap, CyclicMap


def naive_runs(bits: list[bool], a: int, b: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for p in range(a, b):
        if bits[p]:
            if out and out[-1][1] == p:
                out[-1] = (out[-1][0], p + 1)
            else:
                out.append((p, p + 1))
    return out


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 700), cycle=st.sampled_from([8, 16, 64, 128]),
       density=st.floats(0, 1), queries=st.lists(st.tuples(st.integers(0, 720), st.integers(0, 720)), max_size=8))
def test_cyclic_map_equals_bitmap(seed: int, n: int, cycle: int, density: float,
                                  queries: list[tuple[int, int]]) -> None:
    rnd = random.Random(seed)
    # runs of set and clear bits, so that runs cross cycle boundaries
    bits: list[bool] = []
    while len(bits) < n:
        bits += [rnd.random() < density] * rnd.randint(1, 40)
    bits = bits[:n]
    bm = Bitmap.empty(n)
    for p, v in enumerate(bits):
        if v:
            bm.set(p)
    calls: list[tuple[int, int]] = []

    def compute(a: int, b: int) -> bytes:
        calls.append((a, b))
        return bm.to_bytes(a, b)

    cm = CyclicMap(n, cycle, compute, keep=1)
    assert cm.counts == [bm.count(a, min(a + cycle, n)) for a in range(0, n, cycle)]
    assert list(cm.runs()) == naive_runs(bits, 0, n)
    assert cm.count() == sum(bits)
    assert cm.to_bytes(0, n) == bm.to_bytes(0, n)
    for a, b in queries:
        a, b = min(a, b), max(a, b)
        assert list(cm.runs(a, b)) == naive_runs(bits, a, min(b, n)), (a, b)
        assert cm.count(a, b) == sum(bits[a:b])
        assert cm.to_bytes(a, b) == bm.to_bytes(a, b), (a, b)
        assert cm.test(a) == (a < n and bits[a])
    assert all(b - a <= cycle and a % cycle == 0 for a, b in calls)  # never more than a cycle at a time


@pytest.mark.parametrize("piece", [1, 3, 64])
def test_file_bytes_and_bitmap_read_by_pieces(piece: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """FileBytes gives the bytes of its region by index, slice, bytes() and
    ==, reading only pieces (never the whole region at once) and keeping a
    few; a FileBitmap over it answers test/count/runs/to_bytes as a Bitmap
    over the same bytes."""
    from pymakedumpfile.core import pagemap

    monkeypatch.setattr(pagemap, "RUNS_PIECE_BYTES", piece)
    rnd = random.Random(piece)
    raw = bytes(rnd.choice([0, 0xFF, rnd.randrange(256)]) for _ in range(700))
    reads: list[tuple[int, int]] = []

    def read(o: int, n: int) -> bytes:
        reads.append((o, n))
        return raw[o : o + n]

    fb = pagemap.FileBytes(read, len(raw), keep=4)
    assert len(fb) == 700 and bytes(fb) == raw and fb == raw and fb != raw[:-1] + b"x"
    for _ in range(200):
        a, b = sorted(rnd.sample(range(701), 2))
        assert fb[a:b] == raw[a:b]
        assert fb[a] == raw[a] and fb[-1 - a] == raw[-1 - a]
    assert max(n for _, n in reads) <= piece and all(o % piece == 0 for o, _ in reads)
    assert len(fb._cache) <= 4
    with pytest.raises(IndexError):
        fb[700]
    n = 700 * 8 - 5
    lazy, whole = pagemap.FileBitmap(fb, n), Bitmap(raw, n)
    assert list(lazy.runs()) == list(whole.runs()) and lazy.count() == whole.count()
    for _ in range(100):
        a, b = sorted(rnd.sample(range(n + 1), 2))
        assert lazy.count(a, b) == whole.count(a, b)
        assert list(lazy.runs(a, b)) == list(whole.runs(a, b))
        a8 = a & ~7
        assert lazy.to_bytes(a8, b) == whole.to_bytes(a8, b)
        assert lazy.test(a) == whole.test(a)
