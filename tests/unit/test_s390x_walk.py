"""s390x DAT walks on tables built here (big-endian; 3, 4 and 5 levels; 1 MiB and 2 GiB large
pages) and the two address layouts (1:1 before Linux 6.10; identity base, image offset and 1:1
areas after).

The builder is this file's own, from the architecture's rules: region and segment tables of 2048
entries, page tables of 256; an entry's bits 0x0c are its table type (3 region-first, 2
region-second, 1 region-third, 0 segment), 0x03 the length of the table it points to, 0x20
invalid; 0x400 makes a region-third entry a 2 GiB page and a segment entry a 1 MiB page; a page
entry is invalid with 0x400.  Empty entries hold their table's type with the invalid bit, as the
kernel fills them.  Expected addresses are written out by hand.
"""

from __future__ import annotations

import struct

import pytest
from gen import vmcoreinfo_text

from pymakedumpfile import AddressTranslationError
from pymakedumpfile.core.vmcoreinfo import VmcoreInfo
from pymakedumpfile.translate import get_arch
from pymakedumpfile.translate.s390x import S390xTranslator

ROOT = 0x10_0000  # physical address of swapper_pg_dir


class Dat:
    def __init__(self) -> None:
        self.mem: dict[int, bytearray] = {}
        self.next = 0x20_0000

    def alloc(self, size: int, kind: int | None) -> int:
        at, self.next = self.next, self.next + max(size, 4096)
        self.fill(at, size, kind)
        return at

    def fill(self, at: int, size: int, kind: int | None) -> None:
        for base in range(at & ~0xFFF, at + size, 4096):
            self.mem.setdefault(base, bytearray(4096))
        for i in range(size // 8):  # empty entries: a CRST table's type, invalid; a page table's 0x400
            self.put(at + 8 * i, 0x400 if kind is None else kind << 2 | 0x20)

    def put(self, addr: int, value: int) -> None:
        struct.pack_into(">Q", self.mem[addr & ~0xFFF], addr & 0xFFF, value)

    def map(self, top: int, vaddr: int, frame: int, leaf: str = "page") -> None:
        """Map ``vaddr`` below the top table (of type ``top``); ``leaf``: "page" (4 KiB),
        "1M" (a segment entry) or "2G" (a region-third entry)."""
        table = ROOT
        for level in range(top, -1, -1):
            slot = table + 8 * ((vaddr >> (20 + 11 * level)) & 0x7FF)
            if level == 1 and leaf == "2G":
                self.put(slot, frame | 0x400 | 1 << 2)
                return
            if level == 0:
                if leaf == "1M":
                    self.put(slot, frame | 0x400)
                    return
                pt = self.alloc(2048, None)  # a page table
                self.put(slot, pt)
                self.put(pt + 8 * ((vaddr >> 12) & 0xFF), frame)
                return
            nxt = self.alloc(16384, level - 1)
            self.put(slot, nxt | level << 2 | 3)
            table = nxt

    def read(self, addr: int, n: int) -> bytes:
        return bytes(self.mem[addr & ~0xFFF][addr & 0xFFF : (addr & 0xFFF) + n])


def translator(d: Dat, **keys: object) -> S390xTranslator:
    return S390xTranslator(d.read, VmcoreInfo(vmcoreinfo_text({"SYMBOL(swapper_pg_dir)": ROOT, **keys})), 0)


@pytest.mark.parametrize(("top", "vaddr", "frame", "leaf", "want"), [
    (1, 0x123_4567_8ABC, 0x7654_3000, "page", 0x7654_3ABC),  # region-third table on top: 42 bits
    (2, 0x1_2345_6789_ABCD, 0x1234_5000, "page", 0x1234_5BCD),  # region-second: 53 bits
    (3, 0x7FFF_0000_1234_5678, 0x4000_0000, "page", 0x4000_0678),  # region-first: 64 bits
    (1, 0x3FF_8012_3456, 0x8010_0000, "1M", 0x8012_3456),
    (2, 0x2_8765_4321, 0x8000_0000, "2G", 0x8765_4321),
], ids=["3-level", "4-level", "5-level", "1M-segment", "2G-region-third"])
def test_walk(top: int, vaddr: int, frame: int, leaf: str, want: int) -> None:
    d = Dat()
    d.fill(ROOT, 16384, top)
    d.map(top, vaddr, frame, leaf)
    x = translator(d)
    assert x.top == top
    pa, steps = x.walk(vaddr)
    assert pa == want and len(steps) == {"page": top + 2, "1M": top + 1, "2G": top}[leaf]
    size = {"page": 1 << 12, "1M": 1 << 20, "2G": 1 << 31}[leaf]
    assert x.translate(vaddr) == (want, size - (vaddr & (size - 1)))
    with pytest.raises(AddressTranslationError, match="not valid"):
        x.vtop(vaddr ^ (1 << (20 + 11 * top)))  # another entry of the top table: empty


def test_address_beyond_the_tables() -> None:
    d = Dat()
    d.fill(ROOT, 16384, 1)
    with pytest.raises(AddressTranslationError, match="42-bit"):
        translator(d).vtop(1 << 42)


def test_split_layout_rules() -> None:
    """Linux 6.10+: lowcore and amode31 1:1, the image at KERNELOFFPHYS, the direct map (and
    anything else) through the tables, which map physical 0 at IDENTITYBASE."""
    d = Dat()
    image_virt, image_phys, ident = 0x3FF_E000_0000, 0x1_0000, 0x200_0000_0000
    root_va = image_virt + ROOT - image_phys  # swapper_pg_dir is an image symbol
    d.fill(ROOT, 16384, 1)
    d.map(1, ident + 0x4567_8000, 0x4567_8000)
    x = translator(d, **{"SYMBOL(swapper_pg_dir)": root_va, "IDENTITYBASE": f"{ident:x}",
                         "KERNELOFFSET": f"{image_virt:x}", "KERNELOFFPHYS": f"{image_phys:x}",
                         "SAMODE31": "1000000", "EAMODE31": "1010000"})
    assert x.layout.split and x.root == ROOT
    assert x.walk(0x1FF8) == (0x1FF8, [])  # lowcore
    assert x.walk(0x100_8000) == (0x100_8000, [])  # amode31
    assert x.walk(image_virt + 0x12_3456) == (image_phys + 0x12_3456, [])
    pa, steps = x.walk(ident + 0x4567_8123)
    assert pa == 0x4567_8123 and [s.level for s in steps] == ["R3", "SEG", "PTE"]
    assert get_arch("s390x").kernel_text_to_phys(image_virt + 0x10, x_vi(root_va, ident, image_virt, image_phys), 0) \
        == image_phys + 0x10


def x_vi(root_va: int, ident: int, image_virt: int, image_phys: int) -> VmcoreInfo:
    return VmcoreInfo(vmcoreinfo_text({"SYMBOL(swapper_pg_dir)": root_va, "IDENTITYBASE": f"{ident:x}",
                                       "KERNELOFFSET": f"{image_virt:x}", "KERNELOFFPHYS": f"{image_phys:x}"}))


def test_old_layout_is_one_to_one_below_high_memory() -> None:
    """Before 6.10: below the value of high_memory (read 1:1, big-endian) no walk; above it
    (vmalloc, vmemmap) the tables."""
    d = Dat()
    d.fill(ROOT, 16384, 2)
    d.fill(0x3000, 8, None)
    d.put(0x3000, 0x2000_0000)  # high_memory's value: 512 MiB
    d.map(2, 0x3D0_0000_1000, 0x1F00_0000)
    x = translator(d, **{"SYMBOL(high_memory)": 0x3000})
    assert not x.layout.split and x.high_memory == 0x2000_0000
    assert x.walk(0x1234_5678) == (0x1234_5678, [])
    assert x.vtop(0x3D0_0000_1234) == 0x1F00_0234
    with pytest.raises(AddressTranslationError):
        x.vtop(0x3D0_0001_0000)


def test_vmcoreinfo_read_from_lowcore(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """QEMU's s390x dumps have no VMCOREINFO note: the kernel keeps the physical address of its
    note in absolute lowcore at 0xe0c, and the reader takes VMCOREINFO from there."""
    from gen import build_elf, make_note

    from pymakedumpfile import open_dump

    mem = bytearray(64 * 4096)
    note = make_note(b"VMCOREINFO", 0, vmcoreinfo_text(OSRELEASE="6.1.0-77-s390x", PAGESIZE=4096), endian=">")
    struct.pack_into(">Q", mem, 0xE0C, 0x9000)  # unaligned, as the lowcore field is
    mem[0x9000 : 0x9000 + len(note)] = note
    src = tmp_path / "qemu-elf"
    build_elf(src, [(0, 0, bytes(mem))], endian=">", machine=22)
    with open_dump(src) as ctx:
        assert ctx.attr["arch.name"] == "s390x" and ctx.attr["arch.byte_order"] == "big"
        assert ctx.reader.vmcoreinfo.osrelease == "6.1.0-77-s390x"
        assert ctx.attr["linux.uts.release"] == "6.1.0-77-s390x"
    struct.pack_into(">Q", mem, 0xE0C, 0x9001)  # odd: an early-boot KASLR offset, not a note
    build_elf(src, [(0, 0, bytes(mem))], endian=">", machine=22)
    with open_dump(src) as ctx:
        assert not ctx.reader.vmcoreinfo
