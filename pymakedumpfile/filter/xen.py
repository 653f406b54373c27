"""``-X``: filter the dump of a Xen host's crash to the hypervisor and dom0 (docs/formats.md,
"Xen").

The dump holds all of the machine's memory.  Xen describes every machine frame with a
``struct page_info`` in its frame table; its ``count_info`` says whether the frame is free,
offlined or broken, belongs to Xen's heap or is allocated to a domain, and ``_domain`` names the
owner (the machine frame of its ``struct domain``, "pickled").  ``-X`` keeps, as makedumpfile
does for Xen 4:

* Xen's heap pages, whatever else ``count_info`` says;
* frames in use but not allocated (the hypervisor's image and static data);
* frames allocated to no domain, or to a domain whose ``domain_id`` is 0;

and excludes free, offlined and broken frames, frames of every other domain (dom_xen and
dom_io included) and frames whose ``page_info`` cannot be read.

What it needs (from the VMCOREINFO_XEN note, ``--xen-vmcoreinfo`` or ``--xen-syms``):
``SYMBOL(domain_list, dom_xen, dom_io, pgd_l4)``, ``SYMBOL(frame_table)`` (else Xen's fixed
address), ``SIZE(page_info)``, ``OFFSET(page_info.count_info, page_info._domain,
domain.domain_id, domain.next_in_list)``; and ``xen_phys_start`` from the crash-info note
(version 2) or ``--xen_phys_start``.
"""

from __future__ import annotations

import struct
import sys
from array import array

from ..core.context import Context
from ..core.errors import DumpError, UnsupportedDumpError, UsageError
from ..core.pagemap import Bitmap
from ..core.record import dataclass
from ..core.vmcoreinfo import VmcoreInfo
from ..translate.xen_x86_64 import (
    DIRECTMAP_START,
    FRAMETABLE_START_V3,
    FRAMETABLE_START_V4_3,
    PAGE_SHIFT,
    XenAddressSpace,
)

# count_info's flags, from the top bit of an unsigned long down (64-bit)
PGC_ALLOCATED = 1 << 63
PGC_XEN_HEAP = 1 << 62
PGC_BROKEN = 1 << 57
PGC_STATE = 3 << 55
PGC_STATE_OFFLINED = 2 << 55
PGC_STATE_FREE = 3 << 55
MAX_DOMAINS = 1 << 16  # domain ids are 16-bit: a longer domain_list is a loop
CRASH_INFO_COMMON = 64  # eight unsigned longs: major, minor, extra version, changeset, compiler, date, time, tainted
NEEDED = ("SYMBOL(domain_list)", "SYMBOL(dom_xen)", "SYMBOL(dom_io)", "SYMBOL(pgd_l4)", "SIZE(page_info)",
          "OFFSET(page_info.count_info)", "OFFSET(page_info._domain)", "OFFSET(domain.domain_id)",
          "OFFSET(domain.next_in_list)")


@dataclass
class XenOptions:
    """makedumpfile's Xen options: ``--xen-vmcoreinfo FILE``, ``--xen-syms FILE`` and
    ``--xen_phys_start ADDRESS`` (each None: from the dump)."""

    vmcoreinfo: str | None = None
    syms: str | None = None
    phys_start: int | None = None


@dataclass
class CrashInfo:
    """The crash-info note Xen writes into its crash dump."""

    major: int
    minor: int
    version: int  # of the note's layout: 0 (common part), 1 (+ dom0's p2m), 2 (+ xen_phys_start)
    phys_start: int | None

    @classmethod
    def parse(cls, desc: bytes, path: str) -> CrashInfo:
        if len(desc) < CRASH_INFO_COMMON:
            raise UnsupportedDumpError(f"Cannot use the Xen crash-info note: {len(desc)} bytes, fewer than the "
                                       f"{CRASH_INFO_COMMON} of its common part", path)
        major, minor = struct.unpack_from("<QQ", desc)
        if len(desc) >= CRASH_INFO_COMMON + 16:
            return cls(major, minor, 2, struct.unpack_from("<Q", desc, CRASH_INFO_COMMON)[0])
        return cls(major, minor, 1 if len(desc) >= CRASH_INFO_COMMON + 8 else 0, None)


# VMCOREINFO_XEN's symbols: the key, then the names in xen-syms (the first found), in the order
# makedumpfile -g writes them
SYMS_FROM_XEN_SYMS = (
    ("dom_xen", ("dom_xen",)), ("dom_io", ("dom_io",)), ("domain_list", ("domain_list",)),
    ("xen_heap_start", ("xen_heap_start",)), ("frame_table", ("frame_table",)), ("alloc_bitmap", ("alloc_bitmap",)),
    ("max_page", ("max_page",)), ("pgd_l2", ("idle_pg_table_l2",)), ("pgd_l3", ("idle_pg_table_l3", "idle_pg_table")),
    ("pgd_l4", ("idle_pg_table_4", "idle_pg_table")), ("xenheap_phys_end", ("xenheap_phys_end",)),
    ("xen_pstart", ("xen_pstart",)), ("frametable_pg_dir", ("frametable_pg_dir",)),
)


def xen_vmcoreinfo_from_syms(path: str, page_size: int = 4096) -> bytes:
    """VMCOREINFO_XEN text made from a ``xen-syms`` file's symbols and DWARF (``-g
    --xen-syms``), the lines makedumpfile writes, in its order."""
    from ..input.dwarf import Dwarf
    from ..input.vmlinux import Elf

    elf = Elf(path)
    syms = elf.symbols()
    lines = [f"PAGESIZE={page_size}"]
    for key, names in SYMS_FROM_XEN_SYMS:
        addr = next((syms[n] for n in names if n in syms), None)
        if addr is not None:
            lines.append(f"SYMBOL({key})={addr:x}")
    dw = Dwarf(elf)
    for s in ("page_info", "domain"):
        size = dw.size_of(s)
        if size is not None:
            lines.append(f"SIZE({s})={size}")
    for s, m in (("page_info", "count_info"), ("page_info", "_domain"), ("domain", "domain_id"),
                 ("domain", "next_in_list")):
        off = dw.member_offset(s, m)
        if off is None and m == "_domain":
            off = dw.member_path_offset(s, "v.inuse._domain")  # Xen 4: in union v, struct inuse
        if off is not None:
            lines.append(f"OFFSET({s}.{m})={off}")
    return ("\n".join(lines) + "\n").encode()


class XenHost:
    """What ``-X`` reads of a Xen host's dump: Xen's layout, its domains and its frame table."""

    def __init__(self, ctx: Context, options: XenOptions | None = None) -> None:
        opts = options or XenOptions()
        name = ctx.name
        reader = ctx.reader
        if ctx.attr.get("xen.type") != "hypervisor":
            raise UsageError("-X: not the dump of a Xen host's crash (it has no Xen crash-info note)", name)
        arch = ctx.attr.get("arch.name")
        if arch != "x86_64":
            raise UnsupportedDumpError(f"Cannot filter Xen domains (-X) of a {arch} host: only x86_64", name)
        desc = getattr(reader, "xen_crash_info", None)
        if desc is None:
            raise UsageError("-X: the dump has no Xen crash-info note", name)
        self.crash = CrashInfo.parse(desc, name)
        if self.crash.major < 4:
            raise UnsupportedDumpError(f"Cannot filter Xen domains (-X) of Xen {self.crash.major}."
                                       f"{self.crash.minor}: only Xen 4 and later", name)
        if opts.vmcoreinfo is not None:
            try:
                with open(opts.vmcoreinfo, "rb") as f:
                    raw = f.read(1 << 20)
            except OSError as e:
                raise DumpError(f"Cannot read: {e.strerror}", opts.vmcoreinfo) from None
            where = opts.vmcoreinfo
        elif opts.syms is not None:
            raw, where = xen_vmcoreinfo_from_syms(opts.syms), opts.syms
        else:
            raw, where = getattr(reader, "xen_vmcoreinfo", None) or b"", name
            if not raw:
                raise UsageError("-X: the dump has no VMCOREINFO_XEN note: give --xen-syms or --xen-vmcoreinfo",
                                 name)
        vi = VmcoreInfo(raw)
        missing = [k for k in NEEDED if k not in vi.lines]
        if missing:
            raise UnsupportedDumpError(f"Cannot filter Xen domains: {', '.join(missing)} not given", where)
        bad = [k for k in NEEDED if k.partition("(")[2][:-1] not in getattr(vi, k.partition("(")[0])]
        if bad:
            raise UnsupportedDumpError(f"Cannot filter Xen domains: {', '.join(bad)} not a number", where)
        self.vmcoreinfo = vi
        phys_start = opts.phys_start if opts.phys_start is not None else self.crash.phys_start
        if phys_start is None:
            raise UsageError(f"-X: the dump does not say where Xen is in memory (its crash-info note is version "
                             f"{self.crash.version}): give --xen_phys_start", name)
        self.phys_start = phys_start
        sym = vi.SYMBOL
        self.space = XenAddressSpace(reader.read_phys, phys_start=phys_start, any_image_symbol=sym["domain_list"],
                                     pgd_l4=sym["pgd_l4"], major=self.crash.major)
        if "frame_table" in sym:
            ft = self.space.read_u64(sym["frame_table"])
            if ft is None:
                raise UnsupportedDumpError("Cannot read Xen's frame_table: its address is not in the dump", name)
            self.frame_table = ft
        else:
            self.frame_table = FRAMETABLE_START_V4_3 if (self.crash.major, self.crash.minor) >= (4, 3) \
                else FRAMETABLE_START_V3
        self.page_info_size = vi.SIZE["page_info"]
        self.off_count = vi.OFFSET["page_info.count_info"]
        self.off_domain = vi.OFFSET["page_info._domain"]
        if not 0 < self.page_info_size <= 4096 or self.off_count + 8 > self.page_info_size \
                or self.off_domain + 4 > self.page_info_size:
            raise UnsupportedDumpError(f"Cannot use SIZE(page_info)={self.page_info_size} with its offsets "
                                       f"{self.off_count}, {self.off_domain}", where)
        self.domains = self._domains(name)

    def _domain_id(self, addr: int, name: str) -> int:
        b = self.space.read(addr + self.vmcoreinfo.OFFSET["domain.domain_id"], 2)
        if b is None:
            raise UnsupportedDumpError(f"Cannot read the Xen domain at {addr:#x}: not in the dump", name)
        return int(struct.unpack("<H", b)[0])  # domid_t

    def _domains(self, name: str) -> list[tuple[int, int]]:
        """``(struct domain address, domain_id)`` of domain_list, then dom_xen and dom_io."""
        sym, nxt = self.vmcoreinfo.SYMBOL, self.vmcoreinfo.OFFSET["domain.next_in_list"]
        out: list[tuple[int, int]] = []
        d = self.space.read_u64(sym["domain_list"])
        if d is None:
            raise UnsupportedDumpError("Cannot read Xen's domain_list: not in the dump", name)
        seen = set()
        while d:
            if d in seen or len(out) >= MAX_DOMAINS:
                raise UnsupportedDumpError("Cannot walk Xen's domain_list: it loops", name)
            seen.add(d)
            out.append((d, self._domain_id(d, name)))
            n = self.space.read_u64(d + nxt)
            if n is None:
                raise UnsupportedDumpError(f"Cannot walk Xen's domain_list: the domain at {d:#x} is not in the dump",
                                           name)
            d = n
        for s in ("dom_xen", "dom_io"):
            d = self.space.read_u64(sym[s])
            if d is None:
                raise UnsupportedDumpError(f"Cannot read Xen's {s}: not in the dump", name)
            out.append((d, self._domain_id(d, name)))
        return out

    @property
    def dom0_owners(self) -> frozenset[int]:
        """The ``_domain`` values of dom0's frames: its ``struct domain``'s machine frame."""
        return frozenset((addr - DIRECTMAP_START) >> PAGE_SHIFT for addr, did in self.domains if did == 0)

    def exclude(self, keep: Bitmap, pfn_runs: list[tuple[int, int]]) -> int:
        """Clear in ``keep`` the frames of ``pfn_runs`` that -X leaves out (a frame whose
        ``page_info`` cannot be read too, as makedumpfile does); returns how many were set.

        Where whole ``page_info`` entries tile the frame table's pages (Xen's 32 bytes do), a
        page of the table is read once and its entries taken as arrays; else entry by entry."""
        size, oc, od, ft = self.page_info_size, self.off_count, self.off_domain, self.frame_table
        ps = 1 << PAGE_SHIFT
        if ps % size == 0 and ft % ps == 0 and size % 8 == 0 and oc % 8 == 0 and od % 4 == 0:
            return self._exclude_by_page(keep, pfn_runs)
        dom0 = self.dom0_owners
        pages: dict[int, bytes | None] = {}  # frame-table pages read (a few at a time)

        def field(va: int, n: int) -> bytes | None:
            out = b""
            while n:
                pva = va & ~(ps - 1)
                if pva not in pages:
                    if len(pages) >= 8:
                        pages.clear()
                    pages[pva] = self.space.read(pva, ps)
                pg = pages[pva]
                if pg is None:
                    return None
                o = va - pva
                take = min(n, ps - o)
                out += pg[o:o + take]
                va, n = va + take, n - take
            return out

        cleared = 0
        for a, b in pfn_runs:
            for p in range(a, b):
                if not keep.test(p):
                    continue
                entry = ft + p * size
                c = field(entry + oc, 8)
                if c is None:
                    drop = True
                else:
                    d = field(entry + od, 4)
                    drop = _drop(int.from_bytes(c, "little"), None if d is None else int.from_bytes(d, "little"), dom0)
                if drop:
                    keep.clear(p)
                    cleared += 1
        return cleared

    def _exclude_by_page(self, keep: Bitmap, pfn_runs: list[tuple[int, int]]) -> int:
        """:meth:`exclude` a frame-table page at a time: ``count_info`` and ``_domain`` of its
        entries as arrays (little endian, as x86_64 Xen writes them)."""
        size, ft = self.page_info_size, self.frame_table
        ps = 1 << PAGE_SHIFT
        per = ps // size
        qs, qo, ws, wo = size // 8, self.off_count // 8, size // 4, self.off_domain // 4
        dom0 = self.dom0_owners
        swap = sys.byteorder != "little"
        cleared = 0
        for a, b in pfn_runs:
            p = a
            while p < b:
                first = p - p % per  # the first frame the table page describes
                end = min(b, first + per)
                page = self.space.read(ft + first * size, ps)
                if page is None:  # no page_info for these frames
                    for q in range(p, end):
                        if keep.test(q):
                            keep.clear(q)
                            cleared += 1
                    p = end
                    continue
                counts, owners = array("Q", page), array("I", page)
                if swap:
                    counts.byteswap()
                    owners.byteswap()
                for q in range(p, end):
                    i = q - first
                    if keep.test(q) and _drop(counts[i * qs + qo], owners[i * ws + wo], dom0):
                        keep.clear(q)
                        cleared += 1
                p = end
        return cleared


def _drop(count_info: int, owner: int | None, dom0: frozenset[int]) -> bool:
    """Whether -X leaves out the frame with this ``count_info`` and ``_domain`` (None: unreadable)."""
    if count_info & PGC_XEN_HEAP:
        return False
    state = count_info & PGC_STATE
    if state in (PGC_STATE_FREE, PGC_STATE_OFFLINED) or count_info & PGC_BROKEN:
        return True
    if not count_info & PGC_ALLOCATED:
        return False
    return owner is None or (owner != 0 and owner not in dom0)
