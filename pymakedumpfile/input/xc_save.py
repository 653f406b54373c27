"""Xen domain save images, legacy format (``xm save`` of a 64-bit paravirtual guest, which
crash reads as "xendump"): the guest's pages by pfn, sent in batches.  Layout: docs/images.md.

The signature "LinuxGuestRecord", a big-endian ``u32`` length and the domain's configuration
text, ``u64`` nr_pfns, the pfn-to-mfn frame list (a ``u64`` per 512 pfns), then batches: an
``i32`` count (0 ends them, -1 says the pages that follow are sent again to be verified), that
many ``u64`` entries (a pfn, its page's type in bits 28-31), and a page for each entry whose type
has data.  A page sent twice is read as sent last.  Page tables in a save image hold pfns, not
machine frames (xc_save "canonicalises" them), so the kernel's own tables translate as in any
dump.  Nothing names the kernel: VMCOREINFO is found in memory (:mod:`.image`).
"""

from __future__ import annotations

import struct

from ..core.errors import CorruptDumpError, UnsupportedDumpError
from ..formats import xc_save as xf
from ..translate import get_arch
from .image import Extent, ImageReader, file_fetch
from .source import Source

MAX_PFNS = 1 << 34  # 64 TiB of 4 KiB pages
MAX_CONFIG = 1 << 24


class XcSaveReader(ImageReader):
    format_name = "xc_save"
    description = "Xen domain save image (LinuxGuestRecord)"

    @classmethod
    def probe(cls, source: Source) -> bool:
        return source.pread(0, len(xf.SIGNATURE)) == xf.SIGNATURE

    def __init__(self, source: Source) -> None:
        self.source = source
        if not self.probe(source):
            raise UnsupportedDumpError("Cannot open: not a Xen save image (no LinuxGuestRecord)", self.name)
        pos = len(xf.SIGNATURE)
        (cfg_len,) = struct.unpack(">I", source.read_exact(pos, 4, "Xen save configuration length"))
        if cfg_len > MAX_CONFIG:
            raise CorruptDumpError(f"Cannot read the Xen save image: a configuration of {cfg_len} bytes", self.name)
        self.config = source.read_exact(pos + 4, cfg_len, "Xen save configuration")
        pos += 4 + cfg_len
        (nr_pfns,) = struct.unpack("<Q", source.read_exact(pos, 8, "Xen save nr_pfns"))
        if nr_pfns == (1 << 64) - 1:
            raise UnsupportedDumpError("Cannot read this Xen save image: its extended-information chunks come from "
                                       "a newer Xen (only the format crash reads)", self.name)
        if not 0 < nr_pfns <= MAX_PFNS:
            raise CorruptDumpError(f"Cannot read the Xen save image: nr_pfns {nr_pfns}", self.name)
        self.nr_pfns = nr_pfns
        ps = xf.PAGE_SIZE
        pos += 8 + 8 * (-(-nr_pfns // (ps // 8)))  # the pfn-to-mfn frame list
        where: dict[int, int] = {}  # pfn -> file offset of its page (the last sent)
        pages = batches = 0
        while True:
            (count,) = struct.unpack("<i", source.read_exact(pos, 4, "Xen save batch"))
            pos += 4
            if count == 0:
                break
            if count == xf.VERIFY:
                continue
            if not 0 < count <= xf.MAX_BATCH:
                raise CorruptDumpError(f"Cannot read the Xen save image: a batch of {count} pages at {pos - 4:#x}",
                                       self.name)
            batches += 1
            if batches > nr_pfns + 2:
                raise CorruptDumpError("Cannot read the Xen save image: more batches than pages", self.name)
            entries = struct.unpack(f"<{count}Q", source.read_exact(pos, 8 * count, "Xen save batch entries"))
            pos += 8 * count
            for e in entries:
                if e & xf.TYPE_MASK in xf.TYPE_NO_DATA:
                    continue
                pfn = e & ~xf.TYPE_MASK
                if pfn >= nr_pfns:
                    raise CorruptDumpError(f"Cannot read the Xen save image: pfn {pfn:#x} past nr_pfns {nr_pfns:#x}",
                                           self.name)
                where[pfn] = pos
                pos += ps
                pages += 1
            if pos > source.size:
                raise CorruptDumpError(f"Cannot read the Xen save image: its pages run past the end of the file "
                                       f"({source.size:#x})", self.name)
        self.pages_sent = pages
        # runs of pfns whose pages follow one another in the file: one extent each
        self.extents = []
        run_pfn = run_off = -1
        n = 0
        for pfn in sorted(where):
            off = where[pfn]
            if n and pfn == run_pfn + n and off == run_off + n * ps:
                n += 1
                continue
            if n:
                self.extents.append(Extent(run_pfn * ps, (run_pfn + n) * ps, file_fetch(source, run_off, "Xen page")))
            run_pfn, run_off, n = pfn, off, 1
        if n:
            self.extents.append(Extent(run_pfn * ps, (run_pfn + n) * ps, file_fetch(source, run_off, "Xen page")))
        self.settle(arch=get_arch("x86_64"), page_size=ps)

    def attributes(self) -> dict[str, object]:
        a = super().attributes()
        a["xen.type"] = "domain"
        a["xen.hvm"] = False
        return a
