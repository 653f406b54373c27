"""What the package uses that Python 3.9 lacks (RHEL 9's crash kernel runs Python 3.9)."""

from __future__ import annotations

from collections.abc import Callable


def _bit_count_39(v: int) -> int:
    return bin(v).count("1")


#: The number of set bits of a non-negative int (int.bit_count from Python 3.10 on).
bit_count: Callable[[int], int] = getattr(int, "bit_count", _bit_count_39)
