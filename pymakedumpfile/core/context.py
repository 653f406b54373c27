"""Contexts: an open dump, its attribute tree, and copy-on-write clones.

An input context (:func:`pymakedumpfile.open_dump`) exposes what a reader
learnt about a dump as a dotted attribute tree, in the spirit of
libkdumpfile: ``file.format``, ``file.pagemap``, ``arch.page_size``,
``linux.uts.release``, ``linux.vmcoreinfo.lines.OSRELEASE``, ``max_pfn``,
``cpu.0.PRSTATUS`` ...  :meth:`Context.clone` shares everything and copies
an attribute only when the clone changes it.  A write context is a clone whose
``file.format`` and ``file.pagemap`` were changed; writers read only from it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, MutableMapping

from .attrs import check
from .errors import DumpError, PageExcludedError, UsageError
from .hints import TYPE_CHECKING, Any
from .pagemap import Bitmap, PageMap

if TYPE_CHECKING:
    from ..input.base import DumpReader

_MISSING = object()
_DELETED = object()  # a tombstone: hides the base's value

class Attributes(MutableMapping[str, Any]):
    """A dotted attribute tree; a clone's tree overlays its base's.

    Reading a key falls through to the base when this tree has not set it;
    writing only ever changes this tree.  ``attrs["linux.uts"]`` (a directory)
    returns a plain ``dict`` of the entries below it, keyed by the rest of the
    path.
    """

    def __init__(self, base: Attributes | None = None) -> None:
        self._own: dict[str, Any] = {}
        self._base = base

    def _lookup(self, key: str) -> Any:
        t: Attributes | None = self
        while t is not None:
            v = t._own.get(key, _MISSING)
            if v is _DELETED:
                return _MISSING
            if v is not _MISSING:
                return v
            t = t._base
        return _MISSING

    def __getitem__(self, key: str) -> Any:
        v = self._lookup(key)
        if v is _MISSING:
            sub = self.directory(key)
            if sub:
                return sub
            raise KeyError(key)
        return v

    def __setitem__(self, key: str, value: Any) -> None:
        check(key, value)  # the type declared in core/attrs.py
        self._own[key] = value

    def __delitem__(self, key: str) -> None:
        if self._lookup(key) is _MISSING:
            raise KeyError(key)
        self._own[key] = _DELETED

    def _all(self) -> dict[str, Any]:
        chain = []
        t: Attributes | None = self
        while t is not None:
            chain.append(t._own)
            t = t._base
        merged: dict[str, Any] = {}
        for own in reversed(chain):
            merged.update(own)
        return {k: v for k, v in merged.items() if v is not _DELETED}

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._all()))

    def __len__(self) -> int:
        return len(self._all())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key) is not _MISSING

    def directory(self, prefix: str) -> dict[str, Any]:
        """Entries below ``prefix.``, keyed by the rest of their path."""
        p = prefix + "."
        return {k[len(p) :]: v for k, v in self._all().items() if k.startswith(p)}

    def is_own(self, key: str) -> bool:
        """True if this tree (not its base) holds ``key``."""
        return key in self._own

    def mutable(self, key: str) -> Any:
        """The value of ``key``, first copied into this tree if it was shared.

        Use this before changing a mutable value (a page map) in place, so
        the context it came from is left as it was.
        """
        if key not in self._own:
            v = self[key]
            if key.endswith("pagemap"):
                v = Bitmap.copy_of(v)
            else:
                v = copy.deepcopy(v)
            self._own[key] = v
        return self._own[key]


class Context:
    """An open dump (or a clone of one, to be written).

    :ivar attr: the attribute tree.
    """

    def __init__(self, reader: DumpReader, attr: Attributes | None = None) -> None:
        self.reader = reader
        if attr is None:
            attr = Attributes()
            for k, v in reader.attributes().items():
                attr[k] = v
        self.attr = attr

    # ---- basic facts ----
    @property
    def name(self) -> str:
        return self.reader.name

    @property
    def page_size(self) -> int:
        return int(self.attr["arch.page_size"])

    @property
    def max_pfn(self) -> int:
        return int(self.attr["max_pfn"])

    @property
    def pagemap(self) -> PageMap:
        """Pages this context holds (input) or will write (a write context)."""
        return self.attr["file.pagemap"]

    # ---- memory reads ----
    def read_pfn(self, pfn: int) -> bytes:
        """The contents of page frame ``pfn`` (one page).

        :raises PageExcludedError: the dump does not hold that page.
        """
        return self.reader.read_page(pfn)

    def read_phys(self, address: int, size: int) -> bytes:
        """``size`` bytes of physical memory from byte ``address``.

        :raises PageExcludedError: a page of the range is not in the dump.
        """
        return self.reader.read_phys(address, size)

    def kernel_memory(self) -> Any:
        """The kernel's virtual address space of this dump (page-table walks),
        as a :class:`pymakedumpfile.translate.KernelMemory`; made on first use."""
        km = getattr(self, "_km", None)
        if km is None:
            from ..translate import KernelMemory, get_arch
            from .errors import UnsupportedDumpError

            arch = get_arch(self.attr.get("arch.name", ""))
            if arch is None:
                raise UnsupportedDumpError("Cannot translate addresses: unknown architecture", self.name)
            # the reader's read_phys, not this context's: a bound method of the context would make a
            # cycle (context -> kernel memory -> context) that keeps the dump's file open until the
            # cyclic garbage collector happens to run
            km = self._km = KernelMemory(arch, self.reader.read_phys, self.reader.vmcoreinfo,
                                         int(self.attr.get("linux.phys_base", 0)),
                                         byte_order=self.attr.get("arch.byte_order") or None,
                                         ptr_size=self.attr.get("arch.ptr_size") or None)
        return km

    def read_virt(self, address: int, size: int) -> bytes:
        """``size`` bytes of kernel virtual memory from ``address``.

        :raises AddressTranslationError: the address is not mapped.
        :raises PageExcludedError: a page of the range is not in the dump.
        """
        return self.kernel_memory().read(address, size)

    def regs(self, cpu: int) -> dict[str, int]:
        """CPU ``cpu``'s registers at the crash (its PRSTATUS note), named as the architecture's
        ``translate/`` file names them (x86_64: ``rip``, ``rsp``...; arm64: ``x0``..``pc``).

        :raises KeyError: the dump has no registers of that CPU.
        """
        from ..translate import get_arch

        arch = get_arch(self.attr.get("arch.name", ""))
        desc = self.attr.get(f"cpu.{cpu}.PRSTATUS") if 0 <= cpu < int(self.attr.get("cpu.number", 0)) else None
        got = arch.prstatus(desc, self.attr.get("arch.byte_order") or None) if arch is not None and desc else None
        if got is None:
            raise KeyError(cpu)
        return got[1]

    @property
    def symbols(self) -> dict[str, int]:
        """The kernel's symbols (name -> address where it ran) from the kallsyms VMCOREINFO points
        to (Linux 6.0 and later; empty before); read on first use."""
        syms = getattr(self, "_symbols", None)
        if syms is None:
            from ..translate.kallsyms import Kallsyms, has_kallsyms

            syms = {}
            if has_kallsyms(self.reader.vmcoreinfo):
                syms = Kallsyms(self.kernel_memory(), self.reader.vmcoreinfo, self.name).symbols
            self._symbols = syms
        return syms

    def is_stored(self, pfn: int) -> bool:
        """True if the underlying dump holds page ``pfn``."""
        return self.reader.pagemap.test(pfn)

    # ---- cloning ----
    def clone(self) -> Context:
        """A context sharing this one's reader and attributes, copy-on-write."""
        return Context(self.reader, Attributes(self.attr))

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Attributes", "Context", "DumpError", "PageExcludedError", "UsageError"]
