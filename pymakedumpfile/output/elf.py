"""ELF writer (``-E``), laid out as makedumpfile does (docs/formats.md
§4): ELF header, program headers (one PT_NOTE, then PT_LOADs), the
notes copied verbatim, then segment data.

Each RAM range of the input is walked against the write context's page map
(:func:`plan_segments`): a run of fewer than 256 excluded pages between kept
ones is kept with its real contents; a run of 256 or more ends the segment
(the gap counts in ``p_memsz`` only) and the next kept page starts a new one;
excluded pages after the last kept one are ``p_memsz`` only.  ELF32 input
gives ELF32 output; with 0xffff or more program headers, PN_XNUM numbering is
used (section header 0 right after the program headers, as makedumpfile).
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.context import Context
from ..core.errors import OutputError, StopWriting
from ..core.hints import TYPE_CHECKING
from ..core.record import dataclass, replace
from ..formats import elf as elff
from ..translate import get_arch
from . import interrupt
from .kdump import WriteResult, notes_with_vmcoreinfo
from .target import WriteTarget

if TYPE_CHECKING:
    from ..input.base import DumpReader

PFN_EXCLUDED = 256  # makedumpfile's threshold for splitting a segment
READ_PAGES = 256


@dataclass
class Segment:
    paddr: int
    vaddr: int
    filesz: int
    memsz: int
    offset: int = 0
    #: the last segment made from an input range: makedumpfile gives it the
    #: current file offset even when ``filesz`` is 0 (the others get 0)
    last: bool = False


def input_loads(ctx: Context) -> list[tuple[int, int, int]]:
    """(paddr, vaddr, memsz) of the RAM ranges to write, in input order."""
    loads = ctx.attr.get("elf.loads")
    if loads:
        return list(loads)
    ps = ctx.page_size
    po = ctx.attr.get("linux.page_offset")
    if po is None:
        po = direct_map_base(ctx)
    return [(a * ps, (po + a * ps) if po is not None else 0, (b - a) * ps)
            for a, b in ctx.attr["memory.pagemap"].runs()]


def direct_map_base(ctx: Context) -> int | None:
    """The kernel's direct-map base (x86_64 ``page_offset_base``), found as
    makedumpfile's PT_LOAD method would, from an address VMCOREINFO gives
    that lies in the direct map (``mem_section``, allocated there) minus its
    physical address; None when it cannot be told.  The base is aligned to
    1 GiB (the KASLR granularity of the direct map)."""
    from ..core.errors import DumpError

    va = ctx.attr.get("linux.vmcoreinfo.SYMBOL.mem_section")
    if va is None or ctx.attr.get("arch.name") != "x86_64":
        return None
    try:
        pa = ctx.kernel_memory().vtop(va)
    except DumpError:
        return None
    base = va - pa
    return base if base % (1 << 30) == 0 and base >> 63 else None


# p_vaddr of a range the kernel does not map (ELF32 and ELF64)
NO_VADDR = (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF)


def plan_segments(ctx: Context) -> list[Segment]:
    """Split every input range into output segments as makedumpfile's
    ``write_elf_pages_cyclic`` does.

    * A partial first page (range starting mid-page) is always written, whatever
      the page map says; the page walk starts at the next page.
    * A partial last page counts with its real size and is tested like any other.
    * Excluded pages between kept ones stay in the segment (with their real
      contents) when fewer than ``PFN_EXCLUDED`` in a row; a run of
      ``PFN_EXCLUDED`` or more ends the segment (counted in ``p_memsz`` only)
      and the next kept page starts a new one.
    * Excluded pages after the last kept page of a range are ``p_memsz`` only,
      however few.
    """
    ps = ctx.page_size
    keep = ctx.pagemap
    segs: list[Segment] = []
    for paddr, vaddr, memsz in input_loads(ctx):
        if memsz <= 0:
            continue
        lo, hi = paddr, paddr + memsz
        head = lo % ps
        if head and hi <= (lo // ps + 1) * ps:
            # the whole range inside one page (makedumpfile would count the
            # rest of the page too, past the end of the range)
            segs.append(Segment(lo, vaddr, memsz, memsz, last=True))
            continue
        pstart, pend = lo // ps, -(-hi // ps)
        seg_memsz = seg_filesz = 0
        if head:
            seg_memsz = seg_filesz = ps - head
            pstart += 1

        def nbytes(a: int, b: int, hi: int = hi) -> int:
            """Bytes of the range in pages [a, b)."""
            return max(0, min(b * ps, hi) - a * ps)

        seg_paddr, seg_vaddr = lo, vaddr
        # a range with no kernel virtual address (all ones: high memory of a 32-bit kernel) keeps
        # that value in each of its pieces, as makedumpfile writes them
        mapped = vaddr not in NO_VADDR
        cursor = pstart  # first pfn not yet accounted for
        for a, b in keep.runs(pstart, pend):
            if a - cursor >= PFN_EXCLUDED:
                seg_memsz += nbytes(cursor, a)
                segs.append(Segment(seg_paddr, seg_vaddr, seg_filesz, seg_memsz))
                seg_paddr += seg_memsz
                seg_vaddr += seg_memsz if mapped else 0
                seg_memsz = seg_filesz = nbytes(a, b)
            else:  # short (or no) gap: kept with the run
                seg_memsz += nbytes(cursor, b)
                seg_filesz += nbytes(cursor, b)
            cursor = b
        seg_memsz += nbytes(cursor, pend)  # trailing excluded pages
        segs.append(Segment(seg_paddr, seg_vaddr, seg_filesz, seg_memsz, last=True))
    return segs


def write_elf(ctx: Context, target: WriteTarget, threads: int | None = None,
              progress: Callable[[int, int], None] | None = None) -> WriteResult:
    """Write the write context ``ctx`` as an ELF vmcore."""
    a = ctx.attr
    bits = int(a.get("elf.class", 64 if a.get("arch.ptr_size", 8) == 8 else 32))
    endian = "<" if a.get("arch.byte_order", "little") == "little" else ">"
    notes = notes_with_vmcoreinfo(ctx)
    notes_memsz = len(notes)
    # what --config erases: a note after the input's, sized for every object erased whole and
    # filled in once the pages are written (makedumpfile's layout, its p_memsz the input's notes)
    erase = a.get("filter.erase")
    planned = erase.planned() if erase is not None else b""
    erase_at = elff.align4(len(notes)) + elff.nhdr_struct(endian).size + elff.align4(len(elff.ERASEINFO_NOTE_NAME) + 1)
    if planned:
        notes = notes.ljust(elff.align4(len(notes)), b"\0") + elff.pack_note(elff.ERASEINFO_NOTE_NAME, 0, planned,
                                                                              endian)
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
        s.offset = off if s.filesz or s.last else 0
        off += s.filesz
    ident = bytearray(16)
    ident[0:4] = elff.ELFMAG
    ident[4] = elff.ELFCLASS64 if bits == 64 else elff.ELFCLASS32
    ident[5] = elff.ELFDATA2LSB if endian == "<" else elff.ELFDATA2MSB
    ident[6] = elff.EV_CURRENT
    arch = get_arch(a.get("arch.name", ""))
    machine = int(a.get("elf.machine", (arch.elf_machine if arch is not None else None) or 0))
    eh = elff.Ehdr(
        bytes(ident), elff.ET_CORE, machine, elff.EV_CURRENT, 0, ehs, shoff,
        0,  # e_flags: ELF_FLAG_INCOMPLETE is patched in when the dump is cut short
        ehs, phs, elff.PN_XNUM if xnum else nph, shs if xnum else 0, 1 if xnum else 0, 0,
    )
    hdr = bytearray(eh.pack(endian, bits))
    hdr += elff.Phdr(elff.PT_NOTE, 0, note_off, 0, 0, len(notes), notes_memsz, 0).pack(endian, bits)
    for s in segs:
        hdr += elff.Phdr(elff.PT_LOAD, 7, s.offset, s.vaddr, s.paddr, s.filesz, s.memsz, 0).pack(endian, bits)
    if xnum:
        # as the kernel and makedumpfile fill it: sh_size = e_shnum, sh_link = e_shstrndx
        hdr += elff.Shdr(sh_size=1, sh_info=nph).pack(endian, bits)
    hdr += notes
    res = WriteResult()
    try:
        target.pwrite(hdr, 0)
        _write_segments(ctx, target, segs, res, progress)
        if erase is not None and planned:
            done = erase.eraseinfo()
            if done != planned:  # objects in pages left out: the lines say what was erased
                target.pwrite(done.ljust(len(planned), b"\0"), note_off + erase_at, patch=True)
    except StopWriting as e:
        res.incomplete, res.reason = True, e.message
        # makedumpfile's mark (e_flags bit 0), and better than makedumpfile:
        # program headers cut to the whole pages actually written, so that the
        # file is a consistent ELF whose lost tail is p_memsz only (libkdumpfile
        # 0.5.1 dies of SIGBUS on segments that run past the end of the file)
        cut = bytearray(replace(eh, e_flags=eh.e_flags | elff.ELF_FLAG_INCOMPLETE).pack(endian, bits))
        cut += elff.Phdr(elff.PT_NOTE, 0, note_off, 0, 0, len(notes), notes_memsz, 0).pack(endian, bits)
        ps = ctx.page_size
        for sg in segs:
            avail = max(0, min(sg.filesz, target.written - sg.offset)) if sg.filesz else 0
            if avail < sg.filesz:
                avail = max(0, (sg.paddr + avail) // ps * ps - sg.paddr)
            cut += elff.Phdr(elff.PT_LOAD, 7, sg.offset if avail or sg.last else 0, sg.vaddr, sg.paddr, avail,
                             sg.memsz, 0).pack(endian, bits)
        try:
            target.pwrite(cut, 0, patch=True)
        except OutputError:
            pass
    res.bytes_written = target.written
    return res


def _write_segments(ctx: Context, target: WriteTarget, segs: list[Segment], res: WriteResult,
                    progress: Callable[[int, int], None] | None) -> None:
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
            interrupt.check(target.path)
            buf = _read_or_zero(reader, pfn, n, ps, res.unreadable)
            lo = pos - pfn * ps
            chunk = buf[lo : lo + (end - pos)]
            at = s.offset + (pos - s.paddr)
            room = target.room(at)
            if room is not None and room < len(chunk):
                if room:  # fill up to the limit, then stop
                    target.pwrite(chunk[:room], at)
                    res.pages_written += room // ps
                target.pwrite(chunk[room : room + 1], at + room)  # raises OutOfSpaceError
            target.pwrite(chunk, at)
            pos += len(chunk)
            done += len(chunk)
            res.pages_written += len(chunk) // ps
            if progress is not None:
                progress(done // ps, total // ps)


def _read_or_zero(reader: DumpReader, pfn: int, n: int, ps: int, failed: list[tuple[int, str]]) -> bytes:
    """Pages pfn..pfn+n; one the input does not hold reads as zeros, and so
    does one it cannot give (appended to ``failed``)."""
    pm = reader.pagemap
    if pm.count(pfn, pfn + n) == n:
        return reader.read_pages_salvaging(pfn, n, failed)
    out = bytearray(n * ps)
    for a, b in pm.runs(pfn, pfn + n):
        out[(a - pfn) * ps : (b - pfn) * ps] = reader.read_pages_salvaging(a, b - a, failed)
    return bytes(out)
