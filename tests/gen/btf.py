"""A BTF writer for synthetic kernels, declared from the format (docs/btf.md), not from
pymakedumpfile.formats.btf.

Header (24 bytes): u16 magic 0xeb9f, u8 version 1, u8 flags, u32 hdr_len, u32 type_off,
u32 type_len, u32 str_off, u32 str_len (offsets count from the end of the header).
A type: u32 name_off, u32 info (kind << 24 | vlen, bit 31 kind_flag), u32 size-or-type, then
per kind: INT u32; ARRAY 3*u32 (type, index_type, nelems); STRUCT/UNION vlen * 3*u32 (name_off,
type, bit offset); ENUM vlen * 2*u32; FUNC_PROTO vlen * 2*u32; VAR u32 linkage;
DATASEC vlen * 3*u32 (type, offset, size).
"""

from __future__ import annotations

import struct

K_INT, K_PTR, K_ARRAY, K_STRUCT, K_UNION, K_ENUM, K_FWD, K_TYPEDEF = 1, 2, 3, 4, 5, 6, 7, 8
K_VOLATILE, K_CONST, K_FUNC_PROTO, K_VAR, K_DATASEC = 9, 10, 13, 14, 15


class BtfWriter:
    """Types are added one by one; each call returns the new type's ID (the first is 1, or
    the next after a base blob's last for a split blob)."""

    def __init__(self, endian: str = "<", base: BtfWriter | None = None) -> None:
        self.e = endian
        self.base = base
        self.recs: list[bytes] = []
        self.first = (base.first + len(base.recs)) if base is not None else 1
        self.str_base = len(base.strings()) if base is not None else 0
        self.strs = bytearray(b"" if base is not None else b"\0")
        self.offs: dict[str, int] = {}

    def strings(self) -> bytes:
        return bytes(self.strs)

    def name(self, s: str) -> int:
        if not s:
            return 0
        if s not in self.offs:
            self.offs[s] = self.str_base + len(self.strs)
            self.strs += s.encode() + b"\0"
        return self.offs[s]

    def _add(self, name: str, kind: int, vlen: int, size_or_type: int, tail: bytes = b"", flag: bool = False) -> int:
        info = (int(flag) << 31) | (kind << 24) | vlen
        self.recs.append(struct.pack(self.e + "III", self.name(name), info, size_or_type) + tail)
        return self.first + len(self.recs) - 1

    def int_(self, name: str, size: int, signed: bool = False) -> int:
        return self._add(name, K_INT, 0, size, struct.pack(self.e + "I", (int(signed) << 24) | (8 * size)))

    def ptr(self, to: int) -> int:
        return self._add("", K_PTR, 0, to)

    def typedef(self, name: str, to: int) -> int:
        return self._add(name, K_TYPEDEF, 0, to)

    def const(self, to: int) -> int:
        return self._add("", K_CONST, 0, to)

    def volatile(self, to: int) -> int:
        return self._add("", K_VOLATILE, 0, to)

    def array(self, elem: int, index: int, n: int) -> int:
        return self._add("", K_ARRAY, 0, 0, struct.pack(self.e + "III", elem, index, n))

    def fwd(self, name: str, union: bool = False) -> int:
        return self._add(name, K_FWD, 0, 0, flag=union)

    def struct(self, name: str, size: int, members: list[tuple[str, int, int]], union: bool = False,
               bitfields: bool = False) -> int:
        """members: (name, type, offset in BITS); with ``bitfields``, the offset word holds
        the bitfield size in its top 8 bits (pass it already combined)."""
        tail = b"".join(struct.pack(self.e + "III", self.name(n), t, o) for n, t, o in members)
        return self._add(name, K_UNION if union else K_STRUCT, len(members), size, tail, flag=bitfields)

    def placeholder(self) -> int:
        """A structure to be filled in later (for self-referencing lists): returns its ID."""
        self.recs.append(b"")
        return self.first + len(self.recs) - 1

    def fill(self, tid: int, name: str, size: int, members: list[tuple[str, int, int]]) -> None:
        i = tid - self.first
        tail = b"".join(struct.pack(self.e + "III", self.name(n), t, o) for n, t, o in members)
        self.recs[i] = struct.pack(self.e + "III", self.name(name), (K_STRUCT << 24) | len(members), size) + tail

    def enum(self, name: str, size: int, values: list[tuple[str, int]]) -> int:
        tail = b"".join(struct.pack(self.e + "Ii", self.name(n), v) for n, v in values)
        return self._add(name, K_ENUM, len(values), size, tail)

    def var(self, name: str, tid: int, linkage: int = 1) -> int:
        return self._add(name, K_VAR, 0, tid, struct.pack(self.e + "I", linkage))

    def datasec(self, name: str, size: int, entries: list[tuple[int, int, int]]) -> int:
        tail = b"".join(struct.pack(self.e + "III", *x) for x in entries)
        return self._add(name, K_DATASEC, len(entries), size, tail)

    def blob(self) -> bytes:
        types = b"".join(self.recs)
        strs = bytes(self.strs)
        hdr = struct.pack(self.e + "HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strs))
        return hdr + types + strs


__all__ = ["BtfWriter"]
