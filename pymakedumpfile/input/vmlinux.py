"""A kernel image (vmlinux) as an ELF file: its section headers, the bytes of a
section (a compressed one uncompressed), its symbols, and the bytes at a virtual
address of the image.  The DWARF reader (dwarf.py) and ``-g`` read the image
through it.

The headers are the structures of formats/elf.py.  The file is mapped, not
read: a debug vmlinux is hundreds of MB and most of it is never looked at.
"""

from __future__ import annotations

import mmap
import struct
import zlib

from ..core.errors import CorruptDumpError, DumpError, UnsupportedDumpError
from ..core.record import astuple
from ..formats.elf import (
    EI_CLASS,
    EI_DATA,
    ELFCLASS64,
    ELFCOMPRESS_ZLIB,
    ELFDATA2LSB,
    ELFMAG,
    SHF_COMPRESSED,
    SHT_NOBITS,
    Chdr,
    Ehdr,
    Shdr,
    Sym,
)

MAX_SECTION = 1 << 30  # a compressed debug section's size (a real .debug_info: ~200 MB)
ET_REL, SHT_RELA = 1, 4
# relocations that debug sections of a kernel module use: machine -> {type: bytes written}
RELOCS = {
    62: {1: 8, 10: 4, 11: 4},  # x86_64: R_X86_64_64, _32, _32S
    183: {257: 8, 258: 4},  # aarch64: R_AARCH64_ABS64, _ABS32
}


def cstr(buf: bytes, at: int) -> str:
    """The NUL-terminated string at ``at`` of a string table (to the end of
    ``buf`` if unterminated; empty past it), decoded as UTF-8."""
    end = buf.find(b"\0", at)
    return buf[at : end if end >= 0 else len(buf)].decode("utf-8", "replace")


class Elf:
    """Sections and symbols of an ELF file (a vmlinux)."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            with open(path, "rb") as f:
                self.data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as e:
            raise DumpError(f"Cannot read: {getattr(e, 'strerror', None) or e}", path) from None
        d = self.data
        if d[:4] != ELFMAG or len(d) < 64:
            raise UnsupportedDumpError("Cannot use as VMLINUX: not an ELF file", path)
        self.bits = 64 if d[EI_CLASS] == ELFCLASS64 else 32
        self.e = "<" if d[EI_DATA] == ELFDATA2LSB else ">"
        try:
            eh = Ehdr.unpack(d, self.e, self.bits)
            self.shdrs = [Shdr.unpack(d, eh.e_shoff + i * eh.e_shentsize, self.e, self.bits)
                          for i in range(eh.e_shnum)]
            names = self._raw(eh.e_shstrndx)
            self.sections = {cstr(names, s.sh_name): i for i, s in enumerate(self.shdrs)}  # name -> index
        except (struct.error, IndexError, OverflowError, ValueError):
            raise CorruptDumpError("Cannot read the section headers", path) from None
        # a kernel module's debug file is relocatable: its debug sections are read relocated
        self.relocatable = eh.e_type == ET_REL
        self.machine = eh.e_machine
        self._relocated: dict[str, bytes] = {}

    @property
    def sh(self) -> list[tuple[int, ...]]:
        """The section headers as tuples of Shdr's fields, in its order
        (``sh[i][4]``: sh_offset, ``sh[i][5]``: sh_size)."""
        return [astuple(s) for s in self.shdrs]

    def _raw(self, i: int) -> bytes:
        """The bytes of section ``i`` in the file (none for SHT_NOBITS)."""
        s = self.shdrs[i]
        if s.sh_type == SHT_NOBITS:
            return b""
        return bytes(self.data[s.sh_offset : s.sh_offset + s.sh_size])

    def section(self, name: str) -> bytes:
        """The bytes of section ``name``, uncompressed; empty if there is none."""
        i = self.sections.get(name)
        if i is None:
            return b""
        raw = self._raw(i)
        if self.shdrs[i].sh_flags & SHF_COMPRESSED:
            raw = self._uncompress(name, raw)
        if self.relocatable and name.startswith(".debug_"):
            return self._relocate(name, i, raw)
        return raw

    def view(self, name: str) -> bytes | memoryview:
        """Section ``name`` as :meth:`section` gives it, but without a copy:
        a view of the mapped file (a compressed section is uncompressed as
        bytes).  Only the pages read are brought in; :meth:`release` lets
        them go again."""
        i = self.sections.get(name)
        if i is None:
            return b""
        s = self.shdrs[i]
        if s.sh_type == SHT_NOBITS:
            return b""
        if s.sh_flags & SHF_COMPRESSED or self.relocatable:
            return self.section(name)
        return memoryview(self.data)[s.sh_offset : s.sh_offset + s.sh_size]

    def _relocate(self, name: str, i: int, raw: bytes) -> bytes:
        """Section ``name`` (index ``i``) of a relocatable file with its RELA relocations
        applied (a module's DWARF points into .debug_str and the others through them)."""
        done = self._relocated.get(name)
        if done is not None:
            return done
        rels = [k for k, h in enumerate(self.shdrs) if h.sh_type == SHT_RELA and h.sh_info == i]
        if not rels:
            self._relocated[name] = raw
            return raw
        kinds = RELOCS.get(self.machine)
        if kinds is None:
            raise UnsupportedDumpError(f"Cannot relocate {name}: relocations of ELF machine {self.machine} are not "
                                       "known", self.path)
        try:
            out = self._apply(name, raw, rels, kinds)
        except (struct.error, IndexError, OverflowError):
            raise CorruptDumpError(f"Cannot relocate {name}: a relocation names what the file does not have",
                                   self.path) from None
        self._relocated[name] = out
        return out

    def _apply(self, name: str, raw: bytes, rels: list[int], kinds: dict[int, int]) -> bytes:
        buf = bytearray(raw)
        rsz = 24 if self.bits == 64 else 12
        for k in rels:
            symtab = self._raw(self.shdrs[k].sh_link)
            ssz = Sym.struct(self.e, self.bits).size
            rel = self._raw(k)
            fmt = self.e + ("QQq" if self.bits == 64 else "IIi")
            for off in range(0, len(rel) - rsz + 1, rsz):
                r_offset, r_info, addend = struct.unpack_from(fmt, rel, off)
                sym, rtype = (r_info >> 32, r_info & 0xFFFFFFFF) if self.bits == 64 else (r_info >> 8, r_info & 0xFF)
                size = kinds.get(rtype)
                if size is None:
                    raise UnsupportedDumpError(f"Cannot relocate {name}: relocation type {rtype}", self.path)
                value = Sym.unpack(symtab, sym * ssz, self.e, self.bits).st_value + addend
                if r_offset + size > len(buf):
                    raise CorruptDumpError(f"Cannot relocate {name}: a relocation past its end", self.path)
                buf[r_offset : r_offset + size] = (value % (1 << (8 * size))).to_bytes(size, "little" if self.e == "<"
                                                                                        else "big")
        return bytes(buf)

    def release(self, name: str, start: int, end: int) -> None:
        """Drop the pages of bytes ``start``..``end`` of section ``name`` from
        this process's memory (they are read again from the file if used),
        so that a pass over a section of hundreds of MB does not keep it
        resident.  Nothing for a compressed section, or where madvise is
        missing."""
        i = self.sections.get(name)
        if i is None or self.shdrs[i].sh_flags & SHF_COMPRESSED or not hasattr(self.data, "madvise"):
            return
        base, page = self.shdrs[i].sh_offset, mmap.PAGESIZE
        lo = -(-(base + max(start, 0)) // page) * page
        hi = min(base + end, len(self.data)) // page * page
        if hi > lo:
            try:
                self.data.madvise(mmap.MADV_DONTNEED, lo, hi - lo)
            except (OSError, ValueError, AttributeError):
                pass

    def _uncompress(self, name: str, raw: bytes) -> bytes:
        """A compressed section's bytes (an Elf_Chdr, then zlib data) uncompressed.
        The header's fields are checked in order, each read alone: ch_type, then ch_size."""
        ctype = Chdr.unpack_type(raw, 0, self.e)
        if ctype != ELFCOMPRESS_ZLIB:
            raise UnsupportedDumpError(f"Cannot read {name}: compression type {ctype} is not zlib", self.path)
        size = Chdr.unpack_size(raw, 0, self.e, self.bits)
        if size > MAX_SECTION:
            raise CorruptDumpError(f"Cannot read {name}: {size} bytes uncompressed is absurd", self.path)
        try:
            d = zlib.decompressobj()
            out = d.decompress(raw[Chdr.struct(self.e, self.bits).size :], size)
        except zlib.error:
            raise CorruptDumpError(f"Cannot read {name}: bad zlib data", self.path) from None
        if len(out) != size:
            raise CorruptDumpError(f"Cannot read {name}: {len(out)} bytes uncompressed, not {size}", self.path)
        return out

    def symbols(self) -> dict[str, int]:
        """name -> value of the .symtab symbols (the first of a name wins)."""
        tab, i = self.section(".symtab"), self.sections.get(".symtab")
        if i is None:
            return {}
        strs = self._raw(self.shdrs[i].sh_link)
        out: dict[str, int] = {}
        e, bits = self.e, self.bits
        size = Sym.struct(e, bits).size
        for off in range(size, len(tab) - size + 1, size):  # entry 0 is the null symbol
            s = Sym.unpack(tab, off, e, bits)
            if s.st_name:
                out.setdefault(cstr(strs, s.st_name), s.st_value)
        return out

    def read_addr(self, addr: int, size: int) -> bytes | None:
        """``size`` bytes at virtual address ``addr`` of the image, if a
        section holds them."""
        for s in self.shdrs:
            if s.sh_addr and s.sh_addr <= addr and addr + size <= s.sh_addr + s.sh_size and s.sh_type != SHT_NOBITS:
                at = s.sh_offset + addr - s.sh_addr
                return bytes(self.data[at : at + size])
        return None


__all__ = ["MAX_SECTION", "Elf", "cstr"]
