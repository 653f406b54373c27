"""SADUMP: Fujitsu's firmware dumps (x86), single partition or a media backup file of one.

A partition header block (its size: where the magic numbers after it end), the dump header,
the CPU states (sub header), a bitmap of RAM and a bitmap of the pages dumped (both with pfn 0
in the top bit of the first byte), then the pages dumped, in pfn order, a block each.  A page of
RAM that was not dumped reads as zeros (as makedumpfile reads it).  Nothing
names the kernel: it is found in memory (:mod:`.image`).  Layout: docs/images.md.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from ..core.errors import CorruptDumpError, UnsupportedDumpError, UsageError
from ..core.pagemap import Bitmap
from ..formats import sadump as sf
from ..translate import get_arch
from .image import Extent, ImageReader, file_fetch
from .source import Source

MAX_BITMAP = 1 << 30


class SadumpReader(ImageReader):
    format_name = "sadump"

    @classmethod
    def probe(cls, source: Source) -> bool:
        return sf.PART_SIGNATURE in (source.pread(0, 8), source.pread(sf.MEDIA_HEADER, 8))

    def __init__(self, source: Source, others: Sequence[Source] = ()) -> None:
        """``source``: a single partition, a media backup, or disk 1 of a disk set whose other
        disks are ``others`` (in any order)."""
        self.source = source
        self.others = list(others)
        self._other_spans: list[tuple[Source, int]] = []
        media = source.pread(0, 8) != sf.PART_SIGNATURE
        pos = sf.MEDIA_HEADER if media else 0
        block = source.pread(pos, 1 << 16)
        if block[:8] != sf.PART_SIGNATURE or len(block) < sf.PART.size + 8:
            raise UnsupportedDumpError("Cannot open: not a SADUMP partition or media backup", self.name)
        part = sf.part_fields(block)
        bs = sf.magic_block_size(block)
        if not bs:
            raise CorruptDumpError(f"Cannot read SADUMP: the magic numbers after the partition header at {pos:#x} "
                                   "do not fill a block", self.name)
        disk_no = int(part["set_disk_set"]) if not media else 0  # type: ignore[call-overload]
        hpos = pos + bs
        self.disks = 1
        if disk_no > 1:
            raise UnsupportedDumpError(f"Cannot open: this is disk {disk_no} of a SADUMP disk set; give disk 1 first "
                                       "(--diskset DISK1 --diskset DISK2 ...)", self.name)
        if disk_no == 1:
            hpos = self._disk_set(part, hpos, bs)
        elif self.others:
            raise UsageError("Cannot open a SADUMP single partition with other files", self.name)
        sig, h = sf.header_fields(source.read_exact(hpos, sf.HEADER.size, "SADUMP header"))
        if sig != sf.DUMP_SIGNATURE:
            raise CorruptDumpError(f"Cannot read SADUMP: no dump header at {hpos:#x}", self.name)
        if h["block_size"] != bs:
            raise CorruptDumpError(f"Cannot read SADUMP: block size {h['block_size']} in the header, {bs} by the "
                                   "magic numbers", self.name)
        max_mapnr = int(h["max_mapnr"] if h["header_version"] == 0 else h["max_mapnr_64"])
        bitmap_len, dump_len = int(h["bitmap_blocks"]) * bs, int(h["dumpable_bitmap_blocks"]) * bs
        if not bitmap_len or not dump_len or dump_len > MAX_BITMAP or max_mapnr > dump_len * 8:
            raise CorruptDumpError(f"Cannot read SADUMP: bitmaps of {bitmap_len:#x} and {dump_len:#x} bytes for "
                                   f"{max_mapnr:#x} pfns", self.name)
        self.header = h
        ts = part["time_stamp"]
        self.crashtime = sf.efi_time(ts) if isinstance(ts, bytes) else None
        self.description = ("SADUMP media backup" if media else f"SADUMP disk set ({self.disks} disks)"
                            if self.disks > 1 else "SADUMP single partition")
        bmp = hpos + bs * (1 + int(h["sub_hdr_size"]))
        data = bmp + bitmap_len + dump_len
        self._cpu_states(hpos + bs, int(h["sub_hdr_size"]) * bs, int(h["nr_cpus"]))
        nbytes = (max_mapnr + 7) // 8
        ram = _msb0_runs(source.read_exact(bmp, nbytes, "SADUMP memory bitmap"), max_mapnr)
        dumped = _msb0_runs(source.read_exact(bmp + bitmap_len, nbytes, "SADUMP dumpable bitmap"), max_mapnr)
        # a page of RAM the firmware did not dump reads as zeros, as makedumpfile reads it
        self.extents = [Extent(a * bs, b * bs, _zeros, zeros=True) for a, b in _minus(ram, dumped)]
        # where the page data is: (source, first byte, blocks) of each disk, in order
        spans = [(source, data, (source.size - data) // bs if not self.others else
                  (int(part["used_device"]) - data) // bs)]  # type: ignore[call-overload]
        spans += [(src, bs, blocks) for src, blocks in self._other_spans]
        d, left, at = 0, spans[0][2], spans[0][1]
        need = sum(b - a for a, b in dumped)
        if need > sum(max(n, 0) for _, _, n in spans):
            raise CorruptDumpError(f"Cannot read SADUMP: {need} pages of data, more than the {len(spans)} disk(s) hold "
                                   f"({sum(max(n, 0) for _, _, n in spans)} blocks)", self.name)
        for a, b in dumped:
            while a < b:
                while left <= 0:
                    d += 1
                    left, at = spans[d][2], spans[d][1]
                n = min(b - a, left)
                self.extents.append(Extent(a * bs, (a + n) * bs, file_fetch(spans[d][0], at, "SADUMP page data")))
                at += n * bs
                left -= n
                a += n
        self.settle(page_size=bs)
        if self.arch is None:
            self.arch = get_arch("x86_64" if self.long_mode else "ia32")

    def close(self) -> None:
        for src in self.others:
            src.close()
        super().close()

    def _disk_set(self, part: dict[str, object], pos: int, bs: int) -> int:
        """Disk 1 of a disk set: read its disk set header at ``pos`` and check the other disks
        against it; returns where the dump header is."""
        head = self.source.read_exact(pos, sf.DISK_SET_HEAD.size, "SADUMP disk set header")
        blocks, ndisks, _ = sf.DISK_SET_HEAD.unpack(head)
        if not 1 <= blocks <= 16 or not 2 <= ndisks <= sf.MAX_DISKS:
            raise CorruptDumpError(f"Cannot read the SADUMP disk set header: {blocks} blocks, {ndisks} disks",
                                   self.name)
        vols = [sf.VOLUME.unpack_from(self.source.read_exact(pos + sf.DISK_SET_HEAD.size + i * sf.VOLUME.size,
                                                             sf.VOLUME.size, "SADUMP volume"), 0)
                for i in range(ndisks - 1)]
        self.disks = ndisks
        if len(self.others) != ndisks - 1:
            raise UsageError(f"Cannot open the SADUMP disk set: it has {ndisks} disks, {1 + len(self.others)} "
                             "given (--diskset each, disk 1 first)", self.name)
        found: dict[int, tuple[Source, int]] = {}
        for src in self.others:
            blk = src.pread(0, bs)
            if blk[:8] != sf.PART_SIGNATURE or len(blk) < sf.PART.size:
                raise UnsupportedDumpError("Cannot open as a disk of a SADUMP disk set: no partition header", src.name)
            p = sf.part_fields(blk)
            n = int(p["set_disk_set"])  # type: ignore[call-overload]
            if p["sadump_id"] != part["sadump_id"] or p["disk_set_id"] != part["disk_set_id"]:
                raise UnsupportedDumpError(f"Cannot use in the disk set of {self.name}: a disk of another dump",
                                           src.name)
            if not 2 <= n <= ndisks or n in found:
                raise UnsupportedDumpError(f"Cannot use in the disk set of {self.name}: disk number {n} "
                                           f"({'twice' if n in found else f'the set has {ndisks}'})", src.name)
            if p["vol_id"] != vols[n - 2][0]:
                raise UnsupportedDumpError(f"Cannot use in the disk set of {self.name}: its volume is not disk {n}'s",
                                           src.name)
            found[n] = (src, (int(p["used_device"]) - bs) // bs)  # type: ignore[call-overload]
        self._other_spans = [found[n] for n in range(2, ndisks + 1)]
        return pos + blocks * bs

    def _cpu_states(self, pos: int, size: int, cpus: int) -> None:
        """Whether a CPU ran in long mode (x86_64): its SMRAM state's IA32_EFER.LMA."""
        self.long_mode = False
        if not size or not cpus or cpus > 8192:
            return
        (total,) = struct.unpack("<I", self.source.read_exact(pos, 4, "SADUMP CPU states"))
        each = total // cpus
        if each < sf.SMRAM_STATE:
            return
        at = pos + 4 + cpus * sf.APIC_STATE
        for i in range(cpus):
            efer = self.source.pread(at + i * each + sf.SMRAM_IA32_EFER, 8)
            if len(efer) == 8 and int.from_bytes(efer, "little") & sf.EFER_LMA:
                self.long_mode = True
                return

    def attributes(self) -> dict[str, object]:
        a = super().attributes()
        a["sadump.header_version"] = int(self.header["header_version"])
        a["sadump.cpus"] = int(self.header["nr_cpus"])
        if self.disks > 1:
            a["sadump.disks"] = self.disks
        if self.crashtime is not None and "linux.crashtime" not in a:
            a["linux.crashtime"] = self.crashtime  # the partition header's time, as makedumpfile's header has it
        if not a.get("cpu.number"):
            a["cpu.number"] = int(self.header["nr_cpus"])  # the CPUs whose states the firmware saved
        return a


def _zeros(off: int, n: int) -> bytes:
    return bytes(n)


def _minus(runs: list[tuple[int, int]], cut: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``runs`` outside ``cut`` (both sorted, disjoint)."""
    out, j = [], 0
    for a, b in runs:
        while j < len(cut) and cut[j][1] <= a:
            j += 1
        k = j
        while a < b:
            if k < len(cut) and cut[k][0] < b:
                if cut[k][0] > a:
                    out.append((a, cut[k][0]))
                a = max(a, cut[k][1])
                k += 1
            else:
                out.append((a, b))
                break
    return out


_BIT_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def _msb0_runs(bitmap: bytes, count: int) -> list[tuple[int, int]]:
    """The runs of set bits of a bitmap whose pfn 0 is the top bit of byte 0."""
    return list(Bitmap(bitmap.translate(_BIT_REVERSED), count).runs())
