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
import logging
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import accel
from ..context import Context
from ..errors import CorruptDumpError, DumpError, UnsupportedDumpError, UsageError
from ..pagemap import Bitmap
from ..translate import get_arch
from .classify import C, Cnt, MissingInfo, build_params, scan_needed
from .freelist import exclude_free_lists
from .memmap import find_mem_map

log = logging.getLogger(__name__)
BATCH_PAGES = 16384  # struct pages read and classified together

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
    warnings: list[str] = field(default_factory=list)
    #: ``(pfn, reason)`` of pages the input could not give while filtering
    #: (the ELF zero-page pass reads every page); they are excluded
    unreadable: list[tuple[int, str]] = field(default_factory=list)

    @property
    def excluded(self) -> int:
        return self.zero + self.cache + self.cache_private + self.user + self.free + self.hwpoison + self.offline


def make_write_context(
    src: Context,
    *,
    format: str = "kdump",  # noqa: A002 - the attribute's name
    compression: str = "none",
    dump_level: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Context:
    """A clone of ``src`` set up to be written.

    :param format: ``"kdump"`` or ``"elf"``.
    :param compression: ``"none"``, ``"zlib"``, ``"lzo"``, ``"snappy"`` or ``"zstd"`` (kdump only).
    :param dump_level: makedumpfile's ``-d`` value; a kdump input's own
        level is OR-ed in, as makedumpfile does when refiltering.
    """
    if not 0 <= dump_level <= MAX_DUMP_LEVEL:
        raise UsageError(f"Dump_level({dump_level}) is invalid: it must be 0 to {MAX_DUMP_LEVEL}")
    done = int(src.attr.get("kdump.dump_level", 0))  # what the input was already filtered at
    level = dump_level | done
    w = src.clone()
    w.attr["file.format"] = format
    w.attr["file.compression"] = compression if format == "kdump" else "none"
    w.attr["filter.dump_level"] = level
    keep: Bitmap = w.attr.mutable("file.pagemap")
    stats = FilterStats()
    w.attr["filter.stats"] = stats
    exclude_unnecessary_pages(w, keep, level, stats, progress)
    if format == "elf" and level & DumpLevel.EXCLUDE_ZERO:
        stats.zero = exclude_zero_pages(w, keep, progress, stats.unreadable)
    return w


def exclude_unnecessary_pages(
    ctx: Context, keep: Bitmap, level: int, stats: FilterStats, progress: Callable[[int, int], None] | None = None
) -> None:
    """Classify every pfn's ``struct page`` and clear the excluded ones from ``keep``."""
    a = ctx.attr
    vi = ctx.reader.vmcoreinfo
    ptr = int(a.get("arch.ptr_size", 8))
    try:
        params = build_params(vi, level, ptr, a.get("arch.byte_order", "little") == "big")
    except MissingInfo as e:
        if level & (2 | 4 | 8 | 16):
            raise UnsupportedDumpError(f"Cannot filter at dump level {level}: {e}", ctx.name) from None
        return
    walk_free = bool(level & 16) and not params[C.BUDDY_MODE]
    if not scan_needed(params) and not walk_free:
        return
    arch = get_arch(a.get("arch.name", ""))
    if arch is None:
        raise UnsupportedDumpError("Cannot filter: unknown architecture", ctx.name)
    km = ctx.kernel_memory()
    max_pfn = ctx.max_pfn
    try:
        ranges = find_mem_map(vi, km, max_pfn, ctx.page_size, arch.name)
    except UnsupportedDumpError as e:
        raise UnsupportedDumpError(f"Cannot filter at dump level {level}: {e.message}", ctx.name) from None
    except DumpError as e:
        raise CorruptDumpError(f"Cannot filter at dump level {level}: {e.message}", ctx.name) from None
    valid = a["memory.pagemap"].to_bytes(0, max_pfn)
    buf = keep.buf
    counters = array("Q", [0] * Cnt.N)
    sz = params[C.SIZE_PAGE]
    total = sum(r.pfn_end - r.pfn_start for r in ranges) if scan_needed(params) else 0
    done = 0
    for r in ranges if total else ():
        skip = r.pfn_start
        pfn = r.pfn_start
        while pfn < r.pfn_end:
            n = min(BATCH_PAGES, r.pfn_end - pfn)
            if skip >= pfn + n:
                pfn += n
                continue
            extra = 1 if pfn + n < r.pfn_end else 0
            try:
                pages = km.read(r.mem_map + (pfn - r.pfn_start) * sz, (n + extra) * sz)
            except DumpError as e:
                raise DumpError(f"Cannot read struct page of pfns {pfn:#x}-{pfn + n:#x}: {e.message}", ctx.name) from None
            skip = accel.classify(pages, n + extra, pfn, n, skip, params, valid, buf, max_pfn, counters)
            pfn += n
            done += n
            if progress is not None:
                progress(done, total)
    if walk_free:  # no buddy marker in struct page: follow the free lists instead
        stats.free += exclude_free_lists(vi, km, ranges, keep, max_pfn)
    stats.cache += counters[Cnt.CACHE]
    stats.cache_private += counters[Cnt.CACHE_PRIVATE]
    stats.user += counters[Cnt.USER]
    stats.free += counters[Cnt.FREE]
    stats.hwpoison += counters[Cnt.HWPOISON]
    stats.offline += counters[Cnt.OFFLINE]
    if counters[Cnt.BAD_ORDER]:
        stats.warnings.append(f"{counters[Cnt.BAD_ORDER]} free pages with an invalid order were kept")


def exclude_zero_pages(ctx: Context, keep: Bitmap, progress: Callable[[int, int], None] | None = None,
                       unreadable: list[tuple[int, str]] | None = None) -> int:
    """Clear the all-zero pages from ``keep`` (the ELF pre-pass). Returns how
    many.  Pages that cannot be read are cleared too and appended to
    ``unreadable`` (without it, the read error is raised)."""
    ps = ctx.page_size
    reader = ctx.reader
    total = keep.count()
    done = zeros = 0
    runs = list(keep.runs())
    for a, b in runs:
        while a < b:
            n = min(1024, b - a)
            if unreadable is None:
                buf = reader.read_pages(a, n)
            else:
                failed: list[tuple[int, str]] = []
                buf = reader.read_pages_salvaging(a, n, failed)
                for p, _ in failed:
                    keep.clear(p)
                unreadable.extend(failed)
            zmap, z = accel.zero_pages(buf, ps)
            if z:
                for i in range(n):
                    if zmap[i >> 3] >> (i & 7) & 1 and keep.test(a + i):
                        keep.clear(a + i)
                        zeros += 1
            a += n
            done += n
            if progress is not None:
                progress(done, total)
    return zeros
