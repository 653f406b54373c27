"""LiME (Linux Memory Extractor) and AVML images: the range header, and the snappy framing
format that AVML compresses each range with.  Layout: docs/images.md.

A LiME file is a sequence of ranges of physical memory, each a 32-byte header then the bytes
of the range.  AVML (Microsoft's acquirer) writes the same headers with its own magic and
version 2; the bytes of a range are a snappy *framing format* stream, followed by the stream's
length as a little-endian ``u64``.  AVML cuts ranges into blocks of at most 16 MiB and leaves
out a block that is all zeros.
"""

from __future__ import annotations

import struct

from ..core.record import dataclass

LIME_MAGIC = 0x4C694D45  # b"EMiL" little endian
AVML_MAGIC = 0x4C4D5641  # b"AVML" little endian
LIME_VERSION, AVML_VERSION = 1, 2
AVML_MAX_BLOCK = 0x1000 * 0x1000  # 16 MiB: the most AVML puts under one header

HEADER = struct.Struct("<IIQQQ")  # magic, version, first byte, last byte (inclusive), reserved
HEADER_BE = struct.Struct(">IIQQQ")  # LiME of a big-endian machine: the header in its byte order
TRAILER = struct.Struct("<Q")  # AVML: bytes of the snappy stream before it


@dataclass(frozen=True)
class RangeHeader:
    magic: int
    version: int
    start: int
    last: int  # the range's last byte (inclusive)
    reserved: int

    @property
    def end(self) -> int:
        return self.last + 1

    @classmethod
    def unpack(cls, buf: bytes, endian: str = "<") -> RangeHeader:
        return cls(*(HEADER if endian == "<" else HEADER_BE).unpack_from(buf, 0))

    def pack(self, endian: str = "<") -> bytes:
        return (HEADER if endian == "<" else HEADER_BE).pack(self.magic, self.version, self.start, self.last,
                                                             self.reserved)


def header_endian(head: bytes) -> str | None:
    """The byte order of a LiME or AVML range header, or None if ``head`` starts with none."""
    if len(head) < HEADER.size:
        return None
    for endian, s in (("<", HEADER), (">", HEADER_BE)):
        magic, version = s.unpack_from(head, 0)[:2]
        if (magic, version) in ((LIME_MAGIC, LIME_VERSION), (AVML_MAGIC, AVML_VERSION)):
            return endian
    return None


# snappy framing format: chunks of a 1-byte type and a 3-byte little-endian length
CHUNK_HEADER = 4
CHUNK_COMPRESSED, CHUNK_UNCOMPRESSED, CHUNK_PADDING, CHUNK_STREAM_ID = 0x00, 0x01, 0xFE, 0xFF
STREAM_ID = b"sNaPpY"
CHUNK_MAX_DATA = 65536  # uncompressed bytes of one data chunk, at most
CRC_SIZE = 4  # a data chunk's masked CRC-32C, before its data


def chunk_header(buf: bytes, off: int = 0) -> tuple[int, int]:
    """(type, length) of the chunk whose header is at ``off``."""
    return buf[off], buf[off + 1] | buf[off + 2] << 8 | buf[off + 3] << 16
