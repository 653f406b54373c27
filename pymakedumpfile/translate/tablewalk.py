"""What the translators of kernels with direct windows share (loongarch64.py, mips.py, mips64.py,
ppc.py, s390.py): some kernel addresses translate by arithmetic alone (a window onto physical
memory, or a linear map), the rest by a walk of ``swapper_pg_dir``'s levels, each level an index
of some bits of the address into a table of equal entries.

A subclass sets ``levels``, ``root`` and ``entries`` and gives :meth:`_direct` and :meth:`_decode`.
"""

from __future__ import annotations

from ..core.errors import AddressTranslationError
from ..core.vmcoreinfo import VmcoreInfo
from .base import Step, TableEntries


def page_shift(vi: VmcoreInfo, default: int) -> int:
    """log2 of the kernel's page size (VMCOREINFO's PAGESIZE, else ``default``)."""
    ps = vi.page_size or default
    if ps & (ps - 1) or not 4096 <= ps <= 1 << 16:
        raise AddressTranslationError(0, f"PAGESIZE {ps} is not a page size")
    return ps.bit_length() - 1


def release(vi: VmcoreInfo) -> tuple[int, int]:
    """(major, minor) of OSRELEASE; (0, 0) when VMCOREINFO lacks it."""
    parts = (vi.osrelease or "").split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (IndexError, ValueError):
        return 0, 0


def even_levels(page_shift: int, names: tuple[str, ...]) -> tuple[tuple[str, int, int], ...]:
    """The levels of tables that each fill a page with eight-byte entries (PAGE_SHIFT - 3 index
    bits a level), top first: the layout of most 64-bit kernels' tables."""
    bits = page_shift - 3
    return tuple((name, page_shift + bits * (len(names) - 1 - i), bits) for i, name in enumerate(names))


class WalkedTranslator:
    """Direct windows first, then the tables.

    :ivar levels: (name, first address bit of the level's index, bits of the index), top first.
    :ivar root: the physical address of the top table.
    :ivar entries: the tables' entries (their size and byte order).
    :ivar mask: the address width's mask (addresses outside it are not kernel addresses).
    """

    levels: tuple[tuple[str, int, int], ...] = ()
    root = 0
    mask = (1 << 64) - 1
    entries: TableEntries

    def _direct(self, vaddr: int) -> tuple[int, int] | None:
        """(physical address, bytes to the end of the window) of an address that translates
        without tables; None for the others."""
        raise NotImplementedError

    def _decode(self, depth: int, entry: int) -> tuple[bool, int] | None:
        """What entry ``entry`` of level ``depth`` (0: the top) gives: (a leaf, the physical
        address of the page or block it maps) or (not a leaf, the next table's physical address);
        None when it maps nothing."""
        raise NotImplementedError

    def _tables(self, vaddr: int) -> tuple[int, list[Step], int]:
        """(physical address, the entries read, bytes the last one maps)."""
        table, steps = self.root, []
        for depth, (name, shift, bits) in enumerate(self.levels):
            addr, e = self.entries(table, (vaddr >> shift) & ((1 << bits) - 1))
            steps.append(Step(name, addr, e))
            got = self._decode(depth, e)
            if got is None:
                raise AddressTranslationError(vaddr, f"{name} entry {e:#x} at {addr:#x} is not present")
            leaf, pa = got
            if leaf or depth == len(self.levels) - 1:
                size = 1 << shift
                return (pa & ~(size - 1)) + (vaddr & (size - 1)), steps, size
            table = pa
        raise AddressTranslationError(vaddr, "no page-table levels")

    def _root(self, vi: VmcoreInfo, window: str) -> int:
        """The physical address of ``swapper_pg_dir``, which a direct window maps (``window``
        names it, for the error)."""
        pgd = vi.SYMBOL.get("swapper_pg_dir")
        d = self._direct(pgd) if pgd is not None else None
        if d is None:
            raise AddressTranslationError(pgd or 0, f"no swapper_pg_dir in {window} in VMCOREINFO")
        return d[0]

    def _table_at(self, entry: int) -> tuple[bool, int] | None:
        """An upper entry that holds the next table's kernel virtual address (in a direct window),
        decoded as :meth:`_decode` answers; None for an empty one."""
        d = self._direct(entry) if entry else None
        return (False, d[0]) if d else None

    def _check(self, vaddr: int) -> None:
        if not 0 <= vaddr <= self.mask:
            raise AddressTranslationError(vaddr, "not a kernel address of this architecture")

    def walk(self, vaddr: int) -> tuple[int, list[Step]]:
        """Physical address of ``vaddr`` and the entries read: none for a direct window.

        :raises AddressTranslationError: ``vaddr`` is not mapped."""
        self._check(vaddr)
        d = self._direct(vaddr)
        if d is not None:
            return d[0], []
        pa, steps, _ = self._tables(vaddr)
        return pa, steps

    def vtop(self, vaddr: int) -> int:
        return self.walk(vaddr)[0]

    def translate(self, vaddr: int) -> tuple[int, int]:
        """(physical address, bytes to the end of the window or mapping of ``vaddr``)."""
        self._check(vaddr)
        d = self._direct(vaddr)
        if d is not None:
            return d
        pa, _, size = self._tables(vaddr)
        return pa, size - (vaddr & (size - 1))
