"""Transport layer under every reader: positioned reads from a dump file.

A reader never touches a file directly; it calls :meth:`Source.pread`.
:func:`open_source` recognises a flattened stream (makedumpfile ``-F``) by its
header and returns a :class:`FlattenedSource` that presents the rebuilt file,
so every format can be read from a flattened file with no ``-R`` step.
"""

from __future__ import annotations

import bisect
import errno
import os
import stat

from ..core.errors import CorruptDumpError, DumpError, ReadError, TruncatedDumpError
from ..core.hints import BinaryIO
from ..formats import flattened as flat

# A read may span this much of a flattened file that no record provides (it
# reads as zeros, as in the -R output); more means a record far beyond the
# data, and a read of it would only allocate zeros.
MAX_GAP = 16 << 20
# Reads of a sparse file at least this large look for its holes first (two lseek calls) and
# read only its data: a hole reads as zeros, so none of its bytes need be copied.
HOLE_MIN_READ = 256 << 10


class Source:
    """A seekable, read-only view of a dump file.

    :param name: the file name used in messages.
    """

    name: str
    size: int
    size_known = True  # no data lies past :attr:`size`

    def pread(self, offset: int, size: int) -> bytes:
        """Read ``size`` bytes at ``offset``; short only at the end of the data."""
        raise NotImplementedError

    def check_range(self, offset: int, size: int, what: str) -> None:
        """Raise unless ``size`` bytes at ``offset`` are there to read (without reading them)."""
        if offset < 0 or size < 0:
            raise CorruptDumpError(f"Cannot read {what}: negative offset or size", self.name)
        if offset + size > self.size and self.size_known:  # refuse before allocating
            raise TruncatedDumpError(
                f"Cannot read {what}: file ends at {self.size:#x}, need {offset + size:#x}", self.name
            )

    def read_exact(self, offset: int, size: int, what: str) -> bytes:
        """Like :meth:`pread` but a short read is a :class:`TruncatedDumpError`."""
        self.check_range(offset, size, what)
        data = self.pread(offset, size)
        if len(data) != size:
            raise TruncatedDumpError(
                f"Cannot read {what}: file ends at {self.size:#x}, need {offset + size:#x}", self.name
            )
        return data

    def close(self) -> None:
        pass


class FileSource(Source):
    """A regular file, block device or ``/proc/vmcore`` read with ``pread``."""

    _keep: BinaryIO  # set on a decompressed temporary file (open_source): closed with this source

    def __init__(self, path: str | os.PathLike[str] | int, name: str | None = None) -> None:
        if isinstance(path, int):
            self.fd = path
            self._own = False
            self.name = name or f"fd {path}"
        else:
            self.name = name or os.fspath(path)
            try:
                self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except OSError as e:
                raise DumpError(f"Cannot open: {e.strerror}", self.name) from None
            self._own = True
        st = os.fstat(self.fd)
        if stat.S_ISDIR(st.st_mode):
            self.close()
            raise DumpError("Cannot open: is a directory", self.name)
        if stat.S_ISBLK(st.st_mode):
            self.size = os.lseek(self.fd, 0, os.SEEK_END)
        else:
            self.size = st.st_size
        self.size_known = stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode)
        # a regular file with fewer blocks than its size has holes (a vmcore copied with
        # cp --sparse, an ELF dump written with holes); a file of no blocks at all is
        # /proc/vmcore or another file system's special file: read as it is
        self.sparse = (stat.S_ISREG(st.st_mode) and 0 < getattr(st, "st_blocks", 0) * 512 < st.st_size
                       and hasattr(os, "SEEK_DATA"))

    def pread(self, offset: int, size: int) -> bytes:
        if self.size_known:  # os.pread allocates the whole size first
            size = min(size, self.size - offset)
        if size <= 0 or offset < 0:
            return b""
        if self.sparse and size >= HOLE_MIN_READ:
            return self._pread_sparse(offset, size)
        return self._pread(offset, size)

    def _pread_sparse(self, offset: int, size: int) -> bytes:
        """:meth:`pread` of a sparse file: its data extents read, its holes given as zeros."""
        end = offset + size
        out: bytearray | None = None
        pos = offset
        while pos < end:
            try:
                try:
                    data_at = os.lseek(self.fd, pos, os.SEEK_DATA)
                except OSError as e:
                    if e.errno != errno.ENXIO:
                        raise
                    data_at = end  # no data from pos on
                if data_at >= end:
                    break  # a hole to the end of the range
                hole_at = min(os.lseek(self.fd, data_at, os.SEEK_HOLE), end)
            except OSError as e:
                if out is None:  # no SEEK_DATA on this file system: read everything
                    self.sparse = False
                    return self._pread(offset, size)
                raise ReadError(f"Cannot read {size} bytes at {offset:#x}: {e.strerror}", self.name,
                                e.errno) from None
            if out is None:
                if data_at <= offset and hole_at >= end:
                    return self._pread(offset, size)  # data throughout
                out = bytearray(size)  # zeros, where the holes are
            chunk = self._pread(data_at, hole_at - data_at)
            out[data_at - offset : data_at - offset + len(chunk)] = chunk
            if len(chunk) < hole_at - data_at:  # the file ends here
                return bytes(out[: data_at - offset + len(chunk)])
            pos = hole_at
        # a hole up to the end of the range: as far as the file still reaches
        n = min(size, max(0, os.fstat(self.fd).st_size - offset))
        return bytes(out[:n]) if out is not None else bytes(n)

    def _pread(self, offset: int, size: int) -> bytes:
        try:
            data = os.pread(self.fd, size, offset)
            if len(data) == size or not data:
                return data
            parts = [data]  # a short read before EOF (pipes, some /proc files)
            got = len(data)
            while got < size:
                more = os.pread(self.fd, size - got, offset + got)
                if not more:
                    break
                parts.append(more)
                got += len(more)
            return b"".join(parts)
        except OSError as e:
            raise ReadError(f"Cannot read {size} bytes at {offset:#x}: {e.strerror}", self.name, e.errno) from None
        except OverflowError:
            raise CorruptDumpError(f"Cannot read {size} bytes at {offset:#x}: offset out of range", self.name) from None

    def close(self) -> None:
        if getattr(self, "_own", False) and self.fd >= 0:
            os.close(self.fd)
        self.fd = -1
        keep = getattr(self, "_keep", None)
        if keep is not None:
            keep.close()

    def __del__(self) -> None:
        # a reader dropped without close() still lets its file go: the descriptor is a plain
        # int, which nothing else would close before the process ends (and a deleted dump's
        # disk space is not given back while it is open)
        if getattr(self, "fd", -1) >= 0:
            try:
                self.close()
            except OSError:
                pass


class FlattenedSource(Source):
    """The file a flattened stream describes, read in place.

    The stream is a header and records ``{offset, size, data}``; records may
    come in any order and overlap, the later one winning (as ``-R`` does).
    The constructor reads every record header once to build a map from
    logical offsets to stream offsets.
    """

    def __init__(self, inner: Source) -> None:
        self.inner = inner
        self.name = inner.name
        # disjoint logical intervals: _starts[i] .. _ends[i] -> stream offset _where[i]
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._where: list[int] = []
        pos = flat.HEADER_SIZE
        size = 0
        hdr = flat.DATA_HEADER
        while True:
            raw = inner.pread(pos, hdr.size)
            if len(raw) < hdr.size:
                raise TruncatedDumpError(
                    f"Cannot read flattened stream: no end marker (stream ends at {inner.size:#x})", self.name
                )
            off, n = hdr.unpack(raw)
            pos += hdr.size
            if off == flat.END_OFFSET and n == flat.END_SIZE:
                break
            if off < 0 or n < 0:
                raise CorruptDumpError(f"Cannot read flattened stream: bad record at {pos - hdr.size:#x}", self.name)
            if pos + n > inner.size:
                raise TruncatedDumpError(
                    f"Cannot read flattened stream: record at {pos - hdr.size:#x} runs past the end", self.name
                )
            if n:
                self._paint(off, off + n, pos)
                size = max(size, off + n)
            pos += n
        self.size = size

    def _paint(self, a: int, b: int, where: int) -> None:
        starts, ends, wh = self._starts, self._ends, self._where
        i = bisect.bisect_right(ends, a)  # first interval ending after a
        if i == len(starts) and (not starts or starts[-1] < a):  # common case: in order
            starts.append(a)
            ends.append(b)
            wh.append(where)
            return
        new_s, new_e, new_w = [], [], []
        j = i
        while j < len(starts) and starts[j] < b:
            s, e, w = starts[j], ends[j], wh[j]
            if s < a:  # keep the head
                new_s.append(s)
                new_e.append(a)
                new_w.append(w)
            if e > b:  # keep the tail
                new_s.append(b)
                new_e.append(e)
                new_w.append(w + (b - s))
            j += 1
        new_s.append(a)
        new_e.append(b)
        new_w.append(where)
        order = sorted(range(len(new_s)), key=new_s.__getitem__)
        starts[i:j] = [new_s[k] for k in order]
        ends[i:j] = [new_e[k] for k in order]
        wh[i:j] = [new_w[k] for k in order]

    def check_range(self, offset: int, size: int, what: str) -> None:
        if size > MAX_GAP and 0 <= offset:  # refuse to allocate for data the stream does not hold
            held = self._held(offset, min(offset + size, self.size))
            if size - held > MAX_GAP:
                raise TruncatedDumpError(
                    f"Cannot read {what}: the stream holds only {held:#x} of the {size:#x} bytes at {offset:#x}",
                    self.name,
                )
        super().check_range(offset, size, what)

    def _held(self, a: int, b: int) -> int:
        """Bytes of [a, b) that some record provides."""
        n = 0
        i = bisect.bisect_right(self._ends, a)
        while i < len(self._starts) and self._starts[i] < b:
            n += min(self._ends[i], b) - max(self._starts[i], a)
            i += 1
        return n

    def pread(self, offset: int, size: int) -> bytes:
        end = min(offset + size, self.size)
        if offset >= end:
            return b""
        out = bytearray(end - offset)  # gaps read as zeros, as in the -R output
        i = bisect.bisect_right(self._ends, offset)
        while i < len(self._starts) and self._starts[i] < end:
            s, e = max(self._starts[i], offset), min(self._ends[i], end)
            data = self.inner.read_exact(self._where[i] + (s - self._starts[i]), e - s, "flattened record")
            out[s - offset : e - offset] = data
            i += 1
        return bytes(out)

    def close(self) -> None:
        self.inner.close()


def open_source(path: str | os.PathLike[str] | int, name: str | None = None) -> Source:
    """Open ``path`` for reading, unwrapping a zstd or lz4 stream (into a
    temporary file) and a flattened stream (read in place)."""
    from ..formats.streams import kind_of
    from .stream import inflate_to_tempfile

    fs = FileSource(path, name)
    src: Source = fs
    try:
        kind = kind_of(src.pread(0, 4))
        if kind is not None:
            with open(fs.fd, "rb", closefd=False) as raw:
                tmp = inflate_to_tempfile(kind, raw, fs.name)
            fs.close()
            src = inflated = FileSource(tmp.fileno(), fs.name)
            inflated._keep = tmp  # closes (and frees) the temporary file with src
            inflated._own = False
        head = src.pread(0, flat.HEADER.size)
        if flat.is_header(head):
            return FlattenedSource(src)
    except BaseException:
        src.close()
        raise
    return src
