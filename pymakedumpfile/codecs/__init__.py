"""Per-page compression codecs of the kdump-compressed format: a registry.

Each codec compresses one page as makedumpfile does and decompresses what makedumpfile or any
other writer produced; it is one module of this package declaring a :class:`Codec`, registered
by one line below.  Third-party modules are imported on first use, so a dump that does not need
them opens without them (and the crash kernel's initramfs carries only the codec it uses).
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.errors import UnsupportedDumpError
from . import lzo, snappy, zlib, zstd
from .base import Codec

CODECS: dict[str, Codec] = {}
BY_FLAG: dict[int, Codec] = {}


def register(codec: Codec) -> Codec:
    """Make ``codec`` known to the readers, the writers and the command line."""
    if codec.name in CODECS or codec.flag in BY_FLAG:
        raise ValueError(f"codec {codec.name} (flag {codec.flag:#x}) is registered twice")
    CODECS[codec.name] = codec
    BY_FLAG[codec.flag] = codec
    return codec


def is_available(name: str) -> bool:
    """Whether codec ``name`` ("none" too) can be used here (imports only that codec)."""
    if name == "none":
        return True
    codec = CODECS.get(name)
    if codec is None:
        return False
    try:
        codec.load()
    except UnsupportedDumpError:
        return False
    return True


def available() -> dict[str, bool]:
    """Which codecs can be used here (as ``makedumpfile -v`` lists them)."""
    return {name: is_available(name) for name in CODECS}


def compressor(name: str) -> Callable[[bytes], bytes]:
    """A function compressing one page with codec ``name`` (thread-safe)."""
    codec = CODECS.get(name)
    if codec is None:
        raise ValueError(f"unknown codec {name}")
    return codec.compressor()


def decompressor(flag: int) -> Callable[[bytes, int], bytes]:
    """A function ``(data, page_size) -> page`` for page-descriptor flag ``flag``.

    It raises ``ValueError`` (or the codec's own error) on corrupt data; the
    caller turns that into a :class:`~pymakedumpfile.core.errors.CorruptDumpError`.
    """
    codec = BY_FLAG.get(flag)
    if codec is None:
        raise UnsupportedDumpError(f"page compression flag {flag:#x} is not one we know")
    return codec.decompressor()


# the codecs, one line each (in makedumpfile's order of flags)
register(zlib.CODEC)
register(lzo.CODEC)
register(snappy.CODEC)
register(zstd.CODEC)

__all__ = ["BY_FLAG", "CODECS", "Codec", "available", "compressor", "decompressor", "is_available", "register"]
