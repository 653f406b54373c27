"""makedumpfile's flattened stream (``-F`` / ``-R``).

Source: makedumpfile ``makedumpfile.h`` (``struct makedumpfile_header``,
``struct makedumpfile_data_header``), ``write_start_flat_header``,
``write_end_flat_header``.  All integers are big-endian.
"""

from __future__ import annotations

import struct

SIGNATURE = b"makedumpfile"
SIG_LEN = 16
TYPE_FLAT_HEADER = 1
VERSION_FLAT_HEADER = 1
HEADER_SIZE = 4096  # the stream header is padded to this

# struct makedumpfile_header { char signature[16]; int64 type; int64 version; }
HEADER = struct.Struct(">16sqq")
# struct makedumpfile_data_header { int64 offset; int64 buf_size; }
DATA_HEADER = struct.Struct(">qq")
END_OFFSET = -1
END_SIZE = -1


def pack_header() -> bytes:
    return HEADER.pack(SIGNATURE, TYPE_FLAT_HEADER, VERSION_FLAT_HEADER).ljust(HEADER_SIZE, b"\0")


def is_header(buf: bytes) -> bool:
    if len(buf) < HEADER.size:
        return False
    sig, typ, ver = HEADER.unpack_from(buf, 0)
    return sig.rstrip(b"\0") == SIGNATURE and typ == TYPE_FLAT_HEADER


END_MARKER = DATA_HEADER.pack(END_OFFSET, END_SIZE)
