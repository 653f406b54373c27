"""Type information from a kernel image with debug information (a vmlinux
with DWARF): what makedumpfile's ``-g VMCOREINFO -x VMLINUX`` writes.

The image is read as ELF by vmlinux.py (sections, symbols, data at an
address); this module reads its DWARF (versions 2 to 5: ``.debug_info``,
``.debug_abbrev``, ``.debug_str``, ``.debug_line_str``,
``.debug_str_offsets``, ``.debug_line``), in steps:

- ``Abbrevs``: the abbreviation tables, parsed when used (a few kept);
- ``Forms``: an attribute's value from its form;
- ``Dwarf``: one pass over the units of ``.debug_info`` indexes the named
  types, variables and enumerators (the unit index), of the names ``-g``
  asks about (``WANTED``) only: ``accel.dwarf_skip`` (accel/dwarf.c)
  passes over the other DIEs without decoding them, and the section is read through the mapped file,
  its pages let go as the pass goes on; a DIE and its children are decoded
  when asked for, and the type and member questions of ``-g`` (sizes,
  member offsets, array lengths) are answered from them;
- ``LineTables``: the file tables of ``.debug_line``, for the source file a
  type was declared in;
- ``generate_vmcoreinfo``: the VMCOREINFO text, in makedumpfile's order.

With the compiled module, Debian's 6.1 vmlinux (174 MB of .debug_info)
takes about 2 s and 70 MB (benchmarks/vmlinux.py); without it every DIE
is decoded in Python, about a minute.  The result is kept for the process.
"""

from __future__ import annotations

import bisect
import os
import struct
from array import array
from collections.abc import Iterator
from typing import NamedTuple

from .. import accel
from ..core.errors import CorruptDumpError, DumpError, UnsupportedDumpError
from ..core.record import dataclass, field
from ..formats import utsname
from .vmlinux import Elf, cstr

# tags
T_ARRAY, T_ENUM, T_MEMBER, T_POINTER, T_STRUCT, T_SUBRANGE, T_TYPEDEF, T_UNION = (
    0x01, 0x04, 0x0D, 0x0F, 0x13, 0x21, 0x16, 0x17)
T_ENUMERATOR, T_VARIABLE, T_CONST, T_VOLATILE = 0x28, 0x34, 0x26, 0x35
# attributes
A_NAME, A_BYTE_SIZE, A_TYPE, A_MEMBER_LOC, A_UPPER, A_COUNT, A_CONST_VALUE, A_DECL = (
    0x03, 0x0B, 0x49, 0x38, 0x2F, 0x37, 0x1C, 0x3C)
A_STR_OFFSETS_BASE = 0x72
A_STMT_LIST, A_COMP_DIR, A_DECL_FILE = 0x10, 0x1B, 0x3A
_INTERESTING_TOP = {T_STRUCT, T_UNION, T_TYPEDEF, T_ENUM, T_VARIABLE}
_NO_LAYOUT = array("I", [0]).tobytes()  # no code: accel.dwarf_skip stops at every DIE

# an abbreviation: tag, has children, [(attribute, form, implicit_const)]
Abbrev = tuple[int, bool, list[tuple[int, int, int]]]
AbbrevTable = dict[int, Abbrev]  # code -> abbreviation


class NoDebugInfoError(UnsupportedDumpError):
    """The kernel image has no DWARF (not a -dbg vmlinux)."""


class Unit(NamedTuple):
    """The header of a unit of .debug_info."""

    start: int
    end: int
    version: int
    addr_size: int
    offset_size: int  # 4, or 8 in 64-bit DWARF
    abbrev_off: int  # its abbreviation table in .debug_abbrev


@dataclass
class Die:
    offset: int
    tag: int
    attrs: dict[int, object]
    children: list[int] = field(default_factory=list)

    @property
    def name(self) -> str | None:
        v = self.attrs.get(A_NAME)
        return v if isinstance(v, str) else None

    @property
    def type_ref(self) -> int | None:
        """DW_AT_type: the offset of the DIE of this one's type, if it has one."""
        return self.attrs.get(A_TYPE)  # type: ignore[return-value]  # reference forms are read as ints


def _index0(b: bytes | memoryview, p: int) -> int:
    """The position of the first NUL at or after ``p`` (ValueError if
    there is none, as ``bytes.index``); ``b`` may be a memoryview."""
    if isinstance(b, bytes):
        return b.index(b"\0", p)
    n, step = len(b), 256
    while p < n:
        i = bytes(b[p : p + step]).find(b"\0")
        if i >= 0:
            return p + i
        p += step
        step = min(step * 4, 1 << 20)
    raise ValueError("subsection not found")


def uleb(b: bytes | memoryview, p: int) -> tuple[int, int]:
    """The unsigned LEB128 at ``p``, and the position after it."""
    r = s = 0
    while True:
        x = b[p]
        p += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, p


def sleb(b: bytes | memoryview, p: int) -> tuple[int, int]:
    """The signed LEB128 at ``p``, and the position after it."""
    r, end = uleb(b, p)
    if b[end - 1] & 0x40:  # the sign bit of the last byte
        r -= 1 << (7 * (end - p))
    return r, end


class Abbrevs:
    """The abbreviation tables of .debug_abbrev, each parsed on use; the
    last ``KEEP`` are kept (a vmlinux has thousands, one per unit)."""

    KEEP = 32

    def __init__(self, data: bytes | memoryview) -> None:
        self.data = data
        self._tables: dict[int, AbbrevTable] = {}

    def entry(self, p: int) -> tuple[int, Abbrev | None, int]:
        """The code and abbreviation at ``p`` (None for the code 0 that ends
        a table), and the position after it."""
        b = self.data
        code, p = uleb(b, p)
        if code == 0:
            return 0, None, p
        tag, p = uleb(b, p)
        children = b[p] != 0
        p += 1
        specs = []
        while True:
            at, p = uleb(b, p)
            form, p = uleb(b, p)
            ic = 0
            if form == 0x21:  # implicit_const
                ic, p = sleb(b, p)
            if at == 0 and form == 0:
                break
            specs.append((at, form, ic))
        return code, (tag, children, specs), p

    def table(self, off: int) -> AbbrevTable:
        """The table at offset ``off``."""
        t = self._tables.get(off)
        if t is not None:
            return t
        t = {}
        p = off
        while True:
            code, ab, p = self.entry(p)
            if ab is None:
                break
            t[code] = ab
        while len(self._tables) >= self.KEEP:
            self._tables.pop(next(iter(self._tables)))
        self._tables[off] = t
        return t


class Forms:
    """The values of attributes in .debug_info, read by their forms; strings
    come from the string sections."""

    def __init__(self, path: str, endian: str, info: bytes | memoryview, str_: bytes, line_str: bytes,
                 str_offsets: bytes) -> None:
        self.path = path
        self.e = endian
        self.info = info
        self.str = str_
        self.line_str = line_str
        self.str_offsets = str_offsets

    def read(self, form: int, p: int, cu: Unit, ic: int, str_base: int) -> tuple[object, int]:
        """The value of form ``form`` at ``p`` of unit ``cu``, and the position
        after it.  ``ic``: the abbreviation's implicit_const; ``str_base``: the
        unit's DW_AT_str_offsets_base.  References are made absolute (offsets
        in .debug_info); forms -g does not need are skipped (None)."""
        b, e = self.info, self.e
        start, _, version, asz, osz, _ = cu
        if form == 0x0B or form == 0x11:  # data1, ref1
            v: object = b[p]
            p += 1
        elif form == 0x05 or form == 0x12:  # data2, ref2
            v, = struct.unpack_from(e + "H", b, p)
            p += 2
        elif form == 0x06 or form == 0x13:  # data4, ref4
            v, = struct.unpack_from(e + "I", b, p)
            p += 4
        elif form == 0x07 or form == 0x14 or form == 0x20:  # data8, ref8, ref_sig8
            v, = struct.unpack_from(e + "Q", b, p)
            p += 8
        elif form == 0x0D:
            v, p = sleb(b, p)
        elif form == 0x0F or form == 0x15:  # udata, ref_udata
            v, p = uleb(b, p)
        elif form == 0x08:  # string
            end = _index0(b, p)
            v = bytes(b[p:end]).decode("utf-8", "replace")
            p = end + 1
        elif form in (0x0E, 0x1F, 0x17, 0x10, 0x1D):  # strp, line_strp, sec_offset, ref_addr, strp_sup
            size = osz if (form != 0x10 or version > 2) else asz
            so, = struct.unpack_from(e + ("Q" if size == 8 else "I"), b, p)
            p += size
            if form == 0x0E:
                v = cstr(self.str, so)
            elif form == 0x1F:
                v = cstr(self.line_str, so)
            else:
                v = so
        elif form == 0x01:  # addr
            v = int.from_bytes(b[p : p + asz], "little" if e == "<" else "big")
            p += asz
        elif form in (0x0A, 0x03, 0x04, 0x09, 0x18):  # block1/2/4, block, exprloc
            if form == 0x0A:
                n, p = b[p], p + 1
            elif form == 0x03:
                n, = struct.unpack_from(e + "H", b, p)
                p += 2
            elif form == 0x04:
                n, = struct.unpack_from(e + "I", b, p)
                p += 4
            else:
                n, p = uleb(b, p)
            v = bytes(b[p : p + n])
            p += n
        elif form == 0x0C:  # flag
            v, p = b[p] != 0, p + 1
        elif form == 0x19:  # flag_present
            v = True
        elif form == 0x21:
            v = ic
        elif form == 0x1E:  # data16
            v, p = bytes(b[p : p + 16]), p + 16
        elif form in (0x1A, 0x25, 0x26, 0x27, 0x28):  # strx, strx1-4
            if form == 0x1A:
                idx, p = uleb(b, p)
            else:
                n = {0x25: 1, 0x26: 2, 0x27: 3, 0x28: 4}[form]
                idx = int.from_bytes(b[p : p + n], "little" if e == "<" else "big")
                p += n
            at = str_base + idx * osz
            so, = struct.unpack_from(e + ("Q" if osz == 8 else "I"), self.str_offsets, at)
            v = cstr(self.str, so)
        elif form in (0x1B, 0x22, 0x23):  # addrx, loclistx, rnglistx: not needed
            v, p = uleb(b, p)
        elif form in (0x29, 0x2A, 0x2B, 0x2C):  # addrx1-4
            n = {0x29: 1, 0x2A: 2, 0x2B: 3, 0x2C: 4}[form]
            v, p = None, p + n
        elif form == 0x1C:  # ref_sup4
            v, p = None, p + 4
        elif form == 0x24:  # ref_sup8
            v, p = None, p + 8
        elif form == 0x16:  # indirect
            real, p = uleb(b, p)
            return self.read(real, p, cu, ic, str_base)
        else:
            raise UnsupportedDumpError(f"Cannot read DWARF: unknown form {form:#x}", self.path)
        if form in (0x11, 0x12, 0x13, 0x14, 0x15):  # CU-relative references made absolute
            v = start + v  # type: ignore[operator]  # the reference forms are read as ints
        return v, p


class LineTables:
    """The directory and file tables of the line-program headers of
    .debug_line, which DW_AT_decl_file indexes; the section is read on first use."""

    def __init__(self, elf: Elf, str_: bytes, line_str: bytes) -> None:
        self.elf = elf
        self.e = elf.e
        self.str = str_
        self.line_str = line_str
        self._line: bytes | memoryview | None = None

    def files(self, off: int, comp_dir: object) -> tuple[list[str | None], list[tuple[str, int]], int]:
        """(directories, [(file name, directory index)], version) of the header
        at ``off``; ``comp_dir``, the unit's DW_AT_comp_dir, is directory 0
        before DWARF 5."""
        b = self.elf.view(".debug_line") if self._line is None else self._line
        self._line = b
        e = self.e
        p = off
        length, = struct.unpack_from(e + "I", b, p)
        p += 4
        osz = 4
        if length == 0xFFFFFFFF:
            p += 8
            osz = 8
        version, = struct.unpack_from(e + "H", b, p)
        p += 2
        if version >= 5:
            p += 2  # address_size, segment_selector_size
        p += osz  # header_length
        p += 1 + (1 if version >= 4 else 0) + 3  # min_inst_length, max_ops, default_is_stmt, line_base, line_range
        opcode_base = b[p]
        p += 1 + opcode_base - 1
        dirs: list[str | None] = []
        files: list[tuple[str, int]] = []
        if version < 5:
            dirs.append(comp_dir if isinstance(comp_dir, str) else None)
            while b[p]:
                end = _index0(b, p)
                dirs.append(bytes(b[p:end]).decode("utf-8", "replace"))
                p = end + 1
            p += 1
            while b[p]:
                end = _index0(b, p)
                name = bytes(b[p:end]).decode("utf-8", "replace")
                p = end + 1
                d, p = uleb(b, p)
                _, p = uleb(b, p)
                _, p = uleb(b, p)
                files.append((name, d))
            return dirs, files, version
        d_ents, p = self._entries(b, p, osz)
        f_ents, p = self._entries(b, p, osz)
        dirs = [n if isinstance(n, str) else None for n in (x.get(1) for x in d_ents)]
        files = [(str(x.get(1, "")), int(x.get(2, 0))) for x in f_ents]
        return dirs, files, version

    def _entries(self, b: bytes | memoryview, p: int, osz: int) -> tuple[list[dict[int, str | int]], int]:
        """A DWARF 5 directory or file table at ``p``: its entry format, then
        the entries (content type -> value), and the position after it."""
        e = self.e
        nfmt = b[p]
        p += 1
        fmt = []
        for _ in range(nfmt):
            ct, p = uleb(b, p)
            fm, p = uleb(b, p)
            fmt.append((ct, fm))
        n, p = uleb(b, p)
        out = []
        for _ in range(n):
            ent: dict[int, str | int] = {}
            for ct, fm in fmt:
                if fm == 0x1F or fm == 0x0E:  # line_strp, strp
                    v, = struct.unpack_from(e + ("Q" if osz == 8 else "I"), b, p)
                    p += osz
                    ent[ct] = cstr(self.line_str if fm == 0x1F else self.str, v)
                elif fm == 0x08:
                    end = _index0(b, p)
                    ent[ct] = bytes(b[p:end]).decode("utf-8", "replace")
                    p = end + 1
                elif fm == 0x0F:
                    ent[ct], p = uleb(b, p)
                elif fm in (0x0B, 0x05, 0x06, 0x07, 0x1E):
                    n_ = {0x0B: 1, 0x05: 2, 0x06: 4, 0x07: 8, 0x1E: 16}[fm]
                    ent[ct] = int.from_bytes(b[p : p + n_], "little" if e == "<" else "big")
                    p += n_
                elif fm == 0x09:
                    n_, p = uleb(b, p)
                    p += n_
                else:
                    raise UnsupportedDumpError(f"Cannot read the line table: form {fm:#x}", self.elf.path)
            out.append(ent)
        return out, p


class Dwarf:
    """The DWARF of ``elf``: named types, variables and enumerators.

    ``names``: the only names the unit index keeps (all when None); what
    ``-g`` asks about is known beforehand (``WANTED``), and a DIE of another
    name is then passed over by ``accel.dwarf_skip`` (accel/dwarf.c) without
    being decoded.  .debug_info is read through a view of the mapped file,
    and the pages already walked are let go every ``RELEASE_EVERY`` bytes."""

    RELEASE_EVERY = 16 << 20

    def __init__(self, elf: Elf, names: frozenset[str] | None = None) -> None:
        self.elf = elf
        self.info = elf.view(".debug_info")
        if not self.info:
            raise NoDebugInfoError(
                "Cannot generate VMCOREINFO: no debug information (.debug_info) in this kernel image; "
                "use the vmlinux of the kernel's debug package", elf.path)
        self.names = names
        self._names_blob = (None if names is None else
                            b"".join(bytes((len(b),)) + b for b in (n.encode() for n in sorted(names))
                                     if len(b) < 256))
        self.abbrev = elf.view(".debug_abbrev")
        self.str = elf.section(".debug_str")
        self.line_str = elf.section(".debug_line_str")
        self.str_offsets = elf.section(".debug_str_offsets")
        self.e = elf.e
        self.abbrevs = Abbrevs(self.abbrev)
        self.forms = Forms(elf.path, self.e, self.info, self.str, self.line_str, self.str_offsets)
        self.lines = LineTables(elf, self.str, self.line_str)
        # the unit index
        self.cu_starts: list[int] = []
        self.cus: list[Unit] = []
        self.cu_first: list[int] = []  # offset of each unit's top DIE
        self.types: dict[tuple[int, str], list[int]] = {}  # (tag, name) -> offsets, complete definitions first
        self.variables: dict[str, int] = {}
        # the types of self.types that are declarations (DW_AT_declaration),
        # which struct_die passes over without reading them again
        self.declarations: set[int] = set()
        self.enumerators: dict[str, int] = {}
        released = 0
        try:
            for cu, p in self._unit_headers():
                self._index_unit(cu, p)
                if cu.end - released >= self.RELEASE_EVERY:
                    elf.release(".debug_info", released, cu.end)
                    released = cu.end
            elf.release(".debug_info", released, len(self.info))
        except (IndexError, KeyError, struct.error):
            raise CorruptDumpError("Cannot read DWARF: .debug_info is damaged", self.elf.path) from None

    # ---- the unit index --------------------------------------------------
    def _unit_headers(self) -> Iterator[tuple[Unit, int]]:
        """Each unit of .debug_info, with the offset of its top DIE."""
        b, e = self.info, self.e
        p = 0
        while p + 11 <= len(b):
            start = p
            length, = struct.unpack_from(e + "I", b, p)
            p += 4
            osz = 4
            if length == 0xFFFFFFFF:
                length, = struct.unpack_from(e + "Q", b, p)
                p += 8
                osz = 8
            end = p + length
            version, = struct.unpack_from(e + "H", b, p)
            p += 2
            if version >= 5:
                unit_type, asz = b[p], b[p + 1]
                p += 2
                abbrev_off, = struct.unpack_from(e + ("Q" if osz == 8 else "I"), b, p)
                p += osz
                if unit_type in (2, 6):  # type / split type units: signature + type offset
                    p += 8 + osz
                elif unit_type in (4, 5):  # skeleton / split compile: dwo id
                    p += 8
            else:
                abbrev_off, = struct.unpack_from(e + ("Q" if osz == 8 else "I"), b, p)
                p += osz
                asz = b[p]
                p += 1
            if end > len(b) or version < 2 or version > 5:
                raise CorruptDumpError(f"Cannot read DWARF: bad unit at {start:#x}", self.elf.path)
            yield Unit(start, end, version, asz, osz, abbrev_off), p
            p = end

    def _index_unit(self, cu: Unit, p: int) -> None:
        """Walk the DIEs of unit ``cu`` (top DIE at ``p``), noting the named
        types, the variables at the unit's top level and the enumerators
        (of ``self.names`` only, when given).  ``accel.dwarf_skip`` passes
        over the DIEs that cannot be kept; each DIE where it stops is
        decoded here."""
        self.cu_starts.append(cu.start)
        self.cus.append(cu)
        self.cu_first.append(p)
        # the abbreviations as accel.dwarf_skip reads them (accel/dwarf.c);
        # a table it leaves to Python is parsed here (and fails here if it
        # is damaged), and the walk then stops at every DIE.  Without the
        # compiled module every DIE is decoded here: the twin would only be
        # slower than that
        native = accel.dwarf_skip is not accel.dwarf_skip_python
        layout = accel.dwarf_layout(self.abbrev, cu.abbrev_off) if native else None
        if layout is None:
            self.abbrevs.table(cu.abbrev_off)
            layout = _NO_LAYOUT
        lay = memoryview(layout).cast("I")
        nlay = len(lay)
        abbrevs: dict[int, Abbrev] = {}

        def abbrev(code: int) -> Abbrev:
            """The abbreviation of ``code``: from the position the layout
            notes, else from the whole table (KeyError if it has none)."""
            a = abbrevs.get(code)
            if a is None:
                if 0 < code < lay[0] and 1 + code < nlay and lay[1 + code]:
                    a = self.abbrevs.entry(lay[lay[1 + code] + 4])[1]
                if a is None:
                    a = self.abbrevs.table(cu.abbrev_off)[code]
                abbrevs[code] = a
            return a

        info, read, end = self.info, self.forms.read, cu.end
        depth = 0
        str_base = 8 if cu.version >= 5 else 0
        enum_depth = -1
        skip, blob, wanted = accel.dwarf_skip, self._names_blob, self.names
        strs, line_strs, str_offsets = self.str, self.line_str, self.str_offsets
        big = self.e == ">"
        while p < end:
            if native:
                p, depth, enum_depth = skip(info, p, end, depth, enum_depth, layout, blob, strs, line_strs,
                                            str_offsets, str_base if 0 <= str_base < 1 << 62 else -1,
                                            cu.offset_size, cu.addr_size, cu.version, big)
                if p >= end:
                    break
            off = p
            code, p = uleb(info, p)
            if code == 0:
                depth -= 1
                if depth <= enum_depth:
                    enum_depth = -1
                continue
            tag, children, specs = abbrev(code)
            attrs: dict[int, object] = {}
            for at, form, ic in specs:
                v, p = read(form, p, cu, ic, str_base)
                attrs[at] = v
            if depth == 0 and A_STR_OFFSETS_BASE in attrs:
                str_base = int(attrs[A_STR_OFFSETS_BASE])  # type: ignore[call-overload]  # a sec_offset: an int
            name = attrs.get(A_NAME)
            if isinstance(name, str) and (wanted is None or name in wanted):
                if tag in _INTERESTING_TOP and tag != T_VARIABLE:
                    self.types.setdefault((tag, name), []).append(off)
                    if A_DECL in attrs:
                        self.declarations.add(off)
                elif tag == T_VARIABLE and depth == 1:
                    # a definition wins over an extern declaration
                    if A_DECL not in attrs or name not in self.variables:
                        self.variables[name] = off
                elif tag == T_ENUMERATOR and enum_depth >= 0:
                    cv = attrs.get(A_CONST_VALUE)
                    if isinstance(cv, int):
                        self.enumerators.setdefault(name, cv)
            if children:
                if tag == T_ENUM and enum_depth < 0:
                    enum_depth = depth
                depth += 1

    # ---- DIEs ------------------------------------------------------------
    def die(self, off: int) -> Die:
        """The DIE at ``off`` with the offsets of its children."""
        i = bisect.bisect_right(self.cu_starts, off) - 1
        cu = self.cus[i]
        table = self.abbrevs.table(cu.abbrev_off)
        str_base = 8 if cu.version >= 5 else 0
        info, read = self.info, self.forms.read
        p = off
        code, p = uleb(info, p)
        tag, children, specs = table[code]
        attrs: dict[int, object] = {}
        for at, form, ic in specs:
            attrs[at], p = read(form, p, cu, ic, str_base)
        d = Die(off, tag, attrs)
        if children:  # walk the subtree, noting the direct children
            depth = 0
            while p < cu.end:
                coff = p
                c, p = uleb(info, p)
                if c == 0:
                    if depth == 0:
                        break
                    depth -= 1
                    continue
                ctag, cch, cspecs = table[c]
                for _at, form, ic in cspecs:
                    _, p = read(form, p, cu, ic, str_base)
                if depth == 0:
                    d.children.append(coff)
                if cch:
                    depth += 1
        return d

    def die_header(self, cu: Unit, p: int) -> Die:
        """The unit's top DIE at ``p`` (without walking its children)."""
        table = self.abbrevs.table(cu.abbrev_off)
        code, p = uleb(self.info, p)
        tag, _, specs = table[code]
        attrs: dict[int, object] = {}
        for at, form, ic in specs:
            attrs[at], p = self.forms.read(form, p, cu, ic, 8)
        return Die(cu.start, tag, attrs)

    # ---- types and members -----------------------------------------------
    def _strip(self, off: int | None) -> Die | None:
        """The type at ``off`` past typedefs and qualifiers."""
        seen = 0
        while off is not None and seen < 64:
            d = self.die(off)
            if d.tag not in (T_TYPEDEF, T_CONST, T_VOLATILE):
                return d
            off = d.type_ref
            seen += 1
        return None

    def struct_die(self, name: str) -> Die | None:
        """The complete definition of struct or union ``name``."""
        for tag in (T_STRUCT, T_UNION):
            for off in self.types.get((tag, name), []):
                if off in self.declarations:
                    continue
                d = self.die(off)
                if A_DECL not in d.attrs:
                    return d
        return None

    def size_of(self, name: str) -> int | None:
        d = self.struct_die(name)
        v = d.attrs.get(A_BYTE_SIZE) if d else None
        return v if isinstance(v, int) else None

    def typedef_size(self, name: str) -> int | None:
        for off in self.types.get((T_TYPEDEF, name), []):
            t = self._strip(self.die(off).type_ref)
            v = t.attrs.get(A_BYTE_SIZE) if t else None
            if isinstance(v, int):
                return v
        return None

    def enum_size(self, name: str) -> int | None:
        for off in self.types.get((T_ENUM, name), []):
            v = self.die(off).attrs.get(A_BYTE_SIZE)
            if isinstance(v, int):
                return v
        return None

    @staticmethod
    def _location(v: object) -> int | None:
        """A DW_AT_data_member_location: a constant, or DW_OP_plus_uconst."""
        if isinstance(v, int):
            return v
        if isinstance(v, bytes) and v[:1] == b"\x23":  # DW_OP_plus_uconst
            return uleb(v, 1)[0]
        return None

    def _find_member(self, d: Die, member: str, depth: int = 0) -> tuple[int, Die] | None:
        """(offset, member DIE) of ``member`` in struct/union ``d``, looking
        into anonymous struct and union members, as makedumpfile does."""
        if depth > 16:
            return None
        for c in d.children:
            m = self.die(c)
            if m.tag != T_MEMBER:
                continue
            loc = self._location(m.attrs.get(A_MEMBER_LOC, 0))
            if m.name == member:
                return (loc or 0), m
            if m.name is None:
                t = self._strip(m.type_ref)
                if t is not None and t.tag in (T_STRUCT, T_UNION):
                    r = self._find_member(t, member, depth + 1)
                    if r is not None:
                        return (loc or 0) + r[0], r[1]
        return None

    def member_offset(self, struct_name: str, member: str) -> int | None:
        d = self.struct_die(struct_name)
        r = self._find_member(d, member) if d else None
        return r[0] if r else None

    def member_path_offset(self, struct_name: str, path: str) -> int | None:
        """The offset of ``a.b.c`` in ``struct_name``: member ``a``, member ``b`` of its type,
        and so on (each found as :meth:`member_offset` finds one)."""
        d = self.struct_die(struct_name)
        off = 0
        parts = path.split(".")
        for i, part in enumerate(parts):
            r = self._find_member(d, part) if d is not None else None
            if r is None:
                return None
            off += r[0]
            if i + 1 < len(parts):
                d = self._strip(r[1].type_ref)
                if d is None or d.tag not in (T_STRUCT, T_UNION):
                    return None
        return off

    def _array_length(self, type_off: int | None) -> int | None:
        t = self._strip(type_off)
        if t is None or t.tag != T_ARRAY:
            return None
        for c in t.children:
            s = self.die(c)
            if s.tag == T_SUBRANGE:
                count = s.attrs.get(A_COUNT)
                if isinstance(count, int):
                    return count
                upper = s.attrs.get(A_UPPER)
                if isinstance(upper, int):
                    return upper + 1
                return None
        return None

    def member_array_length(self, struct_name: str, member: str) -> int | None:
        d = self.struct_die(struct_name)
        r = self._find_member(d, member) if d else None
        return self._array_length(r[1].type_ref) if r else None

    def variable_array_length(self, name: str) -> int | None:
        """makedumpfile's length of a variable that is an array: its type, past
        one ``const``, must be the array itself (a typedef is not looked through)."""
        off = self.variables.get(name)
        if off is None:
            return None
        t = self.die(off).type_ref
        if t is None:
            return None
        d = self.die(t)
        if d.tag == T_CONST:
            d = self.die(d.type_ref) if d.type_ref is not None else d
        return self._array_length(d.offset) if d.tag == T_ARRAY else None

    def variable_is_array(self, name: str) -> bool:
        off = self.variables.get(name)
        t = self.die(off).type_ref if off is not None else None
        return t is not None and self.die(t).tag == T_ARRAY

    # ---- source files ----------------------------------------------------
    def decl_file(self, off: int) -> str | None:
        """The file a DIE was declared in (DW_AT_decl_file through the line
        table of its unit), joined to its directory as libdw does."""
        idx = self.die(off).attrs.get(A_DECL_FILE)
        if not isinstance(idx, int):
            return None
        i = bisect.bisect_right(self.cu_starts, off) - 1
        top = self.die_header(self.cus[i], self.cu_first[i])
        stmt = top.attrs.get(A_STMT_LIST)
        if not isinstance(stmt, int):
            return None
        dirs, files, version = self.lines.files(stmt, top.attrs.get(A_COMP_DIR))
        i = idx if version >= 5 else idx - 1
        if not 0 <= i < len(files):
            return None
        name, d = files[i]
        if name.startswith("/"):
            return name
        base = dirs[d] if 0 <= d < len(dirs) else None
        return f"{base}/{name}" if base else name


# What makedumpfile's write_vmcoreinfo_data() writes, in its order
SYMBOLS = ("mem_map", "vmem_map", "mem_section", "pkmap_count", "pkmap_count_next", "system_utsname", "init_uts_ns",
           "_stext", "swapper_pg_dir", "init_level4_pgt", "level4_kernel_pgt", "init_top_pgt", "vmlist",
           "vmap_area_list", "node_online_map", "node_states", "node_data", "pgdat_list", "contig_page_data", "prb",
           "clear_seq", "log_buf", "log_buf_len", "log_end", "log_first_idx", "clear_idx", "log_next_idx", "max_pfn",
           "high_memory", "node_remap_start_vaddr", "node_remap_end_vaddr", "node_remap_start_pfn", "vmemmap_list",
           "mmu_psize_defs", "mmu_vmemmap_psize", "cpu_pgd", "demote_segment_4k", "cur_cpu_spec", "free_huge_page")
SIZES = ("page", "mem_section", "pglist_data", "zone", "free_area", "list_head", "node_memblk_s")
PRINTK_RB = ("printk_ringbuffer.desc_ring", "printk_ringbuffer.text_data_ring", "prb_desc_ring.count_bits",
             "prb_desc_ring.descs", "prb_desc_ring.infos", "prb_desc_ring.head_id", "prb_desc_ring.tail_id",
             "prb_desc.state_var", "prb_desc.text_blk_lpos", "prb_data_blk_lpos.begin", "prb_data_blk_lpos.next",
             "prb_data_ring.size_bits", "prb_data_ring.data", "printk_info.ts_nsec", "printk_info.text_len",
             "printk_info.caller_id", "atomic_long_t.counter", "latched_seq.val")
OFFSETS_A = ("page.flags",)
OFFSETS_B = ("page.mapping", "page.lru", "page._mapcount", "page.private", "page.compound_dtor",
             "page.compound_order", "page.compound_head", "folio._folio_dtor", "folio._folio_order",
             "mem_section.section_mem_map", "pglist_data.node_zones", "pglist_data.nr_zones",
             "pglist_data.node_mem_map", "pglist_data.node_start_pfn", "pglist_data.node_spanned_pages",
             "pglist_data.pgdat_next", "zone.free_pages", "zone.free_area", "zone.vm_stat", "zone.spanned_pages",
             "free_area.free_list", "list_head.next", "list_head.prev", "node_memblk_s.start_paddr",
             "node_memblk_s.size", "node_memblk_s.nid", "vm_struct.addr", "vmap_area.va_start", "vmap_area.list")
OFFSETS_C = ("vmemmap_backing.phys", "vmemmap_backing.virt_addr", "vmemmap_backing.list", "mmu_psize_def.shift",
             "cpu_spec.mmu_features", "uts_namespace.name")
NUMBERS = ("NR_FREE_PAGES", "N_ONLINE", "pgtable_l5_enabled", "sme_mask", "PG_lru", "PG_private", "PG_head_mask",
           "PG_swapcache", "PG_swapbacked", "PG_buddy", "PG_slab", "PG_hwpoison", "PG_hugetlb",
           "PAGE_BUDDY_MAPCOUNT_VALUE", "PAGE_OFFLINE_MAPCOUNT_VALUE", "PAGE_UNACCEPTED_MAPCOUNT_VALUE", "phys_base",
           "KERNEL_IMAGE_SIZE", "HUGETLB_PAGE_DTOR")
# every name _generate asks the unit index about: the structures (by the
# part of a key before its dot), typedefs, enums, variables and enumerators
WANTED = frozenset(
    {k.partition(".")[0] for k in OFFSETS_A + OFFSETS_B + PRINTK_RB + OFFSETS_C}
    | set(SIZES) | set(NUMBERS)
    | {"printk_ringbuffer", "prb_desc", "printk_info", "latched_seq", "printk_log", "log", "vmemmap_backing",
       "mmu_psize_def", "nodemask_t", "pageflags", "pud_t", "node_data", "pgdat_list", "mem_section",
       "node_memblk", "node_remap_start_pfn", "zone", "free_area", "PG_head", "PG_compound", "uts_namespace"})
LEN_SRCFILE = 100  # makedumpfile's buffer for a source file name
FOUND_ARRAY_TYPE = (1 << 63) - 2  # makedumpfile's LONG_MAX - 1


_CACHE: dict[tuple[str, int, int, int | None], bytes] = {}  # the last images read, in this process


def generate_vmcoreinfo(vmlinux: str, page_size: int | None = None) -> bytes:
    """The VMCOREINFO text makedumpfile's ``-g`` writes for ``vmlinux``.

    :raises NoDebugInfoError: the image has no DWARF.
    :raises CorruptDumpError: the ELF or DWARF contradicts itself.
    """
    try:
        st = os.stat(vmlinux)
    except OSError as e:
        raise DumpError(f"Cannot read: {e.strerror}", vmlinux) from None
    key = (os.path.realpath(vmlinux), st.st_mtime_ns, st.st_size, page_size)
    if key in _CACHE:
        return _CACHE[key]
    try:
        out = _generate(vmlinux, page_size)
        while len(_CACHE) >= 4:  # a few images: a long-lived process must not grow
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = out
        return out
    except (IndexError, KeyError, ValueError, TypeError, OverflowError, struct.error, RecursionError) as e:
        raise CorruptDumpError(f"Cannot read the debug information: {type(e).__name__}", vmlinux) from None


def _generate(vmlinux: str, page_size: int | None) -> bytes:
    elf = Elf(vmlinux)
    dw = Dwarf(elf, WANTED)
    syms = elf.symbols()
    lines: list[str] = []

    def out(key: str, value: int | None, fmt: str = "{}") -> None:
        if value is not None:
            lines.append(f"{key}={fmt.format(value)}")

    uts = syms.get("init_uts_ns", syms.get("system_utsname"))
    if uts is None:
        raise UnsupportedDumpError("Cannot generate VMCOREINFO: no symbol init_uts_ns or system_utsname", vmlinux)
    name_off = dw.member_offset("uts_namespace", "name") if "init_uts_ns" in syms else 0
    raw = elf.read_addr(uts + (name_off or 0), utsname.SIZE)
    if raw is None:
        raise UnsupportedDumpError("Cannot generate VMCOREINFO: the kernel release is not in the image", vmlinux)
    release = utsname.decode(raw)["release"]
    lines.append(f"OSRELEASE={release}")
    lines.append(f"PAGESIZE={page_size or os.sysconf('SC_PAGE_SIZE')}")
    for s in SYMBOLS:
        out(f"SYMBOL({s})", syms.get(s), "{:x}")
    for s in SIZES:
        out(f"SIZE({s})", dw.size_of(s))
    out("SIZE(nodemask_t)", dw.typedef_size("nodemask_t"))
    out("SIZE(pageflags)", dw.enum_size("pageflags"))
    if "prb" in syms:
        for s in ("printk_ringbuffer", "prb_desc", "printk_info", "latched_seq"):
            out(f"SIZE({s})", dw.size_of(s))
    elif dw.struct_die("printk_log") is not None:
        out("SIZE(printk_log)", dw.size_of("printk_log"))
    else:
        out("SIZE(log)", dw.size_of("log"))
    for s in ("vmemmap_backing", "mmu_psize_def"):
        out(f"SIZE({s})", dw.size_of(s))

    def off(key: str) -> int | None:
        st, _, mem = key.partition(".")
        if st == "atomic_long_t":
            # the last typedef of the name is the one that counts (one per
            # unit that includes it: only that one is read)
            size_die = None
            for o in dw.types.get((T_TYPEDEF, st), [])[-1:]:
                size_die = dw._strip(dw.die(o).type_ref)
            r = dw._find_member(size_die, mem) if size_die else None
            return r[0] if r else None
        return dw.member_offset(st, mem)

    for k in OFFSETS_A:
        out(f"OFFSET({k})", off(k))
    rc = off("page._refcount")
    if rc is not None:
        out("OFFSET(page._refcount)", rc)
    else:
        out("OFFSET(page._count)", off("page._count"))
    for k in OFFSETS_B:
        v = off(k)
        if k == "page.compound_head" and v is None:
            v = off("page.compound_info")
        out(f"OFFSET({k})", v)
    if "prb" in syms:
        for k in PRINTK_RB:
            out(f"OFFSET({k})", off(k))
    elif dw.struct_die("printk_log") is not None:
        for k in ("ts_nsec", "len", "text_len", "caller_id"):
            out(f"OFFSET(printk_log.{k})", off(f"printk_log.{k}"))
    else:
        for k in ("ts_nsec", "len", "text_len"):
            out(f"OFFSET(log.{k})", off(f"log.{k}"))
    for k in OFFSETS_C:
        out(f"OFFSET({k})", off(k))
    # node_data: makedumpfile only notes that it is an array, with the value
    # LONG_MAX - 1 (FOUND_ARRAY_TYPE); it is written as it writes it
    if "node_data" in syms and dw.variable_is_array("node_data"):
        out("LENGTH(node_data)", FOUND_ARRAY_TYPE)
    for s in ("pgdat_list", "mem_section", "node_memblk", "node_remap_start_pfn"):
        if s in syms:
            out(f"LENGTH({s})", dw.variable_array_length(s))
    out("LENGTH(zone.free_area)", dw.member_array_length("zone", "free_area"))
    out("LENGTH(free_area.free_list)", dw.member_array_length("free_area", "free_list"))
    en = dict(dw.enumerators)
    if "PG_head_mask" not in en:
        head = en.get("PG_head", en.get("PG_compound"))
        if head is not None:
            en["PG_head_mask"] = 1 << head
    for n in NUMBERS:
        out(f"NUMBER({n})", en.get(n))
    for off_ in dw.types.get((T_TYPEDEF, "pud_t"), [])[:1]:
        src = dw.decl_file(off_)
        if src:
            lines.append(f"SRCFILE(pud_t)={src[:LEN_SRCFILE - 1]}")
    return ("\n".join(lines) + "\n").encode()


__all__ = ["Dwarf", "Elf", "NoDebugInfoError", "generate_vmcoreinfo"]
