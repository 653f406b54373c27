"""Whole-stream compression of ELF and flattened output (``--stream-compress``).

makedumpfile's users asked for compressed ELF output (its issue #1): a
filtered ELF dump piped through a compressor is a fraction of its size.  We
write zstd frames (zstandard) or lz4 frames (lz4) around the whole output,
and every reader recognises them by magic and decompresses transparently.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO

from .errors import CorruptDumpError, UnsupportedDumpError

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


def compressing_writer(kind: str, sink: BinaryIO, threads: int = 0) -> Any:
    """A file-like object compressing into ``sink``; close() ends the frame
    (``sink`` itself stays open)."""
    if kind == "zstd":
        import zstandard

        cctx = zstandard.ZstdCompressor(level=3, threads=threads)
        return cctx.stream_writer(sink, closefd=False)
    if kind == "lz4":
        import lz4.frame

        return lz4.frame.LZ4FrameFile(sink, mode="wb")
    raise UnsupportedDumpError(f"unknown stream compression {kind!r}: we write {', '.join(KINDS)}")


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


class SequentialTarget:
    """A target for writers whose writes come in file order (the ELF writer,
    a flattened stream): bytes go straight into a compressed stream.

    :raises CorruptDumpError: never; a write behind the current position is
        a programming error (ValueError).
    """

    def __init__(self, path: str, sink: BinaryIO, kind: str, threads: int = 0) -> None:
        self.path = path
        self._sink = sink
        self._w = compressing_writer(kind, sink, threads)
        self.written = 0
        self.limit: int | None = None

    def room(self, offset: int) -> int | None:
        return None

    def reserve(self, offset: int, size: int) -> None:
        pass

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int, *, patch: bool = False) -> None:
        if patch:
            from .errors import OutputError

            raise OutputError("Cannot rewrite the header of a compressed stream", self.path)
        if offset < self.written:
            raise ValueError(f"{self.path}: a compressed stream cannot go back to {offset:#x}")
        if offset > self.written:
            self._w.write(bytes(offset - self.written))
        self._w.write(data)
        self.written = offset + len(data)

    def close_stream(self) -> None:
        self._w.close()


__all__ = ["KINDS", "SequentialTarget", "inflate_to_tempfile", "io", "kind_of"]
