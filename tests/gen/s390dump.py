"""s390 stand-alone dumps (S390DUMP), from the format's description (facts, declared here):

a big-endian header, 4 KiB long: at 0 ``u64`` magic 0xa8190173618f23fd, 8 ``u32`` version,
12 ``u32`` header size, 16 ``u32`` dump level, 20 ``u32`` page size, 24 ``u64`` memory size,
32 ``u64`` first byte, 40 ``u64`` last byte, 48 ``u32`` pages, 56 ``u64`` TOD clock, 64 ``u64`` CPU
id, 72 ``u32`` architecture (1 s390, 2 s390x), 76 ``u32`` volume, 80 ``u32`` build architecture,
84 ``u64`` real memory size, 92 ``u8`` multi-volume flag, 93 ``u16`` CPUs, 95 ``u16`` real CPUs;
at 0x800 one ``u32`` lowcore prefix per CPU.  Then the memory from address 0, then ``DUMP_END``
and a ``u64`` TOD clock value not before the header's.  The extended format (magic ...fe) puts
the memory in segments, each after a 4 KiB header of ``u64`` first address, length and a flag on
the last one.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable

MAGIC = 0xA8190173618F23FD
MAGIC_EXT = 0xA8190173618F23FE


def build_s390dump_ext(path: str | os.PathLike[str], segments: list[tuple[int, bytes]], mem_size: int, *,
                       tod: int = 0xD5A0_0000_0000_0000) -> None:
    """The extended format (magic ...fe): after the header, each segment as a 4 KiB header (``u64``
    first address, length, last-segment flag) and its bytes; then the end marker."""
    head = bytearray(4096)
    struct.pack_into(">QIIIIQQQI", head, 0, MAGIC_EXT, 7, 4096, 4, 4096, mem_size, 0, mem_size - 1, mem_size // 4096)
    struct.pack_into(">QQIIIQBHH", head, 56, tod, 0, 2, 0, 2, mem_size, 0, 1, 1)
    with open(path, "wb") as f:
        f.write(head)
        for i, (start, data) in enumerate(segments):
            f.write(struct.pack(">QQQ", start, len(data), i == len(segments) - 1).ljust(4096, b"\0") + data)
        f.write(b"DUMP_END" + struct.pack(">Q", tod + 1))


def build_s390dump(path: str | os.PathLike[str], memory: Iterable[bytes], mem_size: int, *, arch: int = 2,
                   page_size: int = 4096, tod: int = 0xD5A0_0000_0000_0000, cpus: int = 2) -> None:
    """Write ``memory`` (chunks whose lengths add up to ``mem_size``) as an S390DUMP file."""
    head = bytearray(4096)
    struct.pack_into(">QIIIIQQQI", head, 0, MAGIC, 5, 4096, 4, page_size, mem_size, 0, mem_size - 1,
                     mem_size // page_size)
    struct.pack_into(">QQIIIQBHH", head, 56, tod, 0xFF00_0123_4567_8000, arch, 0, arch, mem_size, 0, cpus, cpus)
    for i in range(cpus):
        struct.pack_into(">I", head, 0x800 + 4 * i, 0x10000 * (i + 1))
    n = 0
    with open(path, "wb") as f:
        f.write(head)
        for chunk in memory:
            f.write(chunk)
            n += len(chunk)
        assert n == mem_size, (n, mem_size)
        f.write(b"DUMP_END" + struct.pack(">Q", tod + 1))
