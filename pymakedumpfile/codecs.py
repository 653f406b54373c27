"""Per-page compression codecs of the kdump-compressed format.

Each codec compresses one page as makedumpfile does (zlib ``compress2`` at
Z_BEST_SPEED, ``lzo1x_1_compress``, snappy's raw format, ``ZSTD_compressCCtx``
at level 1) and decompresses what makedumpfile or any other writer produced.
The third-party modules are imported on first use, so a dump that does not
need them opens without them.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import accel
from .core.errors import UnsupportedDumpError
from .formats import diskdump as dd


@dataclass(frozen=True)
class Codec:
    name: str  # "zlib", "lzo", "snappy", "zstd"
    flag: int  # DUMP_DH_COMPRESSED_*
    option: str  # makedumpfile's option letter


CODECS = {
    "zlib": Codec("zlib", dd.DUMP_DH_COMPRESSED_ZLIB, "c"),
    "lzo": Codec("lzo", dd.DUMP_DH_COMPRESSED_LZO, "l"),
    "snappy": Codec("snappy", dd.DUMP_DH_COMPRESSED_SNAPPY, "p"),
    "zstd": Codec("zstd", dd.DUMP_DH_COMPRESSED_ZSTD, "z"),
}
BY_FLAG = {c.flag: c for c in CODECS.values()}


def _snappy() -> Any:
    try:
        import snappy
    except ImportError:
        raise UnsupportedDumpError("snappy pages need the python-snappy package") from None
    return snappy


def _zstd() -> Any:
    try:
        import zstandard
    except ImportError:
        raise UnsupportedDumpError("zstd pages need the zstandard package") from None
    return zstandard


def is_available(name: str) -> bool:
    """Whether codec ``name`` can be used here (imports only that codec)."""
    if name in ("zlib", "lzo", "none"):
        return True
    try:
        {"snappy": _snappy, "zstd": _zstd}[name]()
        return True
    except (UnsupportedDumpError, KeyError):
        return False


def available() -> dict[str, bool]:
    """Which codecs can be used here (as ``makedumpfile -v`` lists them)."""
    out = {"zlib": True, "lzo": True}
    for name, fn in (("snappy", _snappy), ("zstd", _zstd)):
        try:
            fn()
            out[name] = True
        except UnsupportedDumpError:
            out[name] = False
    return out


def compressor(name: str) -> Callable[[bytes], bytes]:
    """A function compressing one page with codec ``name`` (thread-safe)."""
    if name == "zlib":
        return lambda page: zlib.compress(page, 1)
    if name == "lzo":
        return accel.lzo1x_1_compress
    if name == "snappy":
        return _snappy().compress
    if name == "zstd":
        import threading

        zs = _zstd()
        local = threading.local()

        def zc(page: bytes) -> bytes:
            c = getattr(local, "c", None)
            if c is None:
                c = local.c = zs.ZstdCompressor(level=1)
            return c.compress(page)

        return zc
    raise ValueError(f"unknown codec {name}")


def decompressor(flag: int) -> Callable[[bytes, int], bytes]:
    """A function ``(data, page_size) -> page`` for page-descriptor flag ``flag``.

    It raises ``ValueError`` (or the codec's own error) on corrupt data; the
    caller turns that into a :class:`~pymakedumpfile.errors.CorruptDumpError`.
    """
    if flag == dd.DUMP_DH_COMPRESSED_ZLIB:

        def dz(data: bytes, ps: int) -> bytes:
            return zlib.decompressobj().decompress(data, ps + 1)

        return dz
    if flag == dd.DUMP_DH_COMPRESSED_LZO:
        return accel.lzo1x_decompress_safe
    if flag == dd.DUMP_DH_COMPRESSED_SNAPPY:
        sn = _snappy()

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
            return sn.uncompress(data)

        return ds
    if flag == dd.DUMP_DH_COMPRESSED_ZSTD:
        import io
        import threading

        zs = _zstd()
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
    raise UnsupportedDumpError(f"page compression flag {flag:#x} is not one we know")
