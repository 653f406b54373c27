"""ia32 (32-bit x86): the direct map and the page-table walk, with PAE (three levels of 64-bit
entries, 2 MiB large pages) and without (two levels of 32-bit entries, 4 MiB large pages):
docs/ia32.md.

The kernel maps low memory linearly at ``PAGE_OFFSET`` (3 GiB unless the kernel was built with
another split); vmalloc, modules and the fixmap are walked from ``swapper_pg_dir``.  VMCOREINFO
gives neither ``PAGE_OFFSET`` nor, before its ``CONFIG_X86_PAE`` line, the paging mode: both are
found by the page tables themselves (the one choice under which ``swapper_pg_dir`` maps its own
address to itself).  Where low memory ends is where the first vmalloc area starts
(``vmap_area_list``), as makedumpfile reads it.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..core.errors import AddressTranslationError
from ..core.vmcoreinfo import VmcoreInfo
from .base import ArchInfo, Step
from .linear32 import Linear32Translator

PAGE_PRESENT = 0x001
PAGE_PSE = 0x080
# PAE entries hold physical address bits 12..51 (bit 63 is NX)
PAE_ADDR = ((1 << 52) - 1) & ~0xFFF
# the kernel's choices of PAGE_OFFSET (VMSPLIT_3G, 3G_OPT, 2G, 2G_OPT, 1G), the usual one first
PAGE_OFFSETS = (0xC0000000, 0xB0000000, 0x80000000, 0x78000000, 0x40000000)


class Ia32Translator(Linear32Translator):
    """Kernel virtual to physical translation of a 32-bit x86 kernel (physical 0 at PAGE_OFFSET).

    :ivar pae: the tables are PAE's.
    """

    choices_said = "PAGE_OFFSET, with PAE or without"

    @property
    def pae(self) -> bool:
        return self.wide

    def _choices(self, vi: VmcoreInfo, pgd: int, phys_base: int) -> Iterator[tuple[bool, int, int]]:
        modes = (True,) if vi.lines.get("CONFIG_X86_PAE") == "y" else (True, False)
        return ((pae, po, 0) for pae in modes for po in PAGE_OFFSETS if po <= pgd)

    def _walk(self, vaddr: int) -> tuple[int, list[Step]]:
        steps: list[Step] = []
        if self.pae:
            addr, e = self._e64(self.root, (vaddr >> 30) & 3)
            steps.append(Step("PGD", addr, e, shown=addr + self.page_offset))
            if not e & PAGE_PRESENT:
                raise AddressTranslationError(vaddr, f"PGD entry {e:#x} at {addr:#x} is not present")
            addr, e = self._e64(e & PAE_ADDR, (vaddr >> 21) & 511)
            steps.append(Step("PMD", addr, e))
            if not e & PAGE_PRESENT:
                raise AddressTranslationError(vaddr, f"PMD entry {e:#x} at {addr:#x} is not present")
            if e & PAGE_PSE:
                return (e & PAE_ADDR & ~((1 << 21) - 1)) + (vaddr & ((1 << 21) - 1)), steps
            addr, e = self._e64(e & PAE_ADDR, (vaddr >> 12) & 511)
            steps.append(Step("PTE", addr, e))
            if not e & PAGE_PRESENT:
                raise AddressTranslationError(vaddr, f"PTE entry {e:#x} at {addr:#x} is not present")
            return (e & PAE_ADDR) + (vaddr & 0xFFF), steps
        addr, e = self._e32(self.root, (vaddr >> 22) & 1023)
        steps.append(Step("PGD", addr, e))
        if not e & PAGE_PRESENT:
            raise AddressTranslationError(vaddr, f"PGD entry {e:#x} at {addr:#x} is not present")
        if e & PAGE_PSE:  # a 4 MiB page; PSE-36 puts physical bits 32..39 in bits 13..20
            return (e & 0xFFC00000) + (((e >> 13) & 0xFF) << 32) + (vaddr & 0x3FFFFF), steps
        addr, e = self._e32(e & 0xFFFFF000, (vaddr >> 12) & 1023)
        steps.append(Step("PTE", addr, e))
        if not e & PAGE_PRESENT:
            raise AddressTranslationError(vaddr, f"PTE entry {e:#x} at {addr:#x} is not present")
        return (e & 0xFFFFF000) + (vaddr & 0xFFF), steps

    def _leaf_size(self, leaf: Step) -> int:
        if leaf.entry & PAGE_PSE and leaf.level != "PTE":
            return 1 << 21 if self.pae else 1 << 22
        return 4096


IA32 = ArchInfo(
    name="ia32",
    machines=("i386", "i486", "i586", "i686"),
    ptr_size=4,
    default_page_size=4096,
    byte_order="little",
    elf_machine=3,
    kernel_text_base=0xC0000000,
    translator=Ia32Translator,
    # no SPARSEMEM default: its section size differs with PAE and without, and a kernel of either
    # that is not FLATMEM (Debian's are) says it in VMCOREINFO
    # struct user_regs_struct of i386, as the kernel saves it in pr_reg
    int64_align=4,
    registers=("ebx", "ecx", "edx", "esi", "edi", "ebp", "eax", "ds", "es", "fs", "gs", "orig_eax", "eip", "cs",
               "eflags", "esp", "ss"),
)
