"""Dump-level page exclusion: decide which pages a write context keeps.

Level bits (makedumpfile's ``-d``): 1 zero pages, 2 non-private cache,
4 all cache, 8 user data, 16 free pages.  Zero pages are found while
writing a kdump file (each page is read once) and by a pre-pass for ELF
output, as makedumpfile does.  The other levels classify ``struct page``
records and are not implemented yet.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from .. import accel
from ..context import Context
from ..errors import UsageError
from ..pagemap import Bitmap

MAX_DUMP_LEVEL = 31


class DumpLevel(enum.IntFlag):
    EXCLUDE_ZERO = 0x1
    EXCLUDE_CACHE = 0x2
    EXCLUDE_CACHE_PRI = 0x4
    EXCLUDE_USER_DATA = 0x8
    EXCLUDE_FREE = 0x10


SUPPORTED_LEVELS = DumpLevel.EXCLUDE_ZERO


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
    unsupported = level & ~done & ~int(SUPPORTED_LEVELS)
    if unsupported:
        raise UsageError(
            f"dump level {level} needs page classification (bits {unsupported:#x}), which is not supported yet"
        )
    w = src.clone()
    w.attr["file.format"] = format
    w.attr["file.compression"] = compression if format == "kdump" else "none"
    w.attr["filter.dump_level"] = level
    keep: Bitmap = w.attr.mutable("file.pagemap")
    if format == "elf" and level & DumpLevel.EXCLUDE_ZERO:
        exclude_zero_pages(w, keep, progress)
    return w


def exclude_zero_pages(ctx: Context, keep: Bitmap, progress: Callable[[int, int], None] | None = None) -> int:
    """Clear the all-zero pages from ``keep`` (the ELF pre-pass). Returns how many."""
    ps = ctx.page_size
    reader = ctx.reader
    total = keep.count()
    done = zeros = 0
    runs = list(keep.runs())
    for a, b in runs:
        while a < b:
            n = min(1024, b - a)
            zmap, z = accel.zero_pages(reader.read_pages(a, n), ps)
            if z:
                for i in range(n):
                    if zmap[i >> 3] >> (i & 7) & 1:
                        keep.clear(a + i)
                zeros += z
            a += n
            done += n
            if progress is not None:
                progress(done, total)
    return zeros
