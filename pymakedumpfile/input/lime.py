"""LiME and AVML memory images (forensic captures of a live machine's memory).

LiME ranges are read in place.  AVML ranges are snappy framing streams: each is indexed when
first read (its chunks and the bytes each holds), and a chunk is decompressed when read; the
last chunk read is kept.  Layout: docs/images.md.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable

from .. import codecs
from ..core.errors import CorruptDumpError, TruncatedDumpError, UnsupportedDumpError
from ..formats import diskdump as dd
from ..formats import lime as lf
from .image import Extent, ImageReader, file_fetch
from .source import Source

MAX_RANGES = 1 << 20


class LimeReader(ImageReader):
    format_name = "lime"

    @classmethod
    def probe(cls, source: Source) -> bool:
        return lf.header_endian(source.pread(0, lf.HEADER.size)) is not None

    def __init__(self, source: Source) -> None:
        self.source = source
        head = source.pread(0, lf.HEADER.size)
        endian = lf.header_endian(head)
        if endian is None:
            raise UnsupportedDumpError("Cannot open: not a LiME or AVML image (no range header at 0)", self.name)
        first = lf.RangeHeader.unpack(head, endian)
        self.avml = first.magic == lf.AVML_MAGIC
        self.description = "AVML image (LiME ranges, snappy)" if self.avml else "LiME image"
        self.extents = []
        off = 0
        while off < source.size:
            if len(self.extents) >= MAX_RANGES:
                raise CorruptDumpError(f"Cannot read the image: more than {MAX_RANGES} ranges", self.name)
            h = lf.RangeHeader.unpack(source.read_exact(off, lf.HEADER.size, "range header"), endian)
            if (h.magic, h.version) != ((lf.AVML_MAGIC, lf.AVML_VERSION) if self.avml
                                        else (lf.LIME_MAGIC, lf.LIME_VERSION)):
                raise CorruptDumpError(f"Cannot read the image: no range header at {off:#x} (magic {h.magic:#x}, "
                                       f"version {h.version})", self.name)
            if h.last < h.start or h.last >= 1 << 64:
                raise CorruptDumpError(f"Cannot read the image: range {h.start:#x}-{h.last:#x} at {off:#x} ends "
                                       "before it starts", self.name)
            data = off + lf.HEADER.size
            size = h.end - h.start
            if self.avml:
                stream = _SnappyStream(source, data, size, self.name)
                self.extents.append(Extent(h.start, h.end, stream.fetch))
                off = stream.end + lf.TRAILER.size
            else:
                if data + size > source.size:
                    raise TruncatedDumpError(f"Cannot read the image: range {h.start:#x}-{h.end:#x} at {off:#x} "
                                             f"runs past the end of the file ({source.size:#x})", self.name)
                self.extents.append(Extent(h.start, h.end, file_fetch(source, data, "image data")))
                off = data + size
        self.settle(endian=endian)

    def attributes(self) -> dict[str, object]:
        a = super().attributes()
        a["file.compression"] = "snappy" if self.avml else "none"
        a["lime.avml"] = self.avml
        return a


class _SnappyStream:
    """One AVML range: a snappy framing stream of ``size`` bytes at file offset ``data``, then
    its length (``u64``).  The chunk index is built on opening (it is what finds the next
    range); a chunk is decompressed when read."""

    def __init__(self, source: Source, data: int, size: int, name: str) -> None:
        self.source, self.name, self.size = source, name, size
        self.starts = array("Q")  # uncompressed offset of each data chunk
        self.offsets = array("Q")  # file offset of each data chunk's header
        pos, got = data, 0
        buf, buf_at = b"", data
        seen_id = False
        while got < size:
            if pos + lf.CHUNK_HEADER + lf.CRC_SIZE + 5 > buf_at + len(buf):
                buf, buf_at = source.pread(pos, 1 << 20), pos
            if pos + lf.CHUNK_HEADER > buf_at + len(buf):
                raise TruncatedDumpError(f"Cannot read AVML range at {data:#x}: it ends after {got:#x} of "
                                         f"{size:#x} bytes", name)
            ctype, clen = lf.chunk_header(buf, pos - buf_at)
            body = pos + lf.CHUNK_HEADER
            if ctype == lf.CHUNK_STREAM_ID:
                if clen != len(lf.STREAM_ID):
                    raise CorruptDumpError(f"Cannot read AVML range at {data:#x}: bad stream identifier", name)
                seen_id = True
            elif ctype in (lf.CHUNK_COMPRESSED, lf.CHUNK_UNCOMPRESSED):
                if not seen_id:
                    raise CorruptDumpError(f"Cannot read AVML range at {data:#x}: no snappy stream identifier", name)
                if clen <= lf.CRC_SIZE:
                    raise CorruptDumpError(f"Cannot read AVML range at {data:#x}: empty chunk at {pos:#x}", name)
                if ctype == lf.CHUNK_UNCOMPRESSED:
                    n = clen - lf.CRC_SIZE
                else:
                    n = _varint(buf, body + lf.CRC_SIZE - buf_at, pos, name)
                if not 0 < n <= lf.CHUNK_MAX_DATA:
                    raise CorruptDumpError(f"Cannot read AVML range at {data:#x}: chunk at {pos:#x} holds {n} bytes",
                                           name)
                self.starts.append(got)
                self.offsets.append(pos)
                got += n
            elif ctype < 0x80:
                raise CorruptDumpError(f"Cannot read AVML range at {data:#x}: unknown chunk type {ctype:#x} at "
                                       f"{pos:#x}", name)
            pos = body + clen
        if got != size:
            raise CorruptDumpError(f"Cannot read AVML range at {data:#x}: the stream holds {got:#x} bytes, the "
                                   f"header says {size:#x}", name)
        self.end = pos
        trailer = source.read_exact(pos, lf.TRAILER.size, "AVML range length")
        if lf.TRAILER.unpack(trailer)[0] != pos - data:
            raise CorruptDumpError(f"Cannot read AVML range at {data:#x}: its length after it says "
                                   f"{lf.TRAILER.unpack(trailer)[0]:#x}, the stream has {pos - data:#x}", name)
        self._cached = (-1, b"")
        self._snappy: Callable[[bytes, int], bytes] | None = None

    def _chunk(self, k: int) -> bytes:
        if self._cached[0] == k:
            return self._cached[1]
        pos = self.offsets[k]
        end = self.starts[k + 1] if k + 1 < len(self.starts) else self.size
        want = end - self.starts[k]
        head = self.source.read_exact(pos, lf.CHUNK_HEADER, "snappy chunk")
        ctype, clen = lf.chunk_header(head)
        body = self.source.read_exact(pos + lf.CHUNK_HEADER, clen, "snappy chunk")[lf.CRC_SIZE:]
        if ctype == lf.CHUNK_COMPRESSED:
            if self._snappy is None:
                self._snappy = codecs.decompressor(dd.DUMP_DH_COMPRESSED_SNAPPY)
            try:
                body = self._snappy(body, want)
            except Exception as e:  # noqa: BLE001 - the codec's own errors: corrupt data
                raise CorruptDumpError(f"Cannot decompress snappy chunk at {pos:#x}: {e}", self.name) from None
        if len(body) != want:
            raise CorruptDumpError(f"Cannot read snappy chunk at {pos:#x}: {len(body)} bytes, not {want}", self.name)
        self._cached = (k, body)
        return body

    def fetch(self, off: int, n: int) -> bytes:
        out = []
        k = bisect_right(self.starts, off) - 1
        while n > 0:
            data = self._chunk(k)
            skip = off - self.starts[k]
            piece = data[skip : skip + n]
            out.append(piece)
            off += len(piece)
            n -= len(piece)
            k += 1
        return b"".join(out)


def _varint(buf: bytes, at: int, pos: int, name: str) -> int:
    value, shift = 0, 0
    for b in buf[at : at + 5]:
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value
    raise CorruptDumpError(f"Cannot read snappy chunk at {pos:#x}: bad length", name)
