"""s390 stand-alone dumps (``S390DUMP``): memory from address 0 after a 4 KiB header, then an
end marker.  The kernel is found from the lowcore's pointer to its VMCOREINFO, else by the search
of :mod:`.image`.  Layout: docs/images.md.
"""

from __future__ import annotations

from ..core.errors import CorruptDumpError, UnsupportedDumpError
from ..formats import s390dump as sf
from ..translate import get_arch
from .image import Extent, ImageReader, file_fetch
from .source import Source


class S390DumpReader(ImageReader):
    format_name = "s390dump"
    description = "S390 stand-alone dump"

    @classmethod
    def probe(cls, source: Source) -> bool:
        return source.pread(0, 8) == sf.MAGIC.to_bytes(8, "big")

    def __init__(self, source: Source) -> None:
        self.source = source
        h = sf.unpack(source.read_exact(0, sf.HEADER.size, "S390DUMP header"))
        if h["magic"] != sf.MAGIC:
            raise UnsupportedDumpError("Cannot open: not an S390DUMP file (bad magic)", self.name)
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
        if hdr < sf.HEADER.size or size % ps or hdr + size + sf.END.size > source.size:
            raise CorruptDumpError(f"Cannot read S390DUMP: {size:#x} bytes of memory after a {hdr:#x}-byte header "
                                   f"do not fit the file ({source.size:#x} bytes, with the end marker)", self.name)
        marker, tod = sf.END.unpack(source.read_exact(hdr + size, sf.END.size, "S390DUMP end marker"))
        if marker != sf.END_MARKER or tod < h["tod"]:
            raise CorruptDumpError(f"Cannot read S390DUMP: no end marker after the memory (at {hdr + size:#x})",
                                   self.name)
        self.extents = [Extent(0, size, file_fetch(source, hdr, "S390DUMP memory"))] if size else []
        self.settle(arch=get_arch(arch), endian=">")

    def scan_vmcoreinfo(self):  # type: ignore[no-untyped-def]
        """The lowcore's pointer first (exact, and no search of all memory), then the search."""
        if self.arch is not None and self.arch.vmcoreinfo_in_memory is not None and self.extents:
            text = self.arch.vmcoreinfo_in_memory(self.read_phys)
            if text:
                yield int.from_bytes(self.read_phys(sf.VMCOREINFO_POINTER, 8), "big"), text.split(b"\0", 1)[0]
                return
        yield from super().scan_vmcoreinfo()

    def attributes(self) -> dict[str, object]:
        a = super().attributes()
        a["s390dump.version"] = self.header["version"]
        a["s390dump.cpus"] = self.header["cpu_cnt"]
        return a
