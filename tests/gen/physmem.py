"""A sparse physical memory for translation tests: pages appear when written or allocated, and
read as zeros until then."""

from __future__ import annotations

import struct


class PhysMem:
    """Physical memory in 4 KiB pages.

    :param first_free: where :meth:`alloc` starts handing out memory.
    """

    def __init__(self, first_free: int = 0x100_0000) -> None:
        self.mem: dict[int, bytearray] = {}
        self.next = first_free

    def page(self, addr: int) -> bytearray:
        return self.mem.setdefault(addr & ~0xFFF, bytearray(4096))

    def put(self, addr: int, value: int, fmt: str = ">Q") -> None:
        """Store ``value`` at ``addr`` packed as the struct format ``fmt``."""
        struct.pack_into(fmt, self.page(addr), addr & 0xFFF, value)

    def alloc(self, size: int, align: int = 4096) -> int:
        """``size`` bytes of fresh memory (whole pages), aligned to ``align``."""
        at = -(-self.next // align) * align
        self.next = at + max(size, 4096)
        for base in range(at, at + size, 4096):
            self.page(base)
        return at

    def read(self, addr: int, n: int) -> bytes:
        out = b""
        while n:
            k = min(n, 4096 - (addr & 0xFFF))
            out += bytes(self.page(addr)[addr & 0xFFF : (addr & 0xFFF) + k])
            addr, n = addr + k, n - k
        return out
