"""ELF structures (ELF32/ELF64, either byte order): the headers of vmcores and
of kernel images, their symbols and compressed sections, and notes.

Each structure unpacks from and packs to its bytes for a byte order ("<" or ">")
and a class (32 or 64 bits).  Source: the System V ABI / ``include/uapi/linux/elf.h``.
"""

from __future__ import annotations

import struct

from ..core.hints import TYPE_CHECKING, ClassVar
from ..core.record import dataclass, fields

if TYPE_CHECKING:
    from typing_extensions import Buffer  # bytes, or a buffer such as an mmap

ELFMAG = b"\x7fELF"
EI_CLASS = 4  # e_ident[EI_CLASS]: ELFCLASS32 or ELFCLASS64
EI_DATA = 5  # e_ident[EI_DATA]: ELFDATA2LSB or ELFDATA2MSB
ELFCLASS32 = 1
ELFCLASS64 = 2
ELFDATA2LSB = 1
ELFDATA2MSB = 2
EV_CURRENT = 1
ET_CORE = 4

PT_NULL = 0
PT_LOAD = 1
PT_NOTE = 4
SHT_NULL = 0
SHT_NOBITS = 8  # a section with no bytes in the file (.bss)
SHF_COMPRESSED = 0x800  # the section's bytes are an Elf_Chdr, then the compressed data
ELFCOMPRESS_ZLIB = 1  # Elf_Chdr.ch_type
PN_XNUM = 0xFFFF

NT_PRSTATUS = 1
VMCOREINFO_NOTE_NAME = b"VMCOREINFO"
ERASEINFO_NOTE_NAME = b"ERASEINFO"  # the note of what --config erased (n_type 0)
# makedumpfile's ELF "incomplete" marker in e_flags.
ELF_FLAG_INCOMPLETE = 0x1

# e_machine numbers belong to each architecture (pymakedumpfile.translate: ArchInfo.elf_machine).


@dataclass(frozen=True)
class Ehdr:
    e_ident: bytes
    e_type: int
    e_machine: int
    e_version: int
    e_entry: int
    e_phoff: int
    e_shoff: int
    e_flags: int
    e_ehsize: int
    e_phentsize: int
    e_phnum: int
    e_shentsize: int
    e_shnum: int
    e_shstrndx: int

    _FMT: ClassVar[dict[int, str]] = {64: "16sHHIQQQIHHHHHH", 32: "16sHHIIIIIHHHHHH"}

    @classmethod
    def struct(cls, endian: str, bits: int) -> struct.Struct:
        return _S(endian + cls._FMT[bits])

    @classmethod
    def unpack(cls, buf: Buffer, endian: str, bits: int) -> Ehdr:
        return cls(*cls.struct(endian, bits).unpack_from(buf, 0))

    def pack(self, endian: str, bits: int) -> bytes:
        return self.struct(endian, bits).pack(*(getattr(self, f.name) for f in fields(self)))


@dataclass(frozen=True)
class Phdr:
    p_type: int
    p_flags: int
    p_offset: int
    p_vaddr: int
    p_paddr: int
    p_filesz: int
    p_memsz: int
    p_align: int

    # ELF32 orders p_flags after p_memsz; the field order here is ELF64's.
    _FMT: ClassVar[dict[int, str]] = {64: "IIQQQQQQ", 32: "IIIIIIII"}

    @classmethod
    def struct(cls, endian: str, bits: int) -> struct.Struct:
        return _S(endian + cls._FMT[bits])

    @classmethod
    def unpack(cls, buf: Buffer, offset: int, endian: str, bits: int) -> Phdr:
        v = cls.struct(endian, bits).unpack_from(buf, offset)
        if bits == 64:
            return cls(*v)
        p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align = v
        return cls(p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align)

    def pack(self, endian: str, bits: int) -> bytes:
        s = self.struct(endian, bits)
        if bits == 64:
            return s.pack(
                self.p_type, self.p_flags, self.p_offset, self.p_vaddr, self.p_paddr,
                self.p_filesz, self.p_memsz, self.p_align,
            )
        return s.pack(
            self.p_type, self.p_offset, self.p_vaddr, self.p_paddr, self.p_filesz,
            self.p_memsz, self.p_flags, self.p_align,
        )


@dataclass(frozen=True)
class Shdr:
    sh_name: int = 0
    sh_type: int = SHT_NULL
    sh_flags: int = 0
    sh_addr: int = 0
    sh_offset: int = 0
    sh_size: int = 0
    sh_link: int = 0
    sh_info: int = 0
    sh_addralign: int = 0
    sh_entsize: int = 0

    _FMT: ClassVar[dict[int, str]] = {64: "IIQQQQIIQQ", 32: "IIIIIIIIII"}

    @classmethod
    def struct(cls, endian: str, bits: int) -> struct.Struct:
        return _S(endian + cls._FMT[bits])

    @classmethod
    def unpack(cls, buf: Buffer, offset: int, endian: str, bits: int) -> Shdr:
        return cls(*cls.struct(endian, bits).unpack_from(buf, offset))

    def pack(self, endian: str, bits: int) -> bytes:
        return self.struct(endian, bits).pack(*(getattr(self, f.name) for f in fields(self)))


@dataclass(frozen=True)
class Sym:
    """Elf_Sym: an entry of a symbol table (.symtab)."""

    st_name: int
    st_info: int
    st_other: int
    st_shndx: int
    st_value: int
    st_size: int

    # ELF32 orders st_value and st_size right after st_name; the field order here is ELF64's.
    _FMT: ClassVar[dict[int, str]] = {64: "IBBHQQ", 32: "IIIBBH"}

    @classmethod
    def struct(cls, endian: str, bits: int) -> struct.Struct:
        return _S(endian + cls._FMT[bits])

    @classmethod
    def unpack(cls, buf: Buffer, offset: int, endian: str, bits: int) -> Sym:
        v = cls.struct(endian, bits).unpack_from(buf, offset)
        if bits == 64:
            return cls(*v)
        st_name, st_value, st_size, st_info, st_other, st_shndx = v
        return cls(st_name, st_info, st_other, st_shndx, st_value, st_size)

    def pack(self, endian: str, bits: int) -> bytes:
        s = self.struct(endian, bits)
        if bits == 64:
            return s.pack(self.st_name, self.st_info, self.st_other, self.st_shndx, self.st_value, self.st_size)
        return s.pack(self.st_name, self.st_value, self.st_size, self.st_info, self.st_other, self.st_shndx)


@dataclass(frozen=True)
class Chdr:
    """Elf_Chdr: the header of a compressed section (SHF_COMPRESSED); the compressed
    bytes follow it."""

    ch_type: int
    ch_size: int  # the size uncompressed
    ch_addralign: int

    # ELF64 has a reserved word after ch_type; the field order here is ELF32's.
    _FMT: ClassVar[dict[int, str]] = {64: "IIQQ", 32: "III"}
    # where ch_size is, and its format
    _SIZE: ClassVar[dict[int, tuple[int, str]]] = {64: (8, "Q"), 32: (4, "I")}

    @classmethod
    def struct(cls, endian: str, bits: int) -> struct.Struct:
        return _S(endian + cls._FMT[bits])

    @classmethod
    def unpack(cls, buf: Buffer, offset: int, endian: str, bits: int) -> Chdr:
        v = cls.struct(endian, bits).unpack_from(buf, offset)
        if bits == 64:
            ch_type, _, ch_size, ch_addralign = v
            return cls(ch_type, ch_size, ch_addralign)
        return cls(*v)

    def pack(self, endian: str, bits: int) -> bytes:
        s = self.struct(endian, bits)
        if bits == 64:
            return s.pack(self.ch_type, 0, self.ch_size, self.ch_addralign)
        return s.pack(self.ch_type, self.ch_size, self.ch_addralign)

    # A reader that checks the header field by field reads the fields alone: the type
    # first (a header cut short after it still says which compression it is), then the size.
    @staticmethod
    def unpack_type(buf: Buffer, offset: int, endian: str) -> int:
        """ch_type, the first word in both classes."""
        v: int = _S(endian + "I").unpack_from(buf, offset)[0]
        return v

    @classmethod
    def unpack_size(cls, buf: Buffer, offset: int, endian: str, bits: int) -> int:
        """ch_size alone (ch_addralign, after it, may be cut off)."""
        at, fmt = cls._SIZE[bits]
        v: int = _S(endian + fmt).unpack_from(buf, offset + at)[0]
        return v


# Elf_Nhdr is three 32-bit words in both classes.
def nhdr_struct(endian: str) -> struct.Struct:
    return _S(endian + "III")


def align4(n: int) -> int:
    return (n + 3) & ~3


@dataclass(frozen=True)
class Note:
    name: bytes  # without the terminating NUL
    type: int
    desc: bytes


def parse_notes(blob: bytes, endian: str) -> list[Note]:
    """Split an ELF note blob into notes; stops quietly at a truncated tail."""
    nh = nhdr_struct(endian)
    out = []
    off = 0
    while off + nh.size <= len(blob):
        namesz, descsz, ntype = nh.unpack_from(blob, off)
        off += nh.size
        name_end = off + namesz
        desc_off = off + align4(namesz)
        desc_end = desc_off + descsz
        if desc_end > len(blob) or name_end > len(blob):
            break
        if namesz == 0 and descsz == 0 and ntype == 0:
            break  # zero padding
        out.append(Note(blob[off:name_end].rstrip(b"\0"), ntype, blob[desc_off:desc_end]))
        off = desc_off + align4(descsz)
    return out


def pack_note(name: bytes, ntype: int, desc: bytes, endian: str) -> bytes:
    n = name + b"\0"
    return (
        nhdr_struct(endian).pack(len(n), len(desc), ntype)
        + n.ljust(align4(len(n)), b"\0")
        + desc.ljust(align4(len(desc)), b"\0")
    )


def find_note_offset(blob: bytes, endian: str, name: bytes) -> tuple[int, int] | None:
    """(offset of desc, descsz) of the first note called ``name`` in ``blob``."""
    nh = nhdr_struct(endian)
    off = 0
    while off + nh.size <= len(blob):
        namesz, descsz, _ = nh.unpack_from(blob, off)
        off += nh.size
        desc_off = off + align4(namesz)
        if desc_off + descsz > len(blob):
            return None
        if blob[off : off + namesz].rstrip(b"\0") == name:
            return desc_off, descsz
        if namesz == 0 and descsz == 0:
            return None
        off = desc_off + align4(descsz)
    return None


_CACHE: dict[str, struct.Struct] = {}


def _S(fmt: str) -> struct.Struct:
    s = _CACHE.get(fmt)
    if s is None:
        s = _CACHE[fmt] = struct.Struct(fmt)
    return s
