"""SADUMP files (Fujitsu's firmware dumps), single partition or media backup, from the published
layout (facts, declared here again):

* partition header (packed, little endian): ``u32`` signature "sadu", "mp\\0\\0", enable, reboot,
  compress, recycle, 16 ``u32`` of label, three 16-byte GUIDs (system, disk set, volume), a
  16-byte EFI time, ``u32`` disk number in a set (0: single partition), ``u32`` padding, ``u64``
  bytes used (168 bytes); then magic numbers to the end of the block, each ``u32`` 11 * (previous +
  7): where they end is the block size;
* a media backup file has a 4 KiB media header first (GUIDs, time, sequence number ...);
* dump header, one block: "sadump\\0\\0", ``u32`` version, pad, EFI time, ``u32`` status, compress,
  block size, extra header blocks, sub header blocks, bitmap blocks, dumpable bitmap blocks,
  max_mapnr, RAM blocks, device blocks, written blocks, current CPU, CPUs, pad, then ``u64``
  max_mapnr, RAM, device and written blocks (version 1);
* sub header: ``u32`` bytes of CPU states, one 16-byte APIC state per CPU, then the SMRAM states
  (1024 bytes each; IA32_EFER at 992);
* the RAM bitmap, the dumpable bitmap (pfn 0 is the top bit of byte 0), the dumped pages in pfn
  order, one block each.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping


def _msb0(pfns: set[int], nbytes: int) -> bytes:
    out = bytearray(nbytes)
    for p in pfns:
        out[p >> 3] |= 0x80 >> (p & 7)
    return bytes(out)


def build_sadump(path: str | os.PathLike[str], pages: Mapping[int, bytes], *, max_mapnr: int,
                 ram: set[int] | None = None, block_size: int = 4096, cpus: int = 2, version: int = 1,
                 media: bool = False, long_mode: bool = True, disks: int = 1,
                 set_guid: bytes | None = None, one_volume_id: bool = False) -> list[str]:
    """``pages``: pfn -> the page dumped (the dumpable bitmap); ``ram`` (default: every pfn below
    max_mapnr): the RAM bitmap.  ``disks`` > 1: a disk set, the pages spread evenly over the
    disks, written to ``path`` (disk 1) and ``path.2``, ``path.3`` ...  Returns the files, in
    disk order.

    A disk set (facts): every disk starts with a partition header whose disk number is its place
    in the set (1, 2 ...), with the set's system and disk set GUIDs and its own volume GUID; disk 1
    then has the disk set header (``u32`` its size in blocks, ``u32`` disks, ``u64`` set size, then
    15 volume records of a GUID, ``u64`` size, ``u32`` status, ``u32`` cache size: the volumes of
    disks 2, 3 ...), then the dump header and the rest as on a single partition.  The page data
    runs on from disk to disk: a disk holds its partition header's bytes used less where its data
    starts (after the bitmaps on disk 1, after the partition header block on the others).
    ``set_guid``: the disk set's GUID (another dump's disks have another).  ``one_volume_id``:
    every disk the same volume GUID (so that a reader that numbers the volume records from disk
    1, as libkdumpfile does, and one that numbers them from disk 2, as makedumpfile does, both
    accept the set)."""
    bs = block_size
    guid = bytes(range(16))
    time = struct.pack("<HBBBBBBIhBB", 2026, 12, 3, 22, 0, 0, 0, 0, 0, 0, 0)
    bm_bytes = (max_mapnr + 7) // 8
    bitmap_blocks = -(-bm_bytes // bs)
    sub_blocks = -(-(4 + cpus * (16 + 1024)) // bs)
    # bytes used: to the end of the page data, counted from the start of the file
    order = sorted(pages)
    per = -(-len(order) // disks)  # pages on each disk
    shares = [order[i * per:(i + 1) * per] for i in range(disks)]
    set_blocks = 1 if disks > 1 else 0
    used = (4096 if media else 0) + bs * (2 + set_blocks + sub_blocks + 2 * bitmap_blocks + len(shares[0]))

    def volume(n: int) -> bytes:
        return b"\x77" * 16 if one_volume_id else bytes([n]) * 16

    def part_block(disk: int, used: int) -> bytes:
        vol, number = (volume(disk), disk) if disks > 1 else (guid, 0)
        part = struct.pack("<II4I64s16s16s16s16sIIQ", 0x75646173, 0x0000706D, 1, 0, 0, 0, bytes(64), guid,
                           set_guid or guid[::-1], vol, time, number, 0, used)
        magic = [0x1234]
        while len(part) + 4 * len(magic) < bs:
            magic.append((11 * (magic[-1] + 7)) & 0xFFFFFFFF)
        return part + struct.pack(f"<{len(magic)}I", *magic)

    sub = struct.pack("<I", cpus * 1024) + bytes(16 * cpus)
    for _ in range(cpus):
        state = bytearray(1024)
        struct.pack_into("<Q", state, 992, (1 << 10 | 1 << 8) if long_mode else 0)
        sub += bytes(state)
    hdr = struct.pack("<8sII16s13I4xQQQQ", b"sadump\0\0", version, 0, time, 0, 0, bs, 0, sub_blocks, bitmap_blocks,
                      bitmap_blocks, max_mapnr & 0xFFFFFFFF, max_mapnr, 0, 0, 0, cpus, max_mapnr, max_mapnr, 0, 0)
    ram = set(range(max_mapnr)) if ram is None else ram
    files = [os.fspath(path)] + [f"{os.fspath(path)}.{d}" for d in range(2, disks + 1)]
    with open(path, "wb") as f:
        if media:
            f.write((guid + guid[::-1] + time + bytes([1, 0, 1, 1])).ljust(4096, b"\0"))
        f.write(part_block(1, used))
        if disks > 1:
            # a record per disk after the first; with one volume GUID, one for disk 1 too (read
            # either way, the records then agree)
            first = 1 if one_volume_id else 2
            vols = b"".join(volume(d) + struct.pack("<QII", bs * (1 + len(shares[d - 1])), 0, 0)
                            for d in range(first, disks + 1))
            f.write((struct.pack("<IIQ", 1, disks, 0) + vols).ljust(bs, b"\0"))
        f.write(hdr.ljust(bs, b"\0"))
        f.write(sub.ljust(sub_blocks * bs, b"\0"))
        f.write(_msb0(ram, bm_bytes).ljust(bitmap_blocks * bs, b"\0"))
        f.write(_msb0(set(pages), bm_bytes).ljust(bitmap_blocks * bs, b"\0"))
        for p in shares[0]:
            assert len(pages[p]) == bs
            f.write(pages[p])
    for d in range(2, disks + 1):
        with open(files[d - 1], "wb") as f:
            f.write(part_block(d, bs * (1 + len(shares[d - 1]))))
            for p in shares[d - 1]:
                f.write(pages[p])
    return files
