"""aarch64 (arm64): the kernel's address layout and the page-table walk of TTBR1 (kernel space):
4, 16 and 64 KiB granules, 2 to 5 levels, block mappings, 52-bit output addresses (LPA on 64 KiB
pages, LPA2 on 4 and 16 KiB pages) and pointer-authentication codes (docs/arm64.md).

Everything comes from VMCOREINFO; nothing depends on the kernel's version number:

* the granule is ``PAGESIZE``; the walk covers ``64 - TCR_EL1_T1SZ`` bits (the size the kernel
  really runs with) or ``VA_BITS`` when the kernel does not export T1SZ;
* the root table is ``swapper_pg_dir``, a kernel-image symbol: physical ``va - kimage_voffset``;
* the linear map starts at ``-(1 << VA_BITS)`` and maps ``PHYS_OFFSET`` there on kernels whose
  image lies in the upper half of kernel space (the layout since Linux 5.4); on older kernels it
  starts at ``-(1 << (VA_BITS - 1))``.  Which layout a dump has is read from where ``_stext`` is.
"""

from __future__ import annotations

from ..core.errors import AddressTranslationError
from ..core.vmcoreinfo import VmcoreInfo
from .base import ArchInfo, ByteOrder, GdbArch, ReadPhys, Step, TableEntries

MASK64 = (1 << 64) - 1
_NAMES = {5: ("PGD", "P4D", "PUD", "PMD", "PTE"), 4: ("PGD", "PUD", "PMD", "PTE"), 3: ("PGD", "PMD", "PTE"),
          2: ("PGD", "PTE")}


class Layout:
    """The kernel's virtual layout of one arm64 dump, from its VMCOREINFO.

    :ivar page_shift: the granule, log2.
    :ivar va_bits: the kernel's configured VA size (``NUMBER(VA_BITS)``).
    :ivar vabits_actual: the size it runs with (``64 - TCR_EL1_T1SZ``).
    :ivar kimage_voffset: kernel image virtual minus physical (None: not exported).
    :ivar phys_offset: the physical address the linear map starts with.
    :ivar page_offset: the linear map's first virtual address.
    :ivar flipped: the layout since 5.4 (linear map in the lower half of kernel space).
    :ivar pac_mask: the bits pointer authentication puts in kernel pointers (0: none).
    """

    def __init__(self, vi: VmcoreInfo, phys_base: int) -> None:
        ps = vi.page_size or 4096
        if ps not in (4096, 16384, 65536):
            raise AddressTranslationError(0, f"arm64 has no {ps}-byte pages")
        self.page_shift = ps.bit_length() - 1
        va_bits = vi.NUMBER.get("VA_BITS")
        if va_bits is None:
            raise AddressTranslationError(0, "VMCOREINFO has no NUMBER(VA_BITS)")
        t1sz = vi.NUMBER.get("TCR_EL1_T1SZ")
        self.va_bits = va_bits
        self.vabits_actual = 64 - t1sz if t1sz else va_bits
        if not 36 <= self.vabits_actual <= 52 or not 36 <= va_bits <= 52:
            raise AddressTranslationError(0, f"arm64 VA size {self.vabits_actual} (VA_BITS {va_bits}) is absurd")
        self.kimage_voffset = vi.number_u64("kimage_voffset")
        po = vi.number_u64("PHYS_OFFSET")
        self.phys_offset = po if po is not None else phys_base & MASK64
        stext = vi.SYMBOL.get("_stext", vi.SYMBOL.get("swapper_pg_dir", 0))
        # since 5.4 the kernel image (and vmalloc) sit in the upper half of kernel space
        self.flipped = bool(stext >> (self.vabits_actual - 1) & 1)
        if self.flipped:
            self.page_offset = -(1 << va_bits) & MASK64
        else:
            self.page_offset = (MASK64 << (va_bits - 1)) & MASK64
        self.pac_mask = vi.number_u64("KERNELPACMASK") or 0

    def is_linear(self, vaddr: int) -> bool:
        """``vaddr`` lies in the linear map of all physical memory."""
        if vaddr < self.page_offset:
            return False
        return not vaddr >> (self.vabits_actual - 1) & 1 if self.flipped else True

    def linear_to_phys(self, vaddr: int) -> int:
        return (vaddr - self.page_offset + self.phys_offset) & MASK64

    def image_to_phys(self, vaddr: int) -> int | None:
        """The physical address of a kernel-image address (None: no ``kimage_voffset``)."""
        if self.kimage_voffset is None:
            return None
        return (vaddr - self.kimage_voffset) & MASK64

    def strip_pac(self, ptr: int) -> int:
        """A kernel pointer without its authentication code (a signed return address)."""
        return _strip_pac(ptr, self.pac_mask)


class Aarch64Translator:
    """Kernel virtual to physical translation through the TTBR1 page tables.

    :param read_phys: reads ``n`` bytes at a physical address.
    :param vmcoreinfo: the dump's VMCOREINFO.
    :param phys_base: the dump's physical memory base (``PHYS_OFFSET`` when VMCOREINFO lacks it).
    """

    def __init__(self, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int,
                 byte_order: ByteOrder = "little") -> None:
        self._read_phys = read_phys
        lay = self.layout = Layout(vmcoreinfo, phys_base)
        shift = lay.page_shift
        self.table_size = 1 << shift
        self.bits_per_level = shift - 3
        va = lay.vabits_actual
        # the hardware walk: a level resolves page_shift - 3 bits; the first one what is left
        self.levels = -(-(va - shift) // self.bits_per_level)
        if self.levels not in _NAMES:
            raise AddressTranslationError(0, f"arm64 walk of {va} bits with {1 << shift}-byte pages is not possible")
        # 52-bit output addresses: LPA2 (4 and 16 KiB granules, 52-bit VA) keeps PA[51:50] in
        # descriptor bits 9:8; LPA (64 KiB) keeps PA[51:48] in bits 15:12
        self.lpa2 = shift < 16 and va == 52
        self.lpa64 = shift == 16 and (vmcoreinfo.NUMBER.get("MAX_PHYSMEM_BITS", 48) == 52 or va == 52)
        hi = 50 if self.lpa2 else 48
        self.oa_mask = ((1 << hi) - 1) & ~(self.table_size - 1)
        root_va = vmcoreinfo.SYMBOL.get("swapper_pg_dir")
        if root_va is None:
            raise AddressTranslationError(0, "no swapper_pg_dir in VMCOREINFO")
        root = lay.image_to_phys(root_va)
        if root is None:
            root = lay.linear_to_phys(root_va) if lay.is_linear(root_va) else None
        if root is None:
            raise AddressTranslationError(root_va, "VMCOREINFO has no kimage_voffset to find swapper_pg_dir")
        # a 64 KiB-page kernel built for 52 bits that runs with 48 points TTBR1 into its table,
        # at the entries a 48-bit walk starts with
        if shift == 16 and lay.va_bits == 52 and va == 48:
            root += ((1 << (52 - self._top_shift(52))) - (1 << (48 - self._top_shift(48)))) * 8
        if root & 7 or root >= 1 << 52:
            raise AddressTranslationError(root_va, f"the page table root (physical {root:#x}) is not a table address")
        self.root = root
        self._entry = TableEntries(read_phys, "little", self.table_size, keep=1024)

    def _top_shift(self, va: int) -> int:
        levels = -(-(va - self.layout.page_shift) // self.bits_per_level)
        return self.layout.page_shift + (levels - 1) * self.bits_per_level

    def _out(self, d: int) -> int:
        """The output address of descriptor ``d`` (a table's or a page's)."""
        a = d & self.oa_mask
        if self.lpa2:
            a |= (d >> 8 & 3) << 50
        elif self.lpa64:
            a |= (d >> 12 & 0xF) << 48
        return a

    def _walk(self, vaddr: int) -> tuple[int, list[Step], int]:
        """(physical address, entries read, size of the mapping) of ``vaddr``."""
        lay = self.layout
        if not vaddr >> 55 & 1:
            raise AddressTranslationError(vaddr, "is not a kernel address (bit 55 clear)")
        if (vaddr | ((1 << lay.vabits_actual) - 1)) != MASK64:
            raise AddressTranslationError(vaddr, f"lies outside the kernel's {lay.vabits_actual}-bit address space")
        steps: list[Step] = []
        names = _NAMES[self.levels]
        table = self.root
        bits = self.bits_per_level
        for i, name in enumerate(names):
            shift = lay.page_shift + (self.levels - 1 - i) * bits
            width = lay.vabits_actual - shift if i == 0 else bits
            addr, d = self._entry(table, (vaddr >> shift) & ((1 << width) - 1))
            steps.append(Step(name, addr, d))
            if not d & 1:
                raise AddressTranslationError(vaddr, f"{name} entry {d:#x} at {addr:#x} is not valid")
            size = 1 << shift
            if i == self.levels - 1:
                if not d & 2:
                    raise AddressTranslationError(vaddr, f"{name} entry {d:#x} at {addr:#x} is reserved")
                return self._out(d) + (vaddr & (size - 1)), steps, size
            if not d & 2:  # a block mapping
                return (self._out(d) & ~(size - 1)) + (vaddr & (size - 1)), steps, size
            table = self._out(d)
        raise AssertionError("unreachable")

    def walk(self, vaddr: int) -> tuple[int, list[Step]]:
        """Physical address of ``vaddr`` and the entries read on the way (none for the linear
        map, which needs no walk).

        :raises AddressTranslationError: ``vaddr`` is not mapped.
        """
        if self.layout.is_linear(vaddr):
            return self.layout.linear_to_phys(vaddr), []
        pa, steps, _ = self._walk(vaddr)
        return pa, steps

    def vtop(self, vaddr: int) -> int:
        return self.walk(vaddr)[0]

    def translate(self, vaddr: int) -> tuple[int, int]:
        """(physical address, bytes to the end of the page, block or linear map holding ``vaddr``)."""
        lay = self.layout
        if lay.is_linear(vaddr):
            # the linear map ends where the upper half of kernel space starts (flipped layout)
            end = (1 << 64) - (1 << (lay.vabits_actual - 1)) if lay.flipped else 1 << 64
            return lay.linear_to_phys(vaddr), end - vaddr
        pa, _, size = self._walk(vaddr)
        return pa, size - (vaddr & (size - 1))


def _strip_pac(ptr: int, mask: int) -> int:
    """``ptr`` without the authentication code in the bits of ``mask``: bit 55 tells a kernel
    pointer (the code's bits set back) from a user one (cleared)."""
    return ptr | mask if ptr >> 55 & 1 else ptr & ~mask & MASK64


def strip_pointer(ptr: int, vi: VmcoreInfo) -> int:
    """A saved kernel pointer without its pointer authentication code."""
    return _strip_pac(ptr, vi.number_u64("KERNELPACMASK") or 0)


def image_phys(vaddr: int, vi: VmcoreInfo, phys_base: int) -> int | None:
    """The physical address of a kernel-image address, without page tables."""
    try:
        lay = Layout(vi, phys_base)
    except AddressTranslationError:
        return None
    if lay.is_linear(vaddr):
        return lay.linear_to_phys(vaddr)
    return lay.image_to_phys(vaddr)


_CORE, _FPU, _PAUTH = "org.gnu.gdb.aarch64.core", "org.gnu.gdb.aarch64.fpu", "org.gnu.gdb.aarch64.pauth_v2"
_VEC = ('    <vector id="v2d" type="ieee_double" count="2"/>\n    <vector id="v2u" type="uint64" count="2"/>\n'
        '    <vector id="v4f" type="ieee_single" count="4"/>\n    <vector id="v4u" type="uint32" count="4"/>\n'
        '    <vector id="v8u" type="uint16" count="8"/>\n    <vector id="v16u" type="uint8" count="16"/>\n'
        '    <union id="aarch64v">\n      <field name="d" type="v2d"/>\n      <field name="du" type="v2u"/>\n'
        '      <field name="s" type="v4f"/>\n      <field name="su" type="v4u"/>\n      <field name="h" type="v8u"/>\n'
        '      <field name="b" type="v16u"/>\n      <field name="q" type="uint128"/>\n    </union>\n')
# the pointer authentication masks (gdb strips a saved return address's code with them): the
# kernel's KERNELPACMASK for all four.  gdb 14 and later read them (pauth_v2, with the masks
# of kernel addresses); gdb 13 skips the feature (its pauth feature clears the top bits of a
# kernel address instead of setting them).  .head.text is 64 KiB before _stext
GDB = GdbArch("aarch64", (*((f"x{i}", 64, "int", _CORE, f"x{i}") for i in range(31)),
                          ("sp", 64, "data_ptr", _CORE, "sp"), ("pc", 64, "code_ptr", _CORE, "pc"),
                          ("cpsr", 32, "int", _CORE, "pstate"),
                          *((f"v{i}", 128, "aarch64v", _FPU, None) for i in range(32)),
                          ("fpsr", 32, "int", _FPU, None), ("fpcr", 32, "int", _FPU, None),
                          *((n, 64, "int", _PAUTH, "KERNELPACMASK")
                            for n in ("pauth_dmask", "pauth_cmask", "pauth_dmask_high", "pauth_cmask_high"))),
              types=((_FPU, _VEC),), text_to_stext=0x10000)

AARCH64 = ArchInfo(
    name="aarch64",
    machines=("aarch64", "arm64"),
    ptr_size=8,
    default_page_size=4096,
    byte_order="little",
    elf_machine=183,
    translator=Aarch64Translator,
    image_to_phys=image_phys,
    phys_base_number="PHYS_OFFSET",
    vtop_prints_walk=False,
    registers=(*(f"x{i}" for i in range(31)), "sp", "pc", "pstate"),
    strip_pointer=strip_pointer,
    # SECTION_SIZE_BITS 30 and MAX_PHYSMEM_BITS 48 (52 with 52-bit physical addresses), for
    # kernels before VMCOREINFO exported them
    sparsemem=(30, 48, 52),
    gdb=GDB,
)
