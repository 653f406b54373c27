"""mips64: the unmapped segments and the three-level walk (docs/mips.md).

CKSEG0 and CKSEG1 (0xffffffff80000000 to 0xffffffffc0000000) hold the first 512 MiB of physical
memory, XKPHYS (0x8000000000000000 to 0xc000000000000000) all of it in its low
``MAX_PHYSMEM_BITS`` bits: the kernel image, ``swapper_pg_dir`` and the memory it allocates live
there.  XKSEG (vmalloc, modules, from 0xc000000000000000) and the top 1 GiB are walked: three
levels whose upper entries hold the *virtual* address of the next table, and whose PTEs keep the
page frame number above the software and hardware bits (``_PFN_SHIFT``, which the kernel's
configuration decides and the first present PTE shows).
"""

from __future__ import annotations

from ..core.vmcoreinfo import VmcoreInfo
from .base import ArchInfo, ByteOrder, ReadPhys, TableEntries
from .tablewalk import WalkedTranslator, even_levels, page_shift, release

CKSEG0, CKSSEG = 0xFFFF_FFFF_8000_0000, 0xFFFF_FFFF_C000_0000
XKPHYS, XKSEG = 0x8000_0000_0000_0000, 0xC000_0000_0000_0000
PAGE_PRESENT, PAGE_HUGE = 1 << 0, 1 << 4


def kseg(vaddr: int, phys_bits: int) -> tuple[int, int] | None:
    """The physical address of a 64-bit kernel's unmapped-segment address and the bytes left in
    its window; None for a mapped address."""
    if CKSEG0 <= vaddr < CKSSEG:
        return vaddr & 0x1FFF_FFFF, 0x2000_0000 - (vaddr & 0x1FFF_FFFF)
    if XKPHYS <= vaddr < XKSEG:
        size = 1 << phys_bits
        return vaddr & (size - 1), size - (vaddr & (size - 1))
    return None


def global_bit(pte: int) -> int | None:
    """Where _PAGE_GLOBAL sits in a present kernel PTE, found from the PTE itself; None when its
    bits do not show it.

    The software bits come first (PRESENT, then READ, WRITE, ACCESSED, MODIFIED, HUGE, SPECIAL,
    SOFT_DIRTY, PROTNONE, NO_EXEC, NO_READ as the kernel's configuration has them); then GLOBAL,
    VALID and DIRTY, the three-bit cache attribute and the frame number.  A kernel mapping
    (PAGE_KERNEL) has GLOBAL, VALID and DIRTY set and, between MODIFIED and GLOBAL, no bit set:
    GLOBAL is the first of three set bits above a clear one, from bit 4 up."""
    for g in range(4, 16):
        if (pte >> g) & 7 == 7 and not (pte >> (g - 1)) & 1:
            return g
    return None


def pfn_shift(pte: int, page_shift: int, fallback: int) -> int:
    """_PFN_SHIFT (PAGE_SHIFT - 12 + the cache attribute's shift + 3) from a present PTE, or
    ``fallback`` when the PTE does not show its GLOBAL bit."""
    g = global_bit(pte)
    return fallback if g is None else page_shift - 12 + g + 3 + 3


class Mips64Translator(WalkedTranslator):
    """Kernel virtual to physical translation of a 64-bit MIPS kernel."""

    def __init__(self, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int,
                 byte_order: ByteOrder = "big") -> None:
        self.phys_bits = vmcoreinfo.NUMBER.get("MAX_PHYSMEM_BITS") or 48
        ps = page_shift(vmcoreinfo, 12)
        self.page_shift = ps
        # until a PTE shows it: crash's choice for 4.5 and later (RIXI, HUGE, PROTNONE, SPECIAL)
        self.pfn_shift: int | None = None
        self.fallback_shift = ps - 12 + (12 if release(vmcoreinfo) >= (4, 5) else 11) + 3
        self.levels = even_levels(ps, ("PGD", "PMD", "PTE"))
        self.entries = TableEntries(read_phys, byte_order, block=1 << ps)
        self.root = self._root(vmcoreinfo, "an unmapped segment")

    def _direct(self, vaddr: int) -> tuple[int, int] | None:
        return kseg(vaddr, self.phys_bits)

    def _decode(self, depth: int, entry: int) -> tuple[bool, int] | None:
        if depth == 2 or (depth == 1 and entry & PAGE_HUGE):
            if not entry & PAGE_PRESENT:
                return None
            if self.pfn_shift is None:
                self.pfn_shift = pfn_shift(entry, self.page_shift, self.fallback_shift)
            return True, (entry >> self.pfn_shift) << self.page_shift
        return self._table_at(entry)  # the next table by its virtual address


def _image_to_phys(vaddr: int, vi: VmcoreInfo, phys_base: int) -> int | None:
    """The kernel image is in CKSEG0 (or XKPHYS)."""
    d = kseg(vaddr, vi.NUMBER.get("MAX_PHYSMEM_BITS") or 48)
    return d[0] if d else None


MIPS64 = ArchInfo(
    name="mips64",
    machines=("mips64",),
    ptr_size=8,
    default_page_size=4096,
    byte_order="big",
    elf_machine=8,
    translator=Mips64Translator,
    image_to_phys=_image_to_phys,
    sparsemem=(28, 48, 48),
    # the 64-bit elf_gregset_t: r0..r31, lo, hi, cp0 epc, badvaddr, status, cause
    registers=tuple(f"r{i}" for i in range(32)) + ("lo", "hi", "epc", "badvaddr", "status", "cause"),
)
