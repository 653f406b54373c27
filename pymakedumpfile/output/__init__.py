"""Write contexts to files.  One writer per output format; the CLI holds no
format knowledge and calls :func:`write_dump`, :func:`write_split` or
:func:`rearrange_to`."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

from ..context import Context
from ..errors import UsageError
from .elf import write_elf
from .flattened import FlatTarget, rearrange
from .kdump import WriteResult, exclude_in_bitmap2, write_kdump
from .pages import default_threads
from ..streamcomp import SequentialTarget, compressing_writer
from .target import Target, check_target

WRITERS: dict[str, Callable[..., WriteResult]] = {"kdump": write_kdump, "elf": write_elf}
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
) -> WriteResult:
    """Write the write context ``ctx`` in its ``file.format``.

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
    target: Target | FlatTarget
    comp = None
    base: Target | None = None
    if stream is not None:
        if stream_compress is not None:
            comp = compressing_writer(stream_compress, stream)
        target = FlatTarget(comp or stream, limit=limit)
    elif path is not None:
        base = Target(path, force=force, limit=limit)
        target = base
        if stream_compress is not None:
            sink = open(base.fd, "wb", closefd=False)  # noqa: SIM115 - closed below
            target = SequentialTarget(path, sink, stream_compress)  # type: ignore[assignment]
    else:
        raise UsageError("write_dump needs a path or a stream")
    ok = False
    try:
        res = writer(ctx, target, threads=threads, progress=progress)
        if isinstance(target, SequentialTarget):
            target.close_stream()
            sink.flush()
            sink.close()
        else:
            target.finish()
        if comp is not None:
            comp.close()
            stream.flush()  # type: ignore[union-attr]
        if base is not None and base is not target:
            base.written = target.written
            base.finish()
        ok = True
        return res
    finally:
        if not ok:
            (base or target).remove()


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
    ps = ctx.page_size
    if splitblock_size <= 0 or splitblock_size % ps:
        raise UsageError(f"--splitblock-size must be a positive multiple of the page size ({ps} bytes)")
    per = splitblock_size // ps
    max_pfn = ctx.max_pfn
    pm = ctx.pagemap
    counts = [pm.count(b, min(b + per, max_pfn)) for b in range(0, max_pfn, per)]
    needed_each = sum(counts) // parts
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


def write_split(
    ctx: Context,
    paths: Sequence[str],
    *,
    force: bool = False,
    threads: int | None = None,
    splitblock_size: int = DEFAULT_SPLITBLOCK_SIZE,
) -> list[WriteResult]:
    """Write a kdump write context as a split dump, the parts in parallel."""
    if ctx.attr["file.format"] != "kdump":
        raise UsageError("--split writes kdump-compressed parts only")
    if len(paths) < 2:
        raise UsageError("--split needs at least two DUMPFILEs")
    if len({os.path.abspath(p) for p in paths}) != len(paths):
        raise UsageError("--split: the same DUMPFILE is named twice")
    for p in paths:
        check_target(p, force)
    ranges = split_ranges(ctx, len(paths), splitblock_size)
    threads = threads or default_threads()
    each = max(1, threads // len(paths))
    targets: list[Target] = []
    ok = False
    try:
        for p in paths:
            targets.append(Target(p, force=force))
        with ThreadPoolExecutor(min(len(paths), threads)) as ex:
            futs = [ex.submit(write_kdump, ctx, t, each, None, r) for t, r in zip(targets, ranges)]
            results = [f.result() for f in futs]
        unreadable = [u for r in results for u in r.unreadable]
        if unreadable:  # each part cleared its own pages; the bitmaps must agree
            for t in targets:
                exclude_in_bitmap2(ctx, t, [p for p, _ in unreadable], unreadable)
        for t in targets:
            t.finish()
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
        n = rearrange(stream, target)
        target.finish()
        ok = True
        return n
    finally:
        if not ok:
            target.remove()


__all__ = ["WRITERS", "Target", "WriteResult", "rearrange_to", "split_ranges", "write_dump", "write_split"]
