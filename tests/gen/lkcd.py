"""LKCD dumps (lcrash's format), from its published headers (facts, declared here again):

* the common header, packed: ``u64`` magic 0xa8190173618f23ed, ``u32`` version, header size,
  dump level, page size, ``u64`` memory size, first and last address (48 bytes);
* then, by version (all packed): v1 ``u32`` esp, eip, pages (at 48, 52, 56), the 256-byte panic
  string at 60, the time at 316 (32-bit kernel: two ``u32``) or 320 (64-bit: 4 bytes of padding,
  two ``u64``), the utsname (6 x 65 bytes) after it; v2-v7 ``u32`` pages at 48, panic string at 52,
  time at 308 (32-bit) or 312 (64-bit), utsname after it, 2 bytes of padding, the current task
  (``u32``/``u64``), then (v5+) ``u32`` compression, flags, device; v8-v10 ``u32`` pages at 48, panic
  string at 52, time (two ``u64``) at 308, utsname at 324, ``u64`` current task at 714, ``u32``
  compression at 722, flags, device, then (v9+) ``u64`` dump buffer size at 734: where the pages
  start (else 64 KiB);
* then one record per page: ``u64`` address, ``u32`` size, ``u32`` flags (1 raw, 2 compressed, 4 the
  end), the data; compression 0 none, 1 RLE (a 0 byte, a count n, the byte repeated n times; a
  count of 0 is a 0 byte), 2 zlib.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterable

MAGIC = 0xA8190173618F23ED


def rle_encode(data: bytes) -> bytes:
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        j = i
        while j < n and data[j] == b and j - i < 255:
            j += 1
        run = j - i
        if run >= 3 or b == 0:
            out += bytes([0, run, b]) if run > 1 or b != 0 else b"\0\0"
            i = j
        else:
            out.append(b)
            i += 1
    return bytes(out)


def _uts(fields: dict[str, str]) -> bytes:
    return b"".join(fields.get(k, "").encode().ljust(65, b"\0")[:64] + b"\0"
                    for k in ("sysname", "nodename", "release", "version", "machine", "domainname"))


def build_lkcd(path: str | os.PathLike[str], pages: Iterable[tuple[int, bytes]], *, version: int = 9,
               bits: int = 64, endian: str = "<", compression: int = 2, page_size: int = 4096,
               mem_size: int = 0, uts: dict[str, str] | None = None, raw_every: int = 0, buffer_size: int = 65536,
               end_marker: bool = True) -> int:
    """Write ``pages`` ((pfn, data) in the order given) as an LKCD dump.  ``raw_every``: every
    n-th page stored raw.  Returns the number of page records."""
    u = {"sysname": "Linux", "nodename": "gen", "release": "6.1.0-lkcd", "version": "#1 SMP", "machine": "x86_64",
         "domainname": "(none)"}
    u.update(uts or {})
    e = endian
    head = bytearray(max(buffer_size if version >= 9 else 65536, 4096))
    struct.pack_into(e + "QIIIIQQQ", head, 0, MAGIC, version, 742, 31, page_size, mem_size, 0, mem_size)
    if version == 1:
        struct.pack_into(e + "III", head, 48, 0xC0DE, 0xBEEF, 0)
        t, tsz = (316, 8) if bits == 32 else (320, 16)
        head[t + tsz : t + tsz + 390] = _uts(u)
    elif version <= 7:
        t, tsz = (308, 8) if bits == 32 else (312, 16)
        head[t + tsz : t + tsz + 390] = _uts(u)
        task = t + tsz + 392
        ptr = 4 if bits == 32 else 8
        if version >= 5:
            struct.pack_into(e + "III", head, task + ptr, compression, 0, 0)
    else:
        head[324:714] = _uts(u)
        struct.pack_into(e + "QIII", head, 714, 0xFFFF888000001000, compression, 0, 0)
        if version >= 9:
            struct.pack_into(e + "Q", head, 734, len(head))
    head[52 if version > 1 else 60 : 52 + 9 if version > 1 else 69] = b"sysrq-c\n\0"
    method = compression if version >= 5 else 1
    n = 0
    with open(path, "wb") as f:
        f.write(head)
        for i, (pfn, data) in enumerate(pages):
            assert len(data) == page_size
            raw = raw_every and i % raw_every == 0
            if not raw:
                packed = rle_encode(data) if method == 1 else zlib.compress(data) if method == 2 else data
                raw = method == 0 or len(packed) >= page_size
            body = data if raw else packed
            f.write(struct.pack(e + "QII", pfn * page_size, len(body), 1 if raw else 2) + body)
            n += 1
        if end_marker:
            f.write(struct.pack(e + "QII", 0, 0, 4))
    return n
