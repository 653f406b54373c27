"""Page streaming shared by the writers: read what a write context keeps,
in large runs, and compress pages on several threads."""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable, Iterator

from ..accel import PAGE_SKIPPED
from .context import Context
from .errors import DumpError
from .hints import TYPE_CHECKING
from .workers import Pool

if TYPE_CHECKING:
    from ..input.base import DumpReader

CHUNK_PAGES = 512  # pages read and compressed together (of 4 KiB: fewer of larger pages)
CHUNK_BYTES = CHUNK_PAGES * 4096  # a batch holds about this much, whatever the page size


def batch_pages(page_size: int) -> int:
    """Pages in a batch: 512 of 4 KiB, 32 of 64 KiB (memory in flight stays the same)."""
    return max(16, CHUNK_BYTES // max(page_size, 1))


def page_runs(ctx: Context, chunk: int = CHUNK_PAGES, start: int = 0,
              end: int | None = None) -> Iterator[tuple[int, int]]:
    """(pfn, count) pieces of the runs the write context keeps in [start, end)."""
    for a, b in ctx.pagemap.runs(start, end):
        while a < b:
            n = min(chunk, b - a)
            yield a, n
            a += n


def page_batches(ctx: Context, chunk: int | None = None, start: int = 0, end: int | None = None,
                 span: int | None = None) -> Iterator[list[tuple[int, int]]]:
    """Batches of the runs the write context keeps in [start, end): up to
    ``chunk`` pages (default: :func:`batch_pages`) within ``span`` pfns each (default four
    batches), so that a filtered page map with many short runs still moves in large batches."""
    if chunk is None:
        chunk = batch_pages(ctx.page_size)
    if span is None:
        span = 4 * chunk
    batch: list[tuple[int, int]] = []
    total = 0
    for a, n in page_runs(ctx, chunk, start, end):
        if batch and (total + n > chunk or a + n - batch[0][0] > span):
            yield batch
            batch, total = [], 0
        batch.append((a, n))
        total += n
    if batch:
        yield batch


def read_batch(reader: DumpReader, runs: list[tuple[int, int]], ps: int,
               failed: list[tuple[int, int, str]]) -> bytes:
    """The pages of ``runs`` ([(pfn, count)]) concatenated.  A dense batch
    the input holds whole is read in one go.  A page that cannot be read
    reads as zeros and goes to ``failed`` as (index in the batch, pfn, reason)."""
    lo = runs[0][0]
    hi = runs[-1][0] + runs[-1][1]
    total = sum(n for _, n in runs)
    # one read of the span beats a read per run when runs are many or the gaps small
    if len(runs) > 1 and hi - lo <= 4 * total + 16 * len(runs) and reader.pagemap.count(lo, hi) == hi - lo:
        try:
            whole = memoryview(reader.read_pages(lo, hi - lo))
            return b"".join(whole[(a - lo) * ps : (a - lo + n) * ps] for a, n in runs)
        except DumpError:
            pass  # read run by run, page by page where needed
    parts = []
    idx = 0
    for a, n in runs:
        f: list[tuple[int, str]] = []
        parts.append(reader.read_pages_salvaging(a, n, f))
        failed.extend((idx + p - a, p, why) for p, why in f)
        idx += n
    return b"".join(parts)


def pfn_ranges(pfns: list[int]) -> list[tuple[int, int]]:
    """Sorted pfns as [start, end) ranges."""
    out: list[tuple[int, int]] = []
    for p in sorted(pfns):
        if out and out[-1][1] == p:
            out[-1] = (out[-1][0], p + 1)
        else:
            out.append((p, p + 1))
    return out


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class Compressor:
    """Compresses batches of pages on worker threads; a page that does not
    shrink stays raw.

    :param fn: one-page compressor, or None for no compression.
    :param flag: the page-descriptor flag for a compressed page.
    :param batch: the codec's batch kernel, used in place of ``fn`` page by page.
    """

    def __init__(self, fn: Callable[[bytes], bytes] | None, flag: int, page_size: int, threads: int,
                 batch: Callable[..., bytes] | None = None) -> None:
        self.fn, self.flag, self.ps = fn, flag, page_size
        self.batch = batch  # the codec's batch kernel (C, GIL released), when it has one
        self.pool: Pool | None = None
        self.threads = threads

    def compress_batch(self, buf: bytes, skip: bytes | None, sizes: array, flags: array,
                       zeros: bytes | None = None) -> bytes:
        """Compress the pages of ``buf`` (run in a worker thread); like
        ``accel.lzo_pages`` for any codec: fills sizes/flags, returns the data.
        ``zeros``: the all-zero pages (bitmap); they all compress to the same
        bytes, computed once."""
        ps = self.ps
        fn, flag = self.fn, self.flag
        mv = memoryview(buf)
        out = []
        zc: bytes | None = None
        for i in range(len(buf) // ps):
            if skip is not None and skip[i >> 3] >> (i & 7) & 1:
                sizes[i], flags[i] = 0, PAGE_SKIPPED
                continue
            page = mv[i * ps : (i + 1) * ps]
            if zeros is not None and zeros[i >> 3] >> (i & 7) & 1:
                if zc is None:
                    zc = fn(page) if fn is not None else b""
                c = zc if fn is not None else None
            else:
                c = fn(page) if fn is not None else None
            if c is not None and len(c) < ps:
                out.append(c)
                sizes[i], flags[i] = len(c), flag
            else:
                out.append(bytes(page))
                sizes[i], flags[i] = ps, 0
        return b"".join(out)

    def pool_for_pages(self) -> Pool:
        """The worker pool that reads and compresses batches of pages."""
        if self.pool is None:
            self.pool = Pool(self.threads)
        return self.pool

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None
