"""s390 stand-alone dumps (``S390DUMP``): memory from address 0 after a 4 KiB header (in the
extended format: in segments, each after a header of its own), then an end marker.  The kernel
is found from the lowcore's pointer to its VMCOREINFO, else by the search of :mod:`.image`.
Layout: docs/images.md.
"""

from __future__ import annotations

from ..core.errors import CorruptDumpError, UnsupportedDumpError
from ..formats import s390dump as sf
from ..translate import get_arch
from .image import Extent, ImageReader, file_fetch
from .source import Source


class S390Image(ImageReader):
    """An s390 memory image: the kernel is found from the absolute lowcore's pointer to its
    VMCOREINFO (exact, and no search of all memory), else by the search of :mod:`.image`."""

    def scan_vmcoreinfo(self):  # type: ignore[no-untyped-def]
        if self.arch is not None and self.arch.vmcoreinfo_in_memory is not None and self.extents:
            text = self.arch.vmcoreinfo_in_memory(self.read_phys)
            if text:
                yield int.from_bytes(self.read_phys(sf.VMCOREINFO_POINTER, 8), "big"), text.split(b"\0", 1)[0]
                return
        yield from super().scan_vmcoreinfo()


class S390DumpReader(S390Image):
    format_name = "s390dump"
    description = "S390 stand-alone dump"

    @classmethod
    def probe(cls, source: Source) -> bool:
        return source.pread(0, 8) in (sf.MAGIC.to_bytes(8, "big"), sf.MAGIC_EXT.to_bytes(8, "big"))

    def __init__(self, source: Source) -> None:
        self.source = source
        h = sf.unpack(source.read_exact(0, sf.HEADER.size, "S390DUMP header"))
        if h["magic"] not in (sf.MAGIC, sf.MAGIC_EXT):
            raise UnsupportedDumpError("Cannot open: not an S390DUMP file (bad magic)", self.name)
        self.extended = h["magic"] == sf.MAGIC_EXT
        self.header = h
        arch = {sf.ARCH_64BIT: "s390x", sf.ARCH_32BIT: "s390"}.get(h["arch"])
        if arch is None:
            raise UnsupportedDumpError(f"Cannot read S390DUMP of architecture {h['arch']} (1: s390, 2: s390x)",
                                       self.name)
        if h["mvdump"]:
            raise UnsupportedDumpError("Cannot read a multi-volume S390DUMP (one file of several)", self.name)
        ps, hdr, size = h["page_size"], h["hdr_size"], h["mem_size"]
        if ps <= 0 or ps & (ps - 1) or ps > 1 << 20:
            raise CorruptDumpError(f"Cannot read S390DUMP: page size {ps}", self.name)
        if hdr < sf.HEADER.size or size % ps:
            raise CorruptDumpError(f"Cannot read S390DUMP: a {hdr:#x}-byte header, {size:#x} bytes of memory",
                                   self.name)
        end = self._segments(hdr, size) if self.extended else self._whole(hdr, size)
        marker, tod = sf.END.unpack(source.read_exact(end, sf.END.size, "S390DUMP end marker"))
        if marker != sf.END_MARKER or tod < h["tod"]:
            raise CorruptDumpError(f"Cannot read S390DUMP: no end marker after the memory (at {end:#x})",
                                   self.name)
        self.settle(arch=get_arch(arch), endian=">")

    def _whole(self, hdr: int, size: int) -> int:
        """The memory from 0, in one piece after the header; where the end marker is."""
        if hdr + size + sf.END.size > self.source.size:
            raise CorruptDumpError(f"Cannot read S390DUMP: {size:#x} bytes of memory after a {hdr:#x}-byte header "
                                   f"do not fit the file ({self.source.size:#x} bytes, with the end marker)", self.name)
        self.extents = [Extent(0, size, file_fetch(self.source, hdr, "S390DUMP memory"))] if size else []
        return hdr + size

    def _segments(self, hdr: int, size: int) -> int:
        """The extended format: segments (a 4 KiB header: first address, length, last-one flag;
        then the bytes) up to the one flagged last; where the end marker is.  Memory between
        segments was not dumped: it reads as excluded."""
        src = self.source
        if int.from_bytes(src.read_exact(sf.ZLIB_ENTRY_SIZE, 4, "S390DUMP header"), "big"):
            raise UnsupportedDumpError("Cannot read a compressed extended S390DUMP (zlib segments)", self.name)
        self.extents = []
        off, prev = hdr, 0
        while True:
            if len(self.extents) >= 1 << 16:
                raise CorruptDumpError("Cannot read S390DUMP: more than 65536 segments", self.name)
            start, length, last = sf.SEGMENT.unpack(src.read_exact(off, sf.SEGMENT.size, "S390DUMP segment header"))
            data = off + sf.SEGMENT_HEADER
            if start < prev or start + length > size or data + length > src.size:
                raise CorruptDumpError(f"Cannot read S390DUMP segment at {off:#x}: {start:#x}+{length:#x} (memory "
                                       f"{size:#x}, file {src.size:#x})", self.name)
            if length:
                self.extents.append(Extent(start, start + length, file_fetch(src, data, "S390DUMP memory")))
            off, prev = data + length, start + length
            if last:
                return off

    def attributes(self) -> dict[str, object]:
        a = super().attributes()
        a["s390dump.version"] = self.header["version"]
        a["s390dump.cpus"] = self.header["cpu_cnt"]
        return a
