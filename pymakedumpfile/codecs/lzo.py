"""LZO (``-l``): ``lzo1x_1_compress`` per page, our own implementation (accel/lzo.c and its
pure-Python twin), as no usable LZO wheel exists."""

from __future__ import annotations

from collections.abc import Callable

from .. import accel
from ..core.hints import Any
from ..formats import diskdump as dd
from .base import Codec


def _compressor() -> Callable[[bytes], bytes]:
    return accel.lzo1x_1_compress


def _decompressor() -> Callable[[bytes, int], bytes]:
    return accel.lzo1x_decompress_safe


def _batch(buf: Any, ps: int, skip: bytes | None, sizes: Any, flags: Any) -> bytes:
    return accel.lzo_pages(buf, ps, skip, sizes, flags)


CODEC = Codec("lzo", dd.DUMP_DH_COMPRESSED_LZO, "l", _compressor, _decompressor, batch=_batch)
