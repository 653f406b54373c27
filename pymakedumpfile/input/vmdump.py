"""z/VM VMDUMP files (format 64big): a Linux guest's storage as z/VM's VMDUMP command writes it.

Records of 4 KiB: the symptom record, the file map, the dump file information records (each
CPU's registers), the access list, the address space's information record (its storage
ranges), then the bitmaps and the stored pages.  Pages that are all zeros are not stored; they
read as zeros.  The kernel is found from the lowcore's pointer to its VMCOREINFO, else by the
search of :mod:`.image`.  Layout: docs/images.md.
"""

from __future__ import annotations

import re
import struct

from ..core.errors import CorruptDumpError, UnsupportedDumpError
from ..formats import vmdump as vf
from ..translate import get_arch
from .image import Extent, file_fetch
from .s390dump import S390Image
from .source import Source

MAX_PAGES = 1 << 40  # 4 EiB of storage: beyond any guest
MAX_CPUS = 512
NT_PRSTATUS, PRSTATUS_SIZE, PRSTATUS_PID, PRSTATUS_REG = 1, 336, 32, 112
_ONES = re.compile(b"\x01+")
_KEEP_BIT = bytes(i & 1 for i in range(256))  # a key byte's low bit: the page is stored


def _zeros(off: int, n: int) -> bytes:
    return bytes(n)


class VmdumpReader(S390Image):
    format_name = "vmdump"
    description = "z/VM VMDUMP (64big)"

    @classmethod
    def probe(cls, source: Source) -> bool:
        return source.pread(0, 2) == vf.ADSR_MAGIC and source.pread(vf.DUMP_TYPE_AT, 8) == vf.VMDUMP_MAGIC

    def __init__(self, source: Source) -> None:
        self.source = source
        if not self.probe(source):
            raise UnsupportedDumpError("Cannot open: not a z/VM VMDUMP file", self.name)
        rs = vf.RECORD
        fm = vf.FMBK.unpack(source.read_exact(rs, vf.FMBK.size, "VMDUMP file map"))
        if fm[0] != vf.FMBK_MAGIC:
            raise CorruptDumpError("Cannot read VMDUMP: no file map (HCPDFMBK) in record 2", self.name)
        rec_fir, rec_access = fm[1], fm[3]
        if not 3 <= rec_fir < rec_access or rec_access > 1 << 20:
            raise CorruptDumpError(f"Cannot read VMDUMP: information record {rec_fir}, access list record "
                                   f"{rec_access}", self.name)
        fir = source.read_exact((rec_fir - 1) * rs, vf.FIR_SIZE, "VMDUMP information record")
        fmt = fir[vf.FIR_FORMAT]
        if fmt != vf.FORMAT_64BIG:
            raise UnsupportedDumpError(f"Cannot read a VMDUMP of format {fmt:#x}: only 64big (0x2); z/VM's older "
                                       "ESA and ESAME formats are not read", self.name)
        (others,) = struct.unpack_from(">H", fir, vf.FIR_ONLINE_CPUS)
        if others >= MAX_CPUS:
            raise CorruptDumpError(f"Cannot read VMDUMP: {others + 1} CPUs", self.name)
        self.cpus = others + 1
        other = source.read_exact((rec_fir - 1) * rs + vf.FIR_SIZE, others * vf.FIR_OTHER_SIZE, "VMDUMP CPU records")
        notes = self._prstatus(fir, other, others)
        asi = source.read_exact(rec_access * rs, vf.ASIZBK_RANGES + vf.MAX_RANGES * 16, "VMDUMP address space record")
        if asi[:8] != vf.ASIZBK_MAGIC:
            raise CorruptDumpError(f"Cannot read VMDUMP: no address space record (ASIZBK) in record {rec_access + 1}",
                                   self.name)
        (count,) = struct.unpack_from(">I", asi, vf.ASIZBK_RANGE_COUNT)
        ends = [struct.unpack_from(">QQ", asi, vf.ASIZBK_RANGES + 16 * i)[1] for i in range(min(count, vf.MAX_RANGES))]
        top = max(ends) + 1 if ends and max(ends) else struct.unpack_from(">Q", asi, vf.ASIZBK_DEF_STORE)[0]
        total = top // rs
        if not 0 < total <= MAX_PAGES:
            raise CorruptDumpError(f"Cannot read VMDUMP: storage of {top:#x} bytes", self.name)
        stored, data = self._bitmaps((rec_access + 1) * rs, total)
        n = sum(b - a for a, b in stored)
        if data + n * rs > source.size:
            raise CorruptDumpError(f"Cannot read VMDUMP: {n} stored pages from {data:#x} run past the end of the "
                                   f"file ({source.size:#x})", self.name)
        # storage not stored is all zeros: it reads as zeros
        self.extents, prev, i = [], 0, 0
        for a, b in stored:
            if a > prev:
                self.extents.append(Extent(prev * rs, a * rs, _zeros, zeros=True))
            self.extents.append(Extent(a * rs, b * rs, file_fetch(source, data + i * rs, "VMDUMP page data")))
            i += b - a
            prev = b
        if prev < total:
            self.extents.append(Extent(prev * rs, total * rs, _zeros, zeros=True))
        (tod,) = struct.unpack_from(">Q", source.read_exact(vf.ADSR_TOD_AT, 8, "VMDUMP symptom record"))
        self.crashtime = vf.tod_to_unix(tod)
        self.settle(arch=get_arch("s390x"), endian=">", notes=notes, page_size=rs)

    def _bitmaps(self, pos: int, total: int) -> tuple[list[tuple[int, int]], int]:
        """The stored pages (runs of page numbers) and where their data starts.  Index pages of
        32768 bits (the top bit first), each bit a block of 4096 pages: set, a key page follows
        (a byte a page, its low bit: stored); clear, the block is all zeros.  Index pages follow
        one another (each after its key pages) until every page is covered."""
        rs = vf.RECORD
        runs: list[tuple[int, int]] = []
        page = 0
        src = self.source
        while page < total:
            index = src.read_exact(pos, rs, "VMDUMP bitmap index")
            pos += rs
            for byte in index:
                if page >= total:
                    break
                if not byte:
                    page += 8 * rs
                    continue
                for bit in range(8):
                    if page >= total:
                        break
                    if byte & (0x80 >> bit):
                        keys = src.read_exact(pos, rs, "VMDUMP key page").translate(_KEEP_BIT)
                        pos += rs
                        lim = min(rs, total - page)
                        for m in _ONES.finditer(keys, 0, lim):
                            a, b = page + m.start(), page + m.end()
                            if runs and runs[-1][1] == a:
                                runs[-1] = (runs[-1][0], b)
                            else:
                                runs.append((a, b))
                    page += rs
        return runs, pos

    def _prstatus(self, fir: bytes, other: bytes, others: int) -> bytes:
        """An NT_PRSTATUS note per CPU, of what the information records hold (PSW, general
        registers, access registers), as s390x Linux lays them out."""
        out = b""
        for cpu in range(others + 1):
            if cpu == 0:
                rec, psw, gprs, acrs = fir, vf.FIR_PSW, vf.FIR_GPRS, vf.FIR_ACRS
            else:
                rec = other[(cpu - 1) * vf.FIR_OTHER_SIZE : cpu * vf.FIR_OTHER_SIZE]
                psw, gprs, acrs = vf.OTHER_PSW, vf.OTHER_GPRS, vf.OTHER_ACRS
            desc = bytearray(PRSTATUS_SIZE)
            struct.pack_into(">i", desc, PRSTATUS_PID, cpu)
            desc[PRSTATUS_REG : PRSTATUS_REG + 16] = rec[psw : psw + 16]
            desc[PRSTATUS_REG + 16 : PRSTATUS_REG + 144] = rec[gprs : gprs + 128]
            desc[PRSTATUS_REG + 144 : PRSTATUS_REG + 208] = rec[acrs : acrs + 64]
            out += struct.pack(">III", 5, PRSTATUS_SIZE, NT_PRSTATUS) + b"CORE\0\0\0\0" + bytes(desc)
        return out

    def attributes(self) -> dict[str, object]:
        a = super().attributes()
        a["vmdump.cpus"] = self.cpus
        if "linux.crashtime" not in a and self.crashtime:
            a["linux.crashtime"] = self.crashtime
        return a
