"""Flattened output (``-F``) and its rebuilding (``-R``).

A flattened stream turns every positioned write of a writer into a record
``{offset, size}`` + data (docs/formats.md §2), so a dump can go
through a pipe (ssh, ``dd``) and be rebuilt anywhere.  :class:`FlatTarget`
wraps a stream the way :class:`~pymakedumpfile.output.target.Target` wraps a
file, so every writer can produce it.
"""

from __future__ import annotations

import errno
import os

from ..core.errors import CorruptDumpError, OutOfSpaceError, OutputError, TruncatedDumpError
from ..core.hints import BinaryIO
from ..formats import flattened as flat
from .target import Target

RECORD_MAX = 1 << 20  # split larger writes: a reader never needs a huge buffer


class FlatTarget:
    """Writes records of a flattened stream to ``out`` (stdout for ``-F``).

    :param name: the name used in messages.
    """

    def __init__(self, out: BinaryIO, name: str = "<stdout>", limit: int | None = None,
                 compress: str | None = None) -> None:
        self.stream = out
        self._comp = None
        if compress is not None:  # --stream-compress: the records go through a zstd or lz4 stream
            from .stream import compressing_writer

            self._comp = out = compressing_writer(compress, out)
        self.out = out
        self.path = name
        self.written = 0
        self.limit = limit
        self._emit(flat.pack_header())

    def room(self, offset: int) -> int | None:
        return None if self.limit is None else max(self.limit - offset, 0)

    def reserve(self, offset: int, size: int) -> None:
        pass  # nothing to allocate in a stream

    def _emit(self, data: bytes | bytearray | memoryview) -> None:
        try:
            self.out.write(data)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise OutOfSpaceError(f"Cannot write the flattened stream: {e.strerror}", self.path) from e
            raise OutputError(f"Cannot write the flattened stream: {e.strerror}", self.path) from e

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int, *, patch: bool = False) -> None:
        """Emit a record; a later record for the same bytes wins when rebuilt,
        so ``patch`` (a header rewrite) is just another record."""
        mv = memoryview(data)
        if not patch and self.limit is not None and offset + len(mv) > self.limit:
            raise OutOfSpaceError(f"Cannot write past the size limit of {self.limit} bytes (-L)", self.path)
        while mv:
            n = min(len(mv), RECORD_MAX)
            self._emit(flat.DATA_HEADER.pack(offset, n))
            self._emit(mv[:n])
            mv = mv[n:]
            offset += n
        self.written = max(self.written, offset)

    def finish(self, complete: bool = True) -> str:
        self._emit(flat.END_MARKER)
        try:
            self.out.flush()
            if self._comp is not None:
                self._comp.close()
                self.stream.flush()
        except OSError as e:
            raise OutputError(f"Cannot write the flattened stream: {e.strerror}", self.path) from e
        return self.path

    def abort(self) -> None:
        try:
            self.out.flush()
        except OSError:
            pass

    def remove(self) -> None:
        self.abort()


def rearrange(stream: BinaryIO, target: Target, name: str = "<stdin>") -> int:
    """Rebuild a dump file from a flattened stream (``-R``).

    Reads the stream once, front to back (it may be a pipe), writing each
    record at its offset; the end marker is required.  Returns the size of
    the file rebuilt.
    """

    def read(n: int, what: str) -> bytes:
        parts = []
        got = 0
        while got < n:
            b = stream.read(n - got)
            if not b:
                raise TruncatedDumpError(f"Cannot rebuild: the stream ends inside {what}", name)
            parts.append(b)
            got += len(b)
        return b"".join(parts)

    from ..formats.streams import kind_of
    from ..input.stream import Prepended, decompressing_reader

    head = stream.read(flat.HEADER_SIZE)
    if not head:
        raise TruncatedDumpError("Cannot rebuild: no data on standard input", name)
    kind = kind_of(head)
    if kind is not None:  # a compressed stream (--stream-compress): read through it
        import io

        stream = decompressing_reader(kind, io.BufferedReader(Prepended(head, stream)))
        head = stream.read(flat.HEADER_SIZE)
    if len(head) < flat.HEADER.size or not flat.is_header(head):
        raise CorruptDumpError("Cannot rebuild: not a flattened stream (no makedumpfile header)", name)
    if len(head) < flat.HEADER_SIZE:
        head += read(flat.HEADER_SIZE - len(head), "the stream header")
    size = 0
    while True:
        off, n = flat.DATA_HEADER.unpack(read(flat.DATA_HEADER.size, "a record header"))
        if off == flat.END_OFFSET and n == flat.END_SIZE:
            return size
        if off < 0 or n < 0:
            raise CorruptDumpError(f"Cannot rebuild: bad record (offset {off}, size {n})", name)
        while n > 0:
            chunk = read(min(n, 1 << 20), "record data")
            target.pwrite(chunk, off)
            off += len(chunk)
            n -= len(chunk)
            size = max(size, off)


def stdout_binary() -> BinaryIO:
    """stdout for dump data; refuses a terminal."""
    import sys

    if os.isatty(1):
        raise OutputError("Cannot write a flattened stream to a terminal: redirect standard output", "<stdout>")
    return sys.stdout.buffer


__all__ = ["FlatTarget", "rearrange", "stdout_binary"]
