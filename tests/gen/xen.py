"""Xen ``xc_core`` domain dumps (``xl dump-core``): an ELF64 core with sections and no program
headers.

The layout, from Xen's description of its dump-core format (facts, written out here):

* ELF64 header, ``e_type`` ET_CORE, ``e_machine`` the guest's, ``e_phnum`` 0;
* section headers: a null one, ``.shstrtab``, ``.note.Xen`` (SHT_NOTE), ``.xen_prstatus``
  (the vCPU contexts), ``.xen_shared_info``, then ``.xen_p2m`` (a paravirtual guest: pairs
  ``uint64 pfn, uint64 gmfn``) or ``.xen_pfn`` (an HVM/auto-translated guest: ``uint64 pfn``
  each), and ``.xen_pages`` (the pages, in the order of that table, page aligned);
* ``.note.Xen`` holds notes named ``Xen``: 0x2000000 (none, empty), 0x2000001 (header:
  ``uint64 magic, nr_vcpus, nr_pages, page_size``; magic 0xF00FEBED, HVM 0xF00FEBEE), 0x2000002
  (the Xen version: ``u64`` major, minor, then strings) and 0x2000003 (the format version, ``uint64`` 1).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping

from .notes import make_note

ET_CORE, EM_X86_64 = 4, 62
SHT_PROGBITS, SHT_STRTAB, SHT_NOTE = 1, 3, 7
XC_CORE_MAGIC, XC_CORE_MAGIC_HVM = 0xF00FEBED, 0xF00FEBEE
EHDR_SIZE, SHDR_SIZE = 64, 64


def build_xc_core(path: str | os.PathLike[str], pages: Mapping[int, bytes], *, gmfns: Mapping[int, int] | None = None,
                  page_size: int = 4096, nr_vcpus: int = 1, machine: int = EM_X86_64,
                  xen_version: tuple[int, int] = (4, 17)) -> list[str]:
    """Write a domain dump of ``pages`` (pfn -> page data).  ``gmfns`` (pfn -> machine frame)
    makes a paravirtual guest's ``.xen_p2m``; without it, an HVM guest's ``.xen_pfn``.
    Returns the section names, in order."""
    pfns = sorted(pages)
    hvm = gmfns is None
    prstatus = bytes(5168 * nr_vcpus)  # vcpu_guest_context of x86_64, zeros
    shared_info = bytes(page_size)
    if hvm:
        table = b"".join(struct.pack("<Q", p) for p in pfns)
    else:
        assert gmfns is not None
        table = b"".join(struct.pack("<QQ", p, gmfns[p]) for p in pfns)
    notes = (make_note(b"Xen", 0x2000000, b"")
             + make_note(b"Xen", 0x2000001, struct.pack("<QQQQ", XC_CORE_MAGIC_HVM if hvm else XC_CORE_MAGIC,
                                                        nr_vcpus, len(pfns), page_size))
             # u64 major, u64 minor, extra version (16), compile info (64+16+32+32), capabilities
             # (1024), changeset (64), platform parameters (u64), page size (u64)
             + make_note(b"Xen", 0x2000002, struct.pack("<QQ", *xen_version) + b"-gen".ljust(16, b"\0")
                         + bytes(144 + 1024 + 64 + 8) + struct.pack("<Q", page_size))
             + make_note(b"Xen", 0x2000003, struct.pack("<Q", 1)))
    sections: list[tuple[str, int, bytes, int]] = [  # name, type, data, alignment
        (".shstrtab", SHT_STRTAB, b"", 1),
        (".note.Xen", SHT_NOTE, notes, 4),
        (".xen_prstatus", SHT_PROGBITS, prstatus, 8),
        (".xen_shared_info", SHT_PROGBITS, shared_info, 8),
        (".xen_pfn" if hvm else ".xen_p2m", SHT_PROGBITS, table, 8),
        (".xen_pages", SHT_PROGBITS, b"", page_size),  # written page by page below
    ]
    strtab = b"\0" + b"".join(n.encode() + b"\0" for n, *_ in sections)
    sections[0] = (".shstrtab", SHT_STRTAB, strtab, 1)
    name_off = {}
    pos = 1
    for n, *_ in sections:
        name_off[n] = pos
        pos += len(n) + 1
    shnum = 1 + len(sections)
    offset = EHDR_SIZE + shnum * SHDR_SIZE
    body = bytearray()
    shdrs = [bytes(SHDR_SIZE)]
    for n, typ, data, align in sections:
        start = -(-(offset + len(body)) // align) * align
        body += bytes(start - offset - len(body))
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, sh_addralign, sh_entsize
        size = len(pfns) * page_size if n == ".xen_pages" else len(data)
        shdrs.append(struct.pack("<IIQQQQIIQQ", name_off[n], typ, 0, 0, start, size, 0, 0, align,
                                 16 if n == ".xen_p2m" else 8 if n == ".xen_pfn" else 0))
        body += data
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    # e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags, e_ehsize, e_phentsize, e_phnum,
    # e_shentsize, e_shnum, e_shstrndx
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", ET_CORE, machine, 1, 0, 0, EHDR_SIZE, 0, EHDR_SIZE, 0, 0,
                               SHDR_SIZE, shnum, 1)
    assert len(ehdr) == EHDR_SIZE
    with open(path, "wb") as f:
        f.write(ehdr + b"".join(shdrs) + bytes(body))
        for p in pfns:  # .xen_pages, last
            page = pages[p]
            assert len(page) == page_size
            f.write(page)
    return [n for n, *_ in sections]


# --- A Xen host's crash dump (the hypervisor's kexec): an ELF64 core of the whole machine -------
#
# Facts this builder uses (from Xen's public headers and its kexec code, and from what makedumpfile
# reads of such a dump; written out here, not shared with the package):
#
# * PT_LOADs are machine memory; the notes hold one named "Xen" of type 0x1000001 (the crash info:
#   eight unsigned longs -- major, minor, extra version, changeset, compiler, compile date, compile
#   time, tainted -- then, in version 2, xen_phys_start and dom0's pfn-to-mfn frame list list; in
#   version 1 only the latter) and one named "VMCOREINFO_XEN" (text lines as Linux's VMCOREINFO:
#   PAGESIZE, SYMBOL(domain_list, dom_xen, dom_io, frame_table, max_page, pgd_l4), SIZE(page_info,
#   domain), OFFSET(page_info.count_info, page_info._domain, domain.domain_id,
#   domain.next_in_list)).
# * x86_64 Xen 4.3+ addresses: the image at 0xffff82d080000000 maps xen_phys_start; the direct
#   map 0xffff830000000000 maps machine address 0; the frame table (one struct page_info per
#   machine frame) at 0xffff82e000000000, reached through the 4-level table at pgd_l4
#   (idle_pg_table).  SYMBOL(frame_table) is a variable holding the table's address.
# * page_info.count_info (unsigned long): bit 63 PGC_allocated, bit 62 PGC_xen_heap, bit 57
#   PGC_broken, bits 56-55 the state (0 in use, 1 offlining, 2 offlined, 3 free).
#   page_info._domain (u32): the owner, "pickled" as the machine frame of its struct domain.
# * struct domain: domain_id (domid_t, u16), next_in_list (a pointer); dom_xen is id 0x7FF2,
#   dom_io 0x7FF1.

XEN_VIRT_START = 0xFFFF82D080000000
DIRECTMAP_START = 0xFFFF830000000000
FRAMETABLE_START = 0xFFFF82E000000000
PGC_ALLOCATED, PGC_XEN_HEAP, PGC_BROKEN = 1 << 63, 1 << 62, 1 << 57
PGC_INUSE, PGC_OFFLINING, PGC_OFFLINED, PGC_FREE = 0, 1 << 55, 2 << 55, 3 << 55
DOMID_IO, DOMID_XEN = 0x7FF1, 0x7FF2
_PT_TABLE = 0x63  # present, writable, accessed, dirty


class XenHost:
    """A synthetic Xen host dump's contents and what ``-X`` must keep of it."""

    def __init__(self) -> None:
        self.pages: dict[int, bytes] = {}  # machine frame -> data (every frame of RAM)
        self.kind: dict[int, str] = {}  # machine frame -> what it holds (see build_xen_host)
        self.keep: set[int] = set()  # the frames -X keeps (before zero pages)
        self.vmcoreinfo = b""
        self.xen_phys_start = 0
        self.symbols: dict[str, int] = {}


#: where the builder puts struct page_info's and struct domain's members by default
XEN_LAYOUT = {"SIZE(page_info)": 32, "OFFSET(page_info.count_info)": 8, "OFFSET(page_info._domain)": 24,
              "SIZE(domain)": 4096, "OFFSET(domain.domain_id)": 0, "OFFSET(domain.next_in_list)": 16}


def build_xen_host(path: str | os.PathLike[str], *, seed: int = 1, crash_info: int = 2,
                   vmcoreinfo_note: bool = True, version: tuple[int, int] = (4, 17),
                   ram: tuple[tuple[int, int], ...] = ((0, 0xA0000), (0x100000, 0x2000000)),
                   symbols: dict[str, int] | None = None, layout: dict[str, int] | None = None,
                   xen_phys_start: int = 0x400000, image_pages: int = 64, heap_at: int = 2000) -> XenHost:
    """Write the crash dump of an x86_64 Xen host with dom0, two other domains and Xen's own
    pages.  ``crash_info`` is the crash-info note's version (0, 1, 2; -1: no note, so not
    recognised as a Xen dump); without ``vmcoreinfo_note`` the VMCOREINFO_XEN note is left out
    (given with ``--xen-vmcoreinfo`` instead).

    Frames are, by ``XenHost.kind``: ``xen`` (the image: in use, not allocated), ``heap`` (Xen's
    heap: page tables, the frame table, struct domain), ``dom0``, ``dom1``, ``dom2``, ``domxen``
    (owned by dom_xen), ``anon`` (allocated, no owner), ``inuse`` (in use, not allocated,
    an owner set), ``free``, ``offlined``, ``broken``, ``offlining0``/``offlining1`` (being
    offlined, owned by dom0/dom1) and ``noinfo`` (its ``count_info`` or ``_domain`` lies in a page of
    the frame table that is not mapped).

    ``symbols`` (``pgd_l4``, ``domain_list``, ``dom_xen``, ``dom_io``, ``frame_table``,
    ``max_page`` -> address in the image's first 256 KiB) and ``layout`` (as
    :data:`XEN_LAYOUT`) place the variables and members elsewhere: a compiled xen-syms's.
    ``xen_phys_start``, ``image_pages`` and ``heap_at`` (the first frame of Xen's heap: page
    tables, struct domains, then the frame table) place the hypervisor in a smaller machine."""
    import random

    from .elf import build_elf

    rng = random.Random(seed)
    ps = 4096
    h = XenHost()
    frames = [f for a, b in ram for f in range(a // ps, b // ps)]
    max_frame = frames[-1] + 1
    h.xen_phys_start = xen_phys_start
    img0 = h.xen_phys_start // ps
    img = range(img0, img0 + image_pages)
    lay = {**XEN_LAYOUT, **(layout or {})}
    pi_size = lay["SIZE(page_info)"]
    o_count, o_dom = lay["OFFSET(page_info.count_info)"], lay["OFFSET(page_info._domain)"]
    o_id, o_next = lay["OFFSET(domain.domain_id)"], lay["OFFSET(domain.next_in_list)"]
    # Xen's heap frames: page tables, the frame table, domains
    l3, l2, l1 = heap_at, heap_at + 1, heap_at + 2
    ft_pages = -(-max_frame * pi_size // ps)
    ft = range(heap_at + 8, heap_at + 8 + ft_pages)
    unmapped_ft = ft_pages - 2  # one frame table page left unmapped: its frames have no page_info
    doms = {"dom0": (heap_at + 3, 0), "dom1": (heap_at + 4, 1), "dom2": (heap_at + 5, 2),
            "domxen": (heap_at + 6, DOMID_XEN), "domio": (heap_at + 7, DOMID_IO)}
    heap = {l1, l2, l3, *ft, *(f for f, _ in doms.values())}
    s = {"pgd_l4": 0x10000, "domain_list": 0x20000, "dom_xen": 0x20008, "dom_io": 0x20010,
         "frame_table": 0x20018, "max_page": 0x20020}
    h.symbols = {k: XEN_VIRT_START + v for k, v in s.items()}
    if symbols:
        h.symbols.update(symbols)

    def pickled(dom: str) -> int:
        return doms[dom][0]  # (struct domain's direct-map address - DIRECTMAP_START) >> 12

    info: dict[int, tuple[int, int]] = {}  # frame -> (count_info, _domain)
    kinds = ["dom0"] * 5 + ["dom1"] * 4 + ["dom2"] * 3 + ["free"] * 4 + ["domxen", "anon", "inuse", "offlined",
                                                                           "broken", "offlining0", "offlining1"]
    for f in frames:
        if f in img:
            k = "xen"
        elif f in heap:
            k = "heap"
        elif any((f * pi_size + o + k) // ps == unmapped_ft for o, n in ((o_count, 8), (o_dom, 4)) for k in (0, n - 1)):
            k = "noinfo"
        else:
            k = rng.choice(kinds)
        h.kind[f] = k
        alloc = PGC_ALLOCATED | 1
        ci, dom = {
            "xen": (PGC_INUSE | 1, 0),
            "heap": (PGC_ALLOCATED | PGC_XEN_HEAP | 1, 0),
            "dom0": (alloc, pickled("dom0")), "dom1": (alloc, pickled("dom1")), "dom2": (alloc, pickled("dom2")),
            "domxen": (alloc, pickled("domxen")),
            "anon": (alloc, 0),
            "inuse": (PGC_INUSE | 2, pickled("dom1")),
            "free": (PGC_FREE, 0),
            "offlined": (PGC_OFFLINED, 0),
            "broken": (alloc | PGC_BROKEN, pickled("dom0")),
            "offlining0": (PGC_OFFLINING | alloc, pickled("dom0")),
            "offlining1": (PGC_OFFLINING | alloc, pickled("dom1")),
            "noinfo": (alloc, pickled("dom0")),
        }[k]
        info[f] = (ci, dom)
        if k in ("xen", "heap", "dom0", "anon", "inuse", "offlining0"):
            h.keep.add(f)
    # page data: a pattern naming the frame, a few all-zero pages among each kind
    for f in frames:
        if rng.random() < 0.1:
            h.pages[f] = bytes(ps)
        else:
            h.pages[f] = (struct.pack("<QQ", f, 0x58454E) * (ps // 16))
    page = {f: bytearray(h.pages[f]) for f in [*img, *heap]}
    for f in page:
        page[f][:] = bytes(ps)
    # the image's variables
    base = page  # frame -> bytearray

    def put(addr: int, data: bytes) -> None:
        off = addr - XEN_VIRT_START
        f, o = img0 + off // ps, off % ps
        base[f][o:o + len(data)] = data

    put(h.symbols["domain_list"], struct.pack("<Q", DIRECTMAP_START + doms["dom0"][0] * ps))
    put(h.symbols["dom_xen"], struct.pack("<Q", DIRECTMAP_START + doms["domxen"][0] * ps))
    put(h.symbols["dom_io"], struct.pack("<Q", DIRECTMAP_START + doms["domio"][0] * ps))
    put(h.symbols["frame_table"], struct.pack("<Q", FRAMETABLE_START))
    put(h.symbols["max_page"], struct.pack("<Q", max_frame))
    # struct domain: domain_id (u16), next_in_list
    chain = ["dom0", "dom1", "dom2"]
    for name, (f, domid) in doms.items():
        nxt = chain[chain.index(name) + 1] if name in chain[:-1] else None
        base[f][o_id:o_id + 2] = struct.pack("<H", domid)
        base[f][o_next:o_next + 8] = struct.pack("<Q", DIRECTMAP_START + doms[nxt][0] * ps if nxt else 0)
    # page tables: idle_pg_table -> l3 -> l2 -> l1 (4 KiB pages) -> the frame table
    idx = [(FRAMETABLE_START >> sh) & 511 for sh in (39, 30, 21)]
    pgd = img0 + (h.symbols["pgd_l4"] - XEN_VIRT_START) // ps
    base[pgd][idx[0] * 8:idx[0] * 8 + 8] = struct.pack("<Q", l3 * ps | _PT_TABLE)
    base[l3][idx[1] * 8:idx[1] * 8 + 8] = struct.pack("<Q", l2 * ps | _PT_TABLE)
    base[l2][idx[2] * 8:idx[2] * 8 + 8] = struct.pack("<Q", l1 * ps | _PT_TABLE)
    for i, f in enumerate(ft):
        if i != unmapped_ft:
            base[l1][i * 8:i * 8 + 8] = struct.pack("<Q", f * ps | _PT_TABLE)
    # the frame table: one struct page_info per frame (an entry may straddle two pages)
    table = bytearray(ft_pages * ps)
    for fr, (ci, dom) in info.items():
        off = fr * pi_size
        table[off + o_count:off + o_count + 8] = struct.pack("<Q", ci)
        table[off + o_dom:off + o_dom + 4] = struct.pack("<I", dom)
    for i, f in enumerate(ft):
        base[f][:] = table[i * ps:(i + 1) * ps]
    for f, b in page.items():
        h.pages[f] = bytes(b)

    vi = [f"PAGESIZE={ps}"]
    vi += [f"SYMBOL({k})={v:x}" for k, v in h.symbols.items()]
    vi += [f"{k}={v}" for k, v in lay.items()]
    h.vmcoreinfo = ("\n".join(vi) + "\n").encode()
    com = struct.pack("<8Q", version[0], version[1], 0, 0, 0, 0, 0, 0)
    tail = {0: b"", 1: struct.pack("<Q", 0), 2: struct.pack("<QQ", h.xen_phys_start, 0)}
    notes = make_note(b"CORE", 1, bytes(336))  # one CPU's NT_PRSTATUS, zeros
    if crash_info >= 0:
        notes += make_note(b"Xen", 0x1000001, com + tail[crash_info])
    if vmcoreinfo_note:
        notes += make_note(b"VMCOREINFO_XEN", 0, h.vmcoreinfo)
    segs = [(a, DIRECTMAP_START + a, b"".join(h.pages[f] for f in range(a // ps, b // ps))) for a, b in ram]
    build_elf(path, segs, notes=notes)
    return h


# A xen-syms (the hypervisor's ELF with DWARF) of the members and variables -X reads, compiled by
# gcc and linked at Xen's image address.  Its layout, worked out by hand from the declarations
# (LP64): page_info is 8 (the list union) + 8 (count_info) + 8 (u) + 4 (v) + 4 (w) = 32 bytes,
# _domain at 24 (in union v, struct inuse); domain is 2 + 2 (padding) + 4 + 8 + 4072 = 4088 bytes,
# next_in_list at 8.
XEN_SYMS_C = r"""
typedef unsigned int __pdx_t;
struct page_list_entry { __pdx_t next, prev; };
struct page_info {
    union { struct page_list_entry list; unsigned long up; };
    unsigned long count_info;
    union { struct { unsigned long type_info; } inuse; struct { unsigned long type_info; } sh; } u;
    union { struct { __pdx_t _domain; } inuse; struct { unsigned int back; } sh; } v;
    union { unsigned int tlbflush_timestamp; } w;
};
typedef unsigned short domid_t;
struct domain { domid_t domain_id; unsigned int max_vcpus; struct domain *next_in_list; char pad[4072]; };
unsigned long idle_pg_table[512] __attribute__((aligned(4096)));
struct domain *domain_list;
struct domain *dom_xen, *dom_io;
struct page_info *frame_table;
unsigned long max_page;
struct page_info *used_page_info;
struct domain *used_domain;
void _start(void) { for (;;); }
"""
XEN_SYMS_LAYOUT = {"SIZE(page_info)": 32, "OFFSET(page_info.count_info)": 8, "OFFSET(page_info._domain)": 24,
                   "SIZE(domain)": 4088, "OFFSET(domain.domain_id)": 0, "OFFSET(domain.next_in_list)": 8}


def build_xen_syms(out: str | os.PathLike[str]) -> dict[str, int]:
    """Compile the xen-syms to ``out``; returns the addresses of the variables -X reads (read
    with binutils' nm), under the names ``build_xen_host(symbols=...)`` takes.  Raises
    FileNotFoundError without gcc or nm."""
    import shutil
    import subprocess

    cc, nm = shutil.which("gcc") or shutil.which("cc"), shutil.which("nm")
    if cc is None or nm is None:
        raise FileNotFoundError("no C compiler or nm")
    src = f"{os.fspath(out)}.c"
    with open(src, "w") as f:
        f.write(XEN_SYMS_C)
    subprocess.run([cc, "-g", "-O0", "-nostdlib", "-static", "-no-pie", "-fno-pic", "-mcmodel=large",
                    f"-Wl,-Ttext={XEN_VIRT_START:#x}", f"-Wl,-Tdata={XEN_VIRT_START + 0x10000:#x}",
                    f"-Wl,-Tbss={XEN_VIRT_START + 0x10000:#x}", "-o", os.fspath(out), src], check=True)
    os.unlink(src)
    names = {"idle_pg_table": "pgd_l4", "domain_list": "domain_list", "dom_xen": "dom_xen", "dom_io": "dom_io",
             "frame_table": "frame_table", "max_page": "max_page"}
    syms = {}
    for line in subprocess.run([nm, os.fspath(out)], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] in names:
            syms[names[parts[2]]] = int(parts[0], 16)
    return syms


# --- A domain save image, legacy format ("LinuxGuestRecord", xm save of a 64-bit PV guest) ------
#
# Facts (from crash's description of the format it reads as "xendump", written out here): the
# signature "LinuxGuestRecord"; a big-endian u32 length and the configuration text; u64 nr_pfns;
# the pfn-to-mfn frame list, a u64 per 512 pfns; batches of an i32 count (0 ends them; -1: the
# pages that follow are sent again, to be verified), that many u64 entries (the pfn, the page's
# type in bits 28-31; 0xf: invalid, no page follows) and a page per entry that has one; then an
# i32 count of pfns not in the pseudo-physical map and those pfns, the vCPU contexts, and the
# shared info page last.

XTAB = 0xF << 28


def build_xc_save(path: str | os.PathLike[str], pages: Mapping[int, bytes], nr_pfns: int, *,
                  batch: int = 1024, resend: Mapping[int, bytes] | None = None, invalid: tuple[int, ...] = (),
                  verify: bool = False, config: bytes = b"(domain (name gen) (memory 64))") -> None:
    """Write the save image of a guest whose pfn -> page data is ``pages`` (sent in pfn order,
    ``batch`` entries a batch, with an invalid entry for each pfn of ``invalid``); ``resend``:
    pages sent again after, in one more batch (they hold what the guest wrote meanwhile: read
    as sent last); ``verify``: all pages sent once more after a -1 count."""
    out = bytearray(b"LinuxGuestRecord")
    out += struct.pack(">I", len(config)) + config
    out += struct.pack("<Q", nr_pfns)
    out += struct.pack(f"<{-(-nr_pfns // 512)}Q", *range(0x1000, 0x1000 + -(-nr_pfns // 512)))
    entries: list[tuple[int, bytes | None]] = [(p, pages[p]) for p in sorted(pages)]
    entries += [(p, None) for p in invalid]

    def batches(items: list[tuple[int, bytes | None]]) -> bytes:
        b = bytearray()
        for i in range(0, len(items), batch):
            chunk = items[i : i + batch]
            b += struct.pack("<i", len(chunk))
            b += struct.pack(f"<{len(chunk)}Q", *(p if d is not None else p | XTAB for p, d in chunk))
            for _, d in chunk:
                if d is not None:
                    assert len(d) == 4096
                    b += d
        return bytes(b)

    out += batches(entries)
    if resend:
        out += batches(sorted(resend.items()))
    if verify:
        out += struct.pack("<i", -1) + batches([(p, pages[p]) for p in sorted(pages)])
    out += struct.pack("<i", 0)
    out += struct.pack("<i", 1) + struct.pack("<Q", nr_pfns + 7)  # one pfn not in the map
    out += bytes(5168)  # a vCPU context (zeros)
    out += bytes(4096)  # the shared info page
    with open(path, "wb") as f:
        f.write(out)
