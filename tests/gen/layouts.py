"""Explicit on-disk layouts of the kdump-compressed format.

Every field offset below is written out literally from the format
documentation (shared/formats.md, section 1), NOT derived from C alignment
rules and NOT imported from the ``pymakedumpfile`` package.  Each table is
checked against the documented ``sizeof`` at import time.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# ---------------------------------------------------------------------------
# Flags (header ``status`` and page descriptor ``flags``), formats.md 1.1
# ---------------------------------------------------------------------------
DUMP_DH_COMPRESSED_ZLIB = 0x01
DUMP_DH_COMPRESSED_LZO = 0x02
DUMP_DH_COMPRESSED_SNAPPY = 0x04
DUMP_DH_COMPRESSED_INCOMPLETE = 0x08
DUMP_DH_EXCLUDED_VMEMMAP = 0x10
DUMP_DH_COMPRESSED_ZSTD = 0x20

UTSNAME_FIELD_LEN = 65
UTSNAME_FIELDS = ("sysname", "nodename", "release", "version", "machine", "domainname")
PAGE_DESC_SIZE = 24

KDUMP_SIGNATURE = b"KDUMP   "
DISKDUMP_SIGNATURE = b"DISKDUMP"


@dataclass(frozen=True)
class Field:
    name: str
    fmt: str  # struct format of the field alone (no byte-order prefix)
    offset: int
    since: int = 0  # sub-header version that introduced the field

    @property
    def size(self) -> int:
        return struct.calcsize("<" + self.fmt)


@dataclass(frozen=True)
class Layout:
    name: str
    fields: tuple[Field, ...]
    size: int
    align: int = 8  # alignment of the C struct (for sizeof of older versions)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def offsets(self) -> dict[str, int]:
        return {f.name: f.offset for f in self.fields}

    def size_for_version(self, version: int) -> int:
        """Bytes up to the end of the last field present in ``version``."""
        end = 0
        for f in self.fields:
            if f.since <= version:
                end = max(end, f.offset + f.size)
        return end

    def sizeof_for_version(self, version: int) -> int:
        """``sizeof`` of the struct as it was when ``version`` was current."""
        end = self.size_for_version(version)
        return -(-end // self.align) * self.align

    def pack(self, endian: str, values: dict[str, object], version: int | None = None) -> bytes:
        buf = bytearray(self.size)
        for f in self.fields:
            if version is not None and f.since > version:
                continue
            v = values.get(f.name, b"" if f.fmt.endswith("s") else 0)
            struct.pack_into(endian + f.fmt, buf, f.offset, v)
        if version is not None:
            return bytes(buf[: self.size_for_version(version)])
        return bytes(buf)

    def check(self) -> None:
        prev_end = 0
        for f in sorted(self.fields, key=lambda x: x.offset):
            assert f.offset >= prev_end, (self.name, f.name)
            prev_end = f.offset + f.size
        assert prev_end <= self.size, (self.name, prev_end, self.size)


# --- struct disk_dump_header (formats.md 1.1) ------------------------------
HEADER_64 = Layout(
    "disk_dump_header/LP64",
    (
        Field("signature", "8s", 0),
        Field("header_version", "i", 8),
        Field("utsname", "390s", 12),
        # padding 402..407
        Field("tv_sec", "q", 408),
        Field("tv_usec", "q", 416),
        Field("status", "I", 424),
        Field("block_size", "i", 428),
        Field("sub_hdr_size", "i", 432),
        Field("bitmap_blocks", "I", 436),
        Field("max_mapnr", "I", 440),
        Field("total_ram_blocks", "I", 444),
        Field("device_blocks", "I", 448),
        Field("written_blocks", "I", 452),
        Field("current_cpu", "I", 456),
        Field("nr_cpus", "i", 460),
    ),
    464,
)

HEADER_32 = Layout(
    "disk_dump_header/ILP32",
    (
        Field("signature", "8s", 0),
        Field("header_version", "i", 8),
        Field("utsname", "390s", 12),
        # padding 402..403
        Field("tv_sec", "i", 404),
        Field("tv_usec", "i", 408),
        Field("status", "I", 412),
        Field("block_size", "i", 416),
        Field("sub_hdr_size", "i", 420),
        Field("bitmap_blocks", "I", 424),
        Field("max_mapnr", "I", 428),
        Field("total_ram_blocks", "I", 432),
        Field("device_blocks", "I", 436),
        Field("written_blocks", "I", 440),
        Field("current_cpu", "I", 444),
        Field("nr_cpus", "i", 448),
    ),
    452,
    4,
)

# --- struct kdump_sub_header (formats.md 1.2) ------------------------------
SUB_64 = Layout(
    "kdump_sub_header/LP64",
    (
        Field("phys_base", "Q", 0, 1),
        Field("dump_level", "i", 8, 1),
        Field("split", "i", 12, 2),
        Field("start_pfn", "Q", 16, 2),
        Field("end_pfn", "Q", 24, 2),
        Field("offset_vmcoreinfo", "q", 32, 3),
        Field("size_vmcoreinfo", "Q", 40, 3),
        Field("offset_note", "q", 48, 4),
        Field("size_note", "Q", 56, 4),
        Field("offset_eraseinfo", "q", 64, 5),
        Field("size_eraseinfo", "Q", 72, 5),
        Field("start_pfn_64", "Q", 80, 6),
        Field("end_pfn_64", "Q", 88, 6),
        Field("max_mapnr_64", "Q", 96, 6),
    ),
    104,
)

SUB_I386 = Layout(
    "kdump_sub_header/i386",
    (
        Field("phys_base", "I", 0, 1),
        Field("dump_level", "i", 4, 1),
        Field("split", "i", 8, 2),
        Field("start_pfn", "I", 12, 2),
        Field("end_pfn", "I", 16, 2),
        Field("offset_vmcoreinfo", "q", 20, 3),
        Field("size_vmcoreinfo", "I", 28, 3),
        Field("offset_note", "q", 32, 4),
        Field("size_note", "I", 40, 4),
        Field("offset_eraseinfo", "q", 44, 5),
        Field("size_eraseinfo", "I", 52, 5),
        Field("start_pfn_64", "Q", 56, 6),
        Field("end_pfn_64", "Q", 64, 6),
        Field("max_mapnr_64", "Q", 72, 6),
    ),
    80,
    4,
)

SUB_32PAD = Layout(
    "kdump_sub_header/ILP32-8byte-aligned",
    (
        Field("phys_base", "I", 0, 1),
        Field("dump_level", "i", 4, 1),
        Field("split", "i", 8, 2),
        Field("start_pfn", "I", 12, 2),
        Field("end_pfn", "I", 16, 2),
        # padding 20..23
        Field("offset_vmcoreinfo", "q", 24, 3),
        Field("size_vmcoreinfo", "I", 32, 3),
        Field("offset_note", "q", 40, 4),
        Field("size_note", "I", 48, 4),
        Field("offset_eraseinfo", "q", 56, 5),
        Field("size_eraseinfo", "I", 64, 5),
        Field("start_pfn_64", "Q", 72, 6),
        Field("end_pfn_64", "Q", 80, 6),
        Field("max_mapnr_64", "Q", 88, 6),
    ),
    96,
)

# --- struct page_desc (formats.md 1.3 item 5) ------------------------------
PAGE_DESC = Layout(
    "page_desc",
    (
        Field("offset", "q", 0),
        Field("size", "I", 8),
        Field("flags", "I", 12),
        Field("page_flags", "Q", 16),
    ),
    PAGE_DESC_SIZE,
)

LAYOUTS: dict[str, tuple[Layout, Layout]] = {
    "64": (HEADER_64, SUB_64),
    "i386": (HEADER_32, SUB_I386),
    "32pad": (HEADER_32, SUB_32PAD),
}

for _l in (HEADER_64, HEADER_32, SUB_64, SUB_I386, SUB_32PAD, PAGE_DESC):
    _l.check()
assert HEADER_64.field("nr_cpus").offset + 4 == HEADER_64.size == 464
assert HEADER_32.field("nr_cpus").offset + 4 == HEADER_32.size == 452
assert SUB_64.size_for_version(6) == 104
assert SUB_I386.size_for_version(6) == 80
assert SUB_32PAD.size_for_version(6) == 96


def pack_utsname(values: dict[str, str | bytes]) -> bytes:
    out = bytearray()
    for name in UTSNAME_FIELDS:
        v = values.get(name, b"")
        if isinstance(v, str):
            v = v.encode()
        if len(v) > UTSNAME_FIELD_LEN:
            raise ValueError(f"utsname.{name} longer than {UTSNAME_FIELD_LEN} bytes")
        out += v.ljust(UTSNAME_FIELD_LEN, b"\0")
    assert len(out) == 390
    return bytes(out)
