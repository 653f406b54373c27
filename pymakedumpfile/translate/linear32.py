"""What the translators of 32-bit kernels share (ia32.py, arm.py): a linear map of low memory at
``PAGE_OFFSET`` from ``PHYS_OFFSET``, found together with the table format by the tables
themselves, and a walk for the rest.

VMCOREINFO gives neither offset, and names the table format (PAE, LPAE) only in a ``CONFIG_``
line that older kernels lack.  Of an architecture's choices, the first under which
``swapper_pg_dir`` maps its own virtual address to its own physical address is taken.  The linear
map ends where the first vmalloc area above ``PAGE_OFFSET`` starts (``vmap_area_list``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

from ..core.errors import AddressTranslationError, DumpError
from ..core.vmcoreinfo import VmcoreInfo
from .base import ByteOrder, ReadPhys, Step, TableEntries

MASK32 = 0xFFFFFFFF


def first_vmalloc(vi: VmcoreInfo, read_ptr: Callable[[int], int], floor: int, limit: int = 1 << 16) -> int | None:
    """Where the first vmalloc area at or above ``floor`` starts, by ``vmap_area_list`` (kept in
    address order; modules may sit below the linear map, as on arm): the end of a 32-bit kernel's
    linear map, as makedumpfile takes it.  ``read_ptr`` reads a pointer at a kernel address
    (raising on failure).  None without the VMCOREINFO entries, or when the list cannot be read."""
    head = vi.SYMBOL.get("vmap_area_list")
    start, link = vi.OFFSET.get("vmap_area.va_start"), vi.OFFSET.get("vmap_area.list")
    if head is None or start is None or link is None:
        return None
    try:
        p = read_ptr(head)
        for _ in range(limit):
            if p == head:
                return None
            va = read_ptr(p - link + start)
            if va >= floor:
                return va
            p = read_ptr(p)
    except (DumpError, OSError, struct.error):
        return None
    return None


class Linear32Translator:
    """Kernel virtual to physical translation of a 32-bit kernel; a subclass gives the choices of
    table format and offsets (:meth:`_choices`), the walk (:meth:`_walk`) and the size of what a
    walk's last entry maps (:meth:`_leaf_size`).

    :ivar wide: the tables have 64-bit entries (PAE, LPAE).
    :ivar page_offset: where ``phys_offset`` is mapped.
    :ivar phys_offset: the physical start of low memory.
    :ivar root: the physical address of ``swapper_pg_dir``.
    :ivar lowmem_end: the end of the linear map, None when it cannot be read (then every address is
        walked).
    :ivar arch_pfn_offset: the pfn of FLATMEM's ``mem_map[0]``: ``phys_offset``'s.
    """

    #: walk() reads the tables for an address of the linear map too (makedumpfile's --vtop does)
    walks_linear = False
    #: what the choices are, for the error when none holds
    choices_said = "PAGE_OFFSET"

    def __init__(self, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int,
                 byte_order: ByteOrder = "little") -> None:
        self._read_phys = read_phys
        pgd = vmcoreinfo.SYMBOL.get("swapper_pg_dir")
        if pgd is None:
            raise AddressTranslationError(0, "no swapper_pg_dir in VMCOREINFO")
        self._e64 = TableEntries(read_phys, "little")
        self._e32 = TableEntries(read_phys, "little", entry_size=4)
        for wide, po, phys in self._choices(vmcoreinfo, pgd, phys_base):
            self.wide, self.page_offset, self.phys_offset, self.root = wide, po, phys, pgd - po + phys
            try:
                if self._walk(pgd)[0] == self.root:
                    break
            except (AddressTranslationError, DumpError, OSError):
                pass
        else:
            raise AddressTranslationError(pgd, f"swapper_pg_dir maps itself under no {self.choices_said}")
        self.lowmem_end = first_vmalloc(vmcoreinfo, lambda va: self._u32(self._walk(va)[0]), self.page_offset)
        self.arch_pfn_offset = self.phys_offset >> 12

    # ---- what a subclass gives ----
    def _choices(self, vi: VmcoreInfo, pgd: int, phys_base: int) -> Iterator[tuple[bool, int, int]]:
        """(wide tables, PAGE_OFFSET, PHYS_OFFSET) to try, the likeliest first."""
        raise NotImplementedError

    def _walk(self, vaddr: int) -> tuple[int, list[Step]]:
        raise NotImplementedError

    def _leaf_size(self, leaf: Step) -> int:
        """Bytes that the walk's last entry maps."""
        raise NotImplementedError

    # ---- shared ----
    def _u32(self, paddr: int) -> int:
        return int(struct.unpack("<I", self._read_phys(paddr, 4))[0])

    def _virt(self, paddr: int) -> int:
        """The linear-map address of a physical one (what makedumpfile prints for an entry)."""
        return (paddr - self.phys_offset + self.page_offset) & MASK32

    def _linear(self, vaddr: int) -> bool:
        return self.lowmem_end is not None and self.page_offset <= vaddr < self.lowmem_end

    def walk(self, vaddr: int) -> tuple[int, list[Step]]:
        """Physical address of ``vaddr`` and the entries read on the way: none for an address of
        the linear map, unless the architecture's ``--vtop`` walks those too.

        :raises AddressTranslationError: ``vaddr`` is not mapped."""
        if not 0 <= vaddr <= MASK32:
            raise AddressTranslationError(vaddr, "not a 32-bit address")
        if not self.walks_linear and self._linear(vaddr):
            return vaddr - self.page_offset + self.phys_offset, []
        return self._walk(vaddr)

    def vtop(self, vaddr: int) -> int:
        return self.translate(vaddr)[0]

    def translate(self, vaddr: int) -> tuple[int, int]:
        """(physical address, bytes to the end of the linear map or of the mapping of ``vaddr``)."""
        if not 0 <= vaddr <= MASK32:
            raise AddressTranslationError(vaddr, "not a 32-bit address")
        if self._linear(vaddr):
            assert self.lowmem_end is not None
            return vaddr - self.page_offset + self.phys_offset, self.lowmem_end - vaddr
        pa, steps = self._walk(vaddr)
        size = self._leaf_size(steps[-1])
        return pa, size - (vaddr & (size - 1))
