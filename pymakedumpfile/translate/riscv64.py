"""riscv64: the kernel's address layout as VMCOREINFO gives it, and the Sv39/Sv48/Sv57 walk
(docs/riscv64.md).

VMCOREINFO (Linux 5.19 and later) names the layout: ``NUMBER(VA_BITS)`` (39, 48 or 57: three,
four or five levels), ``NUMBER(PAGE_OFFSET)`` and ``NUMBER(phys_ram_base)`` (the linear map),
``NUMBER(KERNEL_LINK_ADDR)`` and ``NUMBER(va_kernel_pa_offset)`` (the kernel image), and the
vmalloc, vmemmap and modules areas, which are walked from ``swapper_pg_dir``.
"""

from __future__ import annotations

from ..core.errors import AddressTranslationError
from ..core.vmcoreinfo import VmcoreInfo
from .base import ArchInfo, ByteOrder, ReadPhys, Step, TableEntries

MASK64 = (1 << 64) - 1
VALID, LEAF = 0x1, 0xE  # V; R, W or X: a leaf
PPN_MASK = (1 << 44) - 1  # bits 53..10 of an entry: the physical page number
NAMES = {3: ("PGD", "PMD", "PTE"), 4: ("PGD", "PUD", "PMD", "PTE"), 5: ("PGD", "P4D", "PUD", "PMD", "PTE")}


def _number(vi: VmcoreInfo, name: str) -> int | None:
    v = vi.number_u64(name)
    return v & MASK64 if v is not None else None


class Layout:
    """The areas of the kernel's address space, from VMCOREINFO."""

    def __init__(self, vi: VmcoreInfo) -> None:
        need = ("VA_BITS", "PAGE_OFFSET", "phys_ram_base", "KERNEL_LINK_ADDR", "va_kernel_pa_offset")
        got = {n: _number(vi, n) for n in need}
        missing = [n for n, v in got.items() if v is None]
        if missing:
            raise AddressTranslationError(0, f"VMCOREINFO lacks NUMBER({missing[0]}) (Linux 5.19 and later give it)")
        self.va_bits = int(got["VA_BITS"] or 0)
        if self.va_bits not in (39, 48, 57):
            raise AddressTranslationError(0, f"NUMBER(VA_BITS) {self.va_bits} is not Sv39, Sv48 or Sv57's")
        self.page_offset, self.phys_ram_base = int(got["PAGE_OFFSET"] or 0), int(got["phys_ram_base"] or 0)
        self.kernel_link = int(got["KERNEL_LINK_ADDR"] or 0)
        self.kernel_pa_offset = int(got["va_kernel_pa_offset"] or 0)
        # areas above PAGE_OFFSET that are not linear (the layout puts vmalloc below it on 6.x)
        self.walked = [(a, b) for a, b in ((_number(vi, "VMALLOC_START"), _number(vi, "VMALLOC_END")),
                                           (_number(vi, "VMEMMAP_START"), _number(vi, "VMEMMAP_END")),
                                           (_number(vi, "MODULES_VADDR"), _number(vi, "MODULES_END")))
                       if a is not None and b is not None]

    def direct(self, vaddr: int) -> int | None:
        """The physical address of a kernel-image or linear-map address; None for the others."""
        if vaddr >= self.kernel_link:
            return (vaddr - self.kernel_pa_offset) & MASK64
        if vaddr >= self.page_offset and not any(a <= vaddr < b for a, b in self.walked):
            return vaddr - self.page_offset + self.phys_ram_base
        return None


class Riscv64Translator:
    """Kernel virtual to physical translation of a riscv64 kernel."""

    def __init__(self, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int,
                 byte_order: ByteOrder = "little") -> None:
        self.layout = Layout(vmcoreinfo)
        pgd = vmcoreinfo.SYMBOL.get("swapper_pg_dir")
        if pgd is None:
            raise AddressTranslationError(0, "no swapper_pg_dir in VMCOREINFO")
        root = self.layout.direct(pgd)
        if root is None or root & 0xFFF:
            raise AddressTranslationError(pgd, "swapper_pg_dir is not a page of the kernel image or linear map")
        self.root = root
        self.levels = {39: 3, 48: 4, 57: 5}[self.layout.va_bits]
        self._entry = TableEntries(read_phys, "little")

    def _walk(self, vaddr: int) -> tuple[int, list[Step], int]:
        """(physical address, steps, size of the mapping)."""
        steps: list[Step] = []
        table = self.root
        names = NAMES[self.levels]
        for i, name in enumerate(names):
            shift = 12 + 9 * (self.levels - 1 - i)
            addr, e = self._entry(table, (vaddr >> shift) & 511)
            steps.append(Step(name, addr, e))
            if not e & VALID:
                raise AddressTranslationError(vaddr, f"{name} entry {e:#x} at {addr:#x} is not present")
            frame = ((e >> 10) & PPN_MASK) << 12
            if e & LEAF:
                size = 1 << shift
                return (frame & ~(size - 1)) + (vaddr & (size - 1)), steps, size
            table = frame
        raise AddressTranslationError(vaddr, f"PTE entry at {steps[-1].entry_addr:#x} is not a leaf")

    def walk(self, vaddr: int) -> tuple[int, list[Step]]:
        """Physical address of ``vaddr`` and the entries read: none for the kernel image and the
        linear map, which VMCOREINFO's offsets translate (as makedumpfile does).

        :raises AddressTranslationError: ``vaddr`` is not mapped."""
        d = self.layout.direct(vaddr)
        if d is not None:
            return d, []
        pa, steps, _ = self._walk(vaddr)
        return pa, steps

    def vtop(self, vaddr: int) -> int:
        return self.walk(vaddr)[0]

    def translate(self, vaddr: int) -> tuple[int, int]:
        """(physical address, bytes to the end of the page, or of the linear area, of ``vaddr``)."""
        d = self.layout.direct(vaddr)
        if d is not None:
            return d, 4096 - (vaddr & 0xFFF)
        pa, _, size = self._walk(vaddr)
        return pa, size - (vaddr & (size - 1))


def _image_to_phys(vaddr: int, vi: VmcoreInfo, phys_base: int) -> int | None:
    try:
        return Layout(vi).direct(vaddr)
    except AddressTranslationError:
        return None


RISCV64 = ArchInfo(
    name="riscv64",
    machines=("riscv64",),
    ptr_size=8,
    default_page_size=4096,
    byte_order="little",
    elf_machine=243,
    translator=Riscv64Translator,
    image_to_phys=_image_to_phys,
    phys_base_number="phys_ram_base",
    vtop_prints_walk=False,
    sparsemem=(27, 56, 56),
    # struct user_regs_struct: pc, then x1..x31 by their ABI names
    registers=("pc", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5", "a6",
               "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6"),
)
