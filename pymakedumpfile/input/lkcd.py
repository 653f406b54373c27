"""LKCD dumps (lcrash's format, versions 1 to 10, as crash and libkdumpfile read them).

A header, then from offset 64 KiB (version 9 and later: the header's buffer size) one record
per page: ``u64`` address, ``u32`` size, ``u32`` flags (raw, compressed, end), then the data,
compressed whole by the dump's method (RLE, zlib) or raw.  The records are indexed when the
file is opened.  Nothing names VMCOREINFO: the kernel is found in memory (:mod:`.image`).
Layout: docs/images.md.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from bisect import bisect_right

from ..core.errors import CorruptDumpError, TruncatedDumpError, UnsupportedDumpError
from ..formats import lkcd as lf
from ..formats import utsname
from ..translate import arch_from_machine
from .image import Extent, ImageReader
from .source import Source

MAX_PAGES = 1 << 32


class LkcdReader(ImageReader):
    format_name = "lkcd"

    @classmethod
    def probe(cls, source: Source) -> bool:
        return source.pread(0, 8) in (lf.MAGIC.to_bytes(8, "little"), lf.MAGIC.to_bytes(8, "big"))

    def __init__(self, source: Source) -> None:
        self.source = source
        head = source.pread(0, lf.HEADER_READ)
        if len(head) < lf.HEADER_READ:  # (the pages start at 64 KiB or later: any real file is longer)
            raise TruncatedDumpError(f"Cannot read LKCD header: the file ends at {len(head):#x}, inside it", self.name)
        endian = "<" if head[:8] == lf.MAGIC.to_bytes(8, "little") else ">"
        magic, version, _hsize, self.dump_level, ps, *_ = lf.common(head, endian)
        if magic != lf.MAGIC:
            raise UnsupportedDumpError("Cannot open: not an LKCD dump (bad magic)", self.name)
        self.mclx = bool(version & lf.MCLX_FLAGS)
        self.version = version & ~lf.MCLX_FLAGS
        if not 1 <= self.version <= 10 or self.version == 4:
            raise UnsupportedDumpError(f"Cannot read LKCD version {self.version} (we know 1-3 and 5-10)", self.name)
        if ps <= 0 or ps & (ps - 1) or ps > 1 << 20:
            raise CorruptDumpError(f"Cannot read LKCD dump: page size {ps}", self.name)
        layout, uts = self._layout_and_uts(head, endian)
        f = lf.LAYOUTS[layout]
        self.compression = lf.COMPRESS_RLE
        at = f["compress"]
        if at is not None and self.version >= 5:
            (self.compression,) = struct.unpack_from(endian + "I", head, at)
        if self.compression not in (lf.COMPRESS_NONE, lf.COMPRESS_RLE, lf.COMPRESS_GZIP):
            raise UnsupportedDumpError(f"Cannot read LKCD dump compressed with method {self.compression}", self.name)
        first = lf.FIRST_PAGE
        at = f["buffer"]
        if at is not None and self.version >= 9:
            (first,) = struct.unpack_from(endian + "Q", head, at)
        self.description = f"Linux Kernel Crash Dump v{self.version}"
        self.layout = layout
        self._ps = ps
        self._index(endian, first)
        runs: list[list[int]] = []
        for pfn in self._pfns:
            if runs and runs[-1][1] == pfn:
                runs[-1][1] = pfn + 1
            else:
                runs.append([pfn, pfn + 1])
        self.extents = [Extent(a * ps, b * ps, self._fetcher(a * ps)) for a, b in runs]
        self._cached = (-1, b"")
        self.settle(arch=arch_from_machine(uts["machine"]) if uts else None, endian=endian, page_size=ps, uts=uts)

    def _layout_and_uts(self, head: bytes, endian: str) -> tuple[str, dict[str, str] | None]:
        """The header layout (versions 1-7 were written by 32- and 64-bit kernels alike: the one
        whose utsname looks right), and the utsname if one does."""
        if self.version >= 8:
            cands = ["v8"]
        else:
            v = "v1" if self.version == 1 else "v2"
            cands = [f"{v}-32", f"{v}-64"]
        for layout in cands:
            off = lf.LAYOUTS[layout]["utsname"]
            if off is not None and off + utsname.SIZE <= len(head) and _uts_sane(head, off):
                return layout, utsname.decode(head, off)
        return cands[0], None

    def _index(self, endian: str, first: int) -> None:
        """Walk the page records to the end marker (or the end of the file)."""
        ps, src = self._ps, self.source
        rec = lf.page_struct(endian)
        pfns, offs, sizes, flags = array("Q"), array("Q"), array("I"), array("I")
        pos, buf, at = first, b"", first
        size = src.size
        while pos + rec.size <= size:
            if pos + rec.size > at + len(buf):
                buf, at = src.pread(pos, 1 << 20), pos
            addr, n, fl = rec.unpack_from(buf, pos - at)
            if fl & lf.DUMP_END:
                break
            kind = fl & (lf.DUMP_RAW | lf.DUMP_COMPRESSED)
            if kind == lf.DUMP_RAW and n != ps or kind == lf.DUMP_COMPRESSED and not 0 < n <= 2 * ps:
                raise CorruptDumpError(f"Cannot read LKCD page record at {pos:#x}: {n} bytes for a page of {ps}",
                                       self.name)
            if kind not in (lf.DUMP_RAW, lf.DUMP_COMPRESSED):
                raise UnsupportedDumpError(f"Cannot read LKCD page record at {pos:#x}: flags {fl:#x}", self.name)
            if len(pfns) >= MAX_PAGES:
                raise CorruptDumpError("Cannot read LKCD dump: too many page records", self.name)
            pfns.append(addr // ps)
            offs.append(pos + rec.size)
            sizes.append(n)
            flags.append(kind)
            pos += rec.size + n
        if pos + rec.size > size and pos < size:
            self.incomplete = True  # cut short in a record: the pages before it are kept
        if offs and offs[-1] + sizes[-1] > size:
            self.incomplete = True
            for a in (pfns, offs, sizes, flags):
                a.pop()
        order = sorted(range(len(pfns)), key=pfns.__getitem__)
        if any(order[i] != i for i in range(len(order))):
            pfns, offs, sizes, flags = (array(a.typecode, (a[i] for i in order)) for a in (pfns, offs, sizes, flags))
        for i in range(1, len(pfns)):
            if pfns[i] == pfns[i - 1]:
                raise CorruptDumpError(f"Cannot read LKCD dump: pfn {pfns[i]:#x} has two page records", self.name)
        self._pfns, self._offs, self._sizes, self._flags = pfns, offs, sizes, flags

    def _page(self, pfn: int) -> bytes:
        if self._cached[0] == pfn:
            return self._cached[1]
        i = bisect_right(self._pfns, pfn) - 1
        ps, off, n = self._ps, self._offs[i], self._sizes[i]
        data = self.source.read_exact(off, n, "LKCD page")
        if self._flags[i] == lf.DUMP_COMPRESSED:
            try:
                if self.compression == lf.COMPRESS_RLE:
                    data = lf.rle_decode(data, ps)
                elif self.compression == lf.COMPRESS_GZIP:
                    d = zlib.decompressobj()
                    data = d.decompress(data, ps + 1)
                    if not d.eof:
                        raise ValueError("the zlib stream does not end")
                else:
                    raise ValueError("a compressed page in a dump that compresses nothing")
            except (ValueError, zlib.error) as e:
                raise CorruptDumpError(f"Cannot decompress LKCD page {pfn:#x} at {off:#x}: {e}", self.name) from None
        if len(data) != ps:
            raise CorruptDumpError(f"Cannot read LKCD page {pfn:#x} at {off:#x}: {len(data)} bytes, not {ps}",
                                   self.name)
        self._cached = (pfn, data)
        return data

    def _fetcher(self, base: int):  # type: ignore[no-untyped-def]
        ps = self._ps

        def fetch(off: int, n: int) -> bytes:
            a = base + off
            out = []
            while n > 0:
                pfn, skip = divmod(a, ps)
                piece = self._page(pfn)[skip : skip + n]
                out.append(piece)
                a += len(piece)
                n -= len(piece)
            return b"".join(out)

        return fetch

    def attributes(self) -> dict[str, object]:
        a = super().attributes()
        a["lkcd.version"] = self.version
        a["lkcd.compression"] = {lf.COMPRESS_NONE: "none", lf.COMPRESS_RLE: "rle", lf.COMPRESS_GZIP: "gzip"}[
            self.compression]
        a["lkcd.dump_level"] = self.dump_level
        return a


def _uts_sane(head: bytes, off: int) -> bool:
    """A utsname as a kernel writes it: each field ends in NUL within its 65 bytes, release,
    version and machine are not empty, sysname is "Linux"."""
    fields = [head[off + i * lf.UTS_FIELD : off + (i + 1) * lf.UTS_FIELD] for i in range(5)]
    if any(f[-1] != 0 for f in fields):
        return False
    sysname, _node, release, version, machine = (f.split(b"\0", 1)[0] for f in fields)
    return sysname == b"Linux" and bool(release and version and machine)
