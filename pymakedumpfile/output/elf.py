"""ELF writer (``-E``), laid out as makedumpfile does (shared/formats.md
section 4): ELF header, program headers (one PT_NOTE, then PT_LOADs), the
notes copied verbatim, then segment data.

Each RAM range of the input is walked against the write context's page map:
a run of fewer than 256 excluded pages is kept with its real contents; a run
of 256 or more ends the segment (the gap counts in ``p_memsz`` only) and the
next kept page starts a new one.  ELF32 input gives ELF32 output; with
0xffff or more program headers, PN_XNUM numbering is used.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..context import Context
from ..errors import PageExcludedError
from ..formats import elf as elff
from .kdump import WriteResult, notes_with_vmcoreinfo
from .target import Target

PFN_EXCLUDED = 256  # makedumpfile's threshold for splitting a segment
READ_PAGES = 256


@dataclass
class Segment:
    paddr: int
    vaddr: int
    filesz: int
    memsz: int
    offset: int = 0


def input_loads(ctx: Context) -> list[tuple[int, int, int]]:
    """(paddr, vaddr, memsz) of the RAM ranges to write, in input order."""
    loads = ctx.attr.get("elf.loads")
    if loads:
        return list(loads)
    ps = ctx.page_size
    po = ctx.attr.get("linux.page_offset")
    return [(a * ps, (po + a * ps) if po is not None else 0, (b - a) * ps) for a, b in ctx.attr["memory.pagemap"].runs()]


def plan_segments(ctx: Context) -> list[Segment]:
    """Split every input range into output segments as makedumpfile does."""
    ps = ctx.page_size
    keep = ctx.pagemap
    segs: list[Segment] = []
    for paddr, vaddr, memsz in input_loads(ctx):
        lo, hi = paddr, paddr + memsz
        if memsz == 0:
            continue
        p0, p1 = lo // ps, -(-hi // ps)
        # kept runs, merged over gaps shorter than PFN_EXCLUDED
        groups: list[list[int]] = []
        for a, b in keep.runs(p0, p1):
            if groups and a - groups[-1][1] < PFN_EXCLUDED:
                groups[-1][1] = b
            else:
                groups.append([a, b])
        seg_start = lo
        if groups and groups[0][0] - p0 < PFN_EXCLUDED:
            groups[0][0] = p0  # a short excluded head stays in the first segment
        cur_file_end = lo
        for ga, gb in groups:
            a_bytes = max(ga * ps, lo)
            if a_bytes > seg_start and ga != p0:
                # close the segment before this group (its tail is memsz only)
                segs.append(Segment(seg_start, vaddr + (seg_start - lo), cur_file_end - seg_start, a_bytes - seg_start))
                seg_start = a_bytes
            cur_file_end = min(gb * ps, hi)
        segs.append(Segment(seg_start, vaddr + (seg_start - lo), max(cur_file_end - seg_start, 0), hi - seg_start))
    return segs


def write_elf(ctx: Context, target: Target, threads: int | None = None, progress: object = None) -> WriteResult:
    """Write the write context ``ctx`` as an ELF vmcore."""
    a = ctx.attr
    bits = int(a.get("elf.class", 64 if a.get("arch.ptr_size", 8) == 8 else 32))
    endian = "<" if a.get("arch.byte_order", "little") == "little" else ">"
    notes = notes_with_vmcoreinfo(ctx)
    segs = plan_segments(ctx)
    nph = 1 + len(segs)
    ehs = elff.Ehdr.struct(endian, bits).size
    phs = elff.Phdr.struct(endian, bits).size
    shs = elff.Shdr.struct(endian, bits).size
    xnum = nph >= elff.PN_XNUM
    off = ehs + nph * phs
    shoff = 0
    if xnum:
        shoff = off
        off += shs
    note_off = off
    off += len(notes)
    for s in segs:
        s.offset = off if s.filesz else 0
        off += s.filesz
    ident = bytearray(16)
    ident[0:4] = elff.ELFMAG
    ident[4] = elff.ELFCLASS64 if bits == 64 else elff.ELFCLASS32
    ident[5] = elff.ELFDATA2LSB if endian == "<" else elff.ELFDATA2MSB
    ident[6] = elff.EV_CURRENT
    machine = int(a.get("elf.machine", elff.ARCH_TO_EM.get(a.get("arch.name", ""), 0)))
    eh = elff.Ehdr(
        bytes(ident), elff.ET_CORE, machine, elff.EV_CURRENT, 0, ehs, shoff,
        elff.ELF_FLAG_INCOMPLETE if a.get("file.incomplete_output") else 0,
        ehs, phs, elff.PN_XNUM if xnum else nph, shs if xnum else 0, 1 if xnum else 0, 0,
    )
    hdr = bytearray(eh.pack(endian, bits))
    hdr += elff.Phdr(elff.PT_NOTE, 0, note_off, 0, 0, len(notes), len(notes), 0).pack(endian, bits)
    for s in segs:
        hdr += elff.Phdr(elff.PT_LOAD, 7, s.offset, s.vaddr, s.paddr, s.filesz, s.memsz, 0).pack(endian, bits)
    if xnum:
        hdr += elff.Shdr(sh_info=nph).pack(endian, bits)
    hdr += notes
    target.pwrite(hdr, 0)

    res = WriteResult()
    ps = ctx.page_size
    reader = ctx.reader
    total = sum(s.filesz for s in segs)
    done = 0
    for s in segs:
        pos = s.paddr
        end = s.paddr + s.filesz
        while pos < end:
            pfn = pos // ps
            n = min(READ_PAGES, -(-end // ps) - pfn)
            buf = _read_or_zero(reader, pfn, n, ps)
            lo = pos - pfn * ps
            chunk = buf[lo : lo + (end - pos)]
            target.pwrite(chunk, s.offset + (pos - s.paddr))
            pos += len(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done // ps, total // ps)  # type: ignore[operator]
        res.pages_written += -(-s.filesz // ps)
    res.bytes_written = off
    return res


def _read_or_zero(reader: object, pfn: int, n: int, ps: int) -> bytes:
    """Pages pfn..pfn+n; one the input does not hold reads as zeros."""
    pm = reader.pagemap  # type: ignore[attr-defined]
    if pm.count(pfn, pfn + n) == n:
        return reader.read_pages(pfn, n)  # type: ignore[attr-defined, no-any-return]
    out = bytearray(n * ps)
    for a, b in pm.runs(pfn, pfn + n):
        try:
            out[(a - pfn) * ps : (b - pfn) * ps] = reader.read_pages(a, b - a)  # type: ignore[attr-defined]
        except PageExcludedError:
            pass
    return bytes(out)
