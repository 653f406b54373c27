"""kdump-compressed dumps (makedumpfile, QEMU ``kdump-*``): signatures
``KDUMP   `` and ``DISKDUMP``, header versions 1 to 6.

The header's ABI (LP64 or ILP32, either byte order) is found by trying each
and keeping the one whose fields are sane, as libkdumpfile's ``try_header``
does; the two ILP32 sub-header layouts are told apart by where
``offset_vmcoreinfo`` points.  Layout: docs/formats.md §1.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable

from .. import accel, codecs
from ..core.errors import CorruptDumpError, TruncatedDumpError, UnsupportedDumpError
from ..core.pagemap import Bitmap, FileBitmap, FileBytes, PageMap, RangeMap, Restricted
from ..core.vmcoreinfo import VmcoreInfo
from ..formats import diskdump as dd
from ..formats import elf as elff
from ..translate import arch_from_machine
from .base import DumpReader
from .source import FileSource, Source

_RANK_BITS = 4096  # pfns per rank-index entry
LAZY_BITMAP_BYTES = 1 << 20  # a larger bitmap (over 32 GiB of memory) is read a piece at a time
MAX_BLOCK_SIZE = 1 << 20


UNPACK_AHEAD = 4 << 20  # bytes of a flattened (or other non-file) source read at once for the C kernel


def _sane(h: dd.DiskDumpHeader) -> bool:
    bs = h.block_size
    return 0 <= h.header_version < 64 and 512 <= bs <= MAX_BLOCK_SIZE and bs & (bs - 1) == 0 and h.sub_hdr_size >= 0


def _plausible(h: dd.DiskDumpHeader) -> bool:
    """Sane, and the sizes a real file needs are there: an ILP32 header read
    as LP64 takes its max_mapnr for the block size and zeros for the rest."""
    return _sane(h) and h.bitmap_blocks > 0 and (h.sub_hdr_size > 0 or h.header_version < 2)


def _sub_fits(sub: dd.KdumpSubHeader, lo: int, hi: int) -> bool:
    """True if the VMCOREINFO and note blobs this sub header names are absent
    (offset and size 0) or lie inside the sub-header area [lo, hi)."""
    for off, size in ((sub.offset_vmcoreinfo, sub.size_vmcoreinfo), (sub.offset_note, sub.size_note)):
        if (off or size) and not lo <= off <= off + size <= hi:
            return False
    return True


class KdumpReader(DumpReader):
    format_name = "kdump"
    memmap: Bitmap  # bitmap 1 (the split set compares the parts' bitmaps)
    _umemmap: PageMap  # bitmap 1 and the pages held, in the file's page numbers
    _upagemap: PageMap

    @classmethod
    def probe(cls, source: Source) -> bool:
        return source.pread(0, 8) in dd.SIGNATURES

    def __init__(self, source: Source) -> None:
        self.source = source
        h, self.endian, layout = self._read_header()
        self.header = h
        self.page_size = self.block_size = h.block_size
        self.block_pages = 1  # kernel pages in a block of the file (QEMU's 64 KiB blocks: _split_blocks)
        self.uts = h.uts()
        self.arch = named = arch_from_machine(self.uts["machine"])  # as the header names it
        self.layout, self.sub = self._read_sub_header(h, layout)
        self.description = "Compressed KDUMP" if h.signature == dd.SIG_KDUMP else "Diskdump"
        self.incomplete = bool(h.status & dd.DUMP_DH_COMPRESSED_INCOMPLETE)
        self.dump_level = self.sub.dump_level
        self.max_pfn = self.sub.max_mapnr_64 if h.header_version >= 6 and self.sub.max_mapnr_64 else h.max_mapnr
        self._read_bitmaps(h)
        self._set_range(h, self.sub)
        self._read_notes(h, self.sub)
        self.phys_base = self.sub.phys_base
        self._decomp: dict[int, Callable[[bytes, int], bytes]] = {}
        self.vmcoreinfo_from_memory_if_missing()  # QEMU's s390x kdump files
        ps = self.vmcoreinfo.page_size
        if ps and 512 <= ps < self.block_size and self.block_size % ps == 0 and not self.split:
            self._split_blocks(ps)
        if self.arch is None and self.vmcoreinfo.osrelease:  # QEMU 10 writes the machine "Unknown"
            found = self.arch_from_memory(lambda a: self.vmcoreinfo.NUMBER.get(a.phys_base_number, self.phys_base))
            if found is not None:
                self.arch = found[0]
        if named is not None and named.kdump_pfn_offset and self.phys_base and self.block_pages == 1:
            self._offset_pfns(self.phys_base // self.page_size)
        if not self.uts["release"] and self.vmcoreinfo.osrelease:
            # QEMU writes an empty utsname: read it from memory, or use VMCOREINFO
            pb = self.vmcoreinfo.NUMBER.get("phys_base", self.phys_base)
            self.uts = self.read_uts_from_memory(pb) or dict(self.uts, sysname="Linux",
                                                             release=self.vmcoreinfo.osrelease)

    def _split_blocks(self, page_size: int) -> None:
        """Pages of the kernel's size in a file of larger blocks.  QEMU writes its kdump files in
        blocks of its target's largest page size (64 KiB on arm64) whatever the kernel's page size;
        the bitmaps and descriptors count blocks.  The dump is presented in the kernel's pages (what
        mem_map describes): a block's bit stands for each of its pages."""
        r = self.block_size // page_size
        self.block_pages = r
        self.page_size = page_size
        self.max_pfn *= r
        self.memmap = RangeMap(((a * r, b * r) for a, b in self.memmap.runs()), self.max_pfn)  # type: ignore[assignment]
        self.pagemap = RangeMap(((a * r, b * r) for a, b in self.pagemap_full.runs()), self.max_pfn)
        self._umemmap, self._upagemap = self.memmap, self.pagemap
        self._last_block: tuple[int, bytes] = (-1, b"")

    def _offset_pfns(self, off: int) -> None:
        """A file whose page numbers start at the first page of RAM (``off``, from its
        ``phys_base``), as makedumpfile writes them for arm: the dump is presented in physical
        page numbers.  (QEMU's files of an arm guest set ``phys_base`` but number pages from 0;
        their machine name is not arm's.)"""
        self.pfn_offset = off
        self.max_pfn += off
        self.memmap = RangeMap(((a + off, b + off) for a, b in self._umemmap.runs()), self.max_pfn)  # type: ignore[assignment]
        self.pagemap = RangeMap(((a + off, b + off) for a, b in self._upagemap.runs()), self.max_pfn)

    def _block(self, block: int) -> bytes:
        """One block of a file whose blocks hold several pages (the last one read is kept)."""
        if self._last_block[0] != block:
            self._last_block = (block, self._page(block, self._descs(block, 1)[0], None))
        return self._last_block[1]

    def _read_header(self) -> tuple[dd.DiskDumpHeader, str, str]:
        """The main header, with the byte order and word size that make it plausible."""
        head = self.source.read_exact(0, 464, "kdump main header")
        size = self.source.size

        def fits(h: dd.DiskDumpHeader) -> bool:  # its bitmaps are in the file
            return _plausible(h) and (1 + h.sub_hdr_size + h.bitmap_blocks) * h.block_size <= size

        # an ILP32 header read as LP64 can look plausible (its max_mapnr taken for a block size, a
        # version 0 diskdump header); where it does, only the right reading finds its bitmaps in
        # the file.  A merely sane candidate gives the precise error below.
        for test in (fits, _plausible, _sane):
            for layout in ("64", "i386"):
                for endian in ("<", ">"):
                    h = dd.DiskDumpHeader.unpack(head, endian, layout)
                    if test(h):
                        if h.header_version > dd.HEADER_VERSION:
                            raise UnsupportedDumpError(
                                f"Cannot read kdump header version {h.header_version} (we know 0 to 6)", self.name)
                        return h, endian, layout
        raise CorruptDumpError("Cannot read kdump header: no byte order or word size gives a sane block size "
                               "and version", self.name)

    def _read_sub_header(self, h: dd.DiskDumpHeader, layout: str) -> tuple[str, dd.KdumpSubHeader]:
        """The sub header, and the layout it was written with (a 32-bit writer's off_t is
        packed or 8-byte aligned: the one whose blob offsets point into the sub-header area)."""
        bs = h.block_size
        if layout == "i386" and h.header_version >= 3:
            packed = dd.KdumpSubHeader.struct(self.endian, "i386").size  # 80 bytes; 96 with padding
            raw = self.source.read_exact(bs, packed, "kdump sub header")
            raw += self.source.pread(bs + packed, dd.KdumpSubHeader.struct(self.endian, "32pad").size - packed)
            area = (bs, bs * (1 + h.sub_hdr_size))
            if not _sub_fits(dd.KdumpSubHeader.unpack(raw, self.endian, "i386", h.header_version), *area):
                padded_fits = len(raw) == dd.KdumpSubHeader.struct(self.endian, "32pad").size and _sub_fits(
                    dd.KdumpSubHeader.unpack(raw, self.endian, "32pad", h.header_version), *area)
                if padded_fits:
                    layout = "32pad"
        if layout == "64" and h.header_version >= 6 and h.sub_hdr_size and h.max_mapnr:
            # a 32-bit writer whose time_t is 64 bits (Debian's armhf from 13 on) writes the main
            # header as LP64 does and the sub header with its own 32-bit longs: when the LP64
            # reading does not hold, the 32-bit one whose blobs lie in the sub-header area and
            # whose max_mapnr_64 is the header's max_mapnr
            area = (bs, bs * (1 + h.sub_hdr_size))
            raw = self.source.pread(bs, dd.KdumpSubHeader.struct(self.endian, "64").size)

            def holds(cand: str) -> bool:
                n = dd.KdumpSubHeader.struct(self.endian, cand).size
                sub = dd.KdumpSubHeader.unpack(raw[:n], self.endian, cand, h.header_version) if len(raw) >= n else None
                return sub is not None and _sub_fits(sub, *area) and (
                    sub.max_mapnr_64 == h.max_mapnr or h.max_mapnr == 0xFFFFFFFF < sub.max_mapnr_64)

            if not holds("64"):
                layout = next((c for c in ("32pad", "i386") if holds(c)), layout)
        sub_size = dd.KdumpSubHeader.struct(self.endian, layout).size
        if h.sub_hdr_size == 0 and h.header_version >= 2:
            raise CorruptDumpError("Cannot read kdump sub header: sub_hdr_size is 0", self.name)
        raw = self.source.read_exact(bs, sub_size, "kdump sub header") if h.sub_hdr_size else bytes(sub_size)
        return layout, dd.KdumpSubHeader.unpack(raw, self.endian, layout, h.header_version)

    def _read_bitmaps(self, h: dd.DiskDumpHeader) -> None:
        """Bitmap 1 (the machine's RAM), bitmap 2 (the pages stored) and the rank index."""
        bs, max_mapnr, source = h.block_size, self.max_pfn, self.source
        if h.bitmap_blocks % 2:
            raise CorruptDumpError(f"Cannot read bitmaps: bitmap_blocks {h.bitmap_blocks} is odd", self.name)
        half = h.bitmap_blocks // 2 * bs
        if half * 8 < max_mapnr:
            raise CorruptDumpError(
                f"Cannot read bitmaps: {half * 8:#x} bits do not cover max_mapnr {max_mapnr:#x}", self.name
            )
        self.bitmap_offset = (1 + h.sub_hdr_size) * bs
        nbytes = (max_mapnr + 7) // 8
        if nbytes and self.bitmap_offset + half + nbytes > source.size:  # (no RAM: nothing to read)
            raise CorruptDumpError(
                f"Cannot read bitmaps: they end at {self.bitmap_offset + half + nbytes:#x}, past the end of the file "
                f"({source.size:#x})",
                self.name,
            )
        self.memmap = self._bitmap(self.bitmap_offset, nbytes, max_mapnr, "first bitmap")
        self.pagemap_full = self._bitmap(self.bitmap_offset + half, nbytes, max_mapnr, "second bitmap")
        self.pd_offset = (1 + h.sub_hdr_size + h.bitmap_blocks) * bs
        self._build_rank()

    def _set_range(self, h: dd.DiskDumpHeader, sub: dd.KdumpSubHeader) -> None:
        """The pfns this file holds: all, or [start, end) for a part of a split set."""
        max_mapnr = self.max_pfn
        self.split = bool(sub.split)
        if self.split:
            start = sub.start_pfn_64 if h.header_version >= 6 else sub.start_pfn
            end = sub.end_pfn_64 if h.header_version >= 6 else sub.end_pfn
            if not 0 <= start <= end <= max_mapnr:
                raise CorruptDumpError(f"Cannot use split range {start:#x}-{end:#x} (max_mapnr {max_mapnr:#x})",
                                       self.name)
            self.start_pfn, self.end_pfn = start, end
            self.pagemap = Restricted(self.pagemap_full, [(start, end)])
        else:
            self.start_pfn, self.end_pfn = 0, max_mapnr
            self.pagemap = self.pagemap_full
        # the maps in the file's own page numbers (what the bitmaps and descriptors count); the
        # public ones are physical (_offset_pfns)
        self._umemmap, self._upagemap = self.memmap, self.pagemap
        self.pfn_offset = 0
        self._first_rank = self._rank_of(self.start_pfn)
        self.num_dumpable = self._rank_of(self.end_pfn) - self._first_rank

    def _read_notes(self, h: dd.DiskDumpHeader, sub: dd.KdumpSubHeader) -> None:
        """The ELF notes, VMCOREINFO (from the notes, else its own blob) and eraseinfo."""
        notes = b""
        if h.header_version >= 4 and sub.size_note:
            notes = self._blob(sub.offset_note, sub.size_note, "ELF notes")
        self.notes = notes
        vmci = self.vmcoreinfo_from_notes() if notes else b""
        if not vmci and h.header_version >= 3 and sub.size_vmcoreinfo:
            vmci = self._blob(sub.offset_vmcoreinfo, sub.size_vmcoreinfo, "VMCOREINFO")
        self.vmcoreinfo = VmcoreInfo(vmci)
        self.eraseinfo = b""
        if h.header_version >= 5 and sub.size_eraseinfo:
            self.eraseinfo = self._blob(sub.offset_eraseinfo, sub.size_eraseinfo, "eraseinfo")

    def _bitmap(self, offset: int, nbytes: int, max_mapnr: int, what: str) -> Bitmap:
        """A bitmap of the file: read whole when small, else a piece at a
        time (:class:`FileBitmap`) so that memory does not grow with the dump."""
        if nbytes <= LAZY_BITMAP_BYTES:
            return Bitmap(self.source.read_exact(offset, nbytes, what) if nbytes else b"", max_mapnr)
        src = self.source
        src.check_range(offset, nbytes, what)  # the data is there (a flattened stream may only claim it)
        return FileBitmap(FileBytes(lambda o, n: src.read_exact(offset + o, n, what), nbytes), max_mapnr)

    def _blob(self, offset: int, size: int, what: str) -> bytes:
        if size > 64 << 20 or offset < 0:
            raise CorruptDumpError(f"Cannot read {what}: absurd size {size:#x} or offset {offset:#x}", self.name)
        return self.source.read_exact(offset, size, what)

    def _build_rank(self) -> None:
        buf = self.pagemap_full.buf
        step = _RANK_BITS // 8
        rank = array("Q", [0])
        total = 0
        for off in range(0, len(buf), step):
            total += accel.popcount(buf[off : off + step])
            rank.append(total)
        self._rank = rank

    def _rank_of(self, pfn: int) -> int:
        """Number of dumped pages below ``pfn`` (set bits of bitmap 2)."""
        blk, rem = divmod(pfn, _RANK_BITS)
        n = self._rank[blk]
        if rem:
            n += self.pagemap_full.count(blk * _RANK_BITS, pfn)
        return n

    def attributes(self) -> dict[str, object]:
        a = super().attributes()
        h, sub = self.header, self.sub
        a.update(
            {
                "file.compression": _compression_name(h.status),
                "file.eraseinfo.raw": self.eraseinfo,
                "kdump.header_version": h.header_version,
                "kdump.signature": h.signature.decode("ascii", "replace"),
                "kdump.layout": self.layout,
                "kdump.status": h.status,
                "kdump.dump_level": sub.dump_level,
                "kdump.split": int(self.split),
                "kdump.start_pfn": self.start_pfn,
                "kdump.end_pfn": self.end_pfn,
                "kdump.num_dumpable": self.num_dumpable,
                "linux.phys_base": self.vmcoreinfo.NUMBER.get("phys_base", sub.phys_base),
                "filter.dump_level": sub.dump_level,
            }
        )
        if "linux.crashtime" not in a and h.tv_sec:
            a["linux.crashtime"] = h.tv_sec
        return a

    # ---- page access ----
    def _desc_bytes(self, pfn: int, count: int) -> bytes:
        """The page descriptors of ``count`` dumped pages from ``pfn``, as the file has them (fewer
        where the file ends)."""
        idx = self._rank_of(pfn) - self._first_rank
        return self.source.pread(self.pd_offset + idx * dd.PAGE_DESC_SIZE, count * dd.PAGE_DESC_SIZE)

    def _descs(self, pfn: int, count: int) -> list[tuple[int, int, int, int]]:
        pds = dd.page_desc_struct(self.endian)
        raw = self._desc_bytes(pfn, count)
        if len(raw) < count * dd.PAGE_DESC_SIZE and not self.incomplete:
            raise TruncatedDumpError(
                f"Cannot read the page descriptor of pfn {pfn + len(raw) // dd.PAGE_DESC_SIZE:#x}: "
                f"the file ends at {self.source.size:#x}",
                self.name,
            )
        out = []
        for i in range(count):
            if (i + 1) * dd.PAGE_DESC_SIZE <= len(raw):
                out.append(pds.unpack_from(raw, i * dd.PAGE_DESC_SIZE))
            else:  # descriptors past the end of an incomplete file
                out.append((0, 0, 0, 0))
        return out

    def _check(self, pfn: int) -> None:
        if not self._upagemap.test(pfn):
            at = pfn + self.pfn_offset
            if self.block_pages == 1 and self.pagemap_full.test(pfn):
                raise self.excluded(at, "in another file of the split dump")
            raise self.excluded(at, "page excluded" if self._umemmap.test(pfn) else "not in memory (a hole)")

    def read_page(self, pfn: int) -> bytes:
        if self.pfn_offset:
            if pfn < self.pfn_offset:
                raise self.excluded(pfn, "not in memory (a hole)")
            pfn -= self.pfn_offset
        self._check(pfn)
        if self.block_pages > 1:
            block, i = divmod(pfn, self.block_pages)
            return self._block(block)[i * self.page_size : (i + 1) * self.page_size]
        return self._page(pfn, self._descs(pfn, 1)[0], None)

    def read_pages(self, pfn: int, count: int) -> bytes:
        if count <= 0:
            return b""
        if self.block_pages > 1 or pfn < self.pfn_offset:
            return b"".join(self.read_page(p) for p in range(pfn, pfn + count))
        pfn -= self.pfn_offset
        if self._upagemap.count(pfn, pfn + count) != count:
            for p in range(pfn, pfn + count):
                self._check(p)
        head = b""
        if not self.incomplete and self.source.size_known:
            got, head = self._unpack(pfn, count)
            if got == count:
                return head
            pfn, count = pfn + got, count - got
        descs = self._descs(pfn, count)
        # read the data of the whole run in one go when it is contiguous
        first = descs[0][0]
        span = None
        if first > 0:
            end = first
            for off, size, _flags, _pf in descs:
                if off != end or size > self.block_size:
                    break
                end += size
            else:
                span = self.source.pread(first, end - first)
        parts = [head] if head else []
        for i, d in enumerate(descs):
            parts.append(self._page(pfn + i, d, (span, first) if span is not None else None))
        return b"".join(parts)

    def _unpack(self, pfn: int, count: int) -> tuple[int, bytes]:
        """The pages of the run that the C kernel reads and decompresses (GIL released), up to the
        first it does not take exactly: (how many, their data).  A file is read by its
        descriptor; another source (a flattened stream read in place, memory) gives the kernel
        the bytes it asks for, the main run's data and one side piece (the shared zero page)."""
        src = self.source
        raw = self._desc_bytes(pfn, count)
        raw = raw[: len(raw) - len(raw) % dd.PAGE_DESC_SIZE]  # a file that ends in a descriptor
        big, ps = self.endian == ">", self.block_size
        if isinstance(src, FileSource):
            data, got, _, _ = accel.kdump_unpack(src.fd, raw, big, ps, self.pd_offset, src.size)
            return got, data
        parts, done = [], 0
        regions: list[tuple[int, bytes]] = []
        while done < len(raw) // dd.PAGE_DESC_SIZE:
            data, got, need_off, need_len = accel.kdump_unpack(
                -1, raw[done * dd.PAGE_DESC_SIZE :], big, ps, self.pd_offset, src.size, regions)
            parts.append(data)
            done += got
            if not need_len or (got == 0 and any(b == need_off for b, _ in regions)):
                break  # a page the kernel does not take, or one whose data the source cannot give
            # data before the main piece (the shared zero page, written first) go beside it; the
            # main piece is read ahead, as far as the rest of the run's pages could reach
            side = bool(regions) and need_off < regions[0][0]
            want = need_len if side else max(need_len, min(UNPACK_AHEAD, (len(raw) // dd.PAGE_DESC_SIZE - done) * ps))
            piece = src.pread(need_off, want)
            if len(piece) < need_len:
                break
            regions = [regions[0], (need_off, piece)] if side else [(need_off, piece)] + regions[1:]
        return done, b"".join(parts)

    def _page(self, pfn: int, desc: tuple[int, int, int, int], span: tuple[bytes, int] | None) -> bytes:
        offset, size, flags, _ = desc
        ps = self.block_size
        if offset == 0:
            raise self.excluded(pfn, "lost: the dump is incomplete" if self.incomplete else "descriptor has offset 0")
        if offset < self.pd_offset or size > ps or size == 0:
            raise CorruptDumpError(
                f"Cannot read pfn {pfn:#x}: bad page descriptor (offset {offset:#x}, size {size})", self.name
            )
        if span is not None and 0 <= offset - span[1] and offset - span[1] + size <= len(span[0]):
            data = span[0][offset - span[1] : offset - span[1] + size]
        else:
            data = self.source.pread(offset, size)
        if len(data) != size:
            if self.incomplete:
                raise self.excluded(pfn, "lost: the dump is incomplete")
            raise CorruptDumpError(
                f"Cannot read pfn {pfn:#x}: data at {offset:#x}+{size} is past the end of the file", self.name
            )
        comp = flags & dd.COMPRESSION_MASK
        if flags & ~dd.COMPRESSION_MASK:
            raise UnsupportedDumpError(f"Cannot read pfn {pfn:#x}: unknown page descriptor flags {flags:#x}", self.name)
        if not comp:
            if size != ps:
                raise CorruptDumpError(f"Cannot read pfn {pfn:#x}: raw page of {size} bytes", self.name)
            return data
        fn = self._decomp.get(comp)
        try:
            if fn is None:
                fn = self._decomp[comp] = codecs.decompressor(comp)
            page = fn(data, ps)
        except UnsupportedDumpError as e:
            raise UnsupportedDumpError(f"Cannot read pfn {pfn:#x}: {e.message}", self.name) from None
        except Exception as e:  # noqa: BLE001 - every codec has its own error type
            raise CorruptDumpError(f"Cannot read pfn {pfn:#x}: {_compression_name(comp)} data is corrupt ({e})",
                                   self.name) from None
        if len(page) != ps:
            raise CorruptDumpError(
                f"Cannot read pfn {pfn:#x}: {_compression_name(comp)} data gives {len(page)} bytes, not {ps}", self.name
            )
        return bytes(page)

    def raw_descriptors(self, pfn: int, count: int) -> list[tuple[int, int, int, int]]:
        """The page descriptors (offset, size, flags, page_flags) of ``count``
        dumped pages from ``pfn`` (which must be set in bitmap 2)."""
        if self.block_pages > 1:
            raise UnsupportedDumpError("Cannot copy pages as stored: the file's blocks hold several pages", self.name)
        return self._descs(pfn, count)


def _compression_name(status: int) -> str:
    for flag, c in codecs.BY_FLAG.items():
        if status & flag:
            return c.name
    return "none"


__all__ = ["KdumpReader", "elff"]
