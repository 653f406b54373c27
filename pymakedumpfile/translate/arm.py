"""arm (32-bit): the linear map and the page-table walk, with the classic short descriptors (two
levels; 1 MiB sections and 16 MiB supersections) and with LPAE's long descriptors (three levels
of 64-bit entries; 1 GiB and 2 MiB blocks): docs/arm.md.

Low memory is mapped at ``PAGE_OFFSET`` from ``PHYS_OFFSET``, the start of RAM.  VMCOREINFO
gives neither, nor (before its ``CONFIG_ARM_LPAE`` line, which 6.1 does not have) the table
format.  They are found by the page tables themselves: the choice under which
``swapper_pg_dir`` maps its own virtual address to itself.  ``phys_base`` (the kdump header's, or
the kernel image's PT_LOAD) is tried first for PHYS_OFFSET; where the linear map ends is where the
first vmalloc area starts (``vmap_area_list``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..core.errors import AddressTranslationError
from ..core.vmcoreinfo import VmcoreInfo
from .base import ArchInfo, Step
from .linear32 import MASK32, Linear32Translator

# the kernel's choices of PAGE_OFFSET (VMSPLIT_3G, 3G_OPT, 2G, 1G), the usual one first
PAGE_OFFSETS = (0xC0000000, 0xB0000000, 0x80000000, 0x40000000)
# PHYS_OFFSET is a multiple of 16 MiB (ARM_PATCH_PHYS_VIRT): the candidates when phys_base is not it
PHYS_STEP = 16 << 20
LPAE_ADDR = ((1 << 40) - 1) & ~0xFFF  # output address bits 39..12


class ArmTranslator(Linear32Translator):
    """Kernel virtual to physical translation of a 32-bit arm kernel.

    :ivar lpae: the tables are LPAE's.
    """

    walks_linear = True
    choices_said = "PAGE_OFFSET and PHYS_OFFSET, with LPAE or without"

    @property
    def lpae(self) -> bool:
        return self.wide

    def _choices(self, vi: VmcoreInfo, pgd: int, phys_base: int) -> Iterator[tuple[bool, int, int]]:
        # only PAGE_OFFSET - PHYS_OFFSET decides where swapper_pg_dir is: each PAGE_OFFSET (the one
        # of _stext first, then the usual) is tried with every PHYS_OFFSET (phys_base first) in turn
        modes = (True,) if vi.lines.get("CONFIG_ARM_LPAE") == "y" else (False, True)
        stext = vi.SYMBOL.get("_stext", 0)
        offsets = sorted({po for po in PAGE_OFFSETS if po <= pgd}, key=lambda po: (po != stext & 0xFFC00000, -po))
        phys = [phys_base & MASK32] + [p for p in range(0, 1 << 32, PHYS_STEP) if p != phys_base & MASK32]
        return ((lpae, po, p) for po in offsets for p in phys for lpae in modes)

    def _walk(self, vaddr: int) -> tuple[int, list[Step]]:
        return self._walk_lpae(vaddr) if self.lpae else self._walk_short(vaddr)

    def _walk_short(self, vaddr: int) -> tuple[int, list[Step]]:
        """The hardware's walk (the ARM ARM's short descriptors): the first-level entry of this
        MiB, then, for a page table, its second-level entry.  Linux keeps its own copies of the
        second-level entries beside the hardware's, in a layout that has changed over the years
        (makedumpfile 1.7.2 reads the wrong copy on 6.1); the hardware's are what the MMU used."""
        addr, e = self._e32(self.root, vaddr >> 20)
        steps = [Step("PGD", addr, e, shown=self._virt(addr))]
        kind = e & 3
        if kind == 2:  # a section; bit 18: a 16 MiB supersection, physical bits 35..32 in 23..20, 39..36 in 8..5
            if e & (1 << 18):
                high = ((e >> 20) & 0xF) << 32 | ((e >> 5) & 0xF) << 36
                return (e & 0xFF000000) + high + (vaddr & 0xFFFFFF), steps
            return (e & 0xFFF00000) + (vaddr & 0xFFFFF), steps
        if kind != 1:
            raise AddressTranslationError(vaddr, f"PGD entry {e:#x} at {addr:#x} is not present")
        addr, pte = self._e32(e & ~0x3FF, (vaddr >> 12) & 255)  # a coarse table: 256 entries, 1 KiB
        steps.append(Step("PTE", addr, pte, shown=self._virt(addr)))
        if pte & 2:  # a small page (bit 0 is execute-never)
            return (pte & 0xFFFFF000) + (vaddr & 0xFFF), steps
        if pte & 3 == 1:  # a 64 KiB large page
            return (pte & 0xFFFF0000) + (vaddr & 0xFFFF), steps
        raise AddressTranslationError(vaddr, f"PTE entry {pte:#x} at {addr:#x} is not present")

    def _walk_lpae(self, vaddr: int) -> tuple[int, list[Step]]:
        steps: list[Step] = []
        table = self.root
        for name, shift, nbits in (("PGD", 30, 2), ("PMD", 21, 9), ("PTE", 12, 9)):
            addr, e = self._e64(table, (vaddr >> shift) & ((1 << nbits) - 1))
            steps.append(Step(name, addr, e))
            kind = e & 3
            if kind == 1 and shift != 12:  # a block: 1 GiB or 2 MiB
                size = 1 << shift
                return (e & LPAE_ADDR & ~(size - 1)) + (vaddr & (size - 1)), steps
            if kind != 3:
                raise AddressTranslationError(vaddr, f"{name} entry {e:#x} at {addr:#x} is not present")
            table = e & LPAE_ADDR
        return table + (vaddr & 0xFFF), steps

    def _leaf_size(self, leaf: Step) -> int:
        if self.lpae:
            return {"PGD": 1 << 30, "PMD": 1 << 21}.get(leaf.level, 4096)
        if leaf.level == "PGD":
            return 1 << 24 if leaf.entry & (1 << 18) else 1 << 20
        return 4096 if leaf.entry & 2 else 1 << 16


ARM = ArchInfo(
    name="arm",
    machines=("arm", "armv7l", "armv6l", "armv7", "armhf"),
    ptr_size=4,
    default_page_size=4096,
    byte_order="little",
    elf_machine=40,
    kernel_text_base=0xC0000000,
    translator=ArmTranslator,
    # pr_reg of arm: r0-r15 (r13 sp, r14 lr, r15 pc), cpsr, orig_r0
    registers=tuple(f"r{i}" for i in range(16)) + ("cpsr", "orig_r0"),
    kdump_pfn_offset=True,
    vtop_entry_format="08x",
)
