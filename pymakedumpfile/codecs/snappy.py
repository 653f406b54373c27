"""snappy (``-p``): snappy's raw format per page (python-snappy)."""

from __future__ import annotations

from collections.abc import Callable

from ..core.hints import Any, cast
from ..formats import diskdump as dd
from .base import Codec, library


def _load() -> Any:
    return library("snappy", "python-snappy", "snappy")


def _compressor() -> Callable[[bytes], bytes]:
    return cast("Callable[[bytes], bytes]", _load().compress)


def _decompressor() -> Callable[[bytes, int], bytes]:
    sn = _load()

    def ds(data: bytes, ps: int) -> bytes:
        # the raw format starts with the uncompressed length as a varint:
        # refuse before allocating when it is not one page
        length, shift = 0, 0
        for b in data[:5]:
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if length != ps:
            raise ValueError(f"snappy data holds {length} bytes, not a page")
        return cast(bytes, sn.uncompress(data))

    return ds


CODEC = Codec("snappy", dd.DUMP_DH_COMPRESSED_SNAPPY, "p", _compressor, _decompressor, load=_load)
