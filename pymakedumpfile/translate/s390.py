"""s390 (31-bit, ESA/390 kernels up to Linux 4.0): the identity map and the segment/page table
walk (docs/s390.md).

The kernel maps all of memory at its own address (virtual = physical); vmalloc sits above it,
from the first vmalloc area (``vmap_area_list``).  The tables are the hardware's: a segment table
of 2048 four-byte entries indexed by address bits 30..20, each the origin of a page table of 256
entries indexed by bits 19..12.
"""

from __future__ import annotations

import struct

from ..core.errors import AddressTranslationError
from ..core.vmcoreinfo import VmcoreInfo
from .base import ArchInfo, ByteOrder, ReadPhys, TableEntries
from .linear32 import first_vmalloc
from .tablewalk import WalkedTranslator

SEGMENT_INVALID = 0x20  # bit 26 of a segment-table entry
SEGMENT_ORIGIN = 0x7FFF_FFC0  # the page table's origin: bits 1..25, 64-byte aligned
PAGE_INVALID = 0x400  # bit 21 of a page-table entry
PAGE_FRAME = 0x7FFF_F000  # bits 1..19


class S390Translator(WalkedTranslator):
    """Kernel virtual to physical translation of a 31-bit s390 kernel.

    :ivar lowmem_end: where the identity map ends (None: every address is walked)."""

    mask = 0x7FFF_FFFF
    levels = (("SGT", 20, 11), ("PTE", 12, 8))

    def __init__(self, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int,
                 byte_order: ByteOrder = "big") -> None:
        self.entries = TableEntries(read_phys, "big", entry_size=4)
        pgd = vmcoreinfo.SYMBOL.get("swapper_pg_dir")
        if pgd is None:
            raise AddressTranslationError(0, "no swapper_pg_dir in VMCOREINFO")
        self.root = pgd & self.mask
        # the vmap_area structures are kernel memory: at their own physical address
        self.lowmem_end = first_vmalloc(
            vmcoreinfo, lambda va: int(struct.unpack(">I", read_phys(va & self.mask, 4))[0]), 1)

    def _direct(self, vaddr: int) -> tuple[int, int] | None:
        if self.lowmem_end is not None and vaddr < self.lowmem_end:
            return vaddr, self.lowmem_end - vaddr
        return None

    def _decode(self, depth: int, entry: int) -> tuple[bool, int] | None:
        if depth == 1:
            return None if entry & PAGE_INVALID else (True, entry & PAGE_FRAME)
        return None if entry & SEGMENT_INVALID else (False, entry & SEGMENT_ORIGIN)


S390 = ArchInfo(
    name="s390",
    machines=("s390",),
    ptr_size=4,
    default_page_size=4096,
    byte_order="big",
    elf_machine=22,
    translator=S390Translator,
    kernel_text_base=0,  # the kernel runs at its physical address
    kernel_half_high=False,
    # s390_regs of a 31-bit kernel: the PSW, 16 general and 16 access registers, orig_gpr2
    registers=("psw_mask", "psw_addr") + tuple(f"r{i}" for i in range(16)) + tuple(f"a{i}" for i in range(16))
    + ("orig_gpr2",),
)
