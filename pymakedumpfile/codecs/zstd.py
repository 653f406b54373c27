"""zstd (``-z``): one frame per page, as makedumpfile's ``ZSTD_compressCCtx`` at level 1."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable

from .. import accel
from ..core.hints import Any
from ..formats import diskdump as dd
from .base import Codec, library


def _load() -> Any:
    return library("zstandard", "zstandard", "zstd")


def _compressor() -> Callable[[bytes], bytes]:
    zs = _load()
    local = threading.local()  # a ZstdCompressor is not thread-safe

    def zc(page: bytes) -> bytes:
        c = getattr(local, "c", None)
        if c is None:
            c = local.c = zs.ZstdCompressor(level=1)
        return c.compress(page)

    return zc


def _decompressor() -> Callable[[bytes, int], bytes]:
    zs = _load()
    local = threading.local()  # a ZstdDecompressor is not thread-safe

    def dzs(data: bytes, ps: int) -> bytes:
        dctx = getattr(local, "d", None)
        if dctx is None:
            dctx = local.d = zs.ZstdDecompressor()
        size = zs.frame_content_size(data)
        if size == ps:
            return dctx.decompress(data)
        if size >= 0:
            raise ValueError(f"zstd frame holds {size} bytes, not a page")
        with dctx.stream_reader(io.BytesIO(data)) as r:  # size unknown: bounded read
            return r.read(ps + 1)

    return dzs


def _batch(buf: Any, ps: int, skip: bytes | None, sizes: Any, flags: Any) -> bytes:
    # ZSTD_compressCCtx at level 1 as makedumpfile, in C (libzstd)
    return accel.zstd_pages(buf, ps, skip, sizes, flags, 1)


CODEC = Codec("zstd", dd.DUMP_DH_COMPRESSED_ZSTD, "z", _compressor, _decompressor, load=_load, batch=_batch)
