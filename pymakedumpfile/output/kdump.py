"""kdump-compressed writer, header version 6, laid out as makedumpfile does
(docs/formats.md §1.3): main header, sub header, the ELF notes,
bitmap 1 (RAM) and bitmap 2 (dumped), 24-byte page descriptors, packed page
data with one shared zero page first when zero pages are excluded.

Data is written before the descriptors that point to it, so a file cut
short never has a descriptor pointing past what was written.
"""

from __future__ import annotations

import bisect
import itertools
import struct
from array import array
from collections import deque
from collections.abc import Callable

from .. import accel, codecs
from ..core.context import Context
from ..core.errors import OutOfSpaceError, OutputError, StopWriting
from ..core.hints import TypedDict
from ..core.pagemap import PageMap
from ..core.pipeline import Compressor, default_threads, page_batches, read_batch
from ..core.record import dataclass, field, replace
from ..core.workers import Job
from ..formats import diskdump as dd
from ..formats import elf as elff
from . import interrupt
from .target import WriteTarget

U64 = (1 << 64) - 1
FLUSH_BYTES = 2 << 20  # page data gathered before a write
WINDOW_EXTRA = 2  # batches queued beyond one per worker (memory: about (threads + 2) x 2 batches)


@dataclass
class WriteResult:
    """What a writer did.  Counts are in pages.

    :ivar incomplete: the output filled up (disk or ``-L``) before every page
        was written; the file is marked incomplete and what it holds is valid.
    :ivar unreadable: ``(pfn, reason)`` of the pages the input could not give
        (I/O errors, corrupt or lost pages).  The kdump writer records them as
        excluded (cleared in bitmap 2); the ELF writer, which fills short
        excluded runs with zeros as makedumpfile does, writes zeros.
    """

    pages_written: int = 0
    zero_pages: int = 0
    compressed_pages: int = 0
    bytes_written: int = 0
    incomplete: bool = False
    reason: str = ""
    #: where the output is (an incomplete dump that would have replaced a file is put beside it)
    path: str = ""
    unreadable: list[tuple[int, str]] = field(default_factory=list)


def notes_with_vmcoreinfo(ctx: Context) -> bytes:
    """The notes blob to store: the input's, with a VMCOREINFO note appended when the input's
    notes have none but VMCOREINFO was found elsewhere (in the dump's memory, as for QEMU's
    s390x dumps; or given with ``-i``/``-x``), so that readers of the output find it."""
    notes: bytes = ctx.attr.get("file.notes", b"")
    raw: bytes = ctx.attr.get("linux.vmcoreinfo.raw", b"")
    endian = "<" if ctx.attr.get("arch.byte_order", "little") == "little" else ">"
    if not raw or notes and elff.find_note_offset(notes, endian, elff.VMCOREINFO_NOTE_NAME) is not None:
        return notes
    return notes + elff.pack_note(elff.VMCOREINFO_NOTE_NAME, 0, raw, endian)


class Headers(TypedDict):
    """What :func:`build_headers` returns."""

    endian: str  # "<" or ">"
    layout: str  # "64" or "i386"
    header: dd.DiskDumpHeader
    sub: dd.KdumpSubHeader
    notes: bytes
    bitmap_offset: int
    one_bitmap: int  # bytes of one bitmap
    pd_offset: int
    pfn_offset: int  # the pfn of the file's page 0 (pfn_offset())


def pfn_offset(ctx: Context) -> int:
    """The page number the file's page 0 stands for: the first page of RAM where makedumpfile
    numbers a kdump file's pages from there (arm: translate's ``kdump_pfn_offset``), else 0."""
    from ..translate import get_arch

    arch = get_arch(ctx.attr.get("arch.name", ""))
    if arch is None or not arch.kdump_pfn_offset:
        return 0
    ram = ctx.attr["memory.pagemap"]
    return next((a for a, _ in ram.runs(0, ctx.max_pfn)), 0)


def kdump_layout_32(ctx: Context) -> str:
    """The sub header's layout for a 32-bit kernel: "i386" where 64-bit integers are 4-byte
    aligned, "32pad" where they are 8-byte aligned (arm EABI, ppc32, mips32)."""
    from ..translate import get_arch

    arch = get_arch(ctx.attr.get("arch.name", ""))
    return "i386" if arch is None or arch.int64_align == 4 else "32pad"


def build_headers(ctx: Context, split: tuple[int, int] | None = None) -> Headers:
    """Everything before the page descriptors, as (offset, bytes) pieces."""
    a = ctx.attr
    ps = ctx.page_size
    off = pfn_offset(ctx)
    max_mapnr = ctx.max_pfn - off
    endian = "<" if a.get("arch.byte_order", "little") == "little" else ">"
    layout = "64" if a.get("arch.ptr_size", 8) == 8 else kdump_layout_32(ctx)
    notes = notes_with_vmcoreinfo(ctx)
    sub_size = dd.KdumpSubHeader.struct(endian, layout).size
    sub_hdr_size = -(-(sub_size + len(notes)) // ps)
    one_bitmap = dd.bitmap_bytes(max_mapnr, ps)
    bitmap_blocks = 2 * one_bitmap // ps
    offset_note = ps + sub_size
    vmci = elff.find_note_offset(notes, endian, elff.VMCOREINFO_NOTE_NAME) if notes else None
    codec = codecs.CODECS.get(a.get("file.compression", "none"))
    status = codec.flag if codec else 0
    if a.get("filter.vmemmap_excluded") is not None:  # -e: crash is told page structs may be missing
        status |= dd.DUMP_DH_EXCLUDED_VMEMMAP
    uts = {f: a.get(f"linux.uts.{f}", "") for f in dd.UTSNAME_FIELDS}
    hdr = dd.DiskDumpHeader(
        signature=dd.SIG_KDUMP,
        header_version=dd.HEADER_VERSION,
        utsname=dd.DiskDumpHeader.make_utsname(uts),
        tv_sec=int(a.get("linux.crashtime", 0)),
        tv_usec=0,
        status=status,
        block_size=ps,
        sub_hdr_size=sub_hdr_size,
        bitmap_blocks=bitmap_blocks,
        max_mapnr=min(max_mapnr, 0xFFFFFFFF),
        nr_cpus=int(a.get("cpu.number", 0)),
    )
    start, end = (max(0, split[0] - off), max(0, split[1] - off)) if split else (0, 0)
    sub = dd.KdumpSubHeader(
        phys_base=(off * ps if off else int(a.get("linux.phys_base", 0))) & U64,
        dump_level=int(a.get("filter.dump_level", 0)),
        split=1 if split else 0,
        start_pfn=start & 0xFFFFFFFF if layout != "64" else start,
        end_pfn=end & 0xFFFFFFFF if layout != "64" else end,
        offset_vmcoreinfo=offset_note + vmci[0] if vmci else 0,
        size_vmcoreinfo=vmci[1] if vmci else 0,
        offset_note=offset_note if notes else 0,
        size_note=len(notes),
        start_pfn_64=start,
        end_pfn_64=end,
        max_mapnr_64=max_mapnr,
    )
    bitmap_offset = (1 + sub_hdr_size) * ps
    return {
        "endian": endian,
        "layout": layout,
        "header": hdr,
        "sub": sub,
        "notes": notes,
        "bitmap_offset": bitmap_offset,
        "one_bitmap": one_bitmap,
        "pd_offset": bitmap_offset + 2 * one_bitmap,
        "pfn_offset": off,
    }


def write_kdump(
    ctx: Context,
    target: WriteTarget,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    split: tuple[int, int] | None = None,
) -> WriteResult:
    """Write the write context ``ctx`` as a kdump-compressed file.

    :param split: ``(start_pfn, end_pfn)``: write one part of a split dump
        holding those pfns (global bitmaps and header, own descriptors from the
        first slot, data after a descriptor area sized for the whole dump).

    When the output fills up (``OutOfSpaceError``) the pages written so far
    stay readable, the rest read as lost, and the header is marked
    incomplete; the result says so.
    """
    a = ctx.attr
    ps = ctx.page_size
    h = build_headers(ctx, split=split)
    endian, layout = h["endian"], h["layout"]
    hdr = h["header"]
    sub = h["sub"]
    notes = h["notes"]
    bitmap_offset = h["bitmap_offset"]
    one = h["one_bitmap"]
    pd_offset = h["pd_offset"]
    max_mapnr = ctx.max_pfn
    num_dumpable = ctx.pagemap.count()
    start, end = split if split else (0, max_mapnr)
    own = ctx.pagemap.count(start, end) if split else num_dumpable
    res = WriteResult()
    pds = dd.page_desc_struct(endian)
    level = int(a.get("filter.dump_level", 0))
    cname = a.get("file.compression", "none")
    codec = codecs.CODECS.get(cname)
    comp = Compressor(codec.compressor() if codec else None, codec.flag if codec else 0, ps,
                      threads or default_threads(), batch=codec.batch if codec else None)
    try:
        target.pwrite(hdr.pack(endian, layout).ljust(ps, b"\0"), 0)
        target.pwrite(sub.pack(endian, layout) + notes, ps)
        off = int(h["pfn_offset"])
        _write_bitmap(target, a["memory.pagemap"], max_mapnr - off, one, bitmap_offset, off)
        _write_bitmap(target, ctx.pagemap, max_mapnr - off, one, bitmap_offset + one, off)
        target.reserve(pd_offset, dd.PAGE_DESC_SIZE * own)
        data_end = _write_pages(ctx, target, comp, pds, res, pd_offset, pd_offset + dd.PAGE_DESC_SIZE * num_dumpable,
                                bool(level & 1), start, end, own, progress)
        info = eraseinfo_of(ctx, start, end)
        if info:  # after the page data, as makedumpfile puts it; the sub header says where
            target.pwrite(info, data_end)
            target.pwrite(replace(sub, offset_eraseinfo=data_end, size_eraseinfo=len(info)).pack(endian, layout), ps,
                          patch=True)
    except StopWriting as e:
        res.incomplete, res.reason = True, e.message
        incomplete = replace(hdr, status=hdr.status | dd.DUMP_DH_COMPRESSED_INCOMPLETE)
        try:
            target.pwrite(incomplete.pack(endian, layout), 0, patch=True)
        except OutputError:
            pass  # not even the header could be rewritten; readers will see a cut file
    finally:
        comp.close()
    res.bytes_written = target.written
    return res


BITMAP_CHUNK = 1 << 20  # pfns of a bitmap written at a time (the cycle of a CyclicMap)


def eraseinfo_of(ctx: Context, start: int = 0, end: int | None = None) -> bytes:
    """What the output of ``ctx`` records as erased: the input's own record (a dump that was
    erased before), then what ``--config`` erased in the pages written from pfns [start, end)."""
    old: bytes = ctx.attr.get("file.eraseinfo.raw", b"")
    erase = ctx.attr.get("filter.erase")
    return old + (erase.eraseinfo(start, end) if erase is not None else b"")


def _write_bitmap(target: WriteTarget, pm: PageMap, max_mapnr: int, size: int, offset: int, first: int = 0) -> None:
    """Write the page map ``pm`` from pfn ``first`` on as a bitmap of ``size`` bytes at
    ``offset``, a chunk at a time (a cyclic map is never held whole)."""
    for a in range(0, max_mapnr, BITMAP_CHUNK):
        b = min(a + BITMAP_CHUNK, max_mapnr)
        target.pwrite(pm.to_bytes(a + first, b + first), offset + a // 8)
    done = -(-max_mapnr // 8)
    if size > done:
        target.pwrite(bytes(size - done), offset + done)


def _write_pages(ctx: Context, target: WriteTarget, comp: Compressor, pds: struct.Struct, res: WriteResult, pd_pos: int,
                 data_pos: int, exclude_zero: bool, start: int, end: int, total: int,
                 progress: Callable[[int, int], None] | None) -> int:
    """Page data and descriptors through a pipeline: worker threads read and
    compress batches of pages (the C kernels and the codecs release the GIL)
    while this thread lays out descriptors and writes, in pfn order.  Data is
    written before the descriptors that point to it in each flush, so a
    descriptor never points at data that was not written.  Returns where the data ends."""
    ps = ctx.page_size
    big = pds.format.startswith(">")
    zero_off = 0
    if exclude_zero:
        target.pwrite(bytes(ps), data_pos)
        zero_off = data_pos
        data_pos += ps
    reader = ctx.reader
    batch = comp.batch  # the codec's batch kernel, or page by page through comp.fn

    def job(runs: list[tuple[int, int]]) -> tuple[int, bytes, array, array, list[tuple[int, int, str]]]:
        failed: list[tuple[int, int, str]] = []
        buf = read_batch(reader, runs, ps, failed)
        n = len(buf) // ps
        zmap = accel.zero_pages(buf, ps)[0] if exclude_zero or batch is None else None
        skip = zmap if exclude_zero else None
        if failed:  # no data for them: their descriptors are dropped below
            sk = bytearray(skip) if skip is not None else bytearray(-(-n // 8))
            for i, _, _ in failed:
                sk[i >> 3] |= 1 << (i & 7)
            skip = bytes(sk)
        sizes = array("I", bytes(4 * n))
        flags = array("I", bytes(4 * n))
        if batch is not None:
            data = batch(buf, ps, skip, sizes, flags)
        else:
            data = comp.compress_batch(buf, skip, sizes, flags, zmap)
        return n, data, sizes, flags, failed

    descs = bytearray()  # descriptors of pages whose data is on disk
    window: deque[Job] = deque()
    pool = comp.pool_for_pages()
    batches = page_batches(ctx, start=start, end=end)
    try:
        while True:
            while len(window) < WINDOW_EXTRA + comp.threads:
                nxt = next(batches, None)
                if nxt is None:
                    break
                window.append(pool.submit(job, nxt))
            if not window:
                break
            interrupt.check(target.path)
            n, data, sizes, flags, failed = window.popleft().result()
            d, _ = accel.build_descs(sizes, flags, data_pos, zero_off, ps, big)
            skipped = flags.count(accel.PAGE_SKIPPED)
            if failed:
                # the pages the input could not give are excluded: cleared in
                # bitmap 2 (on disk now, before any later descriptor lands in
                # the slot it frees) and given no descriptor
                drop = {i for i, _, _ in failed}
                d = b"".join(d[i * dd.PAGE_DESC_SIZE : (i + 1) * dd.PAGE_DESC_SIZE] for i in range(n) if i not in drop)
                sizes = array("I", (sizes[i] for i in range(n) if i not in drop))
                res.unreadable.extend((p, why) for _, p, why in failed)
                exclude_in_bitmap2(ctx, target, [p for _, p, _ in failed], res.unreadable)
                skipped -= len(failed)
                n -= len(failed)
            # the batch's data is written at once (no copy into a larger
            # buffer), its descriptors gathered and written after it
            data_pos = _write_batch(target, data, d, sizes, descs, data_pos, pd_pos, res)
            res.zero_pages += skipped
            res.compressed_pages += n - skipped - flags.count(0)
            if len(descs) >= FLUSH_BYTES // 4:
                pd_pos = _flush_descs(target, descs, pd_pos, res)
            if progress is not None:
                progress(res.pages_written + len(descs) // dd.PAGE_DESC_SIZE, total)
        _flush_descs(target, descs, pd_pos, res)
        return data_pos
    except StopWriting:
        # a full disk or a signal: the pages whose data is on disk stay
        # readable (the descriptor area was reserved, so this write fits)
        try:
            _flush_descs(target, descs, pd_pos, res)
        except OutputError:
            pass
        raise
    finally:
        for f in window:
            f.cancel()


def exclude_in_bitmap2(ctx: Context, target: WriteTarget, pfns: list[int], excluded: list[tuple[int, str]]) -> None:
    """Clear ``pfns`` in bitmap 2 of the kdump file ``target`` written from
    ``ctx``; ``excluded`` lists every pfn excluded so far (a byte of the
    bitmap may hold several)."""
    h = build_headers(ctx)
    at = int(h["bitmap_offset"]) + int(h["one_bitmap"])
    off = int(h["pfn_offset"])
    gone = {p for p, _ in excluded}
    for idx in sorted({(p - off) >> 3 for p in pfns}):
        first = (idx << 3) + off
        byte = ctx.pagemap.to_bytes(first, first + 8)[0]
        for bit in range(8):
            if first + bit in gone:
                byte &= ~(1 << bit) & 0xFF
        target.pwrite(bytes([byte]), at + idx, patch=True)


def _write_batch(target: WriteTarget, data: bytes, d: bytes, sizes: array, descs: bytearray, data_pos: int,
                 pd_pos: int, res: WriteResult) -> int:
    """Write one batch's page data at ``data_pos`` and add its descriptors
    ``d`` to ``descs`` (written from ``pd_pos``); returns the next data position.
    Under a size limit, the whole pages that fit are written, with every descriptor gathered so far, then
    :class:`OutOfSpaceError` is raised."""
    room = target.room(data_pos)
    if room is not None and len(data) > room:
        ends = list(itertools.accumulate(sizes))
        fit = bisect.bisect_right(ends, room)  # pages whose data ends within the limit
        nbytes = ends[fit - 1] if fit else 0
        if nbytes:
            target.pwrite(memoryview(data)[:nbytes], data_pos)
        descs += d[: fit * dd.PAGE_DESC_SIZE]
        _flush_descs(target, descs, pd_pos, res)
        raise OutOfSpaceError(f"Cannot write past the size limit of {target.limit} bytes (-L)", target.path)
    if data:
        target.pwrite(data, data_pos)
    descs += d
    return data_pos + len(data)


def _flush_descs(target: WriteTarget, descs: bytearray, pd_pos: int, res: WriteResult) -> int:
    """Write the gathered descriptors (their data is on disk already)."""
    if descs:
        target.pwrite(descs, pd_pos)
        pd_pos += len(descs)
        res.pages_written += len(descs) // dd.PAGE_DESC_SIZE
        descs.clear()
    return pd_pos
