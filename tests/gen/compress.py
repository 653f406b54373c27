"""Per-page compressors used by the synthetic dump builder.

zlib: stdlib, level 1 (makedumpfile uses compress2(..., Z_BEST_SPEED)).
snappy: the ``snappy`` module (python-snappy), else libsnappy via ctypes.
zstd: the ``zstandard`` module, level 1, else libzstd via ctypes.
lzo: no Python package; callers pass a callable, or use
     :func:`liblzo2_compressor` (lzo1x_1 through ctypes).

Nothing here imports ``pymakedumpfile``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import zlib
from typing import Callable

Compressor = Callable[[bytes], bytes]


class CompressorUnavailable(RuntimeError):
    pass


def zlib_compress(data: bytes) -> bytes:
    return zlib.compress(data, 1)


def _load(*names: str) -> ctypes.CDLL | None:
    for n in names:
        try:
            return ctypes.CDLL(n)
        except OSError:
            continue
    return None


def snappy_compressor() -> Compressor:
    try:
        import snappy  # type: ignore[import-not-found]

        if hasattr(snappy, "compress"):
            return lambda data: bytes(snappy.compress(data))
    except ImportError:
        pass
    lib = _load("libsnappy.so.1", ctypes.util.find_library("snappy") or "libsnappy.so")
    if lib is None:
        raise CompressorUnavailable("neither the 'snappy' module nor libsnappy is available")
    lib.snappy_max_compressed_length.restype = ctypes.c_size_t
    lib.snappy_max_compressed_length.argtypes = [ctypes.c_size_t]
    lib.snappy_compress.restype = ctypes.c_int
    lib.snappy_compress.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t)
    ]

    def compress(data: bytes) -> bytes:
        cap = lib.snappy_max_compressed_length(len(data))
        out = ctypes.create_string_buffer(cap)
        n = ctypes.c_size_t(cap)
        rc = lib.snappy_compress(data, len(data), out, ctypes.byref(n))
        if rc != 0:
            raise RuntimeError(f"snappy_compress failed: {rc}")
        return out.raw[: n.value]

    return compress


def zstd_compressor(level: int = 1) -> Compressor:
    try:
        import zstandard  # type: ignore[import-not-found]

        cctx = zstandard.ZstdCompressor(level=level)
        return lambda data: cctx.compress(data)
    except ImportError:
        pass
    lib = _load("libzstd.so.1", ctypes.util.find_library("zstd") or "libzstd.so")
    if lib is None:
        raise CompressorUnavailable("neither the 'zstandard' module nor libzstd is available")
    lib.ZSTD_compressBound.restype = ctypes.c_size_t
    lib.ZSTD_compressBound.argtypes = [ctypes.c_size_t]
    lib.ZSTD_compress.restype = ctypes.c_size_t
    lib.ZSTD_compress.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int
    ]
    lib.ZSTD_isError.restype = ctypes.c_uint
    lib.ZSTD_isError.argtypes = [ctypes.c_size_t]

    def compress(data: bytes) -> bytes:
        cap = lib.ZSTD_compressBound(len(data))
        out = ctypes.create_string_buffer(cap)
        n = lib.ZSTD_compress(out, cap, data, len(data), level)
        if lib.ZSTD_isError(n):
            raise RuntimeError("ZSTD_compress failed")
        return out.raw[:n]

    return compress


class _LzoCallback(ctypes.Structure):
    # lzo_callback_t: nalloc, nfree, nprogress, user1 (pointers), user2, user3 (lzo_xint)
    _fields_ = [
        ("nalloc", ctypes.c_void_p),
        ("nfree", ctypes.c_void_p),
        ("nprogress", ctypes.c_void_p),
        ("user1", ctypes.c_void_p),
        ("user2", ctypes.c_size_t),
        ("user3", ctypes.c_size_t),
    ]


_LZO1X_1_MEM_COMPRESS = 16384 * ctypes.sizeof(ctypes.c_void_p)


def liblzo2() -> ctypes.CDLL:
    """liblzo2 through ctypes, initialised (a handle of its own: callers set their own argtypes).

    lzo_init() is the macro::

        __lzo_init_v2(LZO_VERSION, sizeof(short), sizeof(int), sizeof(long),
                      sizeof(lzo_uint32_t), sizeof(lzo_uint), lzo_sizeof_dict_t,
                      sizeof(char *), sizeof(lzo_voidp), sizeof(lzo_callback_t))

    with lzo_uint = size_t and lzo_sizeof_dict_t = sizeof(lzo_bytep).
    """
    lib = _load("liblzo2.so.2", ctypes.util.find_library("lzo2") or "liblzo2.so")
    if lib is None:
        raise CompressorUnavailable("liblzo2 is not available")
    lib.lzo_version.restype = ctypes.c_uint
    lib.__lzo_init_v2.restype = ctypes.c_int
    lib.__lzo_init_v2.argtypes = [ctypes.c_uint] + [ctypes.c_int] * 9
    ptr = ctypes.sizeof(ctypes.c_void_p)
    rc = lib.__lzo_init_v2(
        lib.lzo_version(),
        ctypes.sizeof(ctypes.c_short),
        ctypes.sizeof(ctypes.c_int),
        ctypes.sizeof(ctypes.c_long),
        ctypes.sizeof(ctypes.c_uint32),
        ctypes.sizeof(ctypes.c_size_t),
        ptr,
        ptr,
        ptr,
        ctypes.sizeof(_LzoCallback),
    )
    if rc != 0:
        raise CompressorUnavailable(f"__lzo_init_v2 failed: {rc}")
    return lib


def liblzo2_compressor() -> Compressor:
    """lzo1x_1_compress from liblzo2 through ctypes."""
    lib = liblzo2()
    lib.lzo1x_1_compress.restype = ctypes.c_int
    lib.lzo1x_1_compress.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p,
    ]
    wrkmem = ctypes.create_string_buffer(_LZO1X_1_MEM_COMPRESS)

    def compress(data: bytes) -> bytes:
        cap = len(data) + len(data) // 16 + 64 + 3
        out = ctypes.create_string_buffer(cap)
        n = ctypes.c_size_t(cap)
        rc = lib.lzo1x_1_compress(data, len(data), out, ctypes.byref(n), wrkmem)
        if rc != 0:
            raise RuntimeError(f"lzo1x_1_compress failed: {rc}")
        return out.raw[: n.value]

    return compress


def liblzo2_decompressor() -> Callable[[bytes, int], bytes]:
    """lzo1x_decompress_safe via ctypes (for the builder's own self-checks)."""
    lib = liblzo2()
    lib.lzo1x_decompress_safe.restype = ctypes.c_int
    lib.lzo1x_decompress_safe.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p,
    ]

    def decompress(data: bytes, out_len: int) -> bytes:
        out = ctypes.create_string_buffer(out_len)
        n = ctypes.c_size_t(out_len)
        rc = lib.lzo1x_decompress_safe(data, len(data), out, ctypes.byref(n), None)
        if rc != 0:
            raise RuntimeError(f"lzo1x_decompress_safe failed: {rc}")
        return out.raw[: n.value]

    return decompress
