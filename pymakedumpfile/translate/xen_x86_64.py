"""The Xen hypervisor's own virtual addresses on x86_64 (Xen 4.x), in the dump of a Xen host's
crash, whose physical addresses are machine addresses (docs/formats.md, "Xen").

Three kinds of address (the layout since Xen 4.0; 4.3 moved the frame table):

* the hypervisor image, a 1 GiB window at ``XEN_VIRT_START`` mapping ``xen_phys_start``
  (the window is found as makedumpfile finds it: ``SYMBOL(domain_list)`` rounded down to 1 GiB,
  since every variable of the image lies in its first GiB);
* the direct map of all machine memory, ``DIRECTMAP_START`` to ``DIRECTMAP_END``;
* anything else in the hypervisor's range (the frame table above all) through the 4-level
  page table ``idle_pg_table`` (``SYMBOL(pgd_l4)``), which is in the image.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from ..core.errors import DumpError

HYPERVISOR_START = 0xFFFF800000000000
HYPERVISOR_END = 0xFFFF880000000000
DIRECTMAP_START = 0xFFFF830000000000
DIRECTMAP_END_V3 = 0xFFFF840000000000
DIRECTMAP_END_V4 = 0xFFFF880000000000
FRAMETABLE_START_V3 = 0xFFFF82F600000000
FRAMETABLE_START_V4_3 = 0xFFFF82E000000000
IMAGE_WINDOW = 1 << 30
ENTRY_MASK = 0x000FFFFFFFFFF000  # bits 12-51 of a page-table entry: the next level's address
PRESENT, PSE = 0x1, 0x80
PAGE_SHIFT = 12


class XenAddressSpace:
    """Translates the hypervisor's virtual addresses to machine addresses.

    :param read_phys: reads machine memory (``(address, size) -> bytes``), raising a
        :class:`DumpError` for memory not in the dump.
    :param major: Xen's major version (the direct map grew in 4.0).
    """

    def __init__(self, read_phys: Callable[[int, int], bytes], *, phys_start: int, any_image_symbol: int,
                 pgd_l4: int, major: int) -> None:
        self.read_phys = read_phys
        self.phys_start = phys_start
        self.image_start = any_image_symbol & ~(IMAGE_WINDOW - 1)
        self.directmap_end = DIRECTMAP_END_V4 if major >= 4 else DIRECTMAP_END_V3
        self.pgd_l4 = pgd_l4
        self._pgd_phys: int | None = None

    def vtop(self, vaddr: int) -> int | None:
        """The machine address of ``vaddr``; None where nothing maps it (or the tables that
        would are not in the dump)."""
        if not HYPERVISOR_START <= vaddr < HYPERVISOR_END:
            return None
        direct = self._direct(vaddr)
        if direct is not None:
            return direct
        if self._pgd_phys is None:
            pgd = self._direct(self.pgd_l4)  # the table is in the image: not itself through a table
            if pgd is None:
                return None
            self._pgd_phys = pgd
        table = self._pgd_phys
        for shift in (39, 30, 21, 12):
            try:
                entry = struct.unpack("<Q", self.read_phys(table + ((vaddr >> shift) & 511) * 8, 8))[0]
            except DumpError:
                return None
            if not entry & PRESENT:
                return None
            if shift in (30, 21) and entry & PSE:  # a 1 GiB or 2 MiB page
                return (entry & ENTRY_MASK & ~((1 << shift) - 1)) | (vaddr & ((1 << shift) - 1))
            table = entry & ENTRY_MASK
        return table | (vaddr & ((1 << PAGE_SHIFT) - 1))

    def _direct(self, vaddr: int) -> int | None:
        """The image window and the direct map: no table needed."""
        if self.image_start <= vaddr < self.image_start + IMAGE_WINDOW:
            return vaddr - self.image_start + self.phys_start
        if DIRECTMAP_START <= vaddr < self.directmap_end:
            return vaddr - DIRECTMAP_START
        return None

    def read(self, vaddr: int, size: int) -> bytes | None:
        """``size`` bytes at ``vaddr`` (within one page); None if not mapped or not dumped."""
        paddr = self.vtop(vaddr)
        if paddr is None:
            return None
        try:
            return self.read_phys(paddr, size)
        except DumpError:
            return None

    def read_u64(self, vaddr: int) -> int | None:
        b = self.read(vaddr, 8)
        return None if b is None else int(struct.unpack("<Q", b)[0])
