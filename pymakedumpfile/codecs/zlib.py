"""zlib (``-c``): one zlib stream per page, as makedumpfile's ``compress2`` at Z_BEST_SPEED."""

from __future__ import annotations

import zlib
from collections.abc import Callable

from .. import accel
from ..core.hints import Any
from ..formats import diskdump as dd
from .base import Codec


def _compressor() -> Callable[[bytes], bytes]:
    return lambda page: zlib.compress(page, 1)


def _decompressor() -> Callable[[bytes, int], bytes]:
    def dz(data: bytes, ps: int) -> bytes:
        return zlib.decompressobj().decompress(data, ps + 1)

    return dz


def _batch(buf: Any, ps: int, skip: bytes | None, sizes: Any, flags: Any) -> bytes:
    # level 1, a batch at a time in C (libdeflate when the module was built with it)
    return accel.deflate_pages(buf, ps, skip, sizes, flags, 1)


CODEC = Codec("zlib", dd.DUMP_DH_COMPRESSED_ZLIB, "c", _compressor, _decompressor, batch=_batch)
