"""What every reader provides, and the attribute building they share."""

from __future__ import annotations

from collections.abc import Callable

from ..core.errors import DumpError, PageExcludedError
from ..core.hints import Any, ClassVar
from ..core.pagemap import PageMap
from ..core.vmcoreinfo import VmcoreInfo
from ..formats import elf as elff
from ..formats import utsname
from ..translate import ArchInfo
from .source import Source


class DumpReader:
    """One dump format.  Subclasses set :attr:`format_name` and implement
    :meth:`probe`, :meth:`read_page` and fill the common fields in
    ``__init__``.

    :ivar pagemap: pfns whose contents the file holds.
    :ivar memmap: pfns that are RAM (kdump bitmap 1, ELF PT_LOAD ranges).
    """

    format_name: ClassVar[str]
    description: str
    source: Source
    page_size: int
    max_pfn: int
    pagemap: PageMap
    memmap: PageMap
    arch: ArchInfo | None
    endian: str  # "<" or ">"
    notes: bytes
    vmcoreinfo: VmcoreInfo
    uts: dict[str, str]
    incomplete: bool = False

    @classmethod
    def probe(cls, source: Source) -> bool:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self.source.name

    def read_page(self, pfn: int) -> bytes:
        """One page of data. :raises PageExcludedError: not stored."""
        raise NotImplementedError

    def read_pages(self, pfn: int, count: int) -> bytes:
        """``count`` consecutive stored pages from ``pfn`` (concatenated)."""
        return b"".join(self.read_page(p) for p in range(pfn, pfn + count))

    def read_pages_salvaging(self, pfn: int, count: int, failed: list[tuple[int, str]]) -> bytes:
        """Like :meth:`read_pages`, but a run that cannot be read (an I/O
        error on a damaged disk or on ``/proc/vmcore``, a corrupt or lost
        page) is read page by page: a page that fails reads as zeros and is
        appended to ``failed`` as ``(pfn, reason)``; the others are kept."""
        try:
            return self.read_pages(pfn, count)
        except DumpError:
            pass
        ps = self.page_size
        out = bytearray(count * ps)
        for i in range(count):
            try:
                out[i * ps : (i + 1) * ps] = self.read_page(pfn + i)
            except DumpError as e:
                failed.append((pfn + i, str(e)))
        return bytes(out)

    def close(self) -> None:
        self.source.close()

    def excluded(self, pfn: int, why: str = "page excluded") -> PageExcludedError:
        return PageExcludedError(pfn, self.name, why)

    # ---- shared helpers ----
    def parse_notes(self) -> list[elff.Note]:
        return elff.parse_notes(self.notes, self.endian)

    def use_vmcoreinfo(self, raw: bytes) -> None:
        """Use ``raw`` (a VMCOREINFO file, as ``makedumpfile -g`` writes) in
        place of the dump's own VMCOREINFO (``-i``)."""
        self.vmcoreinfo = VmcoreInfo(raw)
        if hasattr(self, "_phys_base") and callable(self._phys_base):
            self.phys_base = self._phys_base()
        elif "phys_base" in self.vmcoreinfo.NUMBER:
            self.phys_base = self.vmcoreinfo.NUMBER["phys_base"]

    def vmcoreinfo_from_memory_if_missing(self) -> None:
        """When the notes held no VMCOREINFO: the architecture's own place for it in memory, if it
        has one (s390x's lowcore pointer; QEMU's s390x dumps have no note)."""
        if not self.vmcoreinfo and self.arch is not None and self.arch.vmcoreinfo_in_memory is not None:
            self.vmcoreinfo = VmcoreInfo(self.arch.vmcoreinfo_in_memory(self.read_phys))

    def arch_from_memory(self, phys_base: Callable[[ArchInfo], int]) -> tuple[ArchInfo, dict[str, str]] | None:
        """The architecture (and utsname) for a dump that does not say (QEMU 10 writes "Unknown"
        as a kdump file's machine; memory images say nothing): the one whose way of reading
        ``init_uts_ns`` with this VMCOREINFO finds the release VMCOREINFO names and that
        architecture's own machine name.  ``phys_base`` gives each candidate's phys_base."""
        from ..translate import ARCHES, arch_from_machine

        if not self.vmcoreinfo.osrelease:
            return None
        had = self.arch
        try:
            for arch in list(ARCHES.values()):
                self.arch = arch
                uts = self.read_uts_from_memory(phys_base(arch))
                if uts and arch_from_machine(uts["machine"]) is arch:
                    return arch, uts
        finally:
            self.arch = had
        return None

    def vmcoreinfo_from_notes(self) -> bytes:
        for n in self.parse_notes():
            if n.name == elff.VMCOREINFO_NOTE_NAME:
                return n.desc
        return b""

    def read_uts_from_memory(self, phys_base: int) -> dict[str, str] | None:
        """``init_uts_ns.name`` read through the kernel image mapping."""
        vi = self.vmcoreinfo
        va = vi.SYMBOL.get("init_uts_ns")
        if va is None or self.arch is None:
            return None
        pa = self.arch.kernel_text_to_phys(va, vi, phys_base)
        if pa is None:
            return None
        try:
            blob = self.read_phys(pa, 512)
        except Exception:  # noqa: BLE001 - any failure means "not available"
            return None
        off = vi.OFFSET.get("uts_namespace.name")
        if off is None:
            rel = (vi.osrelease or "").encode()
            pos = blob.find(rel + b"\0") if rel else -1
            if pos < 130:
                return None
            off = pos - 130
        if off < 0 or off + utsname.SIZE > len(blob):
            return None
        uts = utsname.decode(blob, off)
        if vi.osrelease and uts["release"] != vi.osrelease:
            return None
        return uts

    def read_phys(self, address: int, size: int) -> bytes:
        """``size`` bytes of physical memory from byte ``address``: the one loop over pages that
        every physical read goes through (contexts, kernel memory, the readers themselves).
        A run of pages is read at once; page by page only to find the page that is missing.

        :raises PageExcludedError: a page of the range is not in the dump.
        """
        ps = self.page_size
        if size <= 0:
            return b""
        first, off = divmod(address, ps)
        n = (off + size + ps - 1) // ps
        if n > 1:
            try:
                data = self.read_pages(first, n)
            except PageExcludedError:
                pass
            else:  # whole pages are returned as read: slicing would copy them all
                return data if off == 0 and size == len(data) else data[off : off + size]
        out = bytearray()
        while size > 0:
            pfn, off = divmod(address, ps)
            n = min(size, ps - off)
            out += self.read_page(pfn)[off : off + n]
            address += n
            size -= n
        return bytes(out)

    def count_cpus(self) -> list[bytes]:
        return [n.desc for n in self.parse_notes() if n.type == elff.NT_PRSTATUS and n.name == b"CORE"]

    def attributes(self) -> dict[str, Any]:
        """The attribute tree this reader contributes to a context."""
        a: dict[str, Any] = {
            "file.format": self.format_name,
            "file.description": self.description,
            "file.pagemap": self.pagemap,
            "memory.pagemap": self.memmap,
            "file.notes": self.notes,
            "file.incomplete": bool(self.incomplete),
            "arch.page_size": self.page_size,
            "arch.page_shift": self.page_size.bit_length() - 1,
            "arch.byte_order": "little" if self.endian == "<" else "big",
            "max_pfn": self.max_pfn,
        }
        if self.arch is not None:
            a["arch.name"] = self.arch.name
            a["arch.ptr_size"] = self.arch.ptr_size
        prs = self.count_cpus()
        a["cpu.number"] = len(prs)
        for i, desc in enumerate(prs):
            a[f"cpu.{i}.PRSTATUS"] = desc
        vi = self.vmcoreinfo
        a["linux.vmcoreinfo.raw"] = vi.raw
        for k, v in vi.lines.items():
            a[f"linux.vmcoreinfo.lines.{k}"] = v
        for kind in ("SYMBOL", "OFFSET", "SIZE", "LENGTH", "NUMBER"):
            for k, n in getattr(vi, kind).items():
                a[f"linux.vmcoreinfo.{kind}.{k}"] = n
        ct = vi.get_int("CRASHTIME")
        if ct is not None:
            a["linux.crashtime"] = ct
        for k, v in self.uts.items():
            a[f"linux.uts.{k}"] = v
        return a
