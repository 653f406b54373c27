"""Pure-Python twins of ``accel/dwarf.c``: the layout of an abbreviation
table (:func:`dwarf_layout_python`), and the walk over the DIEs of a unit of
.debug_info that passes over the DIEs the unit index of
:mod:`pymakedumpfile.input.dwarf` would not keep and stops at the first one
that index must decode (:func:`dwarf_skip_python`).  accel/dwarf.c lists
when it stops; these twins give the same results (tests/unit/test_accel.py
compares them).
"""

from __future__ import annotations

from array import array

from ..core.hints import Any, Literal

T_ENUM, T_STRUCT, T_TYPEDEF, T_UNION, T_ENUMERATOR, T_VARIABLE = 0x04, 0x13, 0x16, 0x17, 0x28, 0x34
_FIXED = {0x0B: 1, 0x11: 1, 0x0C: 1, 0x05: 2, 0x12: 2, 0x06: 4, 0x13: 4, 0x07: 8, 0x14: 8, 0x20: 8, 0x1E: 16,
          0x29: 1, 0x2A: 2, 0x2B: 3, 0x2C: 4, 0x1C: 4, 0x24: 8}
_LEBS = frozenset((0x0D, 0x0F, 0x15, 0x1B, 0x22, 0x23))
_STRX = frozenset((0x1A, 0x25, 0x26, 0x27, 0x28))


class _Stop(Exception):
    """The DIE being walked is one for Python to decode."""


def _leb_val(b: Any, n: int, p: int) -> tuple[int, int]:
    """A LEB128 of at most 9 bytes (63 bits) and the position after it."""
    r = s = 0
    while True:
        if p >= n or s >= 63:
            raise _Stop
        x = b[p]
        p += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, p


def _leb_skip(b: Any, n: int, p: int) -> int:
    while True:
        if p >= n:
            raise _Stop
        x = b[p]
        p += 1
        if x < 0x80:
            return p


def _cstr(s: Any, off: int) -> bytes:
    """The bytes of the NUL-terminated string at ``off`` (to the end if
    unterminated, empty past it)."""
    if off >= len(s):
        return b""
    tail = bytes(s[off:])
    z = tail.find(b"\0")
    return tail if z < 0 else tail[:z]


def _names(names: bytes | None) -> frozenset[bytes] | None:
    if names is None:
        return None
    out, i = set(), 0
    while i < len(names):
        ln = names[i]
        out.add(bytes(names[i + 1 : i + 1 + ln]))
        i += 1 + ln
    return frozenset(out)


def dwarf_skip_python(info: Any, p: int, end: int, depth: int, enum_depth: int, layout: Any,
                      names: bytes | None, str_: Any, line_str: Any, str_offsets: Any, str_base: int,
                      osz: int, asz: int, version: int, big: bool) -> tuple[int, int, int]:
    """From ``p`` (before ``end``), with the depth and enum depth given, pass
    over the DIEs up to the first one the unit index must decode; returns its
    offset (``end`` or more when there is none), and the depth and enum
    depth before it.  ``layout``: the unit's abbreviations as uint32s
    (``[ncodes, entry offset of code 0..ncodes-1 (0: none)...]``, each entry
    ``[tag, has children, index of the name attribute (~0: none), count,
    position of the code in .debug_abbrev, forms...]``, as
    :func:`dwarf_layout_python` makes it); ``names``: the names wanted (a length byte and the bytes,
    each), None for every name; ``str_base`` < 0: unknown."""
    if osz not in (4, 8):
        raise ValueError("dwarf_skip: bad offset size or layout")
    lay = memoryview(layout).cast("B").cast("I")
    wanted = _names(names)
    b, n, nlay = info, len(info), len(lay)
    ncodes = lay[0] if nlay else 0
    order: Literal["little", "big"] = "big" if big else "little"
    so_len = len(str_offsets)
    while p < end:
        q = p
        try:
            code, p = _leb_val(b, n, p)
            if code == 0:
                depth -= 1
                if depth <= enum_depth:
                    enum_depth = -1
                continue
            if depth == 0 or code >= ncodes or 1 + code >= nlay or lay[1 + code] == 0:
                raise _Stop
            e = lay[1 + code]
            if e + 5 > nlay:
                raise _Stop
            tag, children, name_idx, nspecs = lay[e], lay[e + 1] != 0, lay[e + 2], lay[e + 3]
            if e + 5 + nspecs > nlay:
                raise _Stop
            name_form = name_pos = 0
            for k in range(nspecs):
                form = lay[e + 5 + k]
                if k == name_idx:
                    name_form, name_pos = form, p
                ln = _FIXED.get(form)
                if ln is None and form == 0x01:
                    ln = asz
                if ln is not None:
                    if ln > n - p:
                        raise _Stop
                    p += ln
                elif form in _LEBS:
                    p = _leb_skip(b, n, p)
                elif form == 0x08:
                    if p >= n:
                        raise _Stop
                    z = _find0(b, p, n)
                    if z < 0:
                        raise _Stop
                    p = z + 1
                elif form in (0x0E, 0x1F, 0x17, 0x10, 0x1D):
                    size = osz if (form != 0x10 or version > 2) else asz
                    if p + (8 if size == 8 else 4) > n:
                        raise _Stop
                    p += size
                elif form in (0x0A, 0x03, 0x04, 0x09, 0x18):
                    if form in (0x0A, 0x03, 0x04):
                        w = 1 if form == 0x0A else 2 if form == 0x03 else 4
                        if p + w > n:
                            raise _Stop
                        ln = int.from_bytes(b[p : p + w], order)
                        p += w
                    else:
                        ln, p = _leb_val(b, n, p)
                    if ln > n - p:
                        raise _Stop
                    p += ln
                elif form in (0x19, 0x21):
                    pass
                elif form in _STRX:
                    if form == 0x1A:
                        v, p = _leb_val(b, n, p)
                    else:
                        w = form - 0x24
                        if p + w > n:
                            raise _Stop
                        v = int.from_bytes(b[p : p + w], order)
                        p += w
                    if str_base < 0 or v > so_len // osz or str_base + v * osz + osz > so_len:
                        raise _Stop
                else:
                    raise _Stop
            interesting = (tag in (T_STRUCT, T_UNION, T_TYPEDEF, T_ENUM) or (tag == T_VARIABLE and depth == 1)
                           or (tag == T_ENUMERATOR and enum_depth >= 0))
            if interesting and name_idx < nspecs:
                s: bytes | None = None
                w = 8 if osz == 8 else 4
                if name_form == 0x08:
                    s = bytes(b[name_pos : _find0(b, name_pos, n)])
                elif name_form in (0x0E, 0x1F):
                    so = int.from_bytes(b[name_pos : name_pos + w], order)
                    s = _cstr(str_ if name_form == 0x0E else line_str, so)
                elif name_form in _STRX:
                    if name_form == 0x1A:
                        v = _leb_val(b, n, name_pos)[0]
                    else:
                        v = int.from_bytes(b[name_pos : name_pos + name_form - 0x24], order)
                    at = str_base + v * osz
                    so = int.from_bytes(str_offsets[at : at + w], order)
                    s = _cstr(str_, so)
                if s is not None and (wanted is None or s in wanted):
                    raise _Stop
            if children:
                if tag == T_ENUM and enum_depth < 0:
                    enum_depth = depth
                depth += 1
        except _Stop:
            p = q
            break
    return p, depth, enum_depth


def dwarf_layout_python(abbrev: Any, off: int) -> bytes | None:
    """The abbreviation table at ``off`` of .debug_abbrev as
    :func:`dwarf_skip_python` reads it (uint32s in the machine's order):
    ``[ncodes, entry offset of each code 0..ncodes-1 (0: none)...]``, then
    an entry for each definition of a code below 65536, in the table's
    order, ``[tag, has children, index of its last DW_AT_name (~0: none),
    count, position of the code in .debug_abbrev, forms...]`` (a code
    defined twice points at its last).  None when the table runs off the
    end, has a LEB128 longer than 9 bytes or a position from 2^32 up (the
    reader of pymakedumpfile/input/dwarf.py then parses it itself)."""
    b, n, p = abbrev, len(abbrev), off
    defs: list[tuple[int, list[int]]] = []
    used = maxc = 0
    try:
        while True:
            pos = p
            code, p = _leb_val(b, n, p)
            if code == 0:
                break
            if pos > 0xFFFFFFFF:
                raise _Stop
            tag, p = _leb_val(b, n, p)
            if p >= n:
                raise _Stop
            children = int(b[p] != 0)
            p += 1
            name_idx = 0xFFFFFFFF
            forms: list[int] = []
            while True:
                at, p = _leb_val(b, n, p)
                form, p = _leb_val(b, n, p)
                if form == 0x21:
                    p = _leb_skip(b, n, p)
                if at == 0 and form == 0:
                    break
                if at == 0x03:
                    name_idx = len(forms)
                forms.append(min(form, 0xFFFFFFFF))
            if code < 65536:
                maxc = max(maxc, code + 1)
                defs.append((code, [min(tag, 0xFFFFFFFF), children, name_idx, len(forms), pos, *forms]))
                used += 5 + len(forms)
                if 1 + 65536 + used > 0x7FFFFFFF:
                    raise _Stop
    except _Stop:
        return None
    out = array("I", [maxc] + [0] * maxc)
    for code, words in defs:
        out[1 + code] = len(out)
        out.extend(words)
    return out.tobytes()


def _find0(b: Any, p: int, n: int) -> int:
    """The position of the first NUL at or after ``p`` in ``b[:n]``, or -1."""
    step = 256
    while p < n:
        i = bytes(b[p : min(p + step, n)]).find(b"\0")
        if i >= 0:
            return p + i
        p += step
        step = min(step * 4, 1 << 20)
    return -1
