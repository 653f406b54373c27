"""Memory images: files that hold physical memory and little or nothing about the kernel
(LiME, AVML, raw images at an address, Xen domain dumps).

A reader of one of them lists its *extents* (byte ranges of physical memory, each with a
function that fetches bytes of it) and calls :meth:`ImageReader.settle`.  What a vmcore says in
its notes is found here in the memory itself: the kernel keeps its VMCOREINFO as an ELF note in
memory (filled at boot), so the note is searched for; the architecture is the one whose way of
reading ``init_uts_ns`` finds the release VMCOREINFO names and a ``machine`` of that
architecture.  ``-i``/``-x`` give VMCOREINFO where the memory holds none (a kernel without
crash support) or to override it.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable, Iterator

from ..core.errors import CorruptDumpError
from ..core.pagemap import RangeMap
from ..core.record import dataclass
from ..core.vmcoreinfo import VmcoreInfo
from ..translate import ArchInfo
from .base import DumpReader
from .source import Source

Fetch = Callable[[int, int], bytes]  # (offset in the extent, size) -> exactly those bytes
SCAN_CHUNK = 4 << 20
VMCOREINFO_NAME = b"VMCOREINFO\0"  # the note's name (namesz 11, padded to 12)
MAX_VMCOREINFO = 1 << 16


def file_fetch(source: Source, base: int, what: str) -> Fetch:
    """A :data:`Fetch` of the bytes stored in ``source`` from offset ``base`` on."""

    def fetch(off: int, n: int) -> bytes:
        return source.read_exact(base + off, n, what)

    return fetch


@dataclass(frozen=True)
class Extent:
    """Physical bytes [start, end) of the image."""

    start: int
    end: int
    fetch: Fetch
    zeros: bool = False  # memory the file does not hold but reads as zeros (not searched)


class ImageReader(DumpReader):
    """A dump made of :class:`Extent` s of physical memory."""

    extents: list[Extent]
    phys_base = 0

    def settle(self, *, arch: ArchInfo | None = None, endian: str | None = None, notes: bytes = b"",
               page_size: int | None = None, uts: dict[str, str] | None = None) -> None:
        """Finish opening once :attr:`extents` are set: VMCOREINFO (from memory), page size,
        page maps, architecture, ``phys_base`` and utsname.  ``page_size`` and ``uts``: what the
        file itself says, if anything (the page size VMCOREINFO gives wins; the utsname read
        from memory wins)."""
        self._file_page_size, self._file_uts = page_size, uts
        self.extents.sort(key=lambda e: e.start)
        for a, b in zip(self.extents, self.extents[1:]):
            if b.start < a.end:
                raise CorruptDumpError(f"Cannot read the image: ranges {a.start:#x}-{a.end:#x} and "
                                       f"{b.start:#x}-{b.end:#x} overlap", self.name)
        self._starts = [e.start for e in self.extents]
        self.arch = arch
        self.endian = endian or (">" if arch is not None and arch.byte_order == "big" else "<")
        self.notes = notes
        self.vmcoreinfo = VmcoreInfo(b"")
        self._given_arch = arch
        self._layout()  # pages of the default size, to read memory while looking for the kernel
        self.vmcoreinfo_at: int | None = None  # where in memory the VMCOREINFO used was found
        self._use(list(self.scan_vmcoreinfo()))

    def use_vmcoreinfo(self, raw: bytes) -> None:
        self._use([(None, raw)])

    def _use(self, found: list[tuple[int | None, bytes]]) -> None:
        """Take the first VMCOREINFO of ``found`` ((address, text) pairs) that the memory
        confirms, else the first."""
        self.arch = self._given_arch
        self.vmcoreinfo_at, raw0 = found[0] if found else (None, b"")
        self.vmcoreinfo = VmcoreInfo(raw0)
        for at, raw in found:
            vi = VmcoreInfo(raw)
            confirmed = self._confirm(vi)
            if confirmed is not None:
                self.vmcoreinfo, (self.arch, self.phys_base, self.uts) = vi, confirmed
                self.vmcoreinfo_at = at
                break
        else:
            self._layout()
            self.phys_base = self._phys_base_for(self.arch) if self.arch else 0
            self.uts = self._file_uts or {
                "sysname": "Linux" if self.vmcoreinfo.osrelease else "", "nodename": "",
                "release": self.vmcoreinfo.osrelease or "", "version": "",
                "machine": self.arch.name if self.arch else "", "domainname": ""}
        if self._given_arch is None and self.arch is not None:
            self.endian = ">" if self.arch.byte_order == "big" else "<"
        self._layout()

    def _confirm(self, vi: VmcoreInfo) -> tuple[ArchInfo, int, dict[str, str]] | None:
        """(arch, phys_base, utsname) if ``init_uts_ns`` read as some architecture does holds
        the release ``vi`` names and that architecture's machine name."""
        if not vi.osrelease:
            return None
        self.vmcoreinfo = vi
        self._layout()
        if self._given_arch is not None:
            self.arch = self._given_arch
            pb = self._phys_base_for(self._given_arch)
            uts = self.read_uts_from_memory(pb)
            return (self._given_arch, pb, uts) if uts else None
        found = self.arch_from_memory(self._phys_base_for)
        if found is None:
            return None
        return found[0], self._phys_base_for(found[0]), found[1]

    def _phys_base_for(self, arch: ArchInfo) -> int:
        vi = self.vmcoreinfo
        pb = vi.NUMBER.get(arch.phys_base_number)
        if pb is None:
            pb = vi.number_u64(arch.phys_base_number)
        return pb or 0

    def _layout(self) -> None:
        ps = self.vmcoreinfo.page_size or self._file_page_size or (self.arch.default_page_size if self.arch else 4096)
        if ps <= 0 or ps & (ps - 1) or ps > 1 << 20:
            raise CorruptDumpError(f"Cannot use page size {ps}: not a power of two up to 1 MiB", self.name)
        self.page_size = ps
        self.max_pfn = -(-self.extents[-1].end // ps) if self.extents else 0
        self.pagemap = self.memmap = RangeMap(((e.start // ps, -(-e.end // ps)) for e in self.extents), self.max_pfn)

    def scan_vmcoreinfo(self) -> Iterator[tuple[int, bytes]]:
        """The VMCOREINFO notes in memory, in address order, as (physical address, text): a note
        header (name size 11, type 0, either byte order), the name ``VMCOREINFO``, a text that
        starts with OSRELEASE=."""
        seen = set()
        for e in self.extents:
            if e.zeros:
                continue
            size = e.end - e.start
            for pos in range(0, size, SCAN_CHUNK):
                lo = max(pos - 12, 0)  # a header cut by the chunk boundary is found in this chunk
                buf = e.fetch(lo, min(pos + SCAN_CHUNK, size) - lo)
                i = buf.find(VMCOREINFO_NAME, pos - lo + 12 if pos else 12)
                while i >= 0:
                    text = self._note_at(e, lo + i - 12, buf[i - 12 : i], size)
                    if text and text not in seen:
                        seen.add(text)
                        yield e.start + lo + i - 12, text
                    i = buf.find(VMCOREINFO_NAME, i + 1)

    @staticmethod
    def _note_at(e: Extent, off: int, head: bytes, size: int) -> bytes | None:
        for endian in "<>":
            namesz, descsz, ntype = struct.unpack(endian + "III", head)
            if namesz == len(VMCOREINFO_NAME) and ntype == 0 and 0 < descsz <= MAX_VMCOREINFO:
                start = off + 12 + 12
                n = min(descsz, size - start)
                text = e.fetch(start, n).split(b"\0", 1)[0] if n > 0 else b""
                if text.startswith(b"OSRELEASE="):
                    return text
        return None

    # ---- reading ----
    def read_page(self, pfn: int) -> bytes:
        return self.read_pages(pfn, 1)

    def read_pages(self, pfn: int, count: int) -> bytes:
        if count <= 0:
            return b""
        if self.pagemap.count(pfn, pfn + count) != count:
            missing = next(p for p in range(pfn, pfn + count) if not self.pagemap.test(p))
            raise self.excluded(missing, "not in the image")
        ps = self.page_size
        a, b = pfn * ps, (pfn + count) * ps
        out = bytearray(b - a)  # a page partly in a range: the rest reads as zeros
        i = max(bisect.bisect_right(self._starts, a) - 1, 0)
        for e in self.extents[i:]:
            if e.start >= b:
                break
            lo, hi = max(a, e.start), min(b, e.end)
            if lo < hi:
                out[lo - a : hi - a] = e.fetch(lo - e.start, hi - lo)
        return bytes(out)

    def attributes(self) -> dict[str, object]:
        a = super().attributes()
        a["linux.phys_base"] = self.phys_base
        a["image.ranges"] = tuple((e.start, e.end) for e in self.extents)
        if self.vmcoreinfo_at is not None:
            a["image.vmcoreinfo_at"] = self.vmcoreinfo_at
        return a
