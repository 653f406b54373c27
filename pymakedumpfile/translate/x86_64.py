"""x86_64: the kernel image mapping and the page-table walk (4- and 5-level paging, 1 GiB and
2 MiB pages, the memory-encryption bit): docs/formats.md §6.
"""

from __future__ import annotations

from ..core.errors import AddressTranslationError
from ..core.vmcoreinfo import VmcoreInfo
from .base import ArchInfo, ByteOrder, GdbArch, ReadPhys, Step, TableEntries

START_KERNEL_MAP = 0xFFFFFFFF80000000
ENTRY_MASK = ~0xFFF0000000000FFF & 0xFFFFFFFFFFFFFFFF
PAGE_PRESENT = 0x1
PAGE_PSE = 0x80
PUD_SIZE = 1 << 30
PMD_SIZE = 1 << 21



class X86_64Translator:
    """Kernel virtual to physical translation through the kernel page tables.

    :param read_phys: reads ``n`` bytes at a physical address.
    :param vmcoreinfo: the dump's VMCOREINFO.
    :param phys_base: the kernel's ``phys_base`` (may be negative).
    """

    def __init__(self, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int,
                 byte_order: ByteOrder = "little") -> None:
        self._read_phys = read_phys
        vi = vmcoreinfo
        root_va = vi.SYMBOL.get("init_level4_pgt", vi.SYMBOL.get("init_top_pgt", vi.SYMBOL.get("swapper_pg_dir")))
        if root_va is None:
            raise AddressTranslationError(0, "no init_top_pgt, init_level4_pgt or swapper_pg_dir in VMCOREINFO")
        self.phys_base = phys_base
        self.root = root_va - START_KERNEL_MAP + phys_base
        if self.root < 0 or self.root & 0xFFF:
            raise AddressTranslationError(
                root_va, f"the page table root (physical {self.root:#x}) is not a page-aligned address"
            )
        self.levels = 5 if vi.NUMBER.get("pgtable_l5_enabled") == 1 else 4
        self.entry_mask = ENTRY_MASK & ~(vi.NUMBER.get("sme_mask", 0) & 0xFFFFFFFFFFFFFFFF)
        self._entry = TableEntries(read_phys, "little")

    def walk(self, vaddr: int) -> tuple[int, list[Step]]:
        """Physical address of ``vaddr`` and the entries read on the way.

        :raises AddressTranslationError: an entry is not present.
        """
        steps: list[Step] = []
        table = self.root
        names = ["PGD", "P4D", "PUD", "PMD", "PTE"] if self.levels == 5 else ["PGD", "PUD", "PMD", "PTE"]
        shifts = [48, 39, 30, 21, 12] if self.levels == 5 else [39, 30, 21, 12]
        for name, shift in zip(names, shifts):
            addr, e = self._entry(table, (vaddr >> shift) & 511)
            steps.append(Step(name, addr, e))
            if not e & PAGE_PRESENT:
                raise AddressTranslationError(vaddr, f"{name} entry {e:#x} at {addr:#x} is not present")
            if shift == 30 and e & PAGE_PSE:
                return (e & self.entry_mask & ~(PUD_SIZE - 1)) + (vaddr & (PUD_SIZE - 1)), steps
            if shift == 21 and e & PAGE_PSE:
                return (e & self.entry_mask & ~(PMD_SIZE - 1)) + (vaddr & (PMD_SIZE - 1)), steps
            table = e & self.entry_mask
        return table + (vaddr & 0xFFF), steps

    def vtop(self, vaddr: int) -> int:
        return self.walk(vaddr)[0]

    def translate(self, vaddr: int) -> tuple[int, int]:
        """(physical address, bytes to the end of the page or huge page mapping ``vaddr``)."""
        pa, steps = self.walk(vaddr)
        leaf = steps[-1]
        size = {"PUD": PUD_SIZE, "PMD": PMD_SIZE}.get(leaf.level, 4096) if leaf.entry & PAGE_PSE else 4096
        return pa, size - (vaddr & (size - 1))


def _gdb_x86_64() -> GdbArch:
    core, sse = "org.gnu.gdb.i386.core", "org.gnu.gdb.i386.sse"
    regs: list[tuple[str, int, str, str, str | None]] = []
    for n in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", *(f"r{i}" for i in range(8, 16)), "rip"):
        regs.append((n, 64, "code_ptr" if n == "rip" else "data_ptr" if n in ("rbp", "rsp") else "int64", core, n))
    regs.append(("eflags", 32, "int32", core, "rflags"))
    regs += [(n, 32, "int32", core, n) for n in ("cs", "ss", "ds", "es", "fs", "gs")]
    regs += [(f"st{i}", 80, "i387_ext", core, None) for i in range(8)]
    regs += [(n, 32, "int", core, None) for n in ("fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff",
                                                   "fop")]
    regs += [(f"xmm{i}", 128, "vec128", sse, None) for i in range(16)]
    regs.append(("mxcsr", 32, "int", sse, None))
    regs.append(("orig_rax", 64, "int", "org.gnu.gdb.i386.linux", "orig_rax"))
    regs += [(n, 64, "int", "org.gnu.gdb.i386.segments", n) for n in ("fs_base", "gs_base")]
    vec = ('    <vector id="v4f" type="ieee_single" count="4"/>\n    <vector id="v2d" type="ieee_double" count="2"/>\n'
           '    <vector id="v16i8" type="int8" count="16"/>\n    <vector id="v8i16" type="int16" count="8"/>\n'
           '    <vector id="v4i32" type="int32" count="4"/>\n    <vector id="v2i64" type="int64" count="2"/>\n'
           '    <union id="vec128">\n      <field name="v4_float" type="v4f"/>\n'
           '      <field name="v2_double" type="v2d"/>\n      <field name="v16_int8" type="v16i8"/>\n'
           '      <field name="v8_int16" type="v8i16"/>\n      <field name="v4_int32" type="v4i32"/>\n'
           '      <field name="v2_int64" type="v2i64"/>\n      <field name="uint128" type="uint128"/>\n'
           '    </union>\n')
    return GdbArch("i386:x86-64", tuple(regs), ((sse, vec),))


X86_64 = ArchInfo(
    name="x86_64",
    machines=("x86_64", "amd64"),
    ptr_size=8,
    default_page_size=4096,
    byte_order="little",
    elf_machine=62,
    kernel_text_base=START_KERNEL_MAP,
    translator=X86_64Translator,
    # SECTION_SIZE_BITS 27, MAX_PHYSMEM_BITS 46 (52 with 5-level paging), for kernels before
    # VMCOREINFO exported them
    sparsemem=(27, 46, 52),
    registers=("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
               "rdi", "orig_rax", "rip", "cs", "rflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs"),
    gdb=_gdb_x86_64(),
)
