"""s390x: the kernel's address layout and the DAT walk (region-first, -second and -third tables,
segment and page tables; 1 MiB and 2 GiB large pages), all big-endian (docs/s390x.md).

Two layouts, told apart by the dump itself, never by a version number:

* until Linux 6.10 kernel virtual addresses of the direct map and the image are physical ones;
* since, VMCOREINFO has ``IDENTITYBASE`` (where the direct map of physical 0 starts),
  ``KERNELOFFSET`` and ``KERNELOFFPHYS`` (the image's virtual and physical start); lowcore
  (below 0x2000) and the amode31 section (``SAMODE31``..``EAMODE31``) stay 1:1.

Anything else (vmalloc, modules, vmemmap) is walked from ``swapper_pg_dir``, whose first entry's
type bits say how many region levels the kernel uses.
"""

from __future__ import annotations

import struct

from ..core.errors import AddressTranslationError
from ..core.vmcoreinfo import VmcoreInfo
from .base import ArchInfo, ByteOrder, ReadPhys, Step, TableEntries

MASK64 = (1 << 64) - 1
LOWCORE_SIZE = 0x2000
CRST_SIZE = 2048 * 8  # region and segment tables
PT_SIZE = 256 * 8  # page tables
INVALID = 0x20  # region and segment entries
PTE_INVALID = 0x400
LARGE = 0x400  # format control: a 1 MiB segment or a 2 GiB region-third page
_Q = struct.Struct(">Q")
# level 0 is the segment table; 1, 2, 3 are region-third, -second, -first
_LEVEL_NAMES = ("SEG", "R3", "R2", "R1")


def _hex_key(vi: VmcoreInfo, key: str) -> int | None:
    """A plain VMCOREINFO key in bare hex (s390x writes ``IDENTITYBASE=3ffe0000000``)."""
    v = vi.lines.get(key)
    if v is None:
        return None
    try:
        return int(v.strip(), 16) & MASK64
    except ValueError:
        return None


class Layout:
    """Where the direct map, the image and the 1:1 areas are.

    :ivar identity_base: virtual address of physical 0 in the direct map (0: the old layout).
    :ivar image_virt: the image's virtual start (``KERNELOFFSET``), None in the old layout.
    :ivar image_phys: its physical start (``KERNELOFFPHYS``).
    :ivar amode31: [start, end) of the amode31 section, mapped 1:1.
    """

    def __init__(self, vi: VmcoreInfo) -> None:
        self.identity_base = _hex_key(vi, "IDENTITYBASE")
        self.image_virt = _hex_key(vi, "KERNELOFFSET") if self.identity_base is not None else None
        self.image_phys = _hex_key(vi, "KERNELOFFPHYS")
        self.amode31 = (_hex_key(vi, "SAMODE31") or 0, _hex_key(vi, "EAMODE31") or 0)

    @property
    def split(self) -> bool:
        """Virtual and physical addresses differ (Linux 6.10 and later)."""
        return self.identity_base is not None and self.image_virt is not None and self.image_phys is not None

    def direct(self, vaddr: int) -> int | None:
        """The physical address of ``vaddr`` without page tables, where a rule gives it."""
        if not self.split:
            return None
        assert self.image_virt is not None and self.image_phys is not None and self.identity_base is not None
        if vaddr < LOWCORE_SIZE or self.amode31[0] <= vaddr < self.amode31[1]:
            return vaddr
        if vaddr >= self.image_virt:
            return vaddr - self.image_virt + self.image_phys
        return None

    def image_to_phys(self, vaddr: int) -> int:
        """A kernel-image address (symbols): 1:1 in the old layout."""
        d = self.direct(vaddr)
        return vaddr if d is None else d


class S390xTranslator:
    """Kernel virtual to physical translation through the kernel's DAT tables.

    :param read_phys: reads ``n`` bytes at a physical address.
    :param vmcoreinfo: the dump's VMCOREINFO.
    :param phys_base: unused (s390x has none).
    """

    def __init__(self, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int,
                 byte_order: ByteOrder = "big") -> None:
        self._read_phys = read_phys
        self.layout = Layout(vmcoreinfo)
        root_va = vmcoreinfo.SYMBOL.get("swapper_pg_dir")
        if root_va is None:
            raise AddressTranslationError(0, "no swapper_pg_dir in VMCOREINFO")
        self._entry = TableEntries(read_phys, "big")
        self.root = self.layout.image_to_phys(root_va)
        if self.root & (CRST_SIZE - 1):
            raise AddressTranslationError(root_va, f"the region table (physical {self.root:#x}) is not 16 KiB aligned")
        first = self._entry(self.root, 0)[1]
        self.top = (first & 0x0C) >> 2  # the table type of the top table's entries
        self.top_length = 3  # the ASCE's length, which the dump does not keep: the kernel's tables are full
        # the old layout: below the value of high_memory is the 1:1 direct map
        self.high_memory = 0
        hm = vmcoreinfo.SYMBOL.get("high_memory")
        if not self.layout.split and hm is not None:
            try:
                self.high_memory = _Q.unpack(read_phys(hm, 8))[0]
            except Exception:  # noqa: BLE001 - any failure: walk every address
                self.high_memory = 0

    def _walk(self, vaddr: int) -> tuple[int, list[Step], int]:
        if vaddr >> (31 + 11 * self.top):
            raise AddressTranslationError(vaddr, f"lies beyond the {31 + 11 * self.top}-bit address space")
        steps: list[Step] = []
        table, length, offset = self.root, self.top_length, 0
        for level in range(self.top, -1, -1):
            name = _LEVEL_NAMES[level]
            index = (vaddr >> (20 + 11 * level)) & 0x7FF
            if not offset * 512 <= index < (length + 1) * 512:
                raise AddressTranslationError(vaddr, f"{name} index {index:#x} is outside its table")
            addr, e = self._entry(table, index)
            steps.append(Step(name, addr, e))
            if e & INVALID or (e & 0x0C) >> 2 != level:
                raise AddressTranslationError(vaddr, f"{name} entry {e:#x} at {addr:#x} is not valid")
            if level == 1 and e & LARGE:  # a 2 GiB page
                return (e & ~0x7FFFFFFF & MASK64) + (vaddr & 0x7FFFFFFF), steps, 1 << 31
            if level == 0:
                if e & LARGE:  # a 1 MiB page
                    return (e & ~0xFFFFF & MASK64) + (vaddr & 0xFFFFF), steps, 1 << 20
                pt = e & ~0x7FF & MASK64
                addr, pte = self._entry(pt, (vaddr >> 12) & 0xFF)
                steps.append(Step("PTE", addr, pte))
                if pte & PTE_INVALID:
                    raise AddressTranslationError(vaddr, f"PTE {pte:#x} at {addr:#x} is not valid")
                return (pte & ~0xFFF & MASK64) | (vaddr & 0xFFF), steps, 1 << 12
            table, length, offset = e & ~0xFFF & MASK64, e & 3, (e >> 6) & 3
        raise AssertionError("unreachable")

    def walk(self, vaddr: int) -> tuple[int, list[Step]]:
        """Physical address of ``vaddr`` and the entries read on the way (none where a layout
        rule gives it).

        :raises AddressTranslationError: ``vaddr`` is not mapped.
        """
        d = self._direct(vaddr)
        if d is not None:
            return d, []
        pa, steps, _ = self._walk(vaddr)
        return pa, steps

    def _direct(self, vaddr: int) -> int | None:
        if vaddr < self.high_memory:  # the old layout's direct map and image
            return vaddr
        return self.layout.direct(vaddr)

    def vtop(self, vaddr: int) -> int:
        return self.walk(vaddr)[0]

    def translate(self, vaddr: int) -> tuple[int, int]:
        """(physical address, bytes to the end of the page or large page holding ``vaddr``)."""
        d = self._direct(vaddr)
        if d is not None:
            return d, 4096 - (vaddr & 0xFFF)
        pa, _, size = self._walk(vaddr)
        return pa, size - (vaddr & (size - 1))


VMCORE_INFO_LOWCORE = 0xE0C  # absolute lowcore: physical address of the VMCOREINFO ELF note


def vmcoreinfo_in_memory(read_phys: ReadPhys) -> bytes:
    """VMCOREINFO from the note whose physical address the kernel keeps in absolute lowcore
    (b"" when there is none: an odd value there is an early-boot KASLR offset, not a note)."""
    try:
        pa = _Q.unpack(read_phys(VMCORE_INFO_LOWCORE, 8))[0]
        if not pa or pa & 3:
            return b""
        namesz, descsz, _ = struct.unpack(">III", read_phys(pa, 12))
        if read_phys(pa + 12, namesz) != b"VMCOREINFO\0" or not 0 < descsz <= 1 << 16:
            return b""
        return read_phys(pa + 12 + ((namesz + 3) & ~3), descsz)
    except Exception:  # noqa: BLE001 - unreadable memory: no VMCOREINFO
        return b""


S390X = ArchInfo(
    name="s390x",
    machines=("s390x",),
    ptr_size=8,
    default_page_size=4096,
    byte_order="big",
    elf_machine=22,
    translator=S390xTranslator,
    image_to_phys=lambda vaddr, vi, phys_base: Layout(vi).image_to_phys(vaddr),
    vtop_prints_walk=False,
    # PSW, then the 16 general registers (access registers, 32-bit, follow)
    registers=("psw_mask", "psw_addr", *(f"r{i}" for i in range(16))),
    vmcoreinfo_in_memory=vmcoreinfo_in_memory,
    kernel_half_high=False,
    # SECTION_SIZE_BITS 28 and MAX_PHYSMEM_BITS 46, for kernels before VMCOREINFO exported them
    sparsemem=(28, 46, 46),
)
