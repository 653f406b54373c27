"""SADUMP (Fujitsu's firmware dump): the partition header, the dump header and the CPU state
layout.  Layout: docs/images.md.
"""

from __future__ import annotations

import struct

PART_SIGNATURE = b"sadump\0\0"  # the u32s 0x75646173, 0x706d: the same bytes as the dump header's
DUMP_SIGNATURE = b"sadump\0\0"
MEDIA_HEADER = 4096  # a media backup file: a media header block, then the partition header
# signature[2], enable, reboot, compress, recycle, label[16] (u32), three GUIDs, an EFI time,
# set_disk_set, pad, used_device: then the magic numbers to the end of the block
PART = struct.Struct("<8s4I64s16s16s16s16sIIQ")  # 168 bytes
# signature, header_version, pad, timestamp, status, compress, block_size, extra_hdr_size,
# sub_hdr_size, bitmap_blocks, dumpable_bitmap_blocks, max_mapnr, total_ram_blocks,
# device_blocks, written_blocks, current_cpu, nr_cpus, pad, then four u64 (version 1)
HEADER = struct.Struct("<8sII16s13I4xQQQQ")
HEADER_FIELDS = ("signature", "header_version", "_pad1", "timestamp", "status", "compress", "block_size",
                 "extra_hdr_size", "sub_hdr_size", "bitmap_blocks", "dumpable_bitmap_blocks", "max_mapnr",
                 "total_ram_blocks", "device_blocks", "written_blocks", "current_cpu", "nr_cpus", "max_mapnr_64",
                 "total_ram_blocks_64", "device_blocks_64", "written_blocks_64")
APIC_STATE = 16  # u64 apic_id, ldr: one per CPU, after the u32 size of the CPU states
SMRAM_STATE = 1024  # sizeof(struct sadump_smram_cpu_state)
SMRAM_IA32_EFER = 992  # its ia32_efer (bit 10, LMA: the CPU ran in long mode)
EFER_LMA = 1 << 10


# a disk set's header on disk 1, after its partition header: u32 its size in blocks, u32 disks,
# u64 the set's size, then a volume record per disk after the first (15 at most): GUID, u64 size,
# u32 status, u32 cache size
DISK_SET_HEAD = struct.Struct("<IIQ")
VOLUME = struct.Struct("<16sQII")
MAX_DISKS = 16


def part_fields(buf: bytes) -> dict[str, object]:
    v = PART.unpack_from(buf, 0)
    return {"signature": v[0], "enable": v[1], "set_disk_set": v[10], "used_device": v[12],
            "sadump_id": v[6], "disk_set_id": v[7], "vol_id": v[8], "time_stamp": v[9]}


EFI_TIME = struct.Struct("<HBBBBBBIhBB")  # year, month, day, hour, minute, second, pad, ns, timezone, daylight, pad
EFI_UNSPECIFIED_TIMEZONE = 0x07FF


def efi_time(buf: bytes) -> int | None:
    """Seconds since the epoch of an EFI time (None: not a date).  Its timezone is minutes
    from UTC, local time being UTC plus it (UEFI); unspecified, the time is taken as UTC
    (makedumpfile takes it as the local time of the machine that reads it)."""
    import calendar

    year, month, day, hour, minute, second, _, _, tz, _, _ = EFI_TIME.unpack_from(buf, 0)
    if not (1900 <= year <= 9999 and 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60
            and second < 60):
        return None
    t = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if tz != EFI_UNSPECIFIED_TIMEZONE and -1440 <= tz <= 1440:
        t -= tz * 60
    return t


_CHAINS: dict[int, bytes] = {}  # first magic number -> the chain it starts, packed, as far as needed


def _magic_chain(first: int, words: int) -> bytes:
    """The magic numbers that start with *first*, at least *words* of them, packed."""
    have = _CHAINS.get(first, b"")
    if len(have) < 4 * words:
        vals = list(struct.unpack(f"<{len(have) // 4}I", have)) or [first]
        while len(vals) < words:
            vals.append((11 * (vals[-1] + 7)) & 0xFFFFFFFF)
        have = struct.pack(f"<{len(vals)}I", *vals)
        if len(_CHAINS) >= 8:
            _CHAINS.clear()
        _CHAINS[first] = have
    return have


def magic_block_size(buf: bytes) -> int:
    """The block size the magic numbers after the partition header give: they run to the end of
    the block, each 11 * (previous + 7) as a u32; 0 when they do not."""
    n = PART.size
    words = (len(buf) - n) // 4
    if words < 1:
        return 0
    got = bytes(buf[n : n + 4 * words])
    first = int.from_bytes(got[:4], "little")
    # windows of twice the words, as long as they all match: the chain is made only as far as the
    # numbers in the buffer follow it; then the first mismatch found by halving the last window
    lo, k = 1, 2
    while lo < words:
        k = min(k, words)
        if got[: 4 * k] != _magic_chain(first, k)[: 4 * k]:
            break
        lo, k = k, 2 * k
    hi = min(k, words) - 1 if lo < words else lo
    want = _magic_chain(first, hi + 1)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if got[: 4 * mid] == want[: 4 * mid]:
            lo = mid
        else:
            hi = mid - 1
    end = n + 4 * lo
    return end if end & (end - 1) == 0 else 0


def header_fields(buf: bytes) -> tuple[bytes, dict[str, int]]:
    """The dump header's signature, and its numbers by name."""
    values = dict(zip(HEADER_FIELDS, HEADER.unpack_from(buf, 0)))
    sig = values.pop("signature")
    values.pop("timestamp")
    return sig, values
