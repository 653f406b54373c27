"""powerpc (32-bit, the classic book3s MMU): the linear map and the two-level walk (docs/ppc.md).

Low memory is mapped linearly at ``PAGE_OFFSET`` (0xc0000000) from physical 0, up to where the
first vmalloc area starts (``vmap_area_list``, as makedumpfile reads it); above it the kernel's
tables are walked: a directory of 1024 32-bit entries, each the *physical* address of a page of
PTEs (zero when there is none), and PTEs holding the physical page above 12 flag bits.
"""

from __future__ import annotations

import struct

from ..core.errors import AddressTranslationError
from ..core.vmcoreinfo import VmcoreInfo
from .base import ArchInfo, ByteOrder, ReadPhys, TableEntries
from .linear32 import first_vmalloc
from .tablewalk import WalkedTranslator

PAGE_OFFSET = 0xC000_0000
PAGE_PRESENT = 0x001


class PpcTranslator(WalkedTranslator):
    """Kernel virtual to physical translation of a 32-bit book3s powerpc kernel.

    :ivar lowmem_end: the end of the linear map (None: every address from PAGE_OFFSET is linear,
        as makedumpfile takes it without vmalloc information)."""

    mask = 0xFFFF_FFFF
    levels = (("PGD", 22, 10), ("PTE", 12, 10))

    def __init__(self, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int,
                 byte_order: ByteOrder = "big") -> None:
        self.entries = TableEntries(read_phys, byte_order, entry_size=4)
        pgd = vmcoreinfo.SYMBOL.get("swapper_pg_dir")
        if pgd is None or pgd < PAGE_OFFSET:
            raise AddressTranslationError(pgd or 0, "no swapper_pg_dir in the linear map in VMCOREINFO")
        self.root = pgd - PAGE_OFFSET
        fmt = (">" if byte_order == "big" else "<") + "I"
        self.lowmem_end: int | None = None  # the vmap_area structures are in the linear map
        self.lowmem_end = first_vmalloc(
            vmcoreinfo, lambda va: int(struct.unpack(fmt, read_phys(va - PAGE_OFFSET, 4))[0]), PAGE_OFFSET)

    def _direct(self, vaddr: int) -> tuple[int, int] | None:
        end = self.lowmem_end or 1 << 32
        if PAGE_OFFSET <= vaddr < end:
            return vaddr - PAGE_OFFSET, end - vaddr
        return None

    def _decode(self, depth: int, entry: int) -> tuple[bool, int] | None:
        if depth == 1:
            return (True, entry & 0xFFFF_F000) if entry & PAGE_PRESENT else None
        return (False, entry & 0xFFFF_F000) if entry & 0xFFFF_F000 else None


PPC = ArchInfo(
    name="ppc",
    machines=("ppc",),
    ptr_size=4,
    default_page_size=4096,
    byte_order="big",
    elf_machine=20,
    kernel_text_base=PAGE_OFFSET,
    translator=PpcTranslator,
    # struct pt_regs of ppc32 as pr_reg holds it
    registers=tuple(f"r{i}" for i in range(32)) + ("nip", "msr", "orig_gpr3", "ctr", "link", "xer", "ccr", "mq",
                                                    "trap", "dar", "dsisr", "result"),
)
