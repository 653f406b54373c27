"""Dump-level page exclusion: decide which pages a write context keeps.

Level bits (makedumpfile's ``-d``): 1 zero pages, 2 non-private cache,
4 all cache, 8 user data, 16 free pages.  Zero pages are found while
writing a kdump file (each page is read once) and by a pre-pass for ELF
output, as makedumpfile does.  The other levels, and the pages always
excluded (hwpoison, offline), come from classifying the ``struct page`` of
every pfn (:mod:`.classify`, :mod:`.memmap`).
"""

from __future__ import annotations

import enum
import zlib
from array import array
from collections.abc import Callable, Iterator

from .. import accel
from ..core.context import Context
from ..core.errors import CorruptDumpError, DumpError, UnsupportedDumpError, UsageError
from ..core.hints import TYPE_CHECKING, Any
from ..core.pagemap import Bitmap, CyclicMap, PageMap, Restricted
from ..core.pipeline import default_threads
from ..core.record import dataclass, field
from ..core.workers import Pool
from ..translate import get_arch
from .freelist import exclude_free_lists
from .memmap import find_mem_map
from .params import C, Cnt, MissingInfo, build_params, scan_needed

if TYPE_CHECKING:
    from .erase import EraseSet
    from .xen import XenOptions

BATCH_PAGES = 16384  # struct pages read and classified together
CYCLE_PFNS = 1 << 20  # pfns classified as one cycle: a 128 KiB bitmap, 4 GiB of memory
MAX_WHOLE_BITMAP_PFNS = 1 << 28  # free-list walks hold one bit per pfn: 32 MiB at most (1 TiB)
CYCLE_CACHE_BYTES = 4 << 20  # compressed cycle bitmaps kept between the counting pass and the writer

MAX_DUMP_LEVEL = 31


class DumpLevel(enum.IntFlag):
    EXCLUDE_ZERO = 0x1
    EXCLUDE_CACHE = 0x2
    EXCLUDE_CACHE_PRI = 0x4
    EXCLUDE_USER_DATA = 0x8
    EXCLUDE_FREE = 0x10




@dataclass
class FilterStats:
    """Pages excluded per category (makedumpfile's --message-level 16 report).
    ``zero`` is filled in by the writer for kdump output."""

    zero: int = 0
    cache: int = 0
    cache_private: int = 0
    user: int = 0
    free: int = 0
    hwpoison: int = 0
    offline: int = 0
    #: frames of Xen domains other than dom0, and free ones (-X); makedumpfile counts them nowhere
    xen: int = 0
    warnings: list[str] = field(default_factory=list)
    #: ``(pfn, reason)`` of pages the input could not give while filtering
    #: (the ELF zero-page pass reads every page); they are excluded
    unreadable: list[tuple[int, str]] = field(default_factory=list)

    @property
    def excluded(self) -> int:
        return (self.zero + self.cache + self.cache_private + self.user + self.free + self.hwpoison + self.offline
                + self.xen)


def make_write_context(
    src: Context,
    *,
    format: str = "kdump",  # noqa: A002 - the attribute's name
    compression: str = "none",
    dump_level: int = 0,
    progress: Callable[[int, int], None] | None = None,
    cyclic: bool | None = None,
    threads: int | None = None,
    refilter: bool = True,
    xen: XenOptions | None = None,
    erase: EraseSet | None = None,
    exclude_vmemmap: bool = False,
) -> Context:
    """A clone of ``src`` set up to be written: its ``file.format``, ``file.compression``,
    ``filter.dump_level``, ``filter.stats`` and the ``file.pagemap`` of the pages to write
    (:func:`classify`).

    :param format: ``"kdump"`` or ``"elf"``.
    :param compression: a codec of :mod:`pymakedumpfile.codecs` or ``"none"`` (kdump only).
    :param dump_level: makedumpfile's ``-d`` value; a kdump input's own
        level is OR-ed in, as makedumpfile does when refiltering.
    :param cyclic, threads, progress: as for :func:`classify`.
    :param refilter: classify the pages again; False keeps the input's pages as they are (a split
        set reassembled: nothing to decide, so no ``struct page`` information is needed).
    :param xen: ``-X``: keep only the hypervisor's and dom0's frames of a Xen host's dump
        (:mod:`.xen`); dump levels 0 and 1 only.
    :param erase: what ``--config`` erases (:func:`.erase.plan_erase`): the write context
        reads its pages through an :class:`.erase.ErasingReader`, so the writers store them
        erased (zero pages are then found in the erased pages), and ``filter.erase`` says
        what was erased once they are written.
    :param exclude_vmemmap: ``-e``: leave out the vmemmap pages that only describe pages left
        out (:mod:`.vmemmap`, x86_64); ``filter.vmemmap_excluded`` says how many, and a kdump
        header says it was done.
    """
    if not 0 <= dump_level <= MAX_DUMP_LEVEL:
        raise UsageError(f"Dump_level({dump_level}) is invalid: it must be 0 to {MAX_DUMP_LEVEL}")
    done = int(src.attr.get("kdump.dump_level", 0))  # what the input was already filtered at
    level = dump_level | done
    if refilter and level & ~1 and src.attr.get("xen.type") == "hypervisor":
        # its memory is the machine's: no Linux mem_map describes it (makedumpfile reads dom0's
        # through dom0's p2m table, which we do not do yet)
        raise UnsupportedDumpError(f"Cannot filter a Xen host's dump at dump level {level}: only levels 0 and 1 "
                                   "(with -X to keep only the hypervisor and dom0)", src.name)
    # zero pages: the kdump writer finds them as it reads each page; ELF output needs a pre-pass
    if xen is not None:
        pagemap, stats = _xen_pagemap(src, xen, level, format == "elf", progress)
    elif refilter:
        pagemap, stats = classify(src, level, zero_pages=format == "elf", progress=progress, cyclic=cyclic,
                                  threads=threads)
    else:
        pagemap, stats = src.attr["file.pagemap"], FilterStats()
    vmemmap_excluded = None
    if exclude_vmemmap:
        from .vmemmap import unused_vmemmap_pages

        drop = unused_vmemmap_pages(src, src.attr["memory.pagemap"], pagemap, src.max_pfn)
        pagemap = Bitmap.copy_of(pagemap)
        for a, n in drop:
            pagemap.clear_range(a, a + n)
        vmemmap_excluded = sum(n for _, n in drop)
    w = src.clone()
    if vmemmap_excluded is not None:
        w.attr["filter.vmemmap_excluded"] = vmemmap_excluded
    if erase:
        from .erase import ErasingReader

        erase = erase.fresh()
        w.reader = ErasingReader(src.reader, erase)  # type: ignore[assignment]  # a DumpReader by delegation
        w.attr["filter.erase"] = erase
    w.attr["file.format"] = format
    w.attr["file.compression"] = compression if format == "kdump" else "none"
    w.attr["filter.dump_level"] = level
    w.attr["filter.stats"] = stats
    if pagemap is not src.attr["file.pagemap"]:  # else the input's own page map stays shared
        w.attr["file.pagemap"] = pagemap
    end = mem_map_end(src) if format == "kdump" else None
    if end is not None and end < src.max_pfn:
        # makedumpfile ends a kdump file at the last pfn that has a struct page: the dump's
        # memory past it (a device's memory in a hypervisor's dump, RAM a mem= kernel left
        # alone) is not the kernel's
        w.attr["max_pfn"] = end
        w.attr["memory.pagemap"] = Restricted(src.attr["memory.pagemap"], [(0, end)])
        w.attr["file.pagemap"] = Restricted(w.attr["file.pagemap"], [(0, end)])
    return w


def _xen_pagemap(src: Context, options: XenOptions, level: int, elf: bool,
                 progress: Callable[[int, int], None] | None) -> tuple[PageMap, FilterStats]:
    """-X: the frames of the hypervisor and dom0 (and, for ELF output at an odd level, not zero)."""
    from .xen import XenHost

    host = XenHost(src, options)
    stats = FilterStats()
    keep = Bitmap.copy_of(src.attr["file.pagemap"])
    stats.xen = host.exclude(keep, list(src.attr["file.pagemap"].runs()))
    if elf and level & DumpLevel.EXCLUDE_ZERO:
        stats.zero = exclude_zero_pages(src, keep, progress, stats.unreadable)
    return keep, stats


def mem_map_end(ctx: Context) -> int | None:
    """The pfn after the last one that has a ``struct page`` (None: mem_map cannot be found,
    or nothing to cut)."""
    arch = get_arch(ctx.attr.get("arch.name", ""))
    vi = ctx.reader.vmcoreinfo
    if arch is None or not vi.osrelease or "page" not in vi.SIZE:
        return None
    try:
        ranges = find_mem_map(vi, ctx.kernel_memory(), ctx.max_pfn, ctx.page_size, arch.name)
    except DumpError:
        return None
    ends = [r.pfn_end for r in ranges if r.mem_map]
    return min(max(ends), ctx.max_pfn) if ends else None


def classify(
    ctx: Context,
    level: int,
    *,
    zero_pages: bool = False,
    progress: Callable[[int, int], None] | None = None,
    cyclic: bool | None = None,
    threads: int | None = None,
) -> tuple[PageMap, FilterStats]:
    """The pages of ``ctx`` that dump level ``level`` keeps, and what it excluded.

    Levels 2-16 and the pages always excluded (hwpoison, offline) are decided from each pfn's
    ``struct page``; free pages from the free lists where the kernel has no buddy marker.
    Zero pages (level bit 1) only with ``zero_pages``, by reading every kept page.  When
    nothing is to be excluded the input's own page map is returned, shared.

    :param cyclic: give the map as a :class:`~pymakedumpfile.core.pagemap.CyclicMap`
        (classified again, one cycle at a time, when the writer reads it) so that memory does
        not grow with the dump.  By default it is used where it can be: every level but those
        that need a free-list walk, which needs the whole map.
    :param threads: threads classifying cycles at once (default: the CPUs available).
    :param progress: called ``(pfns done, max_pfn)``.
    """
    stats = FilterStats()
    cl = Classifier(ctx, level)
    zero_pass = zero_pages and bool(level & DumpLevel.EXCLUDE_ZERO)
    if not cl.active and not cl.walk_free and not zero_pass:
        return ctx.attr["file.pagemap"], stats
    if cyclic is None or cyclic:
        cyclic = not cl.walk_free
    if cyclic:
        return _CyclicFilter(ctx, cl, zero_pass).run(stats, progress, threads or default_threads()), stats
    if ctx.max_pfn > MAX_WHOLE_BITMAP_PFNS:
        raise UnsupportedDumpError(
            f"Cannot filter a machine of {ctx.max_pfn:#x} pfns with a free-list walk: its bitmap "
            f"would take {ctx.max_pfn // 8 >> 20} MiB", ctx.name)
    keep = Bitmap.copy_of(ctx.attr["file.pagemap"])
    exclude_unnecessary_pages(ctx, keep, level, stats, progress, cl)
    if zero_pass:
        stats.zero = exclude_zero_pages(ctx, keep, progress, stats.unreadable)
    return keep, stats


class _CyclicFilter:
    """Makes the cyclic page map: each cycle is classified once on worker threads (to count
    the pages and the exclusions), its bits kept compressed while they fit in
    :data:`CYCLE_CACHE_BYTES` (a real map is mostly long runs: a few KiB a cycle), and a cycle
    not kept is classified again when the writer reads it."""

    def __init__(self, ctx: Context, cl: Classifier, zero_pass: bool) -> None:
        self.ctx, self.cl, self.zero_pass = ctx, cl, zero_pass
        self.kept: dict[int, bytes] = {}
        self.room = CYCLE_CACHE_BYTES
        self.scratch = array("Q", [0] * Cnt.N)  # counters of recomputed cycles, counted already

    def bits(self, c0: int, c1: int, counters: array, unreadable: list[tuple[int, str]]) -> tuple[bytes, int]:
        """The bits of cycle [c0, c1) and its zero pages (ELF: read here)."""
        bits = self.cl.cycle(c0, c1, counters)
        zeros = 0
        if self.zero_pass and accel.popcount(bits):
            bm = Bitmap(bytearray(bits), c1 - c0)
            zeros = exclude_zero_pages(self.ctx, bm, unreadable=unreadable, base=c0)
            bits = bytes(bm.buf)
        return bits, zeros

    def _first(self, c: tuple[int, int]) -> tuple[int, int, int, bytes | None, array, int, list[tuple[int, str]]]:
        """A cycle's first classification, on a worker thread (reads and the C kernel release
        the GIL), with counters of its own, summed by :meth:`run` in cycle order."""
        mine = array("Q", [0] * Cnt.N)
        bad: list[tuple[int, str]] = []
        bits, zeros = self.bits(c[0], c[1], mine, bad)
        n = accel.popcount(bits)
        # an empty cycle is never computed again (CyclicMap skips it)
        return c[0], c[1], n, zlib.compress(bits, 1) if n else None, mine, zeros, bad

    def run(self, stats: FilterStats, progress: Callable[[int, int], None] | None, threads: int) -> CyclicMap:
        counters = array("Q", [0] * Cnt.N)
        counts = []
        for c0, c1, n, z, mine, zeros, bad in _in_order(self._first, self.cl.cycles(), threads):
            counts.append(n)
            for i in range(Cnt.N):
                counters[i] += mine[i]
            stats.zero += zeros
            stats.unreadable.extend(bad)
            if z is not None and len(z) <= self.room:
                self.kept[c0] = z
                self.room -= len(z)
            if progress is not None:
                progress(c1, self.ctx.max_pfn)
        self.cl.add_stats(stats, counters)
        return CyclicMap(self.ctx.max_pfn, CYCLE_PFNS, self.compute, counts)

    def compute(self, c0: int, c1: int) -> bytes:
        """The bits of cycle [c0, c1) when the writer reads it."""
        z = self.kept.get(c0)
        if z is not None:
            return zlib.decompress(z)
        # counted already; a page that cannot be read is excluded again
        return self.bits(c0, c1, self.scratch, [])[0]


def _in_order(fn: Callable[[Any], Any], items: Iterator[Any], threads: int) -> Iterator[Any]:
    """``fn`` of each item, computed on ``threads`` threads with at most
    2 x threads items in flight, yielded in the items' order."""
    if threads <= 1:
        yield from map(fn, items)
        return
    from collections import deque

    with Pool(threads) as pool:
        window: deque = deque()
        try:
            for it in items:
                window.append(pool.submit(fn, it))
                if len(window) >= 2 * threads:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for f in window:
                f.cancel()


class Classifier:
    """Decides, one cycle of pfns at a time, which pages dump level
    ``level`` excludes by their ``struct page``.

    A cycle is classified on its own (classification restarts at its first
    pfn and a free block or compound page is cut at its end), so computing
    it again gives the same bits.  Cycles are aligned to :data:`CYCLE_PFNS`,
    a multiple of every real buddy block and compound page size, so for a
    real kernel this is the same as one pass over all pfns.

    :ivar active: some level needs the struct pages.
    :ivar walk_free: free pages must be found by walking the free lists
        (no buddy marker in struct page).
    """

    def __init__(self, ctx: Context, level: int) -> None:
        self.ctx = ctx
        a = ctx.attr
        vi = ctx.reader.vmcoreinfo
        ptr = int(a.get("arch.ptr_size", 8))
        self.active = self.walk_free = False
        self.ranges: list = []
        self.held = a["file.pagemap"]  # what the input holds
        self.ram = a["memory.pagemap"]
        try:
            self.params = build_params(vi, level, ptr, a.get("arch.byte_order", "little") == "big")
        except MissingInfo as e:
            if level & (2 | 4 | 8 | 16):
                raise UnsupportedDumpError(f"Cannot filter at dump level {level}: {e}", ctx.name) from None
            return
        self.walk_free = bool(level & 16) and not self.params[C.BUDDY_MODE]
        self.active = scan_needed(self.params)
        if not self.active and not self.walk_free:
            return
        arch = get_arch(a.get("arch.name", ""))
        if arch is None:
            raise UnsupportedDumpError("Cannot filter: unknown architecture", ctx.name)
        self.km = ctx.kernel_memory()
        try:
            self.ranges = find_mem_map(vi, self.km, ctx.max_pfn, ctx.page_size, arch.name)
        except UnsupportedDumpError as e:
            raise UnsupportedDumpError(f"Cannot filter at dump level {level}: {e.message}", ctx.name) from None
        except DumpError as e:
            raise CorruptDumpError(f"Cannot filter at dump level {level}: {e.message}", ctx.name) from None

    def cycles(self) -> Iterator[tuple[int, int]]:
        m = self.ctx.max_pfn
        for c0 in range(0, m, CYCLE_PFNS):
            yield c0, min(c0 + CYCLE_PFNS, m)

    def cycle(self, c0: int, c1: int, counters: array, *, every_ram_page: bool = False) -> bytes:
        """The bits of pfns [c0, c1) to keep (bit 0 = c0); adds to ``counters``.
        ``every_ram_page``: classify every page of RAM, not only those the input holds (to count
        what a refiltered input had already excluded, as makedumpfile's report does)."""
        start = self.ram if every_ram_page else self.held
        if not start.count(c0, c1):  # nothing held here (a hole of a sparse machine)
            return bytes((c1 - c0 + 7) // 8)
        keep = bytearray(start.to_bytes(c0, c1))
        if not self.active:
            return bytes(keep)
        valid = self.ram.to_bytes(c0, c1)
        sz = self.params[C.SIZE_PAGE]
        ps = self.ctx.page_size
        for r in self.ranges:
            lo, hi = max(r.pfn_start, c0), min(r.pfn_end, c1)
            pfn = skip = lo
            while pfn < hi:
                n = min(BATCH_PAGES, hi - pfn)
                if skip >= pfn + n:
                    pfn += n
                    continue
                extra = 1 if pfn + n < r.pfn_end else 0
                at = r.mem_map + (pfn - r.pfn_start) * sz
                want = (n + extra) * sz
                if extra and (at + want) % ps:  # to the end of its page: whole pages read without a copy
                    want = min(want + ps - (at + want) % ps, (r.pfn_end - pfn) * sz)
                try:
                    pages = self.km.read(at, want)
                except DumpError as e:
                    raise DumpError(f"Cannot read struct page of pfns {pfn:#x}-{pfn + n:#x}: {e.message}",
                                    self.ctx.name) from None
                rel = accel.classify(pages, n + extra, pfn - c0, n, skip - c0, self.params, valid, keep, c1 - c0,
                                     counters)
                skip = c0 + rel if rel < (1 << 64) - 1 else hi
                pfn += n
        return bytes(keep)

    def add_stats(self, stats: FilterStats, counters: array) -> None:
        stats.cache += counters[Cnt.CACHE]
        stats.cache_private += counters[Cnt.CACHE_PRIVATE]
        stats.user += counters[Cnt.USER]
        stats.free += counters[Cnt.FREE]
        stats.hwpoison += counters[Cnt.HWPOISON]
        stats.offline += counters[Cnt.OFFLINE]
        if counters[Cnt.BAD_ORDER]:
            stats.warnings.append(f"{counters[Cnt.BAD_ORDER]} free pages with an invalid order were kept")


def count_every_ram_page(ctx: Context, level: int) -> FilterStats | None:
    """The pages of RAM dump level ``level`` excludes, per category, counting those a
    refiltered input had already left out (makedumpfile's report counts them so); None when
    they cannot be told by struct pages (a free-list walk, no mem_map)."""
    cl = Classifier(ctx, level)
    if not cl.active or cl.walk_free:
        return None
    counters = array("Q", [0] * Cnt.N)
    for c0, c1 in cl.cycles():
        cl.cycle(c0, c1, counters, every_ram_page=True)
    stats = FilterStats()
    cl.add_stats(stats, counters)
    return stats


def exclude_unnecessary_pages(
    ctx: Context, keep: Bitmap, level: int, stats: FilterStats, progress: Callable[[int, int], None] | None = None,
    classifier: Classifier | None = None,
) -> None:
    """Classify every pfn's ``struct page`` and clear the excluded ones from ``keep``."""
    cl = classifier or Classifier(ctx, level)
    counters = array("Q", [0] * Cnt.N)
    if cl.active:
        for c0, c1 in cl.cycles():
            if not cl.held.count(c0, c1):
                continue
            bits = cl.cycle(c0, c1, counters)
            # keep is the input's map less what was excluded so far: AND the cycle in
            old = keep.to_bytes(c0, c1)
            merged = (int.from_bytes(old, "little") & int.from_bytes(bits, "little")).to_bytes(len(old), "little")
            keep.buf[c0 >> 3 : (c0 >> 3) + len(merged)] = merged  # type: ignore[index]  # keep is over a bytearray
            if progress is not None:
                progress(c1, ctx.max_pfn)
    if cl.walk_free:  # no buddy marker in struct page: follow the free lists instead
        stats.free += exclude_free_lists(ctx.reader.vmcoreinfo, cl.km, cl.ranges, keep, ctx.max_pfn)
    cl.add_stats(stats, counters)


def exclude_zero_pages(ctx: Context, keep: Bitmap, progress: Callable[[int, int], None] | None = None,
                       unreadable: list[tuple[int, str]] | None = None, base: int = 0) -> int:
    """Clear the all-zero pages from ``keep`` (the ELF pre-pass), whose bit
    i is pfn ``base + i``. Returns how many.  Pages that cannot be read are
    cleared too and appended to ``unreadable`` (without it, the read error
    is raised)."""
    ps = ctx.page_size
    reader = ctx.reader
    total = keep.count()
    done = zeros = 0
    for a, b in keep.runs():  # a snapshot of the map, walked lazily (a list of runs grows with the dump)
        a, b = a + base, b + base
        while a < b:
            n = min(1024, b - a)
            if unreadable is None:
                buf = reader.read_pages(a, n)
            else:
                failed: list[tuple[int, str]] = []
                buf = reader.read_pages_salvaging(a, n, failed)
                for p, _ in failed:
                    keep.clear(p - base)
                unreadable.extend(failed)
            zmap, z = accel.zero_pages(buf, ps)
            if z:
                for i in range(n):
                    if zmap[i >> 3] >> (i & 7) & 1 and keep.test(a + i - base):
                        keep.clear(a + i - base)
                        zeros += 1
            a += n
            done += n
            if progress is not None:
                progress(done, total)
    return zeros
