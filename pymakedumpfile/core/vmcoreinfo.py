"""VMCOREINFO: the kernel's ``KEY=VALUE`` description of itself.

Parsed once into typed lookups.  Kinds follow the kernel's
``kernel/vmcore_info.c`` macros: ``SYMBOL(x)`` (hex address), ``OFFSET(t.m)``,
``SIZE(t)``, ``LENGTH(x)`` (decimal) and ``NUMBER(x)`` (decimal, may be
negative; printed with ``%ld``).  Plain keys (OSRELEASE, PAGESIZE,
KERNELOFFSET (hex), CRASHTIME ...) stay strings in :attr:`lines`.
"""

from __future__ import annotations

import re

_KIND = re.compile(r"^(SYMBOL|OFFSET|SIZE|LENGTH|NUMBER)\((.*)\)$")
_HEX_KEYS = {"KERNELOFFSET", "phys_base"}
# What the kernel's printf formats can print: SYMBOL and the hex keys are
# unsigned longs (%lx), the rest longs (%ld; %lu values are far below 2**63).
# A value outside is garbage; it would overflow every fixed-width field
# (struct.pack, array("q"), C) that later receives it.
_U64 = (0, 1 << 64)
_S64 = (-(1 << 63), 1 << 63)


class VmcoreInfo:
    """Parsed VMCOREINFO text.

    :ivar raw: the note's bytes as found.
    :ivar lines: every ``KEY=VALUE`` line, the value as a string.
    :ivar SYMBOL: ``name -> address``; likewise ``OFFSET``, ``SIZE``,
        ``LENGTH``, ``NUMBER`` map names to integers.
    """

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.lines: dict[str, str] = {}
        self.SYMBOL: dict[str, int] = {}
        self.OFFSET: dict[str, int] = {}
        self.SIZE: dict[str, int] = {}
        self.LENGTH: dict[str, int] = {}
        self.NUMBER: dict[str, int] = {}
        text = raw.split(b"\0", 1)[0].decode("ascii", "replace")
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if not sep or not key:
                continue
            self.lines[key] = value
            m = _KIND.match(key)
            if not m:
                continue
            kind, name = m.groups()
            try:
                num = int(value, 16) if kind == "SYMBOL" else _int(value)
            except ValueError:
                continue  # a malformed value is kept only in lines
            lo, hi = _U64 if kind == "SYMBOL" else _S64
            if lo <= num < hi:
                getattr(self, kind)[name] = num  # else: not a kernel's, kept only in lines

    def get_int(self, key: str, default: int | None = None) -> int | None:
        """A plain key's value as an integer (KERNELOFFSET is hex)."""
        v = self.lines.get(key)
        if v is None:
            return default
        try:
            num = int(v, 16) if key in _HEX_KEYS else _int(v)
        except ValueError:
            return default
        lo, hi = _U64 if key in _HEX_KEYS else _S64
        return num if lo <= num < hi else default

    def number_u64(self, name: str) -> int | None:
        """``NUMBER(name)`` as an unsigned 64-bit value, also where it does not fit the signed
        range ``NUMBER`` keeps (arm64 prints ``kimage_voffset``, ``KERNELPACMASK`` and
        ``PHYS_OFFSET`` in hex, often past 2**63)."""
        v = self.lines.get(f"NUMBER({name})")
        if v is None:
            return None
        try:
            n = _int(v)
        except ValueError:
            return None
        return n % (1 << 64) if -(1 << 63) <= n < (1 << 64) else None

    @property
    def osrelease(self) -> str | None:
        return self.lines.get("OSRELEASE")

    @property
    def page_size(self) -> int | None:
        return self.get_int("PAGESIZE")

    def __bool__(self) -> bool:
        return bool(self.lines)


def _int(v: str) -> int:
    v = v.strip()
    if v.lower().startswith(("0x", "-0x")):
        return int(v, 16)
    return int(v, 10)
