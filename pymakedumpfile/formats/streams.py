"""Whole-stream compression of a dump file (``--stream-compress``): the frame magics by which
a reader tells a zstd or lz4 stream from a dump, the same for both sides."""

from __future__ import annotations

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
LZ4_MAGIC = b"\x04\x22\x4d\x18"
KINDS = ("zstd", "lz4")


def kind_of(head: bytes) -> str | None:
    """"zstd", "lz4" or None, from the first bytes of a file."""
    if head[:4] == ZSTD_MAGIC:
        return "zstd"
    if head[:4] == LZ4_MAGIC:
        return "lz4"
    return None
