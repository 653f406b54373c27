"""Writer for kdump-compressed dumps (formats.md sections 1 and 3).

Independent of ``pymakedumpfile``: layouts come from :mod:`tests.gen.layouts`
which spells the documented offsets out literally.
"""

from __future__ import annotations

import os
import struct
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .compress import Compressor, snappy_compressor, zlib_compress, zstd_compressor
from .layouts import (
    DUMP_DH_COMPRESSED_INCOMPLETE,
    DUMP_DH_COMPRESSED_LZO,
    DUMP_DH_COMPRESSED_SNAPPY,
    DUMP_DH_COMPRESSED_ZLIB,
    DUMP_DH_COMPRESSED_ZSTD,
    KDUMP_SIGNATURE,
    LAYOUTS,
    PAGE_DESC,
    PAGE_DESC_SIZE,
    pack_utsname,
)
from .notes import NT_PRSTATUS, make_note, parse_notes, parse_vmcoreinfo, prstatus_note

HOW_VALUES = ("raw", "zlib", "lzo", "snappy", "zstd", "zero", "excluded", "hole")
COMPRESSED_HOW = {
    "zlib": DUMP_DH_COMPRESSED_ZLIB,
    "lzo": DUMP_DH_COMPRESSED_LZO,
    "snappy": DUMP_DH_COMPRESSED_SNAPPY,
    "zstd": DUMP_DH_COMPRESSED_ZSTD,
}
DUMPABLE_HOW = {"raw", "zero", *COMPRESSED_HOW}

ARCH_MACHINE = {
    "x86_64": "x86_64",
    "i386": "i686",
    "aarch64": "aarch64",
    "arm": "armv7l",
    "ppc64": "ppc64",
    "ppc64le": "ppc64le",
    "ppc": "ppc",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "mips": "mips",
}
ARCH_LAYOUT = {"i386": "i386", "arm": "32pad", "ppc": "32pad", "mips": "32pad"}


@dataclass
class Page:
    """How one pfn appears in the dump.

    ``how``:
      'raw' | 'zlib' | 'lzo' | 'snappy' | 'zstd'  -- stored page data;
      'zero'      -- descriptor points at the shared zero page;
      'excluded'  -- set in bitmap 1, clear in bitmap 2 (no descriptor);
      'hole'      -- in neither bitmap.

    Corruption knobs (all optional): ``stored`` replaces the bytes written to
    the file (written as-is, flags still those of ``how``); ``desc_size``,
    ``desc_flags``, ``desc_offset`` and ``desc_page_flags`` override the
    descriptor's fields; ``force_compressed`` keeps the compressed form even
    when it is not smaller than a page (makedumpfile would store it raw).
    """

    data: bytes = b""
    how: str = "raw"
    stored: bytes | None = None
    desc_size: int | None = None
    desc_flags: int | None = None
    desc_offset: int | None = None
    desc_page_flags: int = 0
    force_compressed: bool = False

    def __post_init__(self) -> None:
        if self.how not in HOW_VALUES:
            raise ValueError(f"Page.how must be one of {HOW_VALUES}, not {self.how!r}")

    @classmethod
    def zero(cls, page_size: int = 4096) -> Page:
        return cls(bytes(page_size), "zero")

    @classmethod
    def excluded(cls) -> Page:
        return cls(b"", "excluded")

    @classmethod
    def hole(cls) -> Page:
        return cls(b"", "hole")


@dataclass
class KdumpInfo:
    """Where things landed in a file written by :func:`build_kdump`.

    All offsets are absolute file offsets.  ``fields`` maps
    ``'header.<name>'`` / ``'sub.<name>'`` to the offset of that field and
    ``field_formats`` to its struct format (with byte-order prefix), so
    tests can corrupt a field with :meth:`patch_field`.
    """

    path: str
    layout: str
    endian: str
    page_size: int
    header_version: int
    max_mapnr: int
    header_size: int
    offset_sub_header: int
    sub_header_size: int
    sub_hdr_size: int  # in blocks, as stored in the header
    offset_note: int
    size_note: int
    offset_vmcoreinfo: int
    size_vmcoreinfo: int
    offset_bitmap1: int
    offset_bitmap2: int
    bitmap_size: int  # bytes of ONE bitmap
    bitmap_blocks: int  # blocks of BOTH bitmaps, as stored in the header
    offset_pd: int
    num_dumpable: int  # global count (bitmap 2 set bits)
    offset_data: int
    offset_zero_page: int | None
    offset_eraseinfo: int
    size_eraseinfo: int
    file_size: int
    status: int
    nr_cpus: int
    split: tuple[int, int] | None
    # per pfn written to this file
    desc_offsets: dict[int, int] = field(default_factory=dict)
    page_data: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # (offset, size, flags)
    dropped_pfns: list[int] = field(default_factory=list)
    fields: dict[str, int] = field(default_factory=dict)
    field_formats: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)

    def patch_field(self, name: str, value: int | bytes, path: str | None = None) -> None:
        """Overwrite one header/sub-header field in the file."""
        off = self.fields[name]
        fmt = self.field_formats[name]
        with open(path or self.path, "r+b") as f:
            f.seek(off)
            f.write(struct.pack(fmt, value))

    def patch_bytes(self, offset: int, data: bytes, path: str | None = None) -> None:
        with open(path or self.path, "r+b") as f:
            f.seek(offset)
            f.write(data)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _bitmaps(pages: Mapping[int, Page], max_mapnr: int, bitmap_size: int) -> tuple[bytearray, bytearray]:
    bm1 = bytearray(bitmap_size)
    bm2 = bytearray(bitmap_size)
    for pfn, p in pages.items():
        if pfn < 0 or pfn >= max_mapnr:
            raise ValueError(f"pfn {pfn} outside [0, max_mapnr={max_mapnr})")
        if p.how == "hole":
            continue
        bm1[pfn >> 3] |= 1 << (pfn & 7)
        if p.how in DUMPABLE_HOW:
            bm2[pfn >> 3] |= 1 << (pfn & 7)
    return bm1, bm2


def _compressor_for(how: str, lzo_compress: Compressor | None, cache: dict[str, Compressor]) -> Compressor:
    if how in cache:
        return cache[how]
    if how == "zlib":
        c = zlib_compress
    elif how == "snappy":
        c = snappy_compressor()
    elif how == "zstd":
        c = zstd_compressor(1)
    elif how == "lzo":
        if lzo_compress is None:
            raise ValueError("a page uses 'lzo': pass lzo_compress= (e.g. tests.gen.liblzo2_compressor())")
        c = lzo_compress
    else:  # pragma: no cover
        raise ValueError(how)
    cache[how] = c
    return c


def _build_notes(
    header_version: int,
    vmcoreinfo: bytes | None,
    notes: bytes | None,
    nr_cpus: int,
    arch: str,
    endian: str,
) -> tuple[bytes, int, int, int]:
    """Return (blob written after the sub header, vmcoreinfo offset inside
    the blob or -1, vmcoreinfo size, number of NT_PRSTATUS notes)."""
    if header_version >= 4:
        if notes is None:
            blob = b"".join(prstatus_note(arch, pid=i + 1, endian=endian) for i in range(nr_cpus))
            if vmcoreinfo is not None:
                blob += make_note(b"VMCOREINFO", 0, vmcoreinfo, endian=endian)
        else:
            blob = notes
        entries = parse_notes(blob, endian=endian)
        vmci = [e for e in entries if e.name == b"VMCOREINFO"]
        nprs = sum(1 for e in entries if e.type == NT_PRSTATUS and e.name == b"CORE")
        if vmci:
            return blob, vmci[0].desc_offset, len(vmci[0].desc), nprs
        return blob, -1, 0, nprs
    if header_version == 3 and vmcoreinfo is not None:
        return vmcoreinfo, 0, len(vmcoreinfo), nr_cpus
    return b"", -1, 0, nr_cpus


def build_kdump(
    path: str | os.PathLike[str],
    pages: Mapping[int, Page],
    *,
    max_mapnr: int,
    page_size: int = 4096,
    arch: str = "x86_64",
    endian: str = "<",
    layout: str | None = None,
    header_version: int = 6,
    signature: bytes = KDUMP_SIGNATURE,
    vmcoreinfo: bytes | None = None,
    notes: bytes | None = None,
    nr_cpus: int = 0,
    sysname: str = "Linux",
    nodename: str = "synthetic",
    release: str | None = None,
    version: str = "#1 SMP PREEMPT_DYNAMIC Thu Jan  1 00:00:00 UTC 2024",
    machine: str | None = None,
    domainname: str = "(none)",
    timestamp: int | None = None,
    dump_level: int = 31,
    status_compression: int | None = None,
    extra_status: int = 0,
    phys_base: int = 0,
    split: tuple[int, int] | None = None,
    incomplete: bool | None = None,
    drop_last_n_descriptors: int = 0,
    eraseinfo: bytes = b"",
    lzo_compress: Compressor | None = None,
    zero_page: bool | None = None,
    header_overrides: Mapping[str, int | bytes] | None = None,
    sub_overrides: Mapping[str, int | bytes] | None = None,
) -> KdumpInfo:
    """Write a kdump-compressed file in makedumpfile's layout.

    ``layout``: '64' (LP64), 'i386' (ILP32, packed 4-byte sub header) or
    '32pad' (ILP32 with 8-byte aligned off_t: ARM EABI, ppc32, mips32);
    default from ``arch`` ('64' for 64-bit arches).

    ``header_version`` 1..6 controls which sub-header fields exist: v1
    phys_base/dump_level, v2 split range, v3 vmcoreinfo (the VMCOREINFO text
    itself follows the sub header), v4 notes (the whole note blob follows
    the sub header), v5 eraseinfo, v6 the 64-bit pfn fields.  0 writes no
    sub header at all.

    ``notes``: the complete PT_NOTE payload; by default ``nr_cpus`` zeroed
    NT_PRSTATUS notes followed by one VMCOREINFO note holding
    ``vmcoreinfo`` (if given).  The header's nr_cpus is the number of
    NT_PRSTATUS notes in the blob.

    ``status_compression``: header compression bit; default: the bit of the
    method most pages asked for (0 when none).  ``extra_status`` is OR-ed in
    (e.g. DUMP_DH_EXCLUDED_VMEMMAP).  ``incomplete`` sets
    COMPRESSED_INCOMPLETE (default: True iff drop_last_n_descriptors > 0).

    ``drop_last_n_descriptors``: simulate ENOSPC: the last N descriptors of
    this file read as zero and the file ends after the last kept page's data
    (no eraseinfo).

    ``split=(start_pfn, end_pfn)``: write one part of a split set
    (formats.md section 3): global bitmaps, a descriptor area sized for the
    global dumpable count, only this part's descriptors from the first slot.

    ``zero_page``: write the shared zero page first; default when
    ``dump_level & 1`` or any written page is 'zero'.

    ``header_overrides`` / ``sub_overrides``: raw values for named fields
    (see :mod:`tests.gen.layouts`), applied last, for corrupt files.
    """
    path = os.fspath(path)
    if layout is None:
        layout = ARCH_LAYOUT.get(arch, "64")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {sorted(LAYOUTS)}")
    if endian not in ("<", ">"):
        raise ValueError("endian must be '<' or '>'")
    hdr_l, sub_l = LAYOUTS[layout]
    B = page_size
    ulong_mask = 0xFFFFFFFFFFFFFFFF if layout == "64" else 0xFFFFFFFF

    # --- notes / vmcoreinfo -------------------------------------------------
    blob, vmci_rel, vmci_size, nprs = _build_notes(header_version, vmcoreinfo, notes, nr_cpus, arch, endian)
    sub_size = sub_l.sizeof_for_version(header_version) if header_version >= 1 else 0
    offset_note = B + sub_size
    sub_hdr_size = _ceil_div(sub_size + len(blob), B) if header_version >= 1 else 0
    offset_vmcoreinfo = offset_note + vmci_rel if vmci_rel >= 0 else 0

    # --- bitmaps ------------------------------------------------------------
    bitmap_size = _ceil_div(_ceil_div(max_mapnr, 8), B) * B
    bitmap_blocks = 2 * bitmap_size // B
    offset_bm1 = (1 + sub_hdr_size) * B
    offset_bm2 = offset_bm1 + bitmap_size
    offset_pd = offset_bm1 + 2 * bitmap_size
    bm1, bm2 = _bitmaps(pages, max_mapnr, bitmap_size)

    dumpable = sorted(pfn for pfn, p in pages.items() if p.how in DUMPABLE_HOW)
    num_dumpable = len(dumpable)
    if split is not None:
        start, end = split
        own = [pfn for pfn in dumpable if start <= pfn < end]
    else:
        own = dumpable
    offset_data = offset_pd + PAGE_DESC_SIZE * num_dumpable

    # --- page data ----------------------------------------------------------
    if zero_page is None:
        zero_page = bool(dump_level & 1) or any(pages[p].how == "zero" for p in own)
    data = bytearray()
    offset_zero = None
    if zero_page:
        offset_zero = offset_data
        data += bytes(B)
    cache: dict[str, Compressor] = {}
    descs: list[tuple[int, bytes, int, int, int]] = []  # pfn, packed desc, data_off, size, flags
    for pfn in own:
        p = pages[pfn]
        if p.how == "zero":
            if offset_zero is None:
                raise ValueError("a 'zero' page needs the zero page (zero_page=False given)")
            off, size, flags = offset_zero, B, 0
            payload = b""
        else:
            if p.stored is None and len(p.data) != B:
                raise ValueError(f"pfn {pfn}: data is {len(p.data)} bytes, page_size is {B}")
            if p.stored is not None:
                payload = p.stored
                flags = COMPRESSED_HOW.get(p.how, 0)
            elif p.how == "raw":
                payload, flags = p.data, 0
            else:
                comp = _compressor_for(p.how, lzo_compress, cache)(p.data)
                if len(comp) < B or p.force_compressed:
                    payload, flags = comp, COMPRESSED_HOW[p.how]
                else:  # makedumpfile stores it raw
                    payload, flags = p.data, 0
            off = offset_data + len(data)
            size = len(payload)
            data += payload
        d_off = off if p.desc_offset is None else p.desc_offset
        d_size = size if p.desc_size is None else p.desc_size
        d_flags = flags if p.desc_flags is None else p.desc_flags
        packed = PAGE_DESC.pack(
            endian, {"offset": d_off, "size": d_size, "flags": d_flags, "page_flags": p.desc_page_flags}
        )
        descs.append((pfn, packed, off, size, flags))

    # --- ENOSPC simulation ---------------------------------------------------
    dropped: list[int] = []
    if drop_last_n_descriptors:
        n = min(drop_last_n_descriptors, len(descs))
        kept, lost = descs[: len(descs) - n], descs[len(descs) - n:]
        dropped = [d[0] for d in lost]
        end = offset_zero + B if offset_zero is not None else offset_data
        for pfn, _, off, size, _ in kept:
            if pages[pfn].how != "zero":
                end = max(end, off + size)
        data = data[: end - offset_data]
        descs = kept + [(pfn, bytes(PAGE_DESC_SIZE), 0, 0, 0) for pfn, *_ in lost]
        eraseinfo = b""
    if incomplete is None:
        incomplete = drop_last_n_descriptors > 0

    offset_eraseinfo = 0
    if eraseinfo and header_version >= 5:
        offset_eraseinfo = offset_data + len(data)
    elif eraseinfo:
        eraseinfo = b""  # no place to record it before v5

    # --- header -------------------------------------------------------------
    if status_compression is None:
        status_compression = auto_status_compression(pages[p] for p in own)
    status = status_compression | extra_status | (DUMP_DH_COMPRESSED_INCOMPLETE if incomplete else 0)
    vmci_fields = parse_vmcoreinfo(vmcoreinfo) if vmcoreinfo else {}
    if timestamp is None:
        try:
            timestamp = int(vmci_fields.get("CRASHTIME", "0"))
        except ValueError:
            timestamp = 0
    if release is None:
        release = vmci_fields.get("OSRELEASE", "6.1.0-synthetic")
    if machine is None:
        machine = ARCH_MACHINE.get(arch, arch)
    uts = pack_utsname(
        {
            "sysname": sysname,
            "nodename": nodename,
            "release": release,
            "version": version,
            "machine": machine,
            "domainname": domainname,
        }
    )
    hvals: dict[str, object] = {
        "signature": signature,
        "header_version": header_version,
        "utsname": uts,
        "tv_sec": timestamp,
        "tv_usec": 0,
        "status": status,
        "block_size": B,
        "sub_hdr_size": sub_hdr_size,
        "bitmap_blocks": bitmap_blocks,
        "max_mapnr": min(max_mapnr, 0xFFFFFFFF),
        "nr_cpus": nprs,
    }
    if header_overrides:
        hvals.update(header_overrides)
    is_split = split is not None
    s_start, s_end = split if split is not None else (0, 0)
    svals: dict[str, object] = {
        "phys_base": phys_base & ulong_mask,
        "dump_level": dump_level,
        "split": 1 if is_split else 0,
        "start_pfn": s_start & ulong_mask,
        "end_pfn": s_end & ulong_mask,
        "offset_vmcoreinfo": offset_vmcoreinfo,
        "size_vmcoreinfo": vmci_size,
        "offset_note": offset_note if header_version >= 4 else 0,
        "size_note": len(blob) if header_version >= 4 else 0,
        "offset_eraseinfo": offset_eraseinfo,
        "size_eraseinfo": len(eraseinfo),
        "start_pfn_64": s_start,
        "end_pfn_64": s_end,
        "max_mapnr_64": max_mapnr,
    }
    if sub_overrides:
        svals.update(sub_overrides)
    hdr_bytes = hdr_l.pack(endian, hvals)
    sub_bytes = sub_l.pack(endian, svals, version=header_version) if header_version >= 1 else b""

    # --- write ----------------------------------------------------------------
    with open(path, "wb") as f:
        f.write(hdr_bytes)
        f.seek(B)
        f.write(sub_bytes)
        f.seek(offset_note)
        f.write(blob)
        f.seek(offset_bm1)
        f.write(bm1)
        f.write(bm2)
        assert f.tell() == offset_pd
        for _, packed, *_ in descs:
            f.write(packed)
        f.seek(offset_data)
        f.write(data)
        if eraseinfo:
            f.write(eraseinfo)
        f.truncate()
        file_size = f.tell()

    fields: dict[str, int] = {}
    formats: dict[str, str] = {}
    for fl in hdr_l.fields:
        fields["header." + fl.name] = fl.offset
        formats["header." + fl.name] = endian + fl.fmt
    for fl in sub_l.fields:
        if fl.since <= header_version:
            fields["sub." + fl.name] = B + fl.offset
            formats["sub." + fl.name] = endian + fl.fmt

    info = KdumpInfo(
        path=path,
        layout=layout,
        endian=endian,
        page_size=B,
        header_version=header_version,
        max_mapnr=max_mapnr,
        header_size=hdr_l.size,
        offset_sub_header=B,
        sub_header_size=sub_size,
        sub_hdr_size=sub_hdr_size,
        offset_note=offset_note if header_version >= 4 else 0,
        size_note=len(blob) if header_version >= 4 else 0,
        offset_vmcoreinfo=offset_vmcoreinfo,
        size_vmcoreinfo=vmci_size,
        offset_bitmap1=offset_bm1,
        offset_bitmap2=offset_bm2,
        bitmap_size=bitmap_size,
        bitmap_blocks=bitmap_blocks,
        offset_pd=offset_pd,
        num_dumpable=num_dumpable,
        offset_data=offset_data,
        offset_zero_page=offset_zero,
        offset_eraseinfo=offset_eraseinfo,
        size_eraseinfo=len(eraseinfo),
        file_size=file_size,
        status=status,
        nr_cpus=nprs,
        split=tuple(split) if split is not None else None,  # type: ignore[arg-type]
        dropped_pfns=dropped,
        fields=fields,
        field_formats=formats,
    )
    for i, (pfn, _, off, size, flags) in enumerate(descs):
        info.desc_offsets[pfn] = offset_pd + PAGE_DESC_SIZE * i
        if pfn not in dropped:
            info.page_data[pfn] = (off, size, flags)
    return info


def auto_status_compression(pages: Iterable[Page]) -> int:
    """Header compression bit: that of the method most pages ask for."""
    wanted = Counter(p.how for p in pages if p.how in COMPRESSED_HOW)
    return COMPRESSED_HOW[wanted.most_common(1)[0][0]] if wanted else 0


def split_ranges(
    pages: Mapping[int, Page], max_mapnr: int, nparts: int, *, splitblock_pages: int = 1
) -> list[tuple[int, int]]:
    """Ranges as makedumpfile picks them: file i takes whole splitblocks
    until it holds about num_dumpable/N dumpable pages; the last one runs to
    max_mapnr."""
    if nparts < 1:
        raise ValueError("nparts must be >= 1")
    dumpable = sorted(p for p, pg in pages.items() if pg.how in DUMPABLE_HOW)
    per_file = len(dumpable) // nparts
    nblocks = _ceil_div(max_mapnr, splitblock_pages)
    counts = [0] * nblocks
    for pfn in dumpable:
        counts[pfn // splitblock_pages] += 1
    ranges: list[tuple[int, int]] = []
    start = 0
    blk = 0
    for i in range(nparts):
        if i == nparts - 1:
            ranges.append((start, max_mapnr))
            break
        got = 0
        while blk < nblocks and got < per_file:
            got += counts[blk]
            blk += 1
        end = min(blk * splitblock_pages, max_mapnr)
        ranges.append((start, end))
        start = end
    return ranges


def split_files(
    paths: Sequence[str | os.PathLike[str]],
    pages: Mapping[int, Page],
    *,
    max_mapnr: int,
    ranges: Sequence[tuple[int, int]] | None = None,
    splitblock_pages: int = 1,
    **kwargs: object,
) -> list[KdumpInfo]:
    """Write a split set: one complete kdump file per path (formats.md 3).

    ``ranges`` (half-open pfn ranges, one per path) default to
    :func:`split_ranges`.  Other keyword arguments go to
    :func:`build_kdump` for every part."""
    if ranges is None:
        ranges = split_ranges(pages, max_mapnr, len(paths), splitblock_pages=splitblock_pages)
    if len(ranges) != len(paths):
        raise ValueError("need one range per path")
    if kwargs.get("status_compression") is None:
        # every part carries the same main header (makedumpfile --reassemble
        # compares them byte for byte)
        kwargs["status_compression"] = auto_status_compression(pages.values())
    return [
        build_kdump(p, pages, max_mapnr=max_mapnr, split=(int(r[0]), int(r[1])), **kwargs)  # type: ignore[arg-type]
        for p, r in zip(paths, ranges)
    ]
