"""Compiled kernels and their pure-Python twins.

Every function exists twice: ``<name>_native`` from the C extension
``pymakedumpfile._accel`` (sources in the top-level ``accel/`` folder) and
``<name>_python`` here.  ``<name>`` is the one in use, chosen by
``PYMAKEDUMPFILE_ACCEL=auto|native|python`` (``auto``: native when it was
built).  :data:`BACKEND` says which was chosen.  Both give the same results;
the tests run every kernel through both.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from types import ModuleType

from ..core.compat import bit_count
from ..core.hints import Any

_native: ModuleType | None
try:
    from . import _accel as _native
except ImportError:  # no compiler when installed, or a minimal initramfs
    _native = None

NATIVE_AVAILABLE = _native is not None


# ---- pure-Python twins ---------------------------------------------------


def is_zero_python(buf: bytes | memoryview) -> bool:
    """True if every byte of ``buf`` is zero."""
    b = bytes(buf)
    return b.count(0) == len(b)


def zero_pages_python(buf: bytes | memoryview, page_size: int) -> tuple[bytes, int]:
    """Bitmap (LSB first) of the all-zero pages in ``buf``, and their count."""
    if page_size <= 0 or len(buf) % page_size:
        raise ValueError("buffer is not a whole number of pages")
    count = len(buf) // page_size
    out = bytearray((count + 7) // 8)
    zero = bytes(page_size)
    mv = memoryview(buf)
    zeros = 0
    for i in range(count):
        if mv[i * page_size : (i + 1) * page_size] == zero:
            out[i >> 3] |= 1 << (i & 7)
            zeros += 1
    return bytes(out), zeros


def popcount_python(buf: bytes | memoryview) -> int:
    """Number of set bits in ``buf``."""
    return bit_count(int.from_bytes(buf, "little"))


# The longer twins live in their own modules, imported on first call: the native module is what
# runs, and a command line that never calls a twin does not pay for loading it.


def classify_python(*args: Any, **kwargs: Any) -> int:
    """The twin of the native ``classify``: :func:`.classify_py.classify_python`."""
    from .classify_py import classify_python as f

    return f(*args, **kwargs)


def dwarf_skip_python(*args: Any) -> tuple[int, int, int]:
    """The twin of the native ``dwarf_skip``: :func:`.dwarf_py.dwarf_skip_python`."""
    from .dwarf_py import dwarf_skip_python as f

    return f(*args)


def dwarf_layout_python(*args: Any) -> bytes | None:
    """The twin of the native ``dwarf_layout``: :func:`.dwarf_py.dwarf_layout_python`."""
    from .dwarf_py import dwarf_layout_python as f

    return f(*args)


def lzo1x_1_compress_python(data: Any) -> bytes:
    """The twin of the native ``lzo1x_1_compress``: :func:`.lzo_py.lzo1x_1_compress`."""
    from .lzo_py import lzo1x_1_compress

    return lzo1x_1_compress(data)


def lzo1x_decompress_safe_python(data: Any, out_len: int) -> bytes:
    """The twin of the native ``lzo1x_decompress_safe``: :func:`.lzo_py.lzo1x_decompress_safe`."""
    from .lzo_py import lzo1x_decompress_safe

    return lzo1x_decompress_safe(data, out_len)


PAGE_SKIPPED = 0xFFFFFFFF  # a page left out (zero): its descriptor points at the shared zero page
DESC_LZO = 0x2


def _pages_python(buf: bytes | memoryview, page_size: int, skip: bytes | None, sizes: Any, flags: Any,
                  compress: Callable[[bytes], bytes], flag: int, smallest: int) -> bytes:
    """The loop of every ``*_pages`` twin: ``compress`` each page; a page
    that does not shrink stays raw (flag 0); pages whose bit is set in
    ``skip`` get ``PAGE_SKIPPED``.  Fills ``sizes`` and ``flags`` (uint32
    arrays); returns the data.  ``smallest``: the page size must exceed it
    (as the native binding checks)."""
    if page_size <= smallest or len(buf) % page_size:
        raise ValueError("buffer is not a whole number of pages")
    n = len(buf) // page_size
    if skip is not None and len(skip) * 8 < n:
        raise ValueError("skip bitmap too short")
    out = []
    mv = memoryview(buf)
    for i in range(n):
        if skip is not None and skip[i >> 3] >> (i & 7) & 1:
            sizes[i], flags[i] = 0, PAGE_SKIPPED
            continue
        page = bytes(mv[i * page_size : (i + 1) * page_size])
        c = compress(page)
        if len(c) < page_size:
            out.append(c)
            sizes[i], flags[i] = len(c), flag
        else:
            out.append(page)
            sizes[i], flags[i] = page_size, 0
    return b"".join(out)


def lzo_pages_python(buf: bytes | memoryview, page_size: int, skip: bytes | None, sizes: Any, flags: Any) -> bytes:
    """LZO-compress the pages of ``buf``; a page that does not shrink stays
    raw (flag 0); pages whose bit is set in ``skip`` get ``PAGE_SKIPPED``.
    Fills ``sizes`` and ``flags`` (uint32 arrays); returns the data."""
    from .lzo_py import lzo1x_1_compress

    return _pages_python(buf, page_size, skip, sizes, flags, lzo1x_1_compress, DESC_LZO, 0)


def build_descs_python(sizes: Any, flags: Any, data_pos: int, zero_off: int, page_size: int,
                       big: bool) -> tuple[bytes, int]:
    """24-byte page descriptors for pages whose data follow one another from
    ``data_pos``; skipped pages point at ``zero_off``.  Returns (descriptors,
    data position after them)."""
    import struct

    if len(sizes) != len(flags):
        raise ValueError("sizes and flags differ in length")
    pk = struct.Struct(">qIIQ" if big else "<qIIQ").pack
    out = []
    for size, flag in zip(sizes, flags):
        if flag == PAGE_SKIPPED:
            out.append(pk(zero_off, page_size, 0, 0))
        else:
            out.append(pk(data_pos, size, flag, 0))
            data_pos += size
    return b"".join(out), data_pos


def zlib_pages_python(buf: bytes | memoryview, page_size: int, skip: bytes | None, sizes: Any, flags: Any,
                      level: int) -> bytes:
    """Like :func:`lzo_pages_python` with zlib at ``level`` (the stream of
    ``compress2``, as makedumpfile writes with -c); flag 1 for a compressed page."""
    import zlib

    return _pages_python(buf, page_size, skip, sizes, flags, lambda page: zlib.compress(page, level), 1, 1)


def deflate_pages_python(buf: bytes | memoryview, page_size: int, skip: bytes | None, sizes: Any, flags: Any,
                         level: int) -> bytes:
    """The twin of the native ``deflate_pages`` (zlib streams written by
    libdeflate): the same pages compressed, kept raw or skipped, each page a
    zlib stream of that page, here written by the standard library's zlib at
    ``level`` (libdeflate's 0-12; zlib's at most 9), so the bytes differ from libdeflate's."""
    if not 0 <= level <= 12:
        raise ValueError("compression level out of range")
    return zlib_pages_python(buf, page_size, skip, sizes, flags, min(level, 9))


def zstd_pages_python(buf: bytes | memoryview, page_size: int, skip: bytes | None, sizes: Any, flags: Any,
                      level: int) -> bytes:
    """Like :func:`zlib_pages_python` with zstd at ``level`` (one frame per
    page, as makedumpfile -z writes); flag 0x20 for a compressed page.  The
    frames may differ in bytes from the native kernel's (another libzstd)."""
    import zstandard

    return _pages_python(buf, page_size, skip, sizes, flags, zstandard.ZstdCompressor(level=level).compress, 0x20, 1)


def _unpack_one(data: bytes, flags: int, ps: int, lzo: Callable[[Any, int], bytes], zs: list[Any]) -> bytes | None:
    """One page of a kdump file, exactly as the native kernel takes it, or None."""
    import zlib

    if flags == 0:
        return data if len(data) == ps else None
    try:
        if flags == 0x1:
            d = zlib.decompressobj()
            page = d.decompress(data, ps)
            ok = d.eof and not d.unused_data and not d.unconsumed_tail
        elif flags == DESC_LZO:
            page, ok = lzo(data, ps), True
        elif flags == 0x4:
            import snappy  # python-snappy

            length, shift, i = 0, 0, 0
            while i < len(data) and shift <= 28:
                length |= (data[i] & 0x7F) << shift
                shift += 7
                i += 1
                if not data[i - 1] & 0x80:
                    break
            else:
                return None
            if length != ps:
                return None
            page, ok = snappy.uncompress(data), True
        elif flags == 0x20:
            import zstandard

            if zstandard.frame_content_size(data) != ps:
                return None
            if not zs:
                zs.append(zstandard.ZstdDecompressor())
            d = zs[0].decompressobj()
            page = d.decompress(data)
            ok = d.eof and not d.unused_data
        else:
            return None
    except Exception:  # noqa: BLE001 - each codec has its own error type
        return None
    return bytes(page) if ok and len(page) == ps else None


def kdump_unpack_python(fd: int, descs: bytes, big: bool, page_size: int, data_start: int, file_size: int,
                        regions: Sequence[tuple[int, Any]] = ()) -> tuple[bytes, int, int, int]:
    """The pages of a kdump file whose 24-byte page descriptors are ``descs``, decompressed:
    (their data, how many, need_off, need_len).  The data are read from ``fd``, or when it is
    negative taken from ``regions`` (at most two (file offset, bytes) pairs).  It stops at the
    first page it cannot take exactly (offset 0 or before ``data_start``, size 0 or over a page
    or past ``file_size``, flags other than one codec, data that are not exactly one page of
    that codec with all their bytes used, a short read, data in no region); the pages before
    it are returned.  need_off/need_len: the bytes of the file that page wanted and no region
    held (0, 0 when it stopped for another reason)."""
    import struct

    ps = page_size
    unpack = struct.Struct(">qIIQ" if big else "<qIIQ").unpack_from
    lzo = _g["lzo1x_decompress_safe"]
    zs: list[Any] = []
    out = []
    last: tuple[int, int, int] | None = None
    last_page = b""
    n = len(descs) // 24
    i = 0
    need = (0, 0)
    while i < n:
        off, size, flags, _ = unpack(descs, 24 * i)
        if off <= 0 or off < data_start or not 0 < size <= ps or off > file_size or file_size - off < size:
            break
        if last == (off, size, flags):
            out.append(last_page)
            i += 1
            continue
        # the pages whose data follow on, read together (at most 2 MiB)
        end, j = off + size, i + 1
        while j < n:
            o, sz, _, _ = unpack(descs, 24 * j)
            if o != end or not 0 < sz <= ps or end + sz - off > 2 << 20 or end + sz > file_size:
                break
            end += sz
            j += 1
        if fd >= 0:
            try:
                buf = os.pread(fd, end - off, off)
            except OSError:
                break
            if len(buf) != end - off:
                break
        else:
            held = [(b, m) for b, m in regions[:2] if b <= off and end - b <= len(m)]
            if not held:
                need = (off, end - off)
                break
            base, mem = held[0]
            buf = bytes(mem[off - base : end - base])
        bad = j
        for k in range(i, j):
            o, sz, fl, _ = unpack(descs, 24 * k)
            page = _unpack_one(buf[o - off : o - off + sz], fl, ps, lzo, zs)
            if page is None:
                bad = k
                break
            out.append(page)
        if bad < j:
            i = bad
            break
        if j == i + 1:
            last, last_page = (off, size, flags), out[-1]
        i = j
    return b"".join(out), i, need[0], need[1]


# ---- selection -----------------------------------------------------------

NAMES = ("is_zero", "zero_pages", "popcount", "lzo1x_1_compress", "lzo1x_decompress_safe", "classify", "lzo_pages",
         "build_descs", "zlib_pages", "deflate_pages", "zstd_pages", "dwarf_skip",
         "dwarf_layout", "kdump_unpack")
_policy = os.environ.get("PYMAKEDUMPFILE_ACCEL", "auto")
if _policy not in ("auto", "native", "python"):
    raise ImportError(f"PYMAKEDUMPFILE_ACCEL={_policy!r}: expected auto, native or python")
if _policy == "native" and _native is None:
    raise ImportError("PYMAKEDUMPFILE_ACCEL=native but the compiled module pymakedumpfile._accel is missing")
BACKEND = "native" if (_native is not None and _policy != "python") else "python"

_g = globals()
for _name in NAMES:
    # zlib_pages / zstd_pages exist natively only when the module was built with the codec's headers
    _g[_name + "_native"] = getattr(_native, _name, None) if _native is not None else None
    _g[_name] = (_g[_name + "_native"] if BACKEND == "native" and _g[_name + "_native"] is not None
                 else _g[_name + "_python"])

if BACKEND == "native" and _g["deflate_pages_native"] is None and _g["zlib_pages_native"] is not None:
    _g["deflate_pages"] = _g["zlib_pages_native"]  # built without libdeflate: compress2's streams, in C
#: what writes the zlib pages of -c: "libdeflate", "zlib" (compress2 in C) or "python"
ZLIB_ENGINE = ("python" if BACKEND == "python" or _g["deflate_pages"] is _g["deflate_pages_python"]
               else "libdeflate" if _g["deflate_pages"] is _g["deflate_pages_native"] else "zlib")

is_zero: Callable[[Any], bool]
zero_pages: Callable[[Any, int], tuple[bytes, int]]
popcount: Callable[[Any], int]
lzo1x_1_compress: Callable[[Any], bytes]
lzo1x_decompress_safe: Callable[[Any, int], bytes]
classify: Callable[..., int]
lzo_pages: Callable[..., bytes]
build_descs: Callable[..., tuple[bytes, int]]
zlib_pages: Callable[..., bytes]
deflate_pages: Callable[..., bytes]
zstd_pages: Callable[..., bytes]
dwarf_skip: Callable[..., tuple[int, int, int]]
dwarf_layout: Callable[[Any, int], bytes | None]
kdump_unpack: Callable[..., tuple[bytes, int, int, int]]


def tune_malloc() -> bool:
    """Tune the C heap (glibc) for batches of pages: buffers up to 4 MiB are
    reused from one heap instead of being mapped and unmapped for every
    batch (a page fault per 4 KiB), and what is free beyond 16 MiB goes back
    to the system, so that memory stays flat over a long dump.  For the
    command line, before any thread starts; a no-op without the native
    module or glibc.  Returns whether it was applied."""
    return bool(_native.tune_malloc()) if _native is not None else False


def implementations(name: str) -> dict[str, Callable[..., Any]]:
    """Both implementations of kernel ``name`` that exist here, by backend."""
    out = {"python": _g[name + "_python"]}
    if _g.get(name + "_native") is not None:
        out["native"] = _g[name + "_native"]
    return out
