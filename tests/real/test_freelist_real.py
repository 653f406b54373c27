"""The free-list walk (used when a kernel marks no buddy page) finds the
same free pages as the buddy marker in struct page, on the real dumps: two
independent ways to the same answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from pymakedumpfile import open_dump
from pymakedumpfile.filter import make_write_context


@pytest.mark.parametrize("dump", ["mem512", "mem512-la57"])
def test_free_list_walk_equals_buddy_marker(dump: str, mem512: Path) -> None:
    vmcore = mem512.parent / dump / "vmcore.elf"
    if not vmcore.exists():
        pytest.skip(f"no {vmcore}")
    with open_dump(vmcore) as src:
        marked = make_write_context(src, format="kdump", dump_level=16)
    with open_dump(vmcore) as src:
        vi = src.reader.vmcoreinfo
        del vi.NUMBER["PAGE_BUDDY_MAPCOUNT_VALUE"]  # as on a kernel without the marker
        walked = make_write_context(src, format="kdump", dump_level=16)
    a, b = marked.attr["filter.stats"], walked.attr["filter.stats"]
    assert a.free > 5000
    assert b.free == a.free
    assert walked.pagemap.to_bytes() == marked.pagemap.to_bytes()
