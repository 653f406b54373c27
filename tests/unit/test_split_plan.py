"""How --split divides a dump among its parts (pymakedumpfile.output.plan_split): makedumpfile's
division by split blocks, and a smaller split block where that leaves a part without pages."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pymakedumpfile.core.pagemap import RangeMap
from pymakedumpfile.output import plan_split, split_ranges

PS = 4096
GIB = 1 << 30


def dump(ranges: list[tuple[int, int]], max_pfn: int) -> SimpleNamespace:
    return SimpleNamespace(page_size=PS, max_pfn=max_pfn, pagemap=RangeMap(ranges, max_pfn))


def held(ranges: list[tuple[int, int]], a: int, b: int) -> int:
    """Pages of ``ranges`` inside [a, b), counted one by one."""
    return sum(1 for s, e in ranges for p in range(s, e) if a <= p < b)


def test_pages_everywhere_keep_makedumpfiles_division() -> None:
    pages = [(p, p + 1) for p in range(0, 4 << 18, 3)]  # every third page of 4 GiB
    ctx = dump(pages, 4 << 18)
    plan = plan_split(ctx, 4)
    assert plan.ranges == split_ranges(ctx, 4) == [(i << 18, (i + 1) << 18) for i in range(4)]  # 1 GiB blocks
    assert not plan.smaller_blocks and plan.describe() == ""
    assert plan.pages == [held(pages, a, b) for a, b in plan.ranges]


def test_greedy_division_that_starves_the_last_part() -> None:
    """Four 1 GiB blocks of equal weight into 3 parts: makedumpfile's greedy cut gives two
    blocks to each of the first two parts and nothing to the third; we cut finer."""
    pages = [(p, p + 1) for p in range(0, 4 << 18, 3)]
    ctx = dump(pages, 4 << 18)
    assert [held(pages, a, b) > 0 for a, b in split_ranges(ctx, 3)] == [True, True, False]
    plan = plan_split(ctx, 3)
    assert plan.pages == [held(pages, a, b) for a, b in plan.ranges]
    assert all(plan.pages) and max(plan.pages) <= 2 * min(plan.pages)
    assert "1 of the 3 parts would hold no page" in plan.describe()


@pytest.mark.parametrize("parts", [2, 3, 8])
def test_pages_in_one_block_are_shared_out(parts: int) -> None:
    """All pages in the first 48 MiB of a 4 GiB machine: makedumpfile's 1 GiB blocks give the
    first part everything; a smaller block gives every part a share within a factor of 2."""
    pages = [(0x100, 0x2000), (0x2400, 0x3000)]
    ctx = dump(pages, 4 << 18)
    assert [held(pages, a, b) > 0 for a, b in split_ranges(ctx, parts)] == [True] + [False] * (parts - 1)
    plan = plan_split(ctx, parts)
    assert plan.smaller_blocks and plan.block_size < GIB and GIB % plan.block_size == 0
    assert plan.ranges[0][0] == 0 and plan.ranges[-1][1] == 4 << 18
    assert all(plan.ranges[i][1] == plan.ranges[i + 1][0] for i in range(parts - 1))
    assert all(a % (plan.block_size // PS) == 0 for a, _ in plan.ranges)  # cuts on block bounds
    assert plan.pages == [held(pages, a, b) for a, b in plan.ranges]
    assert all(plan.pages) and max(plan.pages) <= 2 * min(plan.pages)
    assert f"{parts - 1} of the {parts} parts would hold no page" in plan.describe()
    assert "every part gets a share" in plan.describe()


def test_too_few_pages_for_the_parts() -> None:
    pages = [(5, 6), (9000, 9001)]
    plan = plan_split(dump(pages, 1 << 16), 8)
    assert sum(plan.pages) == 2 and plan.pages.count(0) == 6
    assert "6 stay empty" in plan.describe()


def test_empty_dump() -> None:
    ctx = dump([], 1 << 16)
    assert plan_split(ctx, 3).ranges == split_ranges(ctx, 3)
