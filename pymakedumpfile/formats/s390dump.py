"""The s390 stand-alone dump format (zipl's dump tools, ``zgetdump``): a 4 KiB big-endian header,
memory from physical address 0, then an end marker.  Layout: docs/images.md.
"""

from __future__ import annotations

import struct

MAGIC = 0xA8190173618F23FD
MAGIC_EXT = 0xA8190173618F23FE  # the extended format: memory in segments, each after a 4 KiB header
SEGMENT = struct.Struct(">QQQ")  # a segment's first address, its length, and whether it is the last
SEGMENT_HEADER = 0x1000
ZLIB_ENTRY_SIZE = 0x62  # u32 in newer headers: nonzero when the segments are compressed
# magic, version, hdr_size, dump_level, page_size, mem_size, mem_start, mem_end, num_pages, (4 pad),
# tod, cpu_id, arch, volnr, build_arch, mem_size_real, mvdump, cpu_cnt, real_cpu_cnt: packed
HEADER = struct.Struct(">QIIIIQQQI4xQQIIIQBHH")  # 97 bytes
ARCH_32BIT, ARCH_64BIT = 1, 2
END_MARKER = b"DUMP_END"
END = struct.Struct(">8sQ")  # the marker, then a TOD clock value not before the header's
LOWCORE_PREFIXES = 0x800  # u32 prefix (lowcore address) of each CPU, up to 512
MAX_CPUS = 512
VMCOREINFO_POINTER = 0xE0C  # in absolute lowcore: the physical address of the VMCOREINFO note
FIELDS = ("magic", "version", "hdr_size", "dump_level", "page_size", "mem_size", "mem_start", "mem_end",
          "num_pages", "tod", "cpu_id", "arch", "volnr", "build_arch", "mem_size_real", "mvdump", "cpu_cnt",
          "real_cpu_cnt")


def unpack(buf: bytes) -> dict[str, int]:
    return dict(zip(FIELDS, HEADER.unpack_from(buf, 0)))
