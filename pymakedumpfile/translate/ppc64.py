"""ppc64 and ppc64le (Book3S-64): the kernel's linear map, vmemmap and its software page tables,
radix and hash MMUs, 64 KiB and 4 KiB pages (docs/ppc64.md).

* Below the start of the kernel's virtual area, an address is ``PAGE_OFFSET + physical`` (the
  linear map, which holds the kernel image too).
* vmemmap is found through the kernel's ``vmemmap_list`` (each backing block's virtual and
  physical start) when the list has entries; the hash MMU keeps vmemmap out of the Linux page
  tables, so the list is the only way there.
* Everything else is walked from ``swapper_pg_dir``: four levels whose index sizes depend on the
  MMU and the page size.  Page-table entries are big-endian even on ppc64le; the kernel's other
  data follows the dump's byte order.

Radix or hash: ``NUMBER(RADIX_MMU)`` when VMCOREINFO has it (Linux 6.7 and later); else the
entries of ``swapper_pg_dir`` say it, since a radix directory entry carries the index size of the
table it points to in its low bits and a hash one does not.
"""

from __future__ import annotations

import bisect
import struct

from ..core.errors import AddressTranslationError
from ..core.vmcoreinfo import VmcoreInfo
from .base import ArchInfo, ByteOrder, ReadPhys, Step, TableEntries

MASK64 = (1 << 64) - 1
PAGE_OFFSET = 0xC000000000000000
PRESENT = 1 << 63
LEAF = 1 << 62  # _PAGE_PTE: set in a leaf entry at any level
TABLE_FLAGS = 0xC0000000000000FF  # what a directory entry holds besides the next table's address
RADIX_NLS = 0x1F  # a radix directory entry's next-level size
PA_BITS = 53

# (page shift, radix) -> index bits of the PTE, PMD, PUD and PGD levels
GEOMETRY = {
    (16, True): (5, 9, 9, 13),
    (16, False): (8, 10, 10, 8),
    (12, True): (9, 9, 9, 13),
    (12, False): (9, 7, 9, 9),
}
# where the kernel's virtual area (vmalloc, I/O, vmemmap) starts; the linear map is below
KERN_VIRT_START = {
    (16, True): 0xC008000000000000,
    (16, False): 0xC008000000000000,
    (12, True): 0xC008000000000000,
    (12, False): 0xC0003D0000000000,
}
_LEVELS = ("PGD", "PUD", "PMD", "PTE")


def image_to_phys(vaddr: int, vi: VmcoreInfo, phys_base: int) -> int | None:
    """The kernel image is in the linear map."""
    if PAGE_OFFSET <= vaddr < KERN_VIRT_START[(12, False)]:
        return vaddr - PAGE_OFFSET
    return None


class Ppc64Translator:
    """Kernel virtual to physical translation of a Book3S-64 kernel.

    :param read_phys: reads ``n`` bytes at a physical address.
    :param vmcoreinfo: the dump's VMCOREINFO.
    :param phys_base: unused (the linear map starts at physical 0).
    :param byte_order: the dump's (of ``vmemmap_list`` and the kernel's integers; page-table
        entries are big-endian whatever it is).
    """

    def __init__(self, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int,
                 byte_order: ByteOrder = "big") -> None:
        self._read_phys = read_phys
        self._order = ">" if byte_order == "big" else "<"
        self._entry = TableEntries(read_phys, "big")
        vi = vmcoreinfo
        self.page_shift = (vi.page_size or 65536).bit_length() - 1
        if self.page_shift not in (12, 16):
            raise AddressTranslationError(0, f"page size {1 << self.page_shift} is not one of ppc64's (4 or 64 KiB)")
        root_va = vi.SYMBOL.get("swapper_pg_dir")
        if root_va is None or not PAGE_OFFSET <= root_va:
            raise AddressTranslationError(0, "no swapper_pg_dir in VMCOREINFO")
        self.root = root_va - PAGE_OFFSET
        radix = vi.NUMBER.get("RADIX_MMU")
        self.radix = bool(radix) if radix is not None else self._radix_from_tables()
        key = (self.page_shift, self.radix)
        self.bits = GEOMETRY[key]
        shifts = [self.page_shift]
        for b in self.bits[:3]:
            shifts.append(shifts[-1] + b)
        self.shifts = shifts  # PTE, PMD, PUD, PGD
        self.virt_start = KERN_VIRT_START[key]
        vs = vi.number_u64("VMALLOC_START")
        if vs is not None and PAGE_OFFSET < vs < self.virt_start:
            self.virt_start = vs
        self.rpn_mask = ((1 << PA_BITS) - 1) & ~((1 << self.page_shift) - 1)
        self.vmemmap = self._vmemmap_list(vi)
        self._vm_starts = [v for v, _, _ in self.vmemmap]

    # ---- kernel data in the dump's byte order (linear-map addresses) ----
    def _int(self, vaddr: int, size: int) -> int:
        fmt = self._order + {4: "I", 8: "Q"}[size]
        return int(struct.unpack(fmt, self._read_phys(vaddr - PAGE_OFFSET, size))[0])

    def _vmemmap_list(self, vi: VmcoreInfo) -> list[tuple[int, int, int]]:
        """(virtual start, physical start, size) of each vmemmap backing block, sorted."""
        head = vi.SYMBOL.get("vmemmap_list")
        psize_sym, defs = vi.SYMBOL.get("mmu_vmemmap_psize"), vi.SYMBOL.get("mmu_psize_defs")
        off = {k: vi.OFFSET.get(f"vmemmap_backing.{k}") for k in ("list", "phys", "virt_addr")}
        shift_off, def_size = vi.OFFSET.get("mmu_psize_def.shift"), vi.SIZE.get("mmu_psize_def")
        if None in (head, psize_sym, defs, shift_off, def_size) or None in off.values():
            return []
        assert head is not None and psize_sym is not None and defs is not None
        assert shift_off is not None and def_size is not None
        try:
            idx = self._int(psize_sym, 4)
            shift = self._int(defs + idx * def_size + shift_off, 4)
            if not 12 <= shift <= 40:
                return []
            out: list[tuple[int, int, int]] = []
            seen: set[int] = set()
            p = self._int(head, 8)
            while p and p not in seen and len(seen) < 1 << 20:
                if not PAGE_OFFSET <= p < self.virt_start:
                    break
                seen.add(p)
                virt, phys = self._int(p + off["virt_addr"], 8), self._int(p + off["phys"], 8)  # type: ignore[operator]
                out.append((virt, phys, 1 << shift))
                p = self._int(p + off["list"], 8)  # type: ignore[operator]
        except (OSError, ValueError, struct.error, AddressTranslationError):
            return []
        return sorted(out)

    # ---- page tables (big-endian entries: self._entry) ----
    def _radix_from_tables(self) -> bool:
        """A radix directory entry holds the index size of the next table in its low bits; a
        hash one holds the next table's address and the valid bit only.  The first present
        entry of ``swapper_pg_dir`` that is not a leaf decides (hash's directory has 256
        entries on 64 KiB pages, radix's 8192: the first 256 are in both)."""
        for i in range(256):
            e = self._entry(self.root, i)[1]
            if e and not e & LEAF:
                return bool(e & RADIX_NLS)
        return False

    def _walk(self, vaddr: int) -> tuple[int, list[Step], int]:
        steps: list[Step] = []
        table = self.root
        for level in range(4):
            shift = self.shifts[3 - level]
            index = (vaddr >> shift) & ((1 << self.bits[3 - level]) - 1)
            addr, e = self._entry(table, index)
            steps.append(Step(_LEVELS[level], addr, e))
            if not e:
                raise AddressTranslationError(vaddr, f"{_LEVELS[level]} entry at {addr:#x} is empty")
            if e & LEAF:
                if level < 3 or e & PRESENT:
                    size = 1 << shift
                    return (e & self.rpn_mask & ~(size - 1)) | (vaddr & (size - 1)), steps, size
                raise AddressTranslationError(vaddr, f"PTE {e:#x} at {addr:#x} is not present")
            if level == 3:
                raise AddressTranslationError(vaddr, f"PTE {e:#x} at {addr:#x} is not a page")
            table = e & ~TABLE_FLAGS & MASK64
        raise AssertionError("unreachable")

    def _direct(self, vaddr: int) -> tuple[int, int] | None:
        """(physical address, bytes to the end of the mapping) where no walk is needed."""
        if PAGE_OFFSET <= vaddr < self.virt_start:
            pa = vaddr - PAGE_OFFSET
            return pa, (1 << self.page_shift) - (pa & ((1 << self.page_shift) - 1))
        i = bisect.bisect_right(self._vm_starts, vaddr) - 1
        if i >= 0:
            virt, phys, size = self.vmemmap[i]
            if vaddr < virt + size:
                return phys + vaddr - virt, virt + size - vaddr
        return None

    def walk(self, vaddr: int) -> tuple[int, list[Step]]:
        """Physical address of ``vaddr`` and the page-table entries read on the way (none for the
        linear map and a vmemmap block of ``vmemmap_list``).

        :raises AddressTranslationError: ``vaddr`` is not mapped.
        """
        d = self._direct(vaddr)
        if d is not None:
            return d[0], []
        pa, steps, _ = self._walk(vaddr)
        return pa, steps

    def vtop(self, vaddr: int) -> int:
        return self.walk(vaddr)[0]

    def translate(self, vaddr: int) -> tuple[int, int]:
        d = self._direct(vaddr)
        if d is not None:
            return d
        pa, _, size = self._walk(vaddr)
        return pa, size - (vaddr & (size - 1))


# pr_reg of a ppc64 PRSTATUS note: struct pt_regs, 44 words of 48 (the last 4 are padding)
PPC64_REGISTERS = (*(f"r{i}" for i in range(32)), "nip", "msr", "orig_gpr3", "ctr", "link", "xer", "ccr", "softe",
                   "trap", "dar", "dsisr", "result")

PPC64 = ArchInfo(
    name="ppc64",
    machines=("ppc64", "ppc64le"),
    ptr_size=8,
    default_page_size=65536,
    byte_order="big",
    elf_machine=21,
    translator=Ppc64Translator,
    image_to_phys=image_to_phys,
    vtop_prints_walk=False,
    registers=PPC64_REGISTERS,
    # SECTION_SIZE_BITS 24 and MAX_PHYSMEM_BITS 46, for kernels before VMCOREINFO exported them
    sparsemem=(24, 46, 46),
)
