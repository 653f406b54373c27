"""alpha: KSEG and the three-level walk (docs/alpha.md).

All of physical memory is at KSEG, from 0xfffffc0000000000 (or 0xffff800000000000 on kernels
with the 48-bit KSEG: ``_stext`` says which).  vmalloc and the modules are walked from
``swapper_pg_dir``: 8 KiB pages, three levels of 1024 entries, each entry holding the page frame
number in its top 32 bits and ``_PAGE_VALID`` in bit 0.
"""

from __future__ import annotations

from ..core.vmcoreinfo import VmcoreInfo
from .base import ArchInfo, ByteOrder, ReadPhys, TableEntries
from .tablewalk import WalkedTranslator, even_levels

KSEG, KSEG_48 = 0xFFFF_FC00_0000_0000, 0xFFFF_8000_0000_0000
KSEG_SIZE = 1 << 41  # what KSEG maps before the vmalloc area of 43-bit kernels
PAGE_VALID = 0x1


def kseg_base(vi: VmcoreInfo) -> int:
    stext = vi.SYMBOL.get("_stext") or vi.SYMBOL.get("swapper_pg_dir") or KSEG
    return KSEG if stext >= KSEG else KSEG_48


class AlphaTranslator(WalkedTranslator):
    """Kernel virtual to physical translation of an alpha kernel."""

    levels = even_levels(13, ("PGD", "PMD", "PTE"))

    def __init__(self, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int,
                 byte_order: ByteOrder = "little") -> None:
        self.kseg = kseg_base(vmcoreinfo)
        self.entries = TableEntries(read_phys, "little", block=8192)
        self.root = self._root(vmcoreinfo, "KSEG")

    def _direct(self, vaddr: int) -> tuple[int, int] | None:
        if self.kseg <= vaddr < self.kseg + KSEG_SIZE:
            return vaddr - self.kseg, self.kseg + KSEG_SIZE - vaddr
        return None

    def _decode(self, depth: int, entry: int) -> tuple[bool, int] | None:
        if not entry & PAGE_VALID:
            return None
        return depth == 2, (entry >> 32) << 13


def _image_to_phys(vaddr: int, vi: VmcoreInfo, phys_base: int) -> int | None:
    base = kseg_base(vi)
    return vaddr - base if base <= vaddr < base + KSEG_SIZE else None


ALPHA = ArchInfo(
    name="alpha",
    machines=("alpha",),
    ptr_size=8,
    default_page_size=8192,
    byte_order="little",
    elf_machine=0x9026,
    translator=AlphaTranslator,
    image_to_phys=_image_to_phys,
    # elf_gregset_t: r0..r30 (r30 the user sp), pc, unique
    registers=tuple(f"r{i}" for i in range(31)) + ("pc", "unique"),
)
