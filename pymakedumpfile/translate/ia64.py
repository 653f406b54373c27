"""ia64: the regions, the kernel image and the region-5 walk (docs/ia64.md).

Region 7 (0xe000…) maps physical memory cached and region 6 (0xc000…) uncached, each at
``vaddr - region base``.  Region 5 (0xa000…) holds the kernel image, linked at ``KERNEL_START``
(0xa000000100000000) and loaded at ``phys_base``, and from 4 GiB above it vmalloc and the
vmemmap, walked from ``swapper_pg_dir`` without the region bits (the kernel's ``pgd_offset_k``):
three levels of 16 KiB tables (four with ``CONFIG_PGTABLE_4``), each upper entry the physical
address of the next table, a PTE's page in bits 49..12 with ``_PAGE_P`` in bit 0.
"""

from __future__ import annotations

from ..core.errors import AddressTranslationError
from ..core.vmcoreinfo import VmcoreInfo
from .base import ArchInfo, ByteOrder, ReadPhys, Step, TableEntries
from .tablewalk import WalkedTranslator, even_levels, page_shift

REGION_SHIFT = 61
KERNEL_START = 0xA000_0001_0000_0000
VMALLOC_START = KERNEL_START + (1 << 32)
PAGE_P = 0x1
PPN_MASK = ((1 << 50) - 1) & ~0xFFF


class Ia64Translator(WalkedTranslator):
    """Kernel virtual to physical translation of an ia64 kernel."""

    def __init__(self, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int,
                 byte_order: ByteOrder = "little") -> None:
        self.phys_base = phys_base
        ps = page_shift(vmcoreinfo, 14)
        four = vmcoreinfo.lines.get("CONFIG_PGTABLE_4") == "y"
        self.levels = even_levels(ps, ("PGD", "PUD", "PMD", "PTE") if four else ("PGD", "PMD", "PTE"))
        self.entries = TableEntries(read_phys, "little", block=1 << ps)
        self.root = self._root(vmcoreinfo, "the kernel image or a direct region")

    def _direct(self, vaddr: int) -> tuple[int, int] | None:
        region = vaddr >> REGION_SHIFT
        if region in (6, 7):
            base = region << REGION_SHIFT
            return vaddr - base, base + (1 << REGION_SHIFT) - vaddr
        if region == 5 and KERNEL_START <= vaddr < VMALLOC_START:
            return vaddr - KERNEL_START + self.phys_base, VMALLOC_START - vaddr
        return None

    def _tables(self, vaddr: int) -> tuple[int, list[Step], int]:
        if vaddr >> REGION_SHIFT != 5:
            raise AddressTranslationError(vaddr, "not in a kernel region")
        return super()._tables(vaddr)

    def _decode(self, depth: int, entry: int) -> tuple[bool, int] | None:
        if depth == len(self.levels) - 1:
            return (True, entry & PPN_MASK) if entry & PAGE_P else None
        return (False, entry & PPN_MASK) if entry else None


IA64 = ArchInfo(
    name="ia64",
    machines=("ia64",),
    ptr_size=8,
    default_page_size=16384,
    byte_order="little",
    elf_machine=50,
    kernel_text_base=KERNEL_START,
    translator=Ia64Translator,
    sparsemem=(30, 50, 50),
    # the start of elf_gregset_t: r0..r31, the NaT bits, the predicates, b0..b7, ip, cfm, psr
    registers=tuple(f"r{i}" for i in range(32)) + ("nat", "pr") + tuple(f"b{i}" for i in range(8))
    + ("ip", "cfm", "psr"),
)
