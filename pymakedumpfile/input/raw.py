"""Raw memory images: files holding physical memory from a given address on, with nothing
else (crash's ``ramdump`` files; a ``dd`` of ``/dev/mem``; a memory region saved by firmware or a
hypervisor).  Nothing in such a file says what it is: it is named ``FILE@ADDRESS`` on the command
line (several of them for several regions), as crash takes ``ramdump@ADDRESS``.
"""

from __future__ import annotations

import os
import re

from ..core.errors import UsageError
from .image import Extent, ImageReader, file_fetch
from .source import Source, open_source

_SPEC = re.compile(r"^(?P<path>.+)@(?P<addr>0[xX][0-9a-fA-F]+|[0-9]+)$")


def parse_spec(spec: object) -> tuple[str, int] | None:
    """``(path, address)`` if ``spec`` names a raw image (``FILE@ADDRESS``, the address in hex
    with 0x or decimal) rather than a file whose own name has an ``@``."""
    if not isinstance(spec, (str, os.PathLike)):
        return None
    text = os.fspath(spec)
    if not isinstance(text, str) or os.path.exists(text):
        return None
    m = _SPEC.match(text)
    if m is None:
        return None
    return m.group("path"), int(m.group("addr"), 0)


class RawReader(ImageReader):
    format_name = "raw"
    description = "raw memory image"

    @classmethod
    def probe(cls, source: Source) -> bool:
        return False  # never recognised by its contents: named FILE@ADDRESS

    def __init__(self, regions: list[tuple[Source, int]]) -> None:
        """``regions``: each file's source and the physical address of its first byte (the
        sources are closed with the reader, or here if it cannot be opened)."""
        if not regions:
            raise UsageError("Cannot open a raw image: no FILE@ADDRESS given")
        self.sources = [src for src, _ in regions]
        self.source = self.sources[0]
        try:
            self.extents = [Extent(addr, addr + src.size, file_fetch(src, 0, f"memory from {addr:#x}"))
                            for src, addr in regions if src.size]
            self.settle()
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(cls, specs: list[tuple[str, int]]) -> RawReader:
        """The files ``(path, address)`` as one image."""
        regions: list[tuple[Source, int]] = []
        try:
            for path, addr in specs:
                regions.append((open_source(path), addr))
        except BaseException:
            for src, _ in regions:
                src.close()
            raise
        return cls(regions)

    @property
    def name(self) -> str:
        return ",".join(s.name for s in self.sources)

    def close(self) -> None:
        for s in self.sources:
            s.close()
