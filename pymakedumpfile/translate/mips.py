"""mips (32-bit): the unmapped segments and the two-level walk (docs/mips.md).

KSEG0 (0x80000000, cached) and KSEG1 (0xa0000000, uncached) each show the first 512 MiB of
physical memory: the kernel image, ``swapper_pg_dir`` and low memory live there.  From
0xc0000000 (vmalloc, modules, the fixmap) the kernel walks two levels of 32-bit entries: the
directory entry holds the KSEG0 address of a page of PTEs (or of the shared empty
``invalid_pte_table``), the PTE the page frame number above its flag and cache bits (how many,
the kernel's configuration decides: the first present PTE shows it, as on mips64).
"""

from __future__ import annotations

from ..core.vmcoreinfo import VmcoreInfo
from .base import ArchInfo, ByteOrder, ReadPhys, TableEntries
from .mips64 import pfn_shift
from .tablewalk import WalkedTranslator, page_shift

KSEG0, KSEG2 = 0x8000_0000, 0xC000_0000
PAGE_PRESENT = 1 << 0
# crash's choice, until a PTE shows its own: PRESENT, WRITE, ACCESSED, MODIFIED, NO_EXEC, NO_READ,
# GLOBAL, VALID, DIRTY (Linux 4.1 and later), then the three bits of the cache attribute
PTE_LOW_BITS = 9 + 3


class MipsTranslator(WalkedTranslator):
    """Kernel virtual to physical translation of a 32-bit MIPS kernel."""

    mask = 0xFFFF_FFFF

    def __init__(self, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int,
                 byte_order: ByteOrder = "big") -> None:
        ps = page_shift(vmcoreinfo, 12)
        self.page_shift = ps
        self.pfn_shift: int | None = None
        self.levels = (("PGD", 2 * ps - 2, 32 - (2 * ps - 2)), ("PTE", ps, ps - 2))
        self.entries = TableEntries(read_phys, byte_order, block=1 << ps, entry_size=4)
        self.root = self._root(vmcoreinfo, "KSEG0")

    def _direct(self, vaddr: int) -> tuple[int, int] | None:
        if KSEG0 <= vaddr < KSEG2:
            return vaddr & 0x1FFF_FFFF, 0x2000_0000 - (vaddr & 0x1FFF_FFFF)
        return None

    def _decode(self, depth: int, entry: int) -> tuple[bool, int] | None:
        if depth == 1:
            if not entry & PAGE_PRESENT:
                return None
            if self.pfn_shift is None:
                self.pfn_shift = pfn_shift(entry, self.page_shift, self.page_shift - 12 + PTE_LOW_BITS)
            return True, (entry >> self.pfn_shift) << self.page_shift
        return self._table_at(entry)


def _image_to_phys(vaddr: int, vi: VmcoreInfo, phys_base: int) -> int | None:
    """The kernel image is in KSEG0."""
    return vaddr & 0x1FFF_FFFF if KSEG0 <= vaddr < KSEG2 else None


MIPS = ArchInfo(
    name="mips",
    machines=("mips",),
    ptr_size=4,
    default_page_size=4096,
    byte_order="big",
    elf_machine=8,
    translator=MipsTranslator,
    image_to_phys=_image_to_phys,
    # the 32-bit elf_gregset_t: six unused words, r0..r31, lo, hi, cp0 epc, badvaddr, status, cause
    registers=tuple(f"pad{i}" for i in range(6)) + tuple(f"r{i}" for i in range(32))
    + ("lo", "hi", "epc", "badvaddr", "status", "cause"),
)
