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
