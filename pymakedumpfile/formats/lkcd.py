"""LKCD (Linux Kernel Crash Dump, lcrash's format; versions 1 to 10): the header and the page
records.  Layout: docs/images.md.
"""

from __future__ import annotations

import struct

MAGIC = 0xA8190173618F23ED
MCLX_FLAGS = 0x80000000 | 0x40000000  # Mission Critical Linux's variants, marked in the version
FIRST_PAGE = 65536  # where the page records start (version 9 and later: the header says)
COMPRESS_NONE, COMPRESS_RLE, COMPRESS_GZIP = 0, 1, 2
DUMP_RAW, DUMP_COMPRESSED, DUMP_END = 0x1, 0x2, 0x4
PANIC_LEN = 0x100
UTS_FIELD = 65

# magic, version, header size, dump level, page size, memory size, first and last address
COMMON = "QIIIIQQQ"  # 48 bytes, packed
PAGE = "QII"  # a page record: address, size of the data that follows, flags

# Where the fields after the common part sit, by layout: (pages, time, time size, utsname,
# compression (None: RLE), buffer size (None: FIRST_PAGE)); all packed.
LAYOUTS: dict[str, dict[str, int | None]] = {
    "v1-32": {"pages": 56, "time": 316, "utsname": 324, "compress": None, "buffer": None},
    "v1-64": {"pages": 56, "time": 320, "utsname": 336, "compress": None, "buffer": None},
    "v2-32": {"pages": 48, "time": 308, "utsname": 316, "compress": 712, "buffer": None},
    "v2-64": {"pages": 48, "time": 312, "utsname": 328, "compress": 728, "buffer": None},
    "v8": {"pages": 48, "time": 308, "utsname": 324, "compress": 722, "buffer": 734},
}
HEADER_READ = 742  # bytes of header any layout needs


def common(buf: bytes, endian: str) -> tuple[int, ...]:
    return struct.unpack_from(endian + COMMON, buf, 0)


def page_struct(endian: str) -> struct.Struct:
    return struct.Struct(endian + PAGE)


def rle_decode(src: bytes, size: int) -> bytes:
    """LKCD's run-length code: a 0 byte, then a count n: n copies of the byte after it (a count
    of 0: one 0 byte); any other byte stands for itself.  :raises ValueError: bad data."""
    out = bytearray()
    i, n = 0, len(src)
    while i < n:
        b = src[i]
        i += 1
        if b == 0:
            if i >= n:
                raise ValueError("RLE data ends after a 0 byte")
            cnt = src[i]
            i += 1
            if cnt:
                if i >= n:
                    raise ValueError("RLE data ends inside a run")
                out += bytes([src[i]]) * cnt
                i += 1
                if len(out) > size:
                    raise ValueError("RLE data holds more than a page")
                continue
        out.append(b)
        if len(out) > size:
            raise ValueError("RLE data holds more than a page")
    return bytes(out)
