"""kdump-compressed ("diskdump") structures.

Source: makedumpfile ``diskdump_mod.h`` (``struct disk_dump_header``,
``struct kdump_sub_header``, ``struct page_desc``), offsets as tabulated in
docs/formats.md §1 for LP64, i386 and 8-byte-aligned ILP32 ABIs.
"""

from __future__ import annotations

import struct

from ..core.hints import ClassVar
from ..core.record import dataclass, fields, replace
from . import utsname

SIG_KDUMP = b"KDUMP   "
SIG_DISKDUMP = b"DISKDUMP"
SIGNATURES = (SIG_KDUMP, SIG_DISKDUMP)

# Flag bits shared by disk_dump_header.status and page_desc.flags.
DUMP_DH_COMPRESSED_ZLIB = 0x01
DUMP_DH_COMPRESSED_LZO = 0x02
DUMP_DH_COMPRESSED_SNAPPY = 0x04
DUMP_DH_COMPRESSED_INCOMPLETE = 0x08
DUMP_DH_EXCLUDED_VMEMMAP = 0x10
DUMP_DH_COMPRESSED_ZSTD = 0x20
COMPRESSION_MASK = (
    DUMP_DH_COMPRESSED_ZLIB | DUMP_DH_COMPRESSED_LZO | DUMP_DH_COMPRESSED_SNAPPY | DUMP_DH_COMPRESSED_ZSTD
)

HEADER_VERSION = 6  # what makedumpfile writes
UTSNAME_FIELDS = utsname.FIELDS
UTS_LEN = utsname.FIELD_LEN

# ABI layouts: "64" (LP64), "i386" (ILP32, 4-byte aligned 64-bit integers),
# "32pad" (ILP32 with 8-byte aligned 64-bit integers: ARM EABI, ppc32, mips32).
LAYOUTS = ("64", "i386", "32pad")


@dataclass(frozen=True)
class DiskDumpHeader:
    """``struct disk_dump_header`` at file offset 0."""

    signature: bytes
    header_version: int
    utsname: bytes  # 6 x 65 bytes
    tv_sec: int
    tv_usec: int
    status: int
    block_size: int
    sub_hdr_size: int
    bitmap_blocks: int
    max_mapnr: int
    total_ram_blocks: int = 0
    device_blocks: int = 0
    written_blocks: int = 0
    current_cpu: int = 0
    nr_cpus: int = 0

    _FMT: ClassVar[dict[str, str]] = {
        "64": "8si390s6xqqIiiIIIIIIi",  # sizeof 464
        "i386": "8si390s2xiiIiiIIIIIIi",  # sizeof 452
        "32pad": "8si390s2xiiIiiIIIIIIi",  # the same: nothing in it needs 8-byte alignment
    }

    @classmethod
    def struct(cls, endian: str, layout: str) -> struct.Struct:
        return _cached(("hdr", endian, layout), endian + cls._FMT[layout])

    @classmethod
    def unpack(cls, buf: bytes, endian: str, layout: str) -> DiskDumpHeader:
        s = cls.struct(endian, layout)
        return cls(*s.unpack_from(buf, 0))

    def pack(self, endian: str, layout: str) -> bytes:
        return self.struct(endian, layout).pack(*(getattr(self, f.name) for f in fields(self)))

    def uts(self) -> dict[str, str]:
        """The six utsname strings, decoded."""
        return utsname.decode(self.utsname.ljust(utsname.SIZE, b"\0"))

    @staticmethod
    def make_utsname(uts: dict[str, str]) -> bytes:
        return utsname.encode(uts)


@dataclass(frozen=True)
class KdumpSubHeader:
    """``struct kdump_sub_header`` at file offset block_size.

    Fields added by later header versions are present in every layout; a
    reader must ignore those that ``header_version`` does not include
    (see :data:`FIELD_VERSION`).
    """

    phys_base: int = 0
    dump_level: int = 0
    split: int = 0
    start_pfn: int = 0
    end_pfn: int = 0
    offset_vmcoreinfo: int = 0
    size_vmcoreinfo: int = 0
    offset_note: int = 0
    size_note: int = 0
    offset_eraseinfo: int = 0
    size_eraseinfo: int = 0
    start_pfn_64: int = 0
    end_pfn_64: int = 0
    max_mapnr_64: int = 0

    _FMT: ClassVar[dict[str, str]] = {
        "64": "QiiQQqQqQqQQQQ",  # sizeof 104
        "i386": "IiiIIqIqIqIQQQ",  # sizeof 80 (packed to 4 bytes)
        "32pad": "IiiII4xqI4xqI4xqI4xQQQ",  # sizeof 96
    }

    @classmethod
    def struct(cls, endian: str, layout: str) -> struct.Struct:
        return _cached(("sub", endian, layout), endian + cls._FMT[layout])

    @classmethod
    def unpack(cls, buf: bytes, endian: str, layout: str, header_version: int) -> KdumpSubHeader:
        s = cls.struct(endian, layout)
        sub = cls(*s.unpack_from(buf, 0))
        # Zero what this header version does not define.
        drop = {name: 0 for name, ver in FIELD_VERSION.items() if ver > header_version}
        return replace(sub, **drop) if drop else sub

    def pack(self, endian: str, layout: str) -> bytes:
        return self.struct(endian, layout).pack(*(getattr(self, f.name) for f in fields(self)))


FIELD_VERSION = {
    "phys_base": 1,
    "dump_level": 1,
    "split": 2,
    "start_pfn": 2,
    "end_pfn": 2,
    "offset_vmcoreinfo": 3,
    "size_vmcoreinfo": 3,
    "offset_note": 4,
    "size_note": 4,
    "offset_eraseinfo": 5,
    "size_eraseinfo": 5,
    "start_pfn_64": 6,
    "end_pfn_64": 6,
    "max_mapnr_64": 6,
}

# struct page_desc { off_t offset; unsigned int size; unsigned int flags;
#                    unsigned long long page_flags; }: 24 bytes on every ABI.
PAGE_DESC_FMT = "qIIQ"
PAGE_DESC_SIZE = 24


def page_desc_struct(endian: str) -> struct.Struct:
    return _cached(("pd", endian, ""), endian + PAGE_DESC_FMT)


_STRUCTS: dict[tuple[str, str, str], struct.Struct] = {}


def _cached(key: tuple[str, str, str], fmt: str) -> struct.Struct:
    s = _STRUCTS.get(key)
    if s is None:
        s = _STRUCTS[key] = struct.Struct(fmt)
    return s


def bitmap_bytes(max_mapnr: int, block_size: int) -> int:
    """Size of ONE bitmap in the file: whole blocks covering max_mapnr bits."""
    nbytes = (max_mapnr + 7) // 8
    return (nbytes + block_size - 1) // block_size * block_size
