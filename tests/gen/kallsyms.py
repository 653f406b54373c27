"""kallsyms tables for synthetic kernels, from the layout docs/btf.md gives (not from
pymakedumpfile.translate.kallsyms).

kallsyms_names: per symbol a length (one byte below 0x80; else two, low 7 bits first with
bit 7 set in the first) then that many token indexes; the tokens spell the type letter then
the name.  kallsyms_token_table: NUL-terminated tokens; kallsyms_token_index: 256 u16
offsets into it.  Addresses: kallsyms_addresses (words), or s32 kallsyms_offsets with a
kallsyms_relative_base word, "relative" (base + u32 offset) or "absolute_percpu"
(offset >= 0 is the address; else base - 1 - offset); or "place_relative" (no base: the
address of the offset itself plus the s32 offset), which needs ``offsets_at``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass
class KallsymsTables:
    names: bytes
    token_table: bytes
    token_index: bytes
    num_syms: bytes
    offsets: bytes  # kallsyms_offsets, or kallsyms_addresses in "addresses" mode
    relative_base: bytes  # b"" in "addresses" mode


def kallsyms_tables(symbols: list[tuple[str, str, int]], *, mode: str = "absolute_percpu",
                    endian: str = "<", multi: tuple[str, ...] = ("init_", "_ns", "ecre"),
                    percpu: frozenset[str] = frozenset(), offsets_at: int = 0) -> KallsymsTables:
    """``symbols``: (type letter, name, address), in the order to store them.  ``percpu``
    names are stored as absolute values in "absolute_percpu" mode."""
    chars = sorted({c for t, n, _ in symbols for c in t + n})
    tokens = list(multi) + [c for c in chars if c not in multi]
    if len(tokens) > 256:
        raise ValueError("too many distinct characters for one token table")
    tokens += [f"\x01{i}" for i in range(256 - len(tokens))]  # unused
    table, index = b"", []
    for tok in tokens:
        index.append(len(table))
        table += tok.encode("latin-1") + b"\0"
    names = bytearray()
    for t, n, _ in symbols:
        s, enc = t + n, []
        i = 0
        while i < len(s):
            for k, tok in enumerate(multi):
                if s.startswith(tok, i):
                    enc.append(k)
                    i += len(tok)
                    break
            else:
                enc.append(tokens.index(s[i]))
                i += 1
        if len(enc) < 0x80:
            names.append(len(enc))
        else:
            names += bytes([(len(enc) & 0x7F) | 0x80, len(enc) >> 7])
        names += bytes(enc)
    addrs = [a for _, _, a in symbols]
    if mode == "addresses":
        offs, rb = struct.pack(f"{endian}{len(addrs)}Q", *addrs), b""
    elif mode == "place_relative":
        offs = struct.pack(f"{endian}{len(addrs)}i", *[a - (offsets_at + 4 * i) for i, a in enumerate(addrs)])
        rb = b""
    else:
        base = min(a for (_, n, a) in symbols if n not in percpu)
        out = []
        for _, n, a in symbols:
            if mode == "relative":
                out.append(a - base)
            elif n in percpu:
                out.append(a)
            else:
                out.append(base - 1 - a)
        offs = struct.pack(f"{endian}{len(out)}" + ("I" if mode == "relative" else "i"), *out)
        rb = struct.pack(endian + "Q", base)
    return KallsymsTables(bytes(names), table, struct.pack(f"{endian}256H", *index),
                          struct.pack(endian + "I", len(symbols)), offs, rb)


def place_kallsyms(mem: bytearray, k: KallsymsTables, at: int, virt: int) -> dict[str, object]:
    """Write the tables into ``mem`` (physical memory) from offset ``at``, in 4 KiB (names,
    token table at +0x800, its index at +0xC00, the count at +0xE00, the relative base at
    +0xE08, the offsets at +0xF00); ``virt``: the kernel address of ``mem[0]``.  Returns the
    VMCOREINFO lines that say where they are."""
    places = {"names": 0, "token_table": 0x800, "token_index": 0xC00, "num_syms": 0xE00, "relative_base": 0xE08,
              "offsets": 0xF00}
    out: dict[str, object] = {}
    for f, off in places.items():
        b = getattr(k, f)
        mem[at + off : at + off + len(b)] = b
        out[f"SYMBOL(kallsyms_{f})"] = virt + at + off
    return out


__all__ = ["KallsymsTables", "kallsyms_tables", "place_kallsyms"]
