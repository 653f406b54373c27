"""z/VM VMDUMP, format "64big" (a Linux guest dumped by z/VM's VMDUMP command): records of 4 KiB,
big endian, identifiers in EBCDIC.  Layout: docs/images.md.
"""

from __future__ import annotations

import struct

RECORD = 4096
ADSR_MAGIC = b"\xe2\xd9"  # "SR": the symptom record, record 1
DUMP_TYPE_AT = 56  # the symptom record's dump type: "VMDUMP  "
VMDUMP_MAGIC = b"\xe5\xd4\xc4\xe4\xd4\xd7\x40\x40"
ADSR_TOD_AT = 16  # the symptom record's TOD clock at the dump
FMBK_MAGIC = b"\xc8\xc3\xd7\xc4\xc6\xd4\xc2\xd2"  # "HCPDFMBK": the file map, record 2
ASIZBK_MAGIC = b"\xc1\xe2\xc9\xe9\xc2\xd2\x40\x40"  # "ASIZBK  ": the address space's information record
# the file map: id, then (u32, 1-based) the record of the first dump file information record,
# of the vector registers, of the access list; access list records, address spaces, record of
# the first address space's information record
FMBK = struct.Struct(">8s6I")
# the dump file information record of the CPU that dumped (struct of 1104 bytes): what is read of it
FIR_SIZE = 1104
FIR_GPRS, FIR_PREFIX, FIR_FORMAT, FIR_PSW, FIR_CRS = 16, 144, 187, 192, 208
FIR_ACRS, FIR_ONLINE_CPUS = 560, 912  # u32[16]; u16: the other CPUs, whose records follow
FORMAT_64BIG = 0x02  # 0x00 (ESA) and 0x82 (ESAME) are the older 32- and 64-bit formats
# a record of another CPU (552 bytes): its address, registers, prefix
FIR_OTHER_SIZE = 552
OTHER_GPRS, OTHER_PSW, OTHER_PREFIX, OTHER_ACRS, OTHER_CRS = 144, 272, 296, 336, 400
# the address space's information record: storage sizes and the ranges asked for
ASIZBK_DEF_STORE = 72  # u64: the highest byte of defined storage, plus one
ASIZBK_RANGE_COUNT = 216  # u32
ASIZBK_RANGES = 352  # 64 (u64 start, u64 last byte) pairs
MAX_RANGES = 64
TOD_UNIX_EPOCH = 0x7D91048BCA000000  # the s390 TOD clock at 1970-01-01 (bit 51: one microsecond)


def tod_to_unix(tod: int) -> int:
    """Seconds since 1970 of an s390 TOD clock value."""
    return max(0, (tod - TOD_UNIX_EPOCH) >> 12) // 1_000_000
