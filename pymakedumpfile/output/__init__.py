"""Write contexts to files.  One writer per output format; the CLI holds no
format knowledge and calls :func:`write_dump`, :func:`write_split` or
:func:`rearrange_to`."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from ..core.context import Context
from ..core.errors import UsageError
from ..core.hints import Any, BinaryIO
from ..core.pipeline import default_threads
from ..core.record import dataclass
from ..core.workers import Pool
from .kdump import WriteResult, exclude_in_bitmap2, write_kdump
from .target import NullTarget, Target, WriteTarget, check_target


def _write_elf(*args: Any, **kwargs: Any) -> WriteResult:
    from .elf import write_elf  # imported for -E only

    return write_elf(*args, **kwargs)


WRITERS: dict[str, Callable[..., WriteResult]] = {"kdump": write_kdump, "elf": _write_elf}
DEFAULT_SPLITBLOCK_SIZE = 1 << 30  # bytes, makedumpfile's default


def write_dump(
    ctx: Context,
    path: str | None = None,
    *,
    stream: BinaryIO | None = None,
    force: bool = False,
    threads: int | None = None,
    limit: int | None = None,
    stream_compress: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    dry_run: bool = False,
) -> WriteResult:
    """Write the write context ``ctx`` in its ``file.format``.

    :param dry_run: do everything but keep the output (``--dry-run``): nothing is created,
        ``result.bytes_written`` says what would have been written.

    :param path: the dump file: created with mode 0600, never through a
        symlink; an existing file is replaced (atomically, once the new one
        is written) only with ``force``.
    :param stream: instead of ``path``, write a flattened stream there (-F).
    :param limit: stop at this many bytes (-L): the dump is then marked
        incomplete, as after a full disk, and ``result.incomplete`` is set.
    :param stream_compress: ``"zstd"`` or ``"lz4"``: compress the whole
        output (ELF, or a flattened stream); readers undo it by magic.
    """
    writer = _writer(ctx)
    if stream_compress is not None:
        if limit is not None:
            raise UsageError("--stream-compress cannot be combined with -L")
        if stream is None and ctx.attr["file.format"] != "elf":
            raise UsageError("--stream-compress needs -E or -F (a kdump file is not written in order)")
    target: WriteTarget  # finished at the end, or removed
    if dry_run:
        target = NullTarget(path or "<stdout>", limit=limit)
    elif stream is not None:
        from .flattened import FlatTarget  # -F

        target = FlatTarget(stream, limit=limit, compress=stream_compress)
    elif path is not None:
        target = Target(path, force=force, limit=limit)
        if stream_compress is not None:
            try:
                from .stream import CompressedFileTarget  # --stream-compress

                target = CompressedFileTarget(target, stream_compress)
            except BaseException:
                target.remove()
                raise
    else:
        raise UsageError("write_dump needs a path or a stream")
    ok = False
    try:
        res = writer(ctx, target, threads=threads, progress=progress)
        res.path = target.finish(complete=not res.incomplete)
        ok = True
        return res
    finally:
        if not ok:
            target.remove()


def _writer(ctx: Context) -> Callable[..., WriteResult]:
    fmt = ctx.attr["file.format"]
    writer = WRITERS.get(fmt)
    if writer is None:
        raise UsageError(f"Cannot write format {fmt!r}: we write {', '.join(WRITERS)}")
    return writer


def split_ranges(ctx: Context, parts: int, splitblock_size: int = DEFAULT_SPLITBLOCK_SIZE) -> list[tuple[int, int]]:
    """makedumpfile's division of a dump into ``parts`` pfn ranges: each part
    takes whole splitblocks until it holds about 1/parts of the dumped pages;
    the last runs to the end.  (Unlike makedumpfile we count the last,
    partial splitblock too: its pages are not treated as 0.)"""
    return _divide(_block_counts(ctx, splitblock_size), splitblock_size // ctx.page_size, ctx.max_pfn, parts)


def _block_counts(ctx: Context, splitblock_size: int) -> list[int]:
    """The pages to dump in each split block."""
    ps = ctx.page_size
    if splitblock_size <= 0 or splitblock_size % ps:
        raise UsageError(f"--splitblock-size must be a positive multiple of the page size ({ps} bytes)")
    per = splitblock_size // ps
    pm = ctx.pagemap
    return [pm.count(b, min(b + per, ctx.max_pfn)) for b in range(0, ctx.max_pfn, per)]


def _range_pages(counts: list[int], per: int, ranges: list[tuple[int, int]]) -> list[int]:
    """The pages each range holds, from the counts of the blocks it is made of."""
    return [sum(counts[a // per : (b + per - 1) // per]) if b > a else 0 for a, b in ranges]


def _divide(counts: list[int], per: int, max_pfn: int, parts: int, at_least_one: bool = False) -> list[tuple[int, int]]:
    """Cut blocks of ``per`` pfns holding ``counts`` pages into ``parts`` ranges, greedily
    (``at_least_one``: a part asks for one page even when there are fewer pages than parts)."""
    needed_each = sum(counts) // parts
    if at_least_one:
        needed_each = max(needed_each, 1)
    ranges = []
    block = 0
    end = 0
    for _ in range(parts - 1):
        start = end
        need = needed_each
        while block < len(counts) and need > 0:
            need -= counts[block]
            block += 1
        end = min(block * per, max_pfn) if start < max_pfn else max_pfn
        end = max(end, start)
        ranges.append((start, end))
    ranges.append((end, max_pfn))
    return ranges


@dataclass(frozen=True)
class SplitPlan:
    """How a dump is divided among the parts of a split dump."""

    ranges: list[tuple[int, int]]   # [start_pfn, end_pfn) of each part
    pages: list[int]                # pages each part holds
    block_size: int                 # the split block used, in bytes
    asked_block_size: int           # the split block asked for (--splitblock-size)
    empty_asked: int = 0            # parts the asked split block would have left without pages

    @property
    def smaller_blocks(self) -> bool:
        return self.block_size != self.asked_block_size

    def describe(self) -> str:
        """One line saying why the split block was made smaller (empty when it was not)."""
        if not self.smaller_blocks:
            return ""
        how = ("so that every part gets a share" if all(self.pages)
               else f"the dump has too few pages for {len(self.pages)} parts: {self.pages.count(0)} stay empty")
        return (f"--split: with split blocks of {_size(self.asked_block_size)}, {self.empty_asked} of the "
                f"{len(self.pages)} parts would hold no page; using split blocks of {_size(self.block_size)} {how} "
                f"(pages per part: {', '.join(map(str, self.pages))}).")


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


MAX_SPLIT_BLOCKS = 1 << 20  # a smaller split block is not tried when the dump would have more blocks than this


def plan_split(ctx: Context, parts: int, splitblock_size: int = DEFAULT_SPLITBLOCK_SIZE) -> SplitPlan:
    """Divide a dump among ``parts`` as makedumpfile does (:func:`split_ranges`); where that
    leaves a part without pages (the pages to dump lie in fewer split blocks than there are
    parts, as on a small or mostly filtered machine), halve the split block until every part
    holds pages and the largest part holds at most twice the pages of the smallest, and use
    the first such division (ranges still fall on split-block bounds)."""
    counts = _block_counts(ctx, splitblock_size)
    ps = ctx.page_size
    per = splitblock_size // ps
    ranges = _divide(counts, per, ctx.max_pfn, parts)  # split_ranges(), from the same counts
    pages = _range_pages(counts, per, ranges)
    plan = SplitPlan(ranges, pages, splitblock_size, splitblock_size)
    if all(pages) or sum(pages) == 0:
        return plan
    runs = list(ctx.pagemap.runs())
    best = plan
    while per > 1 and ctx.max_pfn // (per // 2) <= MAX_SPLIT_BLOCKS:
        per //= 2
        counts = [0] * ((ctx.max_pfn + per - 1) // per)
        for a, b in runs:
            while a < b:
                e = min(b, (a // per + 1) * per)
                counts[a // per] += e - a
                a = e
        ranges = _divide(counts, per, ctx.max_pfn, parts, at_least_one=True)
        pages = _range_pages(counts, per, ranges)
        best = SplitPlan(ranges, pages, per * ps, splitblock_size, plan.pages.count(0))
        if all(pages) and max(pages) <= 2 * min(pages):
            break
    return best


def write_split(
    ctx: Context,
    paths: Sequence[str],
    *,
    force: bool = False,
    threads: int | None = None,
    splitblock_size: int = DEFAULT_SPLITBLOCK_SIZE,
    on_plan: Callable[[SplitPlan], None] | None = None,
) -> list[WriteResult]:
    """Write a kdump write context as a split dump, the parts in parallel, divided by
    :func:`plan_split` (``on_plan`` is told the division before any part is written)."""
    if ctx.attr["file.format"] != "kdump":
        raise UsageError("--split writes kdump-compressed parts only")
    if len(paths) < 2:
        raise UsageError("--split needs at least two DUMPFILEs")
    if len({os.path.abspath(p) for p in paths}) != len(paths):
        raise UsageError("--split: the same DUMPFILE is named twice")
    for p in paths:
        check_target(p, force)
    plan = plan_split(ctx, len(paths), splitblock_size)
    if on_plan is not None:
        on_plan(plan)
    ranges = plan.ranges
    threads = threads or default_threads()
    each = max(1, threads // len(paths))
    targets: list[Target] = []
    ok = False
    try:
        for p in paths:
            targets.append(Target(p, force=force))
        with Pool(min(len(paths), threads)) as ex:
            futs = [ex.submit(write_kdump, ctx, t, each, None, r) for t, r in zip(targets, ranges)]
            results = [f.result() for f in futs]
        unreadable = [u for r in results for u in r.unreadable]
        if unreadable:  # each part cleared its own pages; the bitmaps must agree
            for t in targets:
                exclude_in_bitmap2(ctx, t, [p for p, _ in unreadable], unreadable)
        for t, r in zip(targets, results):
            r.path = t.finish(complete=not r.incomplete)
        ok = True
        return results
    finally:
        if not ok:
            for t in targets:
                t.remove()


def rearrange_to(stream: BinaryIO, path: str, *, force: bool = False) -> int:
    """``-R``: rebuild ``path`` from the flattened stream ``stream``."""
    target = Target(path, force=force)
    ok = False
    try:
        from .flattened import rearrange

        n = rearrange(stream, target)
        target.finish()
        ok = True
        return n
    finally:
        if not ok:
            target.remove()


__all__ = ["WRITERS", "SplitPlan", "Target", "WriteResult", "plan_split", "rearrange_to", "split_ranges", "write_dump",
           "write_split"]
