"""loongarch64: the direct-mapped windows and the three-level walk (docs/loongarch64.md).

The kernel runs in the direct-mapped windows (DMW) of the XKPRANGE segment: from
0x8000000000000000 to 0xc000000000000000 an address is its physical address in the low
``MAX_PHYSMEM_BITS`` bits (0x9000… cached, 0x8000… uncached).  The kernel image, the linear map
of RAM and ``swapper_pg_dir`` live there.  vmalloc, the modules and the vmemmap are in XKVRANGE,
walked from ``swapper_pg_dir``: three levels for the default 16 KiB pages, whose upper entries
hold the *virtual* (DMW) address of the next table.
"""

from __future__ import annotations

from ..core.vmcoreinfo import VmcoreInfo
from .base import ArchInfo, ByteOrder, ReadPhys, TableEntries
from .tablewalk import WalkedTranslator, even_levels, page_shift

XKPRANGE, XKVRANGE = 0x8000_0000_0000_0000, 0xC000_0000_0000_0000
PAGE_HUGE = 1 << 6  # in a PMD entry: it maps a block
PAGE_PRESENT = 1 << 7
PFN_END = 48  # physical address bits of an entry end below bit 48 (NX, NR, RPLV sit above)


class Loongarch64Translator(WalkedTranslator):
    """Kernel virtual to physical translation of a loongarch64 kernel."""

    def __init__(self, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int,
                 byte_order: ByteOrder = "little") -> None:
        self.phys_bits = vmcoreinfo.NUMBER.get("MAX_PHYSMEM_BITS") or 48
        ps = page_shift(vmcoreinfo, 14)
        self.page_shift = ps
        self.levels = even_levels(ps, ("PGD", "PMD", "PTE"))
        self.entries = TableEntries(read_phys, "little", block=1 << ps)
        self.root = self._root(vmcoreinfo, "a direct window")

    def _direct(self, vaddr: int) -> tuple[int, int] | None:
        if XKPRANGE <= vaddr < XKVRANGE:
            size = 1 << self.phys_bits
            return vaddr & (size - 1), size - (vaddr & (size - 1))
        return None

    def _decode(self, depth: int, entry: int) -> tuple[bool, int] | None:
        if depth == 2 or (depth == 1 and entry & PAGE_HUGE):
            return (True, entry & ((1 << PFN_END) - 1)) if entry & PAGE_PRESENT else None
        return self._table_at(entry)  # the next table by its DMW address


def _image_to_phys(vaddr: int, vi: VmcoreInfo, phys_base: int) -> int | None:
    """The kernel image is in a direct window."""
    bits = vi.NUMBER.get("MAX_PHYSMEM_BITS") or 48
    return vaddr & ((1 << bits) - 1) if XKPRANGE <= vaddr < XKVRANGE else None


LOONGARCH64 = ArchInfo(
    name="loongarch64",
    machines=("loongarch64",),
    ptr_size=8,
    default_page_size=16384,
    byte_order="little",
    elf_machine=258,
    translator=Loongarch64Translator,
    image_to_phys=_image_to_phys,
    sparsemem=(29, 48, 48),
    # struct user_pt_regs: r0..r31, then orig_a0, the exception return address and bad address
    registers=tuple(f"r{i}" for i in range(32)) + ("orig_a0", "era", "badv"),
)
