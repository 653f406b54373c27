"""LiME and AVML memory images, written from their published description (facts, declared here
again, not taken from pymakedumpfile):

* every range: a 32-byte header ``u32 magic, u32 version, u64 first byte, u64 last byte
  (inclusive), u64 0``; LiME magic ``b"EMiL"`` read as a little-endian u32 (0x4C694D45), version
  1, then the bytes of the range;
* AVML: magic ``b"AVML"`` (0x4C4D5641), version 2; the range cut in blocks of at most 16 MiB,
  a block of zeros left out, each block's bytes compressed as a snappy *framing format* stream
  (here by cramjam, the library python-snappy uses) followed by the stream's length (u64 LE).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence

LIME = (0x4C694D45, 1)
AVML = (0x4C4D5641, 2)
AVML_BLOCK = 16 << 20


def _header(magic_version: tuple[int, int], start: int, size: int, endian: str) -> bytes:
    return struct.pack(endian + "IIQQQ", *magic_version, start, start + size - 1, 0)


def build_lime(path: str | os.PathLike[str], ranges: Sequence[tuple[int, bytes]], *, avml: bool = False,
               endian: str = "<", block: int = AVML_BLOCK) -> list[tuple[int, int]]:
    """Write ``ranges`` (physical address, bytes) as LiME (or AVML).  Returns the (start, end)
    of the ranges written (AVML: the blocks kept)."""
    import cramjam

    written = []
    with open(path, "wb") as f:
        for start, data in ranges:
            if not avml:
                f.write(_header(LIME, start, len(data), endian) + data)
                written.append((start, start + len(data)))
                continue
            for off in range(0, len(data), block):
                piece = data[off : off + block]
                if not piece.strip(b"\0"):
                    continue  # AVML leaves out a block of zeros
                stream = bytes(cramjam.snappy.compress(piece))
                f.write(_header(AVML, start + off, len(piece), "<") + stream + struct.pack("<Q", len(stream)))
                written.append((start + off, start + off + len(piece)))
    return written
