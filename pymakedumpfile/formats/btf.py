"""BTF, the kernel's compact type format (``CONFIG_DEBUG_INFO_BTF``): the header, the type
records and what follows each one.

A blob is a header, then the type section (records, one after the other; the first is type
1, type 0 is ``void``), then the string section (NUL-terminated names, offset 0 is "").  A
record is ``name_off, info, size_or_type`` (three u32), where ``info`` holds the kind (bits
24-28), ``vlen`` (bits 0-15, the number of members/parameters/values) and ``kind_flag``
(bit 31), followed by a kind-specific part.  A split blob (a module's) continues the type
IDs and string offsets of its base (the kernel's).  docs/btf.md has the layout in full.
"""

from __future__ import annotations

import struct

from ..core.hints import ClassVar
from ..core.record import dataclass

BTF_MAGIC = 0xEB9F

# kinds
INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF = 1, 2, 3, 4, 5, 6, 7, 8
VOLATILE, CONST, RESTRICT, FUNC, FUNC_PROTO, VAR, DATASEC = 9, 10, 11, 12, 13, 14, 15
FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = 16, 17, 18, 19
KIND_MAX = ENUM64

VAR_STATIC, VAR_GLOBAL_ALLOCATED, VAR_GLOBAL_EXTERN = 0, 1, 2  # btf_var.linkage


@dataclass(frozen=True)
class Header:
    """struct btf_header: where the type and string sections are, from the end of the header."""

    magic: int
    version: int
    flags: int
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int

    _FMT: ClassVar[str] = "HBBIIIII"

    @classmethod
    def struct(cls, endian: str) -> struct.Struct:
        return struct.Struct(endian + cls._FMT)

    @classmethod
    def unpack(cls, buf: bytes, endian: str) -> Header:
        return cls(*cls.struct(endian).unpack_from(buf, 0))

    def pack(self, endian: str) -> bytes:
        return self.struct(endian).pack(self.magic, self.version, self.flags, self.hdr_len, self.type_off,
                                         self.type_len, self.str_off, self.str_len)


def record(endian: str) -> struct.Struct:
    """struct btf_type: name_off, info, size (or type)."""
    return struct.Struct(endian + "III")


def kind_of(info: int) -> int:
    return (info >> 24) & 0x1F


def vlen_of(info: int) -> int:
    return info & 0xFFFF


def kind_flag(info: int) -> bool:
    return bool(info >> 31)


def info(kind: int, vlen: int = 0, flag: bool = False) -> int:
    return (int(flag) << 31) | (kind << 24) | vlen


# the part after a record: (fixed bytes, bytes per vlen item)
TRAILER = {
    INT: (4, 0),  # encoding, offset, bits
    ARRAY: (12, 0),  # btf_array: type, index_type, nelems
    STRUCT: (0, 12),  # btf_member: name_off, type, offset (in bits; with kind_flag: bitfield size << 24)
    UNION: (0, 12),
    ENUM: (0, 8),  # btf_enum: name_off, val
    FUNC_PROTO: (0, 8),  # btf_param: name_off, type
    VAR: (4, 0),  # btf_var: linkage
    DATASEC: (0, 12),  # btf_var_secinfo: type, offset, size
    DECL_TAG: (4, 0),  # component_idx
    ENUM64: (0, 12),  # btf_enum64: name_off, val_lo32, val_hi32
}


def trailer_size(kind: int, vlen: int) -> int:
    fixed, each = TRAILER.get(kind, (0, 0))
    return fixed + each * vlen


def array(endian: str) -> struct.Struct:
    """struct btf_array: element type, index type, number of elements."""
    return struct.Struct(endian + "III")


def member(endian: str) -> struct.Struct:
    """struct btf_member: name_off, type, offset."""
    return struct.Struct(endian + "III")


def member_bit_offset(offset: int, flag: bool) -> int:
    """The bit offset of a member (with the kind_flag, the low 24 bits; the high 8 are the
    bitfield's size)."""
    return offset & 0xFFFFFF if flag else offset


__all__ = ["BTF_MAGIC", "Header", "array", "info", "kind_of", "member", "record", "trailer_size", "vlen_of"]
