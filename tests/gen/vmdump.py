"""z/VM VMDUMP files, format 64big, from the format's description (facts, declared here again):

records of 4 KiB, big endian, identifiers in EBCDIC.

* record 1, the symptom record: at 0 "SR" (e2 d9), at 16 ``u64`` the TOD clock, at 56 the dump
  type "VMDUMP  " (e5 d4 c4 e4 d4 d7 40 40);
* record 2, the file map: "HCPDFMBK", then ``u32`` record numbers (from 1): the first dump file
  information record, the vector registers, the access list; then access list records, address
  spaces, the first address space's information record;
* the information record (1104 bytes) of the CPU that dumped: at 16 the 16 general registers,
  144 ``u32`` prefix, 187 the format (2: 64big), 192 the PSW (two ``u64``), 208 16 control
  registers, 560 16 ``u32`` access registers, 912 ``u16`` the number of other CPUs, whose records
  (552 bytes: 144 general registers, 272 PSW, 296 prefix, 336 access registers, 400 control
  registers) follow it;
* at the access list's record: "HCPDALBK"; the record after it, the address space's information
  record: "ASIZBK  ", at 72 ``u64`` the defined storage size, at 216 ``u32`` the ranges asked for,
  at 352 up to 64 (``u64`` first byte, ``u64`` last byte) pairs;
* then the bitmaps: index pages of 32768 bits (the top bit of byte 0 first), each bit a block of
  4096 pages: set, a key page follows, a byte a page, whose low bit says the page is stored;
  clear, the block is all zeros; index pages follow one another (each after its key pages)
  until all pages are covered; then the stored pages, in order.  A page not stored is zeros.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Mapping
from typing import Union

RS = 4096
EBCDIC = {"S": 0xE2, "R": 0xD9, "V": 0xE5, "M": 0xD4, "D": 0xC4, "U": 0xE4, "P": 0xD7, " ": 0x40, "H": 0xC8,
          "C": 0xC3, "F": 0xC6, "B": 0xC2, "K": 0xD2, "A": 0xC1, "L": 0xD3, "I": 0xC9, "Z": 0xE9}


def ebcdic(text: str) -> bytes:
    return bytes(EBCDIC[c] for c in text)


Pages = Union[Mapping[int, bytes], Callable[[int], bytes]]


def build_vmdump(path: str | os.PathLike[str], pages: Pages, storage: int, *, cpus: int = 2,
                 tod: int = 0xDE00_0000_0000_0000, fmt: int = 2, ranges: list[tuple[int, int]] | None = None,
                 regs: Mapping[int, list[int]] | None = None) -> None:
    """Write the storage of ``storage`` bytes whose pages ``pages`` (page number -> 4 KiB) holds
    (any other page is zeros; a page of zeros given is not stored either), or a function giving
    each page (read twice: to find the stored pages, then to write them).  ``regs``: CPU ->
    its 16 general registers (default: CPU n's register i is n * 0x100 + i)."""
    total = storage // RS
    adsr = bytearray(RS)
    adsr[0:2] = ebcdic("SR")
    struct.pack_into(">Q", adsr, 16, tod)
    adsr[56:64] = ebcdic("VMDUMP  ")
    rec_fir, rec_access = 3, 8  # records 3-7: information records; 8: the access list
    fmbk = bytearray(RS)
    struct.pack_into(">8s6I", fmbk, 0, ebcdic("HCPDFMBK"), rec_fir, 0, rec_access, 1, 1, rec_access + 1)
    fir = bytearray(5 * RS)
    regs = regs or {c: [c * 0x100 + i for i in range(16)] for c in range(cpus)}
    struct.pack_into(">16Q", fir, 16, *regs[0])
    struct.pack_into(">I", fir, 144, 0)
    fir[187] = fmt
    struct.pack_into(">QQ", fir, 192, 0x0704_0000_8000_0000, 0x1000 + 0)
    struct.pack_into(">16I", fir, 560, *range(16))
    struct.pack_into(">H", fir, 912, cpus - 1)
    for c in range(1, cpus):
        at = 1104 + (c - 1) * 552
        struct.pack_into(">H", fir, at, c)
        struct.pack_into(">16Q", fir, at + 144, *regs[c])
        struct.pack_into(">QQ", fir, at + 272, 0x0704_0000_8000_0000, 0x1000 + c)
        struct.pack_into(">I", fir, at + 296, 0x10000 * c)
        struct.pack_into(">16I", fir, at + 336, *(c * 16 + i for i in range(16)))
    albk = bytearray(RS)
    albk[0:8] = ebcdic("HCPDALBK")
    asi = bytearray(RS)
    asi[0:8] = ebcdic("ASIZBK  ")
    struct.pack_into(">Q", asi, 72, storage)
    rng = ranges if ranges is not None else [(0, storage - 1)]
    struct.pack_into(">I", asi, 216, len(rng))
    for i, (a, b) in enumerate(rng):
        struct.pack_into(">QQ", asi, 352 + 16 * i, a, b)
    zero = bytes(RS)
    if callable(pages):
        page_of = pages
    else:
        given = pages

        def page_of(p: int) -> bytes:
            return given.get(p, zero)
    stored = [p for p in range(total) if page_of(p) != zero]
    bitmaps = bytearray()
    blocks = -(-total // RS)
    have = set(stored)
    for first_block in range(0, blocks, 8 * RS):
        index = bytearray(RS)
        keys = bytearray()
        for blk in range(first_block, min(blocks, first_block + 8 * RS)):
            key = bytes(1 if blk * RS + j in have else 0 for j in range(RS))
            if any(key):
                index[(blk - first_block) // 8] |= 0x80 >> ((blk - first_block) % 8)
                keys += key
        bitmaps += index + keys
    with open(path, "wb") as f:
        f.write(adsr + fmbk + fir + albk + asi + bitmaps)
        for p in stored:
            data = page_of(p)
            assert len(data) == RS
            f.write(data)
