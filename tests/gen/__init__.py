"""Independent synthetic dump builder for tests.

Deliberately shares NO code with the ``pymakedumpfile`` package: every
layout is declared here from shared/formats.md, so one misreading of the
format cannot make both our reader and this writer agree on a wrong answer.
See README.md.
"""

from __future__ import annotations

from .compress import (
    CompressorUnavailable,
    liblzo2_compressor,
    liblzo2_decompressor,
    snappy_compressor,
    zlib_compress,
    zstd_compressor,
)
from .elf import EM_386, EM_AARCH64, EM_X86_64, PN_XNUM, ElfInfo, build_elf
from .flat import FlatInfo, flat_header, flat_record, flatten
from .kdump import KdumpInfo, Page, build_kdump, split_files, split_ranges
from .layouts import (
    DUMP_DH_COMPRESSED_INCOMPLETE,
    DUMP_DH_COMPRESSED_LZO,
    DUMP_DH_COMPRESSED_SNAPPY,
    DUMP_DH_COMPRESSED_ZLIB,
    DUMP_DH_COMPRESSED_ZSTD,
    DUMP_DH_EXCLUDED_VMEMMAP,
)
from .notes import NT_PRSTATUS, make_note, parse_notes, prstatus_note, vmcoreinfo_text

__all__ = [
    "CompressorUnavailable",
    "DUMP_DH_COMPRESSED_INCOMPLETE",
    "DUMP_DH_COMPRESSED_LZO",
    "DUMP_DH_COMPRESSED_SNAPPY",
    "DUMP_DH_COMPRESSED_ZLIB",
    "DUMP_DH_COMPRESSED_ZSTD",
    "DUMP_DH_EXCLUDED_VMEMMAP",
    "EM_386",
    "EM_AARCH64",
    "EM_X86_64",
    "ElfInfo",
    "FlatInfo",
    "KdumpInfo",
    "NT_PRSTATUS",
    "PN_XNUM",
    "Page",
    "build_elf",
    "build_kdump",
    "flat_header",
    "flat_record",
    "flatten",
    "liblzo2_compressor",
    "liblzo2_decompressor",
    "make_note",
    "parse_notes",
    "prstatus_note",
    "snappy_compressor",
    "split_files",
    "split_ranges",
    "vmcoreinfo_text",
    "zlib_compress",
    "zstd_compressor",
]
