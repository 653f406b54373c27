"""Reading BTF: the kernel's types from its ``.BTF`` blob (in a kernel image, in the dump's
memory between ``__start_BTF`` and ``__stop_BTF``, or saved from ``/sys/kernel/btf``).

:class:`Btf` parses a blob once into a list of records (index = type ID) and indexes the
names of structures, unions, forward declarations and variables.  A module's blob is split:
its IDs and string offsets continue those of the kernel's (``base``).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from ..core.errors import CorruptDumpError, UnsupportedDumpError
from ..formats import btf as F


class Type(NamedTuple):
    """One record: ``kind``, ``name`` ("" for none), ``size_or_type`` (a size for INT, STRUCT,
    UNION, ENUM, DATASEC, FLOAT; a type ID for the others), ``flag`` (kind_flag) and
    ``extra``: for ARRAY (element type, nelems); for STRUCT/UNION (where its members start
    in the type section, their number), read by :meth:`Btf.members`; for VAR its linkage;
    for DATASEC (where its entries start, their number); otherwise ()."""

    kind: int
    name: str
    size_or_type: int
    flag: bool
    extra: tuple


class Btf:
    """The types of one blob (plus those of ``base`` for a split blob)."""

    def __init__(self, blob: bytes, source: str, base: Btf | None = None) -> None:
        self.source = source
        self.base = base
        if len(blob) < 24:
            raise CorruptDumpError("Cannot read BTF: shorter than its header", source)
        endian = "<" if int.from_bytes(blob[:2], "little") == F.BTF_MAGIC else ">"
        h = F.Header.unpack(blob, endian)
        if h.magic != F.BTF_MAGIC:
            raise UnsupportedDumpError("Cannot read BTF: no BTF magic", source)
        if h.version != 1:
            raise UnsupportedDumpError(f"Cannot read BTF version {h.version}", source)
        t0, s0 = h.hdr_len + h.type_off, h.hdr_len + h.str_off
        if t0 + h.type_len > len(blob) or s0 + h.str_len > len(blob):
            raise CorruptDumpError("Cannot read BTF: its sections run past its end", source)
        self.endian = endian
        self.strings: bytes = (base.strings if base is not None else b"") + bytes(blob[s0 : s0 + h.str_len])
        self.types: list[Type] = list(base.types) if base is not None else [Type(0, "void", 0, False, ())]
        self.first_id = len(self.types)
        self.sec = bytes(blob[t0 : t0 + h.type_len])
        self._parse()
        self.named: dict[str, list[int]] = {}  # struct/union/fwd name -> IDs, in order
        self.variables: dict[str, list[int]] = {}  # VAR name -> IDs
        for i, t in enumerate(self.types):
            if t.kind in (F.STRUCT, F.UNION, F.FWD) and t.name:
                self.named.setdefault(t.name, []).append(i)
            elif t.kind == F.VAR:
                self.variables.setdefault(t.name, []).append(i)

    def _name(self, off: int) -> str:
        """The string at ``off`` (a split blob's offsets count on from its base's strings)."""
        end = self.strings.find(b"\0", off)
        if off >= len(self.strings) or end < 0:
            raise CorruptDumpError(f"Cannot read BTF: a name at {off} is past its strings", self.source)
        return self.strings[off:end].decode("utf-8", "replace")

    def _parse(self) -> None:
        sec, e = self.sec, self.endian
        rec, three, u32 = F.record(e), F.array(e), struct.Struct(e + "I")
        p, end = 0, len(sec)
        try:
            while p < end:
                name_off, info, st = rec.unpack_from(sec, p)
                p += rec.size
                kind, vlen = F.kind_of(info), F.vlen_of(info)
                if not 0 < kind <= F.KIND_MAX:
                    raise CorruptDumpError(f"Cannot read BTF: type {len(self.types)} has unknown kind {kind}",
                                           self.source)
                extra: tuple = ()
                if kind == F.ARRAY:
                    elem, _index, n = three.unpack_from(sec, p)
                    extra = (elem, n)
                elif kind in (F.STRUCT, F.UNION):
                    extra = (p, vlen)
                elif kind == F.VAR:
                    extra = (u32.unpack_from(sec, p)[0],)
                elif kind == F.DATASEC:
                    extra = (p, vlen)
                p += F.trailer_size(kind, vlen)
                self.types.append(Type(kind, self._name(name_off) if name_off else "", st, F.kind_flag(info), extra))
        except struct.error:
            raise CorruptDumpError(f"Cannot read BTF: type {len(self.types)} runs past the type section",
                                   self.source) from None
        if p != end:
            raise CorruptDumpError("Cannot read BTF: the last type runs past the type section", self.source)

    def members(self, tid: int) -> list[tuple[str, int, int]]:
        """(name, type ID, bit offset) of each member of structure or union ``tid``."""
        t = self[tid]
        if t.kind not in (F.STRUCT, F.UNION):
            return []
        owner = self
        while owner.base is not None and tid < owner.first_id:
            owner = owner.base  # a base type's members are in the base's section
        at, n = t.extra
        m = F.member(self.endian)
        out = []
        for k in range(n):
            mn, mt, mo = m.unpack_from(owner.sec, at + 12 * k)
            out.append((self._name(mn) if mn else "", mt, F.member_bit_offset(mo, t.flag)))
        return out

    def __getitem__(self, tid: int) -> Type:
        if not 0 <= tid < len(self.types):
            raise CorruptDumpError(f"Cannot read BTF: no type {tid}", self.source)
        return self.types[tid]

    def struct(self, name: str) -> int | None:
        """The ID of the first complete structure or union called ``name``."""
        for i in self.named.get(name, ()):
            if self.types[i].kind in (F.STRUCT, F.UNION):
                return i
        return None

    def variable(self, name: str) -> int | None:
        """The type ID of variable ``name``: a global one before a static one of that name."""
        ids = self.variables.get(name, [])
        for i in ids:
            if self.types[i].extra and self.types[i].extra[0] != F.VAR_STATIC:
                return self.types[i].size_or_type
        return self.types[ids[0]].size_or_type if ids else None

    def global_variables(self) -> bool:
        """Whether variables other than per-CPU ones are described (a kernel's BTF has only its
        per-CPU variables unless pahole's global_var was on)."""
        percpu: set[int] = set()
        entry = F.array(self.endian)  # btf_var_secinfo: type, offset, size
        for t in self.types[self.first_id :]:
            if t.kind == F.DATASEC and t.name == ".data..percpu":
                at, n = t.extra
                percpu.update(entry.unpack_from(self.sec, at + 12 * k)[0] for k in range(n))
        return any(i not in percpu for ids in self.variables.values() for i in ids)

    def skip(self, tid: int) -> int:
        """``tid`` past typedefs and qualifiers."""
        seen = 0
        while self[tid].kind in (F.TYPEDEF, F.VOLATILE, F.CONST, F.RESTRICT, F.TYPE_TAG) and seen < 64:
            tid = self.types[tid].size_or_type
            seen += 1
        return tid


def btf_of_elf(path: str) -> bytes | None:
    """The ``.BTF`` section of an ELF file, None if it has none."""
    from .vmlinux import Elf

    elf = Elf(path)
    if ".BTF" not in elf.sections:
        return None
    return bytes(elf.section(".BTF"))


def read_btf_file(path: str, base: Btf | None = None) -> Btf:
    """A BTF file: a raw blob (as ``/sys/kernel/btf/*`` gives it) or an ELF file's ``.BTF``."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
            if head == b"\x7fELF":
                blob = btf_of_elf(path)
                if blob is None:
                    raise UnsupportedDumpError("Cannot use as BTF: an ELF file without a .BTF section", path)
            else:
                blob = head + f.read()
    except OSError as e:
        raise CorruptDumpError(f"Cannot read: {e.strerror}", path) from None
    return Btf(blob, path, base)


__all__ = ["Btf", "Type", "btf_of_elf", "read_btf_file"]
