"""The kernel's own symbol table (kallsyms), read from the dump's memory where VMCOREINFO
says its arrays are (``SYMBOL(kallsyms_names)`` and the rest, Linux 6.0 and later and some
stable kernels): symbols without a kernel image.

The names are compressed: each symbol is a length (one byte, or two when the first has bit 7
set) and that many indexes into a table of 256 tokens; the expanded name's first character is
the symbol's type letter (as ``nm`` prints it: upper case for a global symbol).  The
addresses are either ``kallsyms_addresses`` (one word per symbol) or 32-bit
``kallsyms_offsets``: from ``kallsyms_relative_base``, or (a kernel with absolute per-CPU
symbols, x86_64 before 6.15) a non-negative offset is the address and a negative one
``base - 1 - offset``, or (Linux 7.0 and later, no relative base) from the offset's own
address.  Which one the kernel used is found by decoding ``_stext`` each way against
VMCOREINFO's ``SYMBOL(_stext)``.
docs/btf.md describes the layout.
"""

from __future__ import annotations

import struct

from ..core.errors import CorruptDumpError, DumpError, UnsupportedDumpError
from ..core.hints import Any

NEEDED = ("kallsyms_names", "kallsyms_num_syms", "kallsyms_token_table", "kallsyms_token_index")
MAX_SYMS = 1 << 22  # a count beyond this is a broken table, not a kernel
CHUNK = 1 << 20


def has_kallsyms(vmcoreinfo: Any) -> bool:
    """Whether VMCOREINFO says where the kernel's kallsyms arrays are."""
    syms = vmcoreinfo.SYMBOL
    return all(n in syms for n in NEEDED) and ("kallsyms_addresses" in syms or "kallsyms_offsets" in syms)


class Kallsyms:
    """name -> address of every symbol of the kernel's table; where a name is there more than
    once (static symbols of several files), a global symbol wins, then the lowest address."""

    def __init__(self, mem: Any, vmcoreinfo: Any, source: str) -> None:
        self.source = source
        if not has_kallsyms(vmcoreinfo):
            raise UnsupportedDumpError("Cannot find the kernel's symbols: its VMCOREINFO does not say where "
                                       "kallsyms is (Linux 6.0 and later have it)", source)
        sym = vmcoreinfo.SYMBOL
        e = "<" if mem.byte_order == "little" else ">"
        try:
            n = mem.u32(sym["kallsyms_num_syms"])
            if not 0 < n <= MAX_SYMS:
                raise CorruptDumpError(f"Cannot read kallsyms: it says it has {n} symbols", source)
            index = struct.unpack(f"{e}256H", mem.read(sym["kallsyms_token_index"], 512))
            tokens_at = sym["kallsyms_token_table"]
            table = mem.read(tokens_at, max(index) + 1)
            while table.find(b"\0", max(index)) < 0 and len(table) < max(index) + 4096:
                table += mem.read(tokens_at + len(table), 16)  # the last token's end
            tokens = []
            for i in index:
                z = table.find(b"\0", i)
                if z < 0:
                    raise CorruptDumpError("Cannot read kallsyms: a token has no end", source)
                tokens.append(table[i:z])
            names = self._names(mem, sym["kallsyms_names"], n, tokens)
            addrs = self._addresses(mem, sym, n, e, names)
        except DumpError as err:
            if isinstance(err, (CorruptDumpError, UnsupportedDumpError)):
                raise
            raise CorruptDumpError(f"Cannot read kallsyms: {err}", source) from None
        best: dict[str, tuple[bool, int]] = {}  # name -> (not global, address): the least wins
        for (kind, name), a in zip(names, addrs):
            key = (not kind.isupper(), a)
            if name not in best or key < best[name]:
                best[name] = key
        self.symbols: dict[str, int] = {name: a for name, (_, a) in best.items()}
        self.count = n

    def _names(self, mem: Any, at: int, n: int, tokens: list[bytes]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        buf, p, start = b"", 0, at  # start: the address of buf[0]

        def need(k: int) -> None:
            nonlocal buf, p, start
            if len(buf) - p >= k:
                return
            start += p
            buf = buf[p:]
            p = 0
            try:
                buf += mem.read(start + len(buf), CHUNK)
            except DumpError:  # near the end of what the dump holds: only what is needed
                buf += mem.read(start + len(buf), k - len(buf))

        for _ in range(n):
            need(2)
            ln = buf[p]
            p += 1
            if ln & 0x80:  # a long name: its length takes two bytes
                ln = (ln & 0x7F) | (buf[p] << 7)
                p += 1
            need(ln)
            s = b"".join([tokens[b] for b in buf[p : p + ln]])
            p += ln
            if not s:
                raise CorruptDumpError("Cannot read kallsyms: an empty name", self.source)
            out.append((chr(s[0]), s[1:].decode("ascii", "replace")))
        return out

    def _addresses(self, mem: Any, sym: dict[str, int], n: int, e: str, names: list) -> list[int]:
        if "kallsyms_addresses" in sym:
            w = mem.ptr_size
            raw = mem.read(sym["kallsyms_addresses"], n * w)
            return list(struct.unpack(f"{e}{n}{'Q' if w == 8 else 'I'}", raw))
        at_offs = sym["kallsyms_offsets"]
        offs = struct.unpack(f"{e}{n}i", mem.read(at_offs, 4 * n))
        mask = (1 << (8 * mem.ptr_size)) - 1
        ways = {}
        if "kallsyms_relative_base" in sym:
            base = mem.ptr(sym["kallsyms_relative_base"])
            ways["relative"] = lambda i, o: (base + (o & 0xFFFFFFFF)) & mask
            ways["absolute per-CPU"] = lambda i, o: o if o >= 0 else (base - 1 - o) & mask
        ways["place-relative"] = lambda i, o: (at_offs + 4 * i + o) & mask  # Linux 7.0 and later
        stext = sym.get("_stext")
        at = [i for i, (_, nm) in enumerate(names) if nm == "_stext"]
        if stext is None or not at:
            if "relative" not in ways:
                raise UnsupportedDumpError("Cannot read kallsyms: without _stext, its addresses cannot be told",
                                           self.source)
            how = ways["relative"]
        else:
            want, i = stext, at[0]
            fit = [f for f in ways.values() if f(i, offs[i]) == want]
            if not fit:
                raise CorruptDumpError(f"Cannot read kallsyms: _stext decodes to none of {want:#x}'s readings",
                                       self.source)
            how = fit[0]
        return [how(i, o) for i, o in enumerate(offs)]


__all__ = ["Kallsyms", "has_kallsyms"]
