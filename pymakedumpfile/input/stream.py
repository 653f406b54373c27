"""Reading a dump written inside a zstd or lz4 stream (``--stream-compress``, or a dump
compressed by hand): the stream is inflated once to an unlinked temporary file, so that the
readers keep random access."""

from __future__ import annotations

import io

from ..core.errors import CorruptDumpError
from ..core.hints import Any, BinaryIO


def decompressing_reader(kind: str, src: BinaryIO) -> BinaryIO:
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(src, closefd=False)
    import lz4.frame

    return lz4.frame.LZ4FrameFile(src, mode="rb")


def inflate_to_tempfile(kind: str, src: BinaryIO, name: str) -> BinaryIO:
    """Decompress ``src`` into an unlinked temporary file (random access for
    the readers).  It lives in TMPDIR and is gone when closed."""
    import shutil  # here: a capture never needs them (nor, through shutil, bz2 and lzma in the initramfs)
    import tempfile

    tmp = tempfile.TemporaryFile(prefix="pymakedumpfile-")
    try:
        with decompressing_reader(kind, src) as r:
            shutil.copyfileobj(r, tmp, 4 << 20)
    except (OSError, EOFError, RuntimeError, ValueError) as e:
        tmp.close()
        raise CorruptDumpError(f"Cannot decompress the {kind} stream: {e}", name) from None
    except Exception as e:  # noqa: BLE001 - zstandard.ZstdError and friends
        tmp.close()
        raise CorruptDumpError(f"Cannot decompress the {kind} stream: {e}", name) from None
    tmp.seek(0)
    return tmp


class Prepended(io.RawIOBase):
    """``head`` then the rest of ``stream``: to look at the first bytes of a
    pipe and still read it whole."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read(len(b))
        b[: len(data)] = data
        return len(data)
