"""Writing ELF or flattened output inside a zstd or lz4 stream (``--stream-compress``).

makedumpfile's users asked for compressed ELF output (its issue #1): a filtered ELF dump piped
through a compressor is a fraction of its size.  We write zstd frames (zstandard) or lz4
frames (lz4) around the whole output; every reader of ours recognises them by magic
(``formats/streams.py``) and inflates them transparently (``input/stream.py``).
"""

from __future__ import annotations

from ..core.errors import OutputError, UnsupportedDumpError
from ..core.hints import Any, BinaryIO
from ..formats.streams import KINDS
from .target import Target


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


class CompressedFileTarget:
    """A dump file written through a compressed stream, for writers whose writes come in file
    order (the ELF writer): bytes go straight into the stream, which goes into ``base``.

    A write behind the current position is a programming error (ValueError).
    """

    def __init__(self, base: Target, kind: str, threads: int = 0) -> None:
        self.base = base
        self.path = base.path
        self._sink = open(base.fd, "wb", closefd=False)  # noqa: SIM115 - closed by finish()
        self._w = compressing_writer(kind, self._sink, threads)
        self.written = 0
        self.limit: int | None = None

    def room(self, offset: int) -> int | None:
        return None

    def reserve(self, offset: int, size: int) -> None:
        pass

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int, *, patch: bool = False) -> None:
        if patch:
            raise OutputError("Cannot rewrite the header of a compressed stream", self.path)
        if offset < self.written:
            raise ValueError(f"{self.path}: a compressed stream cannot go back to {offset:#x}")
        if offset > self.written:
            self._w.write(bytes(offset - self.written))
        self._w.write(data)
        self.written = offset + len(data)

    def finish(self, complete: bool = True) -> str:
        """End the stream, then put the file in place."""
        self._w.close()
        self._sink.flush()
        self._sink.close()
        self.base.written = self.written
        return self.base.finish(complete)

    def remove(self) -> None:
        self.base.remove()
