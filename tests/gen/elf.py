"""Writer for ELF core dumps (/proc/vmcore or makedumpfile -E style)."""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Union

ET_CORE = 4
PT_LOAD = 1
PT_NOTE = 4
PN_XNUM = 0xFFFF
SHT_NULL = 0
EM_X86_64 = 62
EM_386 = 3
EM_AARCH64 = 183
EM_PPC64 = 21
EM_S390 = 22
PF_RWX = 7

# (paddr, vaddr, data, memsz); memsz None means len(data)
Segment = Union[tuple[int, int, bytes, "int | None"], tuple[int, int, bytes]]

# sizes and struct formats per class, spelled out from the ELF spec
_EHDR = {64: ("16sHHIQQQIHHHHHH", 64), 32: ("16sHHIIIIIHHHHHH", 52)}
_PHDR = {64: ("IIQQQQQQ", 56), 32: ("IIIIIIII", 32)}
_SHDR = {64: ("IIQQQQIIQQ", 64), 32: ("IIIIIIIIII", 40)}


@dataclass
class ElfInfo:
    path: str
    elfclass: int
    e_phoff: int
    e_shoff: int
    e_phnum: int  # the value stored in the Ehdr (PN_XNUM when extended)
    phnum: int  # the real number of program headers
    note_offset: int
    note_size: int
    # per PT_LOAD: (p_offset, p_filesz, p_memsz, p_paddr, p_vaddr)
    loads: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    phdr_offsets: list[int] = field(default_factory=list)  # file offset of each Phdr
    file_size: int = 0


def build_elf(
    path: str | os.PathLike[str],
    segments: Sequence[Segment],
    *,
    elfclass: int = 64,
    endian: str = "<",
    machine: int = EM_X86_64,
    notes: bytes = b"",
    phoff_after_shdrs: bool = False,
    use_pn_xnum: bool = False,
    e_flags: int = 0,
    e_type: int = ET_CORE,
    shnum: int = 1,
    data_align: int = 0,
) -> ElfInfo:
    """Write an ELF core file: Ehdr, [section headers], program headers
    (one PT_NOTE first, then one PT_LOAD per segment), the note data, then
    each segment's file data packed (aligned to ``data_align`` if set).

    ``phoff_after_shdrs``: QEMU style, ``shnum`` SHT_NULL section headers
    right after the Ehdr and e_phoff = ehsize + shnum * shentsize.
    ``use_pn_xnum``: e_phnum = PN_XNUM and the real count in section header
    0's sh_info (e_shnum = 1, e_shoff right after the Ehdr, phdrs after it),
    as the kernel and makedumpfile do for >= 0xffff program headers.
    A segment whose filesz is 0 gets p_offset 0 (as makedumpfile -E does).
    """
    path = os.fspath(path)
    if elfclass not in (32, 64):
        raise ValueError("elfclass must be 32 or 64")
    ehfmt, ehsize = _EHDR[elfclass]
    phfmt, phentsize = _PHDR[elfclass]
    shfmt, shentsize = _SHDR[elfclass]
    phnum = 1 + len(segs := [tuple(s) for s in segments])

    if use_pn_xnum:
        shnum = 1
    with_shdrs = phoff_after_shdrs or use_pn_xnum
    e_shoff = ehsize if with_shdrs else 0
    e_shnum = shnum if with_shdrs else 0
    e_phoff = ehsize + (e_shnum * shentsize if with_shdrs else 0)
    e_phnum = PN_XNUM if use_pn_xnum else phnum
    if phnum >= PN_XNUM and not use_pn_xnum:
        raise ValueError("too many program headers: use_pn_xnum=True")

    note_offset = e_phoff + phnum * phentsize
    pos = note_offset + len(notes)
    phdrs: list[bytes] = []
    # PT_NOTE: p_type, then fields in class order
    if elfclass == 64:
        phdrs.append(struct.pack(endian + phfmt, PT_NOTE, 0, note_offset, 0, 0, len(notes), len(notes), 0))
    else:
        phdrs.append(struct.pack(endian + phfmt, PT_NOTE, note_offset, 0, 0, len(notes), len(notes), 0, 0))
    loads: list[tuple[int, int, int, int, int]] = []
    datas: list[tuple[int, bytes]] = []
    for s in segs:
        paddr, vaddr, data = s[0], s[1], bytes(s[2])
        memsz = s[3] if len(s) > 3 and s[3] is not None else len(data)
        if memsz < len(data):
            raise ValueError("memsz < filesz")
        if data_align and data:
            pos = -(-pos // data_align) * data_align
        off = pos if data else 0
        if elfclass == 64:
            phdrs.append(struct.pack(endian + phfmt, PT_LOAD, PF_RWX, off, vaddr, paddr, len(data), memsz, 0))
        else:
            phdrs.append(struct.pack(endian + phfmt, PT_LOAD, off, vaddr, paddr, len(data), memsz, PF_RWX, 0))
        loads.append((off, len(data), memsz, paddr, vaddr))
        if data:
            datas.append((off, data))
            pos += len(data)

    ident = b"\x7fELF" + bytes([2 if elfclass == 64 else 1, 1 if endian == "<" else 2, 1, 0])
    ehdr = struct.pack(
        endian + ehfmt,
        ident.ljust(16, b"\0"),
        e_type,
        machine,
        1,
        0,  # e_entry
        e_phoff,
        e_shoff,
        e_flags,
        ehsize,
        phentsize,
        e_phnum,
        shentsize if with_shdrs else 0,
        e_shnum,
        0,  # e_shstrndx = SHN_UNDEF
    )
    assert len(ehdr) == ehsize
    shdrs = b""
    if with_shdrs:
        # section header 0: SHT_NULL; sh_size = e_shnum, sh_link = e_shstrndx, sh_info = phnum
        if elfclass == 64:
            sh0 = struct.pack(endian + shfmt, 0, SHT_NULL, 0, 0, 0, e_shnum, 0, phnum, 0, 0)
        else:
            sh0 = struct.pack(endian + shfmt, 0, SHT_NULL, 0, 0, 0, e_shnum, 0, phnum, 0, 0)
        shdrs = sh0 + bytes(shentsize * (e_shnum - 1))

    with open(path, "wb") as f:
        f.write(ehdr)
        f.write(shdrs)
        assert f.tell() == e_phoff
        f.write(b"".join(phdrs))
        f.write(notes)
        for off, data in datas:
            f.seek(off)
            f.write(data)
        f.truncate()
        size = f.tell()
    return ElfInfo(
        path=path,
        elfclass=elfclass,
        e_phoff=e_phoff,
        e_shoff=e_shoff,
        e_phnum=e_phnum,
        phnum=phnum,
        note_offset=note_offset,
        note_size=len(notes),
        loads=loads,
        phdr_offsets=[e_phoff + i * phentsize for i in range(phnum)],
        file_size=size,
    )
