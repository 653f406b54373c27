"""sparc64: the kernel image, the linear map and the four-level walk (docs/sparc64.md).

The kernel image is linked at ``KERNBASE`` (0x400000) and runs at ``phys_base`` (the dump's first
PT_LOAD, as makedumpfile takes it); vmalloc, the modules and the vmemmap start at
``VMALLOC_START`` (0x100000000) and are walked from ``swapper_pg_dir``: 8 KiB pages, four levels
of 1024 entries (three before Linux 3.8.13), each upper entry the *physical* address of the next
table.  RAM is mapped linearly at ``PAGE_OFFSET``, which the kernel sets at boot from the CPU's
physical address width (``-(1 << bits)``) and VMCOREINFO does not give: it is read from a pointer
into the linear map (the SPARSEMEM root array that ``mem_section`` points to).
"""

from __future__ import annotations

import struct

from ..core.errors import AddressTranslationError, DumpError
from ..core.vmcoreinfo import VmcoreInfo
from .base import ArchInfo, ByteOrder, ReadPhys, TableEntries
from .tablewalk import WalkedTranslator, even_levels, release

KERNBASE, VMALLOC_START = 0x400000, 0x1_0000_0000
PAGE_PRESENT = 0x10  # _PAGE_PRESENT_4V
PAGE_HUGE = 1 << 56  # _PAGE_PMD_HUGE, _PAGE_PUD_HUGE
PADDR = 0x00FF_FFFF_FFFF_E000  # _PAGE_PADDR_4V
PAGE_OFFSET_43 = 0xFFFF_F800_0000_0000  # the older kernels' fixed PAGE_OFFSET (43 physical bits)
MASK64 = (1 << 64) - 1


def page_offset_of(pointer: int) -> int | None:
    """PAGE_OFFSET, given a pointer into the linear map: the highest ``-(1 << bits)`` at or
    below it (the kernel picks bits from 41 to 53)."""
    for bits in range(41, 54):
        po = -(1 << bits) & MASK64
        if po <= pointer:
            return po
    return None


class Sparc64Translator(WalkedTranslator):
    """Kernel virtual to physical translation of a sparc64 kernel.

    :ivar page_offset: where the linear map starts."""

    def __init__(self, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int,
                 byte_order: ByteOrder = "big") -> None:
        self.phys_base = phys_base
        four = release(vmcoreinfo) >= (3, 8) or release(vmcoreinfo) == (0, 0)
        self.levels = even_levels(13, ("PGD", "PUD", "PMD", "PTE") if four else ("PGD", "PMD", "PTE"))
        self.entries = TableEntries(read_phys, "big", block=8192)
        pgd = vmcoreinfo.SYMBOL.get("swapper_pg_dir")
        if pgd is None or not KERNBASE <= pgd < VMALLOC_START:
            raise AddressTranslationError(pgd or 0, "no swapper_pg_dir in the kernel image in VMCOREINFO")
        self.root = pgd - KERNBASE + phys_base
        self.page_offset = PAGE_OFFSET_43
        ms = vmcoreinfo.SYMBOL.get("mem_section")
        if ms is not None and KERNBASE <= ms < VMALLOC_START:
            try:
                p = int(struct.unpack(">Q", read_phys(ms - KERNBASE + phys_base, 8))[0])
            except (DumpError, OSError, struct.error):
                p = 0
            if p >> 63:
                self.page_offset = page_offset_of(p) or PAGE_OFFSET_43

    def _direct(self, vaddr: int) -> tuple[int, int] | None:
        if vaddr >= self.page_offset:
            return vaddr - self.page_offset, (1 << 64) - vaddr
        if KERNBASE <= vaddr < VMALLOC_START:
            return vaddr - KERNBASE + self.phys_base, VMALLOC_START - vaddr
        return None

    def _decode(self, depth: int, entry: int) -> tuple[bool, int] | None:
        if depth == len(self.levels) - 1:
            return (True, entry & PADDR) if entry & PAGE_PRESENT else None
        if depth > 0 and entry & PAGE_HUGE:  # a PUD or PMD mapping a block
            return True, entry & PADDR
        return (False, entry) if entry else None  # the next table's physical address


SPARC64 = ArchInfo(
    name="sparc64",
    machines=("sparc64",),
    ptr_size=8,
    default_page_size=8192,
    byte_order="big",
    elf_machine=43,
    kernel_text_base=KERNBASE,
    translator=Sparc64Translator,
    kernel_half_high=False,  # the image, vmalloc and the vmemmap sit low
    sparsemem=(30, 53, 53),
    # elf_gregset_t: the global, out, local and in registers, then tstate, tpc, tnpc, y
    registers=tuple(f"{k}{i}" for k in "goli" for i in range(8)) + ("tstate", "tpc", "tnpc", "y"),
)
