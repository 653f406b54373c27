"""Page streaming shared by the writers: read what a write context keeps,
in large runs, and compress pages on several threads."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor

from ..context import Context

CHUNK_PAGES = 1024  # pages read and compressed together


def page_runs(ctx: Context, chunk: int = CHUNK_PAGES, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """(pfn, count) pieces of the runs the write context keeps in [start, end)."""
    for a, b in ctx.pagemap.runs(start, end):
        while a < b:
            n = min(chunk, b - a)
            yield a, n
            a += n


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class Compressor:
    """Compresses batches of pages; a page that does not shrink stays raw.

    :param fn: one-page compressor, or None for no compression.
    :param flag: the page-descriptor flag for a compressed page.
    """

    def __init__(self, fn: Callable[[bytes], bytes] | None, flag: int, page_size: int, threads: int) -> None:
        self.fn, self.flag, self.ps = fn, flag, page_size
        self.pool: Executor | None = ThreadPoolExecutor(threads) if fn is not None and threads > 1 else None
        self.threads = threads

    def _one_batch(self, pages: list[bytes]) -> list[tuple[bytes, int]]:
        fn, ps, flag = self.fn, self.ps, self.flag
        out = []
        for p in pages:
            c = fn(p)  # type: ignore[misc]
            out.append((c, flag) if len(c) < ps else (p, 0))
        return out

    def compress(self, pages: list[bytes]) -> list[tuple[bytes, int]]:
        """``(data, flags)`` for each page, in order."""
        if self.fn is None:
            return [(p, 0) for p in pages]
        if self.pool is None or len(pages) < 16:
            return self._one_batch(pages)
        step = -(-len(pages) // self.threads)
        parts = [pages[i : i + step] for i in range(0, len(pages), step)]
        out: list[tuple[bytes, int]] = []
        for r in self.pool.map(self._one_batch, parts):
            out.extend(r)
        return out

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None
