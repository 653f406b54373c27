"""Page maps: which pfns a dump holds (or a write context will write).

Two representations share one small interface (libkdumpfile's
``kdump_bmp_ops`` in spirit): :class:`RangeMap`, sorted disjoint pfn ranges
(ELF PT_LOADs), and :class:`Bitmap`, one bit per pfn, least significant bit
first, exactly as the kdump-compressed format stores it.
"""

from __future__ import annotations

import bisect
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator

from .. import accel
from .compat import bit_count
from .hints import Protocol, overload

_NONZERO = re.compile(rb"[^\x00]+")
_NOTFF = re.compile(rb"[^\xff]")


class PageMap(Protocol):
    """Read-only view of a set of pfns below :attr:`max_pfn`."""

    max_pfn: int

    def test(self, pfn: int) -> bool: ...

    def runs(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]: ...

    def count(self, start: int = 0, end: int | None = None) -> int: ...

    def to_bytes(self, start: int = 0, end: int | None = None) -> bytes: ...


def runs_to_bytes(pm: PageMap, start: int = 0, end: int | None = None) -> bytes:
    """The bitmap of ``pm``'s pfns in [start, end), built from its runs."""
    end = pm.max_pfn if end is None else end
    bm = Bitmap.empty(end - start)
    for a, b in pm.runs(start, end):
        bm.set_range(a - start, b - start)
    return bytes(bm.buf)


class RangeMap:
    """A page map made of sorted, disjoint, half-open pfn ranges."""

    def __init__(self, ranges: Iterable[tuple[int, int]], max_pfn: int) -> None:
        merged: list[tuple[int, int]] = []
        for a, b in sorted(r for r in ranges if r[1] > r[0]):
            b = min(b, max_pfn)
            if a >= b:
                continue
            if merged and a <= merged[-1][1]:
                if b > merged[-1][1]:
                    merged[-1] = (merged[-1][0], b)
            else:
                merged.append((a, b))
        self.ranges = merged
        self._starts = [a for a, _ in merged]
        self.max_pfn = max_pfn

    def test(self, pfn: int) -> bool:
        i = bisect.bisect_right(self._starts, pfn) - 1
        return i >= 0 and pfn < self.ranges[i][1]

    def runs(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
        end = self.max_pfn if end is None else min(end, self.max_pfn)
        i = max(bisect.bisect_right(self._starts, start) - 1, 0)
        for a, b in self.ranges[i:]:
            if a >= end:
                break
            a, b = max(a, start), min(b, end)
            if a < b:
                yield a, b

    def count(self, start: int = 0, end: int | None = None) -> int:
        return sum(b - a for a, b in self.runs(start, end))

    def to_bytes(self, start: int = 0, end: int | None = None) -> bytes:
        return runs_to_bytes(self, start, end)


class Restricted:
    """A page map seen only inside some pfn ranges (sorted, disjoint, half open): the part of
    a split set's bitmap that one file holds, or that the files given hold together."""

    def __init__(self, inner: PageMap, ranges: Iterable[tuple[int, int]]) -> None:
        self.inner = inner
        self.max_pfn = inner.max_pfn
        self.ranges = RangeMap(ranges, inner.max_pfn).ranges

    def test(self, pfn: int) -> bool:
        return any(a <= pfn < b for a, b in self.ranges) and self.inner.test(pfn)

    def runs(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
        end = self.max_pfn if end is None else min(end, self.max_pfn)
        for a, b in self.ranges:
            a, b = max(a, start), min(b, end)
            if a < b:
                yield from self.inner.runs(a, b)

    def count(self, start: int = 0, end: int | None = None) -> int:
        end = self.max_pfn if end is None else min(end, self.max_pfn)
        return sum(self.inner.count(max(a, start), min(b, end)) for a, b in self.ranges if max(a, start) < min(b, end))

    def to_bytes(self, start: int = 0, end: int | None = None) -> bytes:
        return runs_to_bytes(self, start, end)


RUNS_PIECE_BYTES = 1 << 17  # bitmap bytes read at a time by Bitmap.runs (2^20 pfns)


class Bitmap:
    """One bit per pfn over a bytes-like buffer (LSB first).

    :param buf: the bitmap bytes; a ``bytearray`` makes the map mutable.
    :param max_pfn: number of meaningful bits (the buffer may be longer).
    """

    def __init__(self, buf: bytes | bytearray | memoryview | FileBytes, max_pfn: int) -> None:
        if len(buf) * 8 < max_pfn:
            raise ValueError("bitmap shorter than max_pfn")
        self.buf = buf
        self.max_pfn = max_pfn

    @classmethod
    def empty(cls, max_pfn: int) -> Bitmap:
        return cls(bytearray((max_pfn + 7) // 8), max_pfn)

    @classmethod
    def copy_of(cls, pm: PageMap) -> Bitmap:
        """A mutable bitmap with the same bits as ``pm``."""
        if isinstance(pm, Bitmap):
            n = (pm.max_pfn + 7) // 8
            buf = bytearray(pm.buf[:n])
            if pm.max_pfn & 7:  # clear bits past max_pfn
                buf[-1] &= (1 << (pm.max_pfn & 7)) - 1
            return cls(buf, pm.max_pfn)
        bm = cls.empty(pm.max_pfn)
        for a, b in pm.runs():
            bm.set_range(a, b)
        return bm

    def test(self, pfn: int) -> bool:
        if not 0 <= pfn < self.max_pfn:
            return False
        return bool(self.buf[pfn >> 3] >> (pfn & 7) & 1)

    def set(self, pfn: int) -> None:
        self.buf[pfn >> 3] |= 1 << (pfn & 7)  # type: ignore[index]  # a map written to is over a bytearray

    def clear(self, pfn: int) -> None:
        self.buf[pfn >> 3] &= ~(1 << (pfn & 7)) & 0xFF  # type: ignore[index]  # a map written to is over a bytearray

    def set_range(self, a: int, b: int) -> None:
        self._fill(a, b, True)

    def clear_range(self, a: int, b: int) -> None:
        self._fill(a, b, False)

    def _fill(self, a: int, b: int, value: bool) -> None:
        b = min(b, self.max_pfn)
        buf = self.buf
        while a < b and a & 7:
            self.set(a) if value else self.clear(a)
            a += 1
        full_end = b & ~7
        if a < full_end:
            fill = (b"\xff" if value else b"\x00") * ((full_end - a) >> 3)
            buf[a >> 3 : full_end >> 3] = fill  # type: ignore[index]  # a map written to is over a bytearray
            a = full_end
        while a < b:
            self.set(a) if value else self.clear(a)
            a += 1

    def runs(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
        """Yield the maximal runs [a, b) of set bits within [start, end)."""
        end = self.max_pfn if end is None else min(end, self.max_pfn)
        if start >= end:
            return

        def pieces() -> Iterator[tuple[int, int]]:
            # the map is read a piece at a time (a copy of the whole would
            # double its memory); a run that crosses pieces is joined below
            first = start >> 3
            while first << 3 < end:
                stop = min(first + RUNS_PIECE_BYTES, (end + 7) >> 3)
                for a, b in _byte_runs(bytes(self.buf[first:stop]), first * 8):
                    a, b = max(a, start), min(b, end)
                    if a < b:
                        yield a, b
                first = stop

        yield from _joined(pieces())

    def count(self, start: int = 0, end: int | None = None) -> int:
        end = self.max_pfn if end is None else min(end, self.max_pfn)
        if start >= end:
            return 0
        a8, b8 = (start + 7) & ~7, end & ~7
        if a8 >= b8:
            return sum(1 for p in range(start, end) if self.test(p))
        n = accel.popcount(bytes(self.buf[a8 >> 3 : b8 >> 3]))
        n += sum(1 for p in range(start, a8) if self.test(p))
        n += sum(1 for p in range(b8, end) if self.test(p))
        return n

    def to_bytes(self, start: int = 0, end: int | None = None) -> bytes:
        end = self.max_pfn if end is None else end
        if start & 7 == 0:
            raw = bytearray(self.buf[start >> 3 : (end + 7) >> 3])
            raw.extend(bytes((end - start + 7) // 8 - len(raw)))
            if end > self.max_pfn or end & 7:
                lim = min(end, self.max_pfn) - start
                for p in range(max(lim, 0), len(raw) * 8):
                    raw[p >> 3] &= ~(1 << (p & 7)) & 0xFF
            return bytes(raw)
        out = Bitmap.empty(end - start)
        for a, b in self.runs(start, end):
            out.set_range(a - start, b - start)
        return bytes(out.buf)


class FileBytes:
    """Read-only bytes of a file region read a piece of ``RUNS_PIECE_BYTES``
    at a time when indexed or sliced, the last few pieces kept: a bitmap of
    a dump file that is never held whole.  Thread-safe.

    :param read: ``read(offset, size)`` returns ``size`` bytes of the region.
    """

    def __init__(self, read: Callable[[int, int], bytes], size: int, keep: int = 8) -> None:
        import threading

        self._read, self._size, self._keep = read, size, keep
        self._piece_size = RUNS_PIECE_BYTES
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._size

    def _piece(self, k: int) -> bytes:
        with self._lock:
            p = self._cache.get(k)
            if p is not None:
                self._cache.move_to_end(k)
                return p
        a = k * self._piece_size
        p = self._read(a, min(self._piece_size, self._size - a))
        with self._lock:
            self._cache[k] = p
            while len(self._cache) > self._keep:
                self._cache.popitem(last=False)
        return p

    @overload
    def __getitem__(self, i: int) -> int: ...

    @overload
    def __getitem__(self, i: slice) -> bytes: ...

    def __getitem__(self, i: int | slice) -> int | bytes:
        ps = self._piece_size
        if isinstance(i, slice):
            start, stop, step = i.indices(self._size)
            if step != 1:
                raise ValueError("FileBytes slices take no step")
            if start >= stop:
                return b""
            k0, k1 = start // ps, (stop - 1) // ps
            if k0 == k1:
                return self._piece(k0)[start - k0 * ps : stop - k0 * ps]
            parts = [self._piece(k0)[start - k0 * ps :]]
            parts += [self._piece(k) for k in range(k0 + 1, k1)]
            parts.append(self._piece(k1)[: stop - k1 * ps])
            return b"".join(parts)
        if i < 0:
            i += self._size
        if not 0 <= i < self._size:
            raise IndexError("FileBytes index out of range")
        return self._piece(i // ps)[i % ps]

    def __bytes__(self) -> bytes:
        return self[0 : self._size]

    def __eq__(self, other: object) -> bool:
        """Equal contents (compared a piece at a time) with bytes-like data or another FileBytes."""
        if not isinstance(other, (FileBytes, bytes, bytearray, memoryview)):
            return NotImplemented
        if len(other) != self._size:
            return False
        step = self._piece_size
        return all(self[a : a + step] == other[a : a + step] for a in range(0, self._size, step))

    __hash__ = None  # type: ignore[assignment]  # unhashable: equal to bytes, a hash would read the whole file


class FileBitmap(Bitmap):
    """A :class:`Bitmap` over :class:`FileBytes`: a dump file's bitmap read
    a piece at a time, so that memory does not grow with the dump."""

    def count(self, start: int = 0, end: int | None = None) -> int:
        end = self.max_pfn if end is None else min(end, self.max_pfn)
        start = max(start, 0)
        step = RUNS_PIECE_BYTES * 8
        total = 0
        while start < end:  # one slice of the file's bytes per piece
            b = min(end, (start // step + 1) * step)
            lo = start >> 3
            v = int.from_bytes(self.buf[lo : (b + 7) >> 3], "little") >> (start - lo * 8)
            total += bit_count(v & ((1 << (b - start)) - 1))
            start = b
        return total


class CyclicMap:
    """A page map computed one cycle of pfns at a time, never held whole
    (makedumpfile's cyclic mode): memory stays the same whatever the size
    of the dump.

    :param compute: ``compute(start, end)`` returns the bits of pfns
        ``[start, end)`` (bit 0 = ``start``); it must give the same answer
        every time, since a cycle is computed again when it is needed again.
    :param counts: the number of set bits of every cycle, when known (else
        each cycle is computed once here to count it).
    """

    def __init__(self, max_pfn: int, cycle: int, compute: Callable[[int, int], bytes | bytearray],
                 counts: list[int] | None = None, keep: int = 2) -> None:
        if cycle <= 0 or cycle & 7:
            raise ValueError("cycle must be a positive multiple of 8")
        self.max_pfn, self.cycle, self._compute = max_pfn, cycle, compute
        self._cache: OrderedDict[int, Bitmap] = OrderedDict()
        self._keep = keep
        ncycles = -(-max_pfn // cycle)
        if counts is None:
            counts = [accel.popcount(bytes(self._get(k).buf)) for k in range(ncycles)]
        if len(counts) != ncycles:
            raise ValueError("one count per cycle is needed")
        self.counts = counts

    def _get(self, k: int) -> Bitmap:
        bm = self._cache.get(k)
        if bm is None:
            a = k * self.cycle
            b = min(a + self.cycle, self.max_pfn)
            raw = self._compute(a, b)
            bm = Bitmap(raw, b - a)
            self._cache[k] = bm
            while len(self._cache) > self._keep:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(k)
        return bm

    def _pieces(self, start: int, end: int | None) -> Iterator[tuple[int, int, int]]:
        """(cycle, start, end) pieces of [start, end), relative to the cycle."""
        end = self.max_pfn if end is None else min(end, self.max_pfn)
        start = max(start, 0)
        while start < end:
            k = start // self.cycle
            base = k * self.cycle
            stop = min(end, base + self.cycle)
            yield k, start - base, stop - base
            start = stop

    def test(self, pfn: int) -> bool:
        if not 0 <= pfn < self.max_pfn:
            return False
        k = pfn // self.cycle
        return self._get(k).test(pfn - k * self.cycle)

    def runs(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:

        def cycles() -> Iterator[tuple[int, int]]:
            for k, a, b in self._pieces(start, end):
                if self.counts[k]:
                    base = k * self.cycle
                    yield from ((x + base, y + base) for x, y in self._get(k).runs(a, b))

        yield from _joined(cycles())

    def count(self, start: int = 0, end: int | None = None) -> int:
        n = 0
        for k, a, b in self._pieces(start, end):
            if a == 0 and b == min(self.cycle, self.max_pfn - k * self.cycle):
                n += self.counts[k]
            elif self.counts[k]:
                n += self._get(k).count(a, b)
        return n

    def to_bytes(self, start: int = 0, end: int | None = None) -> bytes:
        end = self.max_pfn if end is None else end
        if start & 7:
            out = Bitmap.empty(end - start)
            for a, b in self.runs(start, end):
                out.set_range(a - start, b - start)
            return bytes(out.buf)
        parts = []
        for k, a, b in self._pieces(start, end):
            parts.append(self._get(k).to_bytes(a, b) if self.counts[k] else bytes((b - a + 7) // 8))
        raw = b"".join(parts)
        return raw + bytes((end - start + 7) // 8 - len(raw))


def _joined(runs: Iterable[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Sorted runs with those that touch ([a, b) then [b, c)) joined."""
    pa = pb = -1
    for x, y in runs:
        if x == pb:
            pb = y
            continue
        if pa >= 0:
            yield pa, pb
        pa, pb = x, y
    if pa >= 0:
        yield pa, pb


def _byte_runs(view: bytes, base: int) -> Iterator[tuple[int, int]]:
    """Maximal runs of set bits in ``view``; bit 0 of ``view`` is pfn ``base``."""
    run_a = run_b = -1
    for m in _NONZERO.finditer(view):
        pos, stop_nz = m.start(), m.end()
        while pos < stop_nz:
            nf = _NOTFF.search(view, pos, stop_nz)
            stop = nf.start() if nf else stop_nz
            if stop > pos:  # whole 0xff bytes
                pa, pb = base + pos * 8, base + stop * 8
                if pa == run_b:
                    run_b = pb
                else:
                    if run_a >= 0:
                        yield run_a, run_b
                    run_a, run_b = pa, pb
                pos = stop
                continue
            byte = view[pos]
            pb0 = base + pos * 8
            for bit in range(8):
                if byte >> bit & 1:
                    pfn = pb0 + bit
                    if pfn == run_b:
                        run_b = pfn + 1
                    else:
                        if run_a >= 0:
                            yield run_a, run_b
                        run_a, run_b = pfn, pfn + 1
            pos += 1
    if run_a >= 0:
        yield run_a, run_b
