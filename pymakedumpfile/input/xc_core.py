"""Xen domain dumps (``xl dump-core``, libxc's ``xc_core``): an ELF64 core whose memory is in
sections, not program headers.  Layout: docs/images.md.

``.xen_pages`` holds the domain's pages one after another; ``.xen_pfn`` (an HVM or
auto-translated guest) gives the pfn of each, ``.xen_p2m`` (a paravirtual guest) a pfn and
machine frame pair.  ``.note.Xen`` carries a header (page size, page count, vCPUs) and the Xen
version.  Nothing says which kernel ran: VMCOREINFO is found in memory (:mod:`.image`).
"""

from __future__ import annotations

import struct
from array import array

from ..core.errors import CorruptDumpError, UnsupportedDumpError
from ..formats import elf as elff
from ..translate import arch_from_elf_machine
from .elf import sections
from .image import Extent, ImageReader, file_fetch
from .source import Source

XEN_NOTE_NAME = b"Xen"
XEN_ELFNOTE_DUMPCORE_HEADER = 0x2000001
XEN_ELFNOTE_DUMPCORE_XEN_VERSION = 0x2000002
XEN_ELFNOTE_DUMPCORE_FORMAT_VERSION = 0x2000003
XC_CORE_MAGIC, XC_CORE_MAGIC_HVM = 0xF00FEBED, 0xF00FEBEE
INVALID_PFN = (1 << 64) - 1
MAX_PAGES = 1 << 34  # 64 TiB of 4 KiB pages


class XcCoreReader(ImageReader):
    format_name = "xc_core"

    @classmethod
    def probe(cls, source: Source) -> bool:
        return source.pread(0, 4) == elff.ELFMAG and any(n == ".xen_pages" for n, _ in sections(source))

    def __init__(self, source: Source) -> None:
        self.source = source
        secs = dict(sections(source))
        ident = source.read_exact(0, 16, "ELF identification")
        endian = "<" if ident[5] == elff.ELFDATA2LSB else ">"
        bits = 64 if ident[4] == elff.ELFCLASS64 else 32
        eh = elff.Ehdr.unpack(source.read_exact(0, elff.Ehdr.struct(endian, bits).size, "ELF header"), endian, bits)
        arch = arch_from_elf_machine(eh.e_machine, bits)
        notes = self._section(secs, ".note.Xen", 1 << 20) if ".note.Xen" in secs else b""
        magic = nr_vcpus = nr_pages = 0
        page_size = arch.default_page_size if arch else 4096
        self.xen_version = ""
        for note in elff.parse_notes(notes, endian):
            if note.name != XEN_NOTE_NAME:
                continue
            if note.type == XEN_ELFNOTE_DUMPCORE_HEADER and len(note.desc) >= 32:
                magic, nr_vcpus, nr_pages, page_size = struct.unpack_from(endian + "QQQQ", note.desc)
            elif note.type == XEN_ELFNOTE_DUMPCORE_XEN_VERSION and len(note.desc) >= 16:
                major, minor = struct.unpack_from(endian + "QQ", note.desc)
                self.xen_version = f"{major}.{minor}"
            elif note.type == XEN_ELFNOTE_DUMPCORE_FORMAT_VERSION and len(note.desc) >= 8:
                (version,) = struct.unpack_from(endian + "Q", note.desc)
                if version != 1:
                    raise UnsupportedDumpError(f"Cannot read Xen dump-core format version {version} (we know 1)",
                                               self.name)
        if magic not in (XC_CORE_MAGIC, XC_CORE_MAGIC_HVM):
            raise CorruptDumpError(f"Cannot read Xen domain dump: no dump-core header note (magic {magic:#x})",
                                   self.name)
        if page_size <= 0 or page_size & (page_size - 1) or page_size > 1 << 20:
            raise CorruptDumpError(f"Cannot read Xen domain dump: page size {page_size}", self.name)
        if ".xen_pages" not in secs:
            raise CorruptDumpError("Cannot read Xen domain dump: no .xen_pages section", self.name)
        self.hvm = ".xen_pfn" in secs
        table_name = ".xen_pfn" if self.hvm else ".xen_p2m"
        if table_name not in secs:
            raise CorruptDumpError("Cannot read Xen domain dump: no .xen_pfn or .xen_p2m section", self.name)
        entry = 8 if self.hvm else 16
        if nr_pages > MAX_PAGES or nr_pages * entry > secs[table_name].sh_size:
            raise CorruptDumpError(f"Cannot read Xen domain dump: {nr_pages} pages, but {table_name} holds "
                                   f"{secs[table_name].sh_size // entry}", self.name)
        pages = secs[".xen_pages"]
        if nr_pages * page_size > pages.sh_size or pages.sh_offset + pages.sh_size > source.size:
            raise CorruptDumpError(f"Cannot read Xen domain dump: .xen_pages ({pages.sh_size:#x} bytes at "
                                   f"{pages.sh_offset:#x}) does not hold {nr_pages} pages in the file", self.name)
        raw = source.read_exact(secs[table_name].sh_offset, nr_pages * entry, table_name)
        pfns = array("Q", raw)
        if (endian == ">") != (struct.pack("=H", 1) == b"\0\1"):
            pfns.byteswap()
        if not self.hvm:
            self.gmfns = pfns[1::2]
            pfns = pfns[0::2]
        self.nr_vcpus, self.nr_pages = nr_vcpus, nr_pages
        self.extents = []
        order = sorted((p, i) for i, p in enumerate(pfns) if p != INVALID_PFN)
        k = 0
        while k < len(order):
            p0, i0 = order[k]
            if k and order[k - 1][0] == p0:
                raise CorruptDumpError(f"Cannot read Xen domain dump: pfn {p0:#x} is in it twice", self.name)
            n = 1
            while k + n < len(order) and order[k + n] == (p0 + n, i0 + n):
                n += 1
            self.extents.append(Extent(p0 * page_size, (p0 + n) * page_size,
                                       file_fetch(source, pages.sh_offset + i0 * page_size, ".xen_pages")))
            k += n
        self.description = f"Xen {'HVM' if self.hvm else 'PV'} domain dump"
        self.settle(arch=arch, endian=endian)
        if self.vmcoreinfo.page_size and self.vmcoreinfo.page_size != page_size:
            raise CorruptDumpError(f"Cannot read Xen domain dump: its page size {page_size} is not the kernel's "
                                   f"({self.vmcoreinfo.page_size})", self.name)

    def _section(self, secs: dict[str, elff.Shdr], name: str, limit: int) -> bytes:
        sh = secs[name]
        if sh.sh_size > limit:
            raise CorruptDumpError(f"Cannot read Xen domain dump: section {name} of {sh.sh_size:#x} bytes", self.name)
        return self.source.read_exact(sh.sh_offset, sh.sh_size, name)

    def attributes(self) -> dict[str, object]:
        a = super().attributes()
        a["xen.type"] = "domain"
        a["xen.hvm"] = self.hvm
        a["xen.version"] = self.xen_version
        a["xen.vcpus"] = self.nr_vcpus
        return a
