"""A split dump (makedumpfile ``--split``) opened as one reader.

Every part is a complete kdump file carrying the global bitmaps and its own
pfn range [start, end); the parts may be given in any order.  No two parts may
overlap.  A part may be missing (one disk of the set lost): the pfns no file
covers read as excluded, and :attr:`SplitReader.missing` names them so that
the user is told.
"""

from __future__ import annotations

import bisect

from ..core.errors import CorruptDumpError, UnsupportedDumpError
from ..core.hints import Any
from ..core.pagemap import Restricted
from .base import DumpReader
from .kdump import KdumpReader


class SplitReader(DumpReader):
    format_name = "kdump"

    def __init__(self, parts: list[KdumpReader]) -> None:
        if not parts:
            raise ValueError("no parts")
        parts = sorted(parts, key=lambda p: p.start_pfn)
        first = parts[0]
        self.parts = parts
        self.source = first.source
        for p in parts:
            if getattr(p, "pfn_offset", 0):
                raise UnsupportedDumpError("Cannot open split set: the parts number pages from the start of RAM "
                                           "(arm), which split sets do not support yet", p.name)
            if not p.split:
                raise CorruptDumpError("Cannot open split set: this file is not part of a split dump", p.name)
            if (p.header.block_size, p.max_pfn, p.header.utsname) != (
                first.header.block_size,
                first.max_pfn,
                first.header.utsname,
            ):
                raise CorruptDumpError(f"Cannot open split set: header differs from {first.name}'s", p.name)
            if p.memmap.buf != first.memmap.buf or p.pagemap_full.buf != first.pagemap_full.buf:
                raise CorruptDumpError(f"Cannot open split set: bitmaps differ from {first.name}'s", p.name)
        pos, self.missing = 0, []
        for p in parts:
            if p.start_pfn < pos:
                raise CorruptDumpError(f"Cannot open split set: range {p.start_pfn:#x}-{p.end_pfn:#x} overlaps the "
                                       "previous part", p.name)
            if p.start_pfn > pos:
                self.missing.append((pos, p.start_pfn))
            pos = p.end_pfn
        if pos < first.max_pfn:
            self.missing.append((pos, first.max_pfn))
        self._starts = [p.start_pfn for p in parts]
        for attr in ("page_size", "max_pfn", "memmap", "arch", "endian", "notes", "vmcoreinfo", "uts", "description"):
            setattr(self, attr, getattr(first, attr))
        self.pagemap = Restricted(first.pagemap_full, [(p.start_pfn, p.end_pfn) for p in parts])
        self.incomplete = any(p.incomplete for p in parts)

    @property
    def name(self) -> str:
        return ",".join(p.name for p in self.parts)

    def _part(self, pfn: int) -> KdumpReader:
        return self.parts[max(bisect.bisect_right(self._starts, pfn) - 1, 0)]

    def _why_not(self, pfn: int) -> str:
        for a, b in self.missing:
            if a <= pfn < b:
                return f"in no file of the split set given (pfns {a:#x}-{b:#x})"
        return "not in memory (a hole)"

    def read_page(self, pfn: int) -> bytes:
        p = self._part(pfn)
        if not p.start_pfn <= pfn < p.end_pfn:
            raise self.excluded(pfn, self._why_not(pfn))
        return p.read_page(pfn)

    def read_pages(self, pfn: int, count: int) -> bytes:
        out = []
        while count > 0:
            p = self._part(pfn)
            n = min(count, p.end_pfn - pfn)
            if n <= 0:  # in no part given (a lost part, or past max_pfn): nothing to read, and no progress
                raise self.excluded(pfn, self._why_not(pfn))
            out.append(p.read_pages(pfn, n))
            pfn += n
            count -= n
        return b"".join(out)

    def attributes(self) -> dict[str, Any]:
        a = self.parts[0].attributes()
        a["file.pagemap"] = self.pagemap
        a["file.incomplete"] = self.incomplete
        a["kdump.split"] = 0
        a["kdump.start_pfn"], a["kdump.end_pfn"] = 0, self.max_pfn
        a["kdump.num_dumpable"] = sum(p.num_dumpable for p in self.parts)
        a["file.set.number"] = len(self.parts)
        a["file.set.missing"] = list(self.missing)
        # what filtering erased: each part records its own pages' (makedumpfile's --reassemble joins them)
        a["file.eraseinfo.raw"] = b"".join(p.eraseinfo for p in self.parts)
        for i, p in enumerate(self.parts):
            a[f"file.set.{i}.name"] = p.name
            a[f"file.set.{i}.start_pfn"] = p.start_pfn
            a[f"file.set.{i}.end_pfn"] = p.end_pfn
        return a

    def close(self) -> None:
        for p in self.parts:
            p.close()
