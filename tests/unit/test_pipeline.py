"""The page pipeline's batches hold about the same bytes whatever the page size: with 64 KiB pages
(ppc64le, arm64-64k) a batch of 512 pages was 32 MiB, and the writer keeps several in flight
(peak RSS 176 MB on the 2 GiB ppc64le dump, against makedumpfile's 51 MB)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gen import Page, build_kdump, vmcoreinfo_text

from pymakedumpfile import open_dump
from pymakedumpfile.core.pipeline import CHUNK_BYTES, batch_pages, page_batches


@pytest.mark.parametrize("page_size", [4096, 16384, 65536])
def test_batches_hold_the_same_bytes(page_size: int, tmp_path: Path) -> None:
    n = (4 * CHUNK_BYTES) // page_size + 7  # a few batches' worth, and a part batch
    pages = {p: Page(bytes([p & 0xFF]) * page_size, "raw") for p in range(n)}
    path = tmp_path / "dump"
    build_kdump(path, pages, max_mapnr=n, page_size=page_size, arch="ppc64" if page_size == 65536 else "x86_64",
                endian=">" if page_size == 65536 else "<",
                vmcoreinfo=vmcoreinfo_text(OSRELEASE="6.1.0-batch", PAGESIZE=page_size))
    with open_dump(path) as ctx:
        batches = list(page_batches(ctx))
    assert batch_pages(page_size) == CHUNK_BYTES // page_size
    assert all(sum(c for _, c in b) * page_size <= CHUNK_BYTES for b in batches)
    assert sum(c for b in batches for _, c in b) == n  # every page, once
    assert [a for b in batches for a, _ in b] == sorted({a for b in batches for a, _ in b})
