"""A kernel module's debug file is relocatable (ET_REL): its DWARF sections hold zeros where
relocations say what goes (offsets into .debug_str above all).  The image reader applies them
to the debug sections it gives; a relocation naming a symbol the file does not have is one
error, not a traceback."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from pymakedumpfile.core.errors import CorruptDumpError, UnsupportedDumpError
from pymakedumpfile.input.vmlinux import Elf


def build_rel(path: Path, relocs: list[tuple[int, int, int, int]], machine: int = 62) -> None:
    """An ELF64 ET_REL file with a 16-byte .debug_info, its .rela.debug_info (offset, symbol,
    type, addend) and a symbol table whose symbol 1 is at 0x100 and symbol 2 at 0x2000."""
    info = bytes(16)
    rela = b"".join(struct.pack("<QQq", off, (sym << 32) | typ, add) for off, sym, typ, add in relocs)
    sym = bytes(24) + struct.pack("<IBBHQQ", 1, 3, 0, 1, 0x100, 0) + struct.pack("<IBBHQQ", 3, 3, 0, 1, 0x2000, 0)
    strtab = b"\0a\0b\0"
    names = [b"", b".debug_info", b".rela.debug_info", b".symtab", b".strtab", b".shstrtab"]
    shstr = b"\0".join(names) + b"\0"
    name_off = [shstr.index(n + b"\0") if n else 0 for n in names]
    body = [info, rela, sym, strtab, shstr]
    off = 64
    offs = []
    for b in body:
        offs.append(off)
        off += len(b)
    shoff = off
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 1, machine, 1, 0, 0, shoff, 0, 64, 0,
                       0, 64, 6, 5)
    sh = [bytes(64)]
    # name, type, flags, addr, offset, size, link, info, addralign, entsize
    sh.append(struct.pack("<IIQQQQIIQQ", name_off[1], 1, 0, 0, offs[0], len(info), 0, 0, 1, 0))
    sh.append(struct.pack("<IIQQQQIIQQ", name_off[2], 4, 0, 0, offs[1], len(rela), 3, 1, 8, 24))
    sh.append(struct.pack("<IIQQQQIIQQ", name_off[3], 2, 0, 0, offs[2], len(sym), 4, 1, 8, 24))
    sh.append(struct.pack("<IIQQQQIIQQ", name_off[4], 3, 0, 0, offs[3], len(strtab), 0, 0, 1, 0))
    sh.append(struct.pack("<IIQQQQIIQQ", name_off[5], 3, 0, 0, offs[4], len(shstr), 0, 0, 1, 0))
    path.write_bytes(ehdr + b"".join(body) + b"".join(sh))


def test_debug_sections_are_read_relocated(tmp_path: Path) -> None:
    p = tmp_path / "m.ko"
    # R_X86_64_32 of symbol 1 + 0x10 at 0, R_X86_64_64 of symbol 2 - 1 at 8
    build_rel(p, [(0, 1, 10, 0x10), (8, 2, 1, -1)])
    e = Elf(str(p))
    assert e.relocatable
    want = struct.pack("<IIQ", 0x110, 0, 0x1FFF)
    assert e.section(".debug_info") == want
    assert bytes(e.view(".debug_info")) == want


@pytest.mark.parametrize("relocs, error, needle", [
    ([(0, 7, 10, 0)], CorruptDumpError, "a relocation names what the file does not have"),  # no symbol 7
    ([(14, 1, 10, 0)], CorruptDumpError, "a relocation past its end"),
    ([(0, 1, 2, 0)], UnsupportedDumpError, "relocation type 2"),  # PC-relative: not in debug sections
])
def test_bad_relocations_are_one_error(relocs: list[tuple[int, int, int, int]], error: type, needle: str,
                                       tmp_path: Path) -> None:
    p = tmp_path / "m.ko"
    build_rel(p, relocs)
    with pytest.raises(error) as e:
        Elf(str(p)).section(".debug_info")
    assert needle in str(e.value) and str(p) in str(e.value)


def test_an_unknown_machine_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "m.ko"
    build_rel(p, [(0, 1, 10, 0)], machine=20)  # PowerPC: its relocation types are not listed
    with pytest.raises(UnsupportedDumpError, match="relocations of ELF machine 20"):
        Elf(str(p)).section(".debug_info")
