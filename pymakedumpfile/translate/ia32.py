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

import struct

from ..core.errors import AddressTranslationError, DumpError
from ..core.vmcoreinfo import VmcoreInfo
from .base import ArchInfo, ByteOrder, ReadPhys, Step, TableEntries, first_vmalloc

PAGE_PRESENT = 0x001
PAGE_PSE = 0x080
# PAE entries hold physical address bits 12..51 (bit 63 is NX)
PAE_ADDR = ((1 << 52) - 1) & ~0xFFF
# the kernel's choices of PAGE_OFFSET (VMSPLIT_3G, 3G_OPT, 2G, 2G_OPT, 1G), the usual one first
PAGE_OFFSETS = (0xC0000000, 0xB0000000, 0x80000000, 0x78000000, 0x40000000)
MASK32 = 0xFFFFFFFF


class Ia32Translator:
    """Kernel virtual to physical translation of a 32-bit x86 kernel.

    :ivar pae: the tables are PAE's.
    :ivar page_offset: where physical 0 is mapped.
    :ivar lowmem_end: the end of the linear map (the first vmalloc address), None when it cannot
        be read (then every address is walked).
    """

    def __init__(self, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int,
                 byte_order: ByteOrder = "little") -> None:
        vi = vmcoreinfo
        self._read_phys = read_phys
        pgd = vi.SYMBOL.get("swapper_pg_dir")
        if pgd is None:
            raise AddressTranslationError(0, "no swapper_pg_dir in VMCOREINFO")
        self._e64 = TableEntries(read_phys, "little")
        self._e32 = TableEntries(read_phys, "little", entry_size=4)
        said = vi.lines.get("CONFIG_X86_PAE")
        modes = (True,) if said == "y" else (True, False)
        for pae in modes:
            for po in PAGE_OFFSETS:
                if pgd < po:
                    continue
                self.pae, self.page_offset, self.root = pae, po, pgd - po
                try:
                    if self._walk(pgd)[0] == self.root:
                        break
                except (AddressTranslationError, DumpError, OSError):
                    pass
            else:
                continue
            break
        else:
            raise AddressTranslationError(pgd, "swapper_pg_dir maps itself under no PAGE_OFFSET, with PAE or without")
        self.lowmem_end = first_vmalloc(vi, lambda va: self._u32(self._walk(va)[0]), self.page_offset)

    def _u32(self, paddr: int) -> int:
        return int(struct.unpack("<I", self._read_phys(paddr, 4))[0])

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

    def _linear(self, vaddr: int) -> bool:
        return self.lowmem_end is not None and self.page_offset <= vaddr < self.lowmem_end

    def walk(self, vaddr: int) -> tuple[int, list[Step]]:
        """Physical address of ``vaddr`` and the entries read on the way: none for an address of
        the linear map, which needs no table.

        :raises AddressTranslationError: ``vaddr`` is not mapped."""
        if not 0 <= vaddr <= MASK32:
            raise AddressTranslationError(vaddr, "not a 32-bit address")
        if self._linear(vaddr):
            return vaddr - self.page_offset, []
        return self._walk(vaddr)

    def vtop(self, vaddr: int) -> int:
        return self.walk(vaddr)[0]

    def translate(self, vaddr: int) -> tuple[int, int]:
        """(physical address, bytes to the end of the linear map or of the page mapping ``vaddr``)."""
        if self._linear(vaddr):
            assert self.lowmem_end is not None
            return vaddr - self.page_offset, self.lowmem_end - vaddr
        pa, steps = self._walk(vaddr)
        leaf = steps[-1]
        size = 4096
        if leaf.entry & PAGE_PSE and leaf.level != "PTE":
            size = 1 << 21 if self.pae else 1 << 22
        return pa, size - (vaddr & (size - 1))


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
