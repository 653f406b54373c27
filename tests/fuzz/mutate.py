"""A structure-blind but header-aware byte mutator, for the engines that are
not libFuzzer (the hypothesis tests and ``run_mutate.py``).

A mutation is a list of operations ``(op, a, b, c)`` of plain integers, so
hypothesis can draw and shrink them and a random generator can make them;
:func:`apply_ops` gives the same bytes for the same operations.  Positions
lean towards the first 4 KiB and to aligned words, where dump headers keep
their sizes, offsets and counts; values lean towards the ones that break
size arithmetic (0, -1, powers of two, the input's own length).
"""

from __future__ import annotations

import random
import struct

INTERESTING = [
    0, 1, 2, 3, 4, 7, 8, 16, 24, 32, 63, 64, 100, 127, 128, 255, 256, 511, 512, 1000, 1023, 1024, 4095, 4096,
    4097, 8192, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 1 << 20, (1 << 20) + 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
    1 << 32, 1 << 40, 1 << 52, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000, 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFE,
    0xFFFFFFFF80000000, 0xFFFF888000000000, 0xFFFFEA0000000000,
]
WIDTHS = [(1, "B"), (2, "H"), (4, "I"), (8, "Q")]
NOPS = 12


def _pos(data: bytearray, a: int, align: int = 1) -> int:
    """A position from ``a``: mostly in the first 4 KiB, mostly aligned."""
    n = len(data)
    if n == 0:
        return 0
    if a & 3:  # 3 in 4: the headers
        p = (a >> 2) % min(n, 4096 + 512)
    else:
        p = (a >> 2) % n
    if align > 1 and a & 0x30:
        p -= p % align
    return p


def _put_int(data: bytearray, pos: int, value: int, width: int, fmt: str, big: bool) -> None:
    if pos + width > len(data):
        return
    value &= (1 << (8 * width)) - 1
    struct.pack_into((">" if big else "<") + fmt, data, pos, value)


def apply_ops(data: bytes, ops: list[tuple[int, int, int, int]], pool: list[bytes] | None = None) -> bytes:
    """``data`` changed by ``ops``; ``pool`` holds other inputs to splice from."""
    d = bytearray(data)
    for op, a, b, c in ops:
        op %= NOPS
        n = len(d)
        if op == 0 and n:  # flip a bit
            p = _pos(d, a)
            d[p] ^= 1 << (b & 7)
        elif op == 1 and n:  # set a byte
            d[_pos(d, a)] = b & 0xFF
        elif op in (2, 3):  # an interesting integer, any width, either byte order
            width, fmt = WIDTHS[b % 4]
            v = INTERESTING[c % len(INTERESTING)]
            if (c >> 8) & 1:
                v = -v
            _put_int(d, _pos(d, a, width), v, width, fmt, bool((b >> 2) & 1))
        elif op == 4:  # add a small delta to an integer
            width, fmt = WIDTHS[b % 4]
            p = _pos(d, a, width)
            if p + width <= n:
                big = bool((b >> 2) & 1)
                v = struct.unpack_from((">" if big else "<") + fmt, d, p)[0]
                _put_int(d, p, v + ((c % 33) - 16 or 1), width, fmt, big)
        elif op == 5:  # a value tied to the input: its length, or near it
            width, fmt = WIDTHS[2 + b % 2]
            v = n + ((c % 17) - 8)
            if (c >> 5) & 1:
                v = (v // 4096) if (c >> 6) & 1 else v * 8
            _put_int(d, _pos(d, a, width), v, width, fmt, bool((b >> 2) & 1))
        elif op == 6 and n:  # delete a chunk
            p = _pos(d, a)
            del d[p : p + 1 + b % 256]
        elif op == 7:  # insert bytes
            p = _pos(d, a) if n else 0
            fill = bytes([c & 0xFF]) * (1 + b % 64) if b & 1 else random.Random(c).randbytes(1 + b % 64)
            d[p:p] = fill
        elif op == 8 and n:  # copy a chunk elsewhere (overwrite)
            src, dst = _pos(d, a), _pos(d, c)
            chunk = d[src : src + 1 + b % 64]
            d[dst : dst + len(chunk)] = chunk
        elif op == 9 and n > 1:  # truncate
            keep = (a % n) if a & 1 else n - 1 - (a >> 1) % min(n - 1, 4096)
            del d[max(keep, 1) :]
        elif op == 10 and pool:  # splice: a piece of another input at the same offset
            other = pool[c % len(pool)]
            if other:
                p = _pos(d, a) if n else 0
                chunk = other[p : p + 1 + b % 512]
                d[p : p + len(chunk)] = chunk
        elif op == 11 and n:  # fill a range with one byte (zeros, 0xff)
            p = _pos(d, a)
            d[p : p + 1 + b % 128] = bytes([0xFF if c & 1 else 0]) * len(d[p : p + 1 + b % 128])
    return bytes(d)


def random_ops(rng: random.Random, max_ops: int = 6) -> list[tuple[int, int, int, int]]:
    k = 1 + min(rng.randrange(max_ops), rng.randrange(max_ops))  # mostly few
    return [(rng.randrange(NOPS), rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16)) for _ in range(k)]


def mutate(data: bytes, rng: random.Random, pool: list[bytes] | None = None) -> bytes:
    return apply_ops(data, random_ops(rng), pool)
