"""Writer for makedumpfile's flattened format (-F), formats.md section 2."""

from __future__ import annotations

import os
import random
import struct
from dataclasses import dataclass, field

FLAT_SIGNATURE = b"makedumpfile"
FLAT_HEADER_SIZE = 4096
TYPE_FLAT_HEADER = 1
VERSION_FLAT_HEADER = 1


def flat_header() -> bytes:
    hdr = FLAT_SIGNATURE.ljust(16, b"\0") + struct.pack(">qq", TYPE_FLAT_HEADER, VERSION_FLAT_HEADER)
    return hdr.ljust(FLAT_HEADER_SIZE, b"\0")


def flat_record(offset: int, data: bytes) -> bytes:
    return struct.pack(">qq", offset, len(data)) + data


FLAT_END = struct.pack(">qq", -1, -1)


@dataclass
class FlatInfo:
    records: list[tuple[int, int]] = field(default_factory=list)  # (offset, size) in stream order
    rewritten: list[tuple[int, int]] = field(default_factory=list)  # areas first written wrong
    file_size: int = 0


def flatten(
    src_path: str | os.PathLike[str],
    dst_path: str | os.PathLike[str],
    *,
    chunk: int = 65536,
    shuffle: bool = False,
    overlap_rewrite: bool = False,
    seed: int = 0,
    end_marker: bool = True,
) -> FlatInfo:
    """Convert a regular dump file into a flattened stream.

    Records of ``chunk`` bytes cover the whole source.  ``shuffle`` emits
    them in random order.  ``overlap_rewrite`` first emits wrong bytes for
    some areas (each straddling a chunk boundary where possible) and the
    right bytes later; the later record wins.  ``end_marker=False`` leaves
    the -1/-1 marker off (a truncated stream)."""
    if chunk <= 0:
        raise ValueError("chunk must be > 0")
    rng = random.Random(seed)
    with open(src_path, "rb") as f:
        src = f.read()
    recs = [(off, src[off:off + chunk]) for off in range(0, len(src), chunk)]
    if shuffle:
        rng.shuffle(recs)
    info = FlatInfo()
    wrong: list[tuple[int, bytes]] = []
    if overlap_rewrite and src:
        n = max(1, min(4, len(src) // chunk))
        for _ in range(n):
            size = min(len(src), max(1, chunk // 2 + 1))
            off = rng.randrange(0, len(src) - size + 1)
            bad = bytes((b ^ 0xFF) for b in src[off:off + size])
            wrong.append((off, bad))
            info.rewritten.append((off, size))
    with open(dst_path, "wb") as out:
        out.write(flat_header())
        for off, data in wrong + recs:
            out.write(flat_record(off, data))
            info.records.append((off, len(data)))
        if end_marker:
            out.write(FLAT_END)
        info.file_size = out.tell()
    return info
