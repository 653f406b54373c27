"""arm (32-bit) translation on tables built here from the ARM Architecture Reference Manual's
descriptor formats, and arm kdump files numbered from the start of RAM.

Short descriptors (classic): a first-level table of 4096 four-byte entries indexed by address
bits 31..20; bits 1..0 of an entry are 01 for a second-level table (its base in bits 31..10),
10 for a 1 MiB section (frame in bits 31..20; with bit 18 a 16 MiB supersection, frame in bits
31..24, physical bits 35..32 in 23..20 and 39..36 in 8..5).  A second-level table has 256
entries indexed by bits 19..12: bits 1..0 = 01 a 64 KiB large page (frame in 31..16), 1x a
4 KiB small page (frame in 31..12; bit 0 is XN).

Long descriptors (LPAE): 4, 512, 512 eight-byte entries indexed by bits 31..30, 29..21, 20..12;
bits 1..0 = 11 a table (a page at the last level), 01 a block (1 GiB, 2 MiB); addresses are bits
39..12.

Linux maps RAM from PHYS_OFFSET at PAGE_OFFSET with sections or blocks; expected addresses are
written out by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gen import Page, build_kdump, vmcoreinfo_text
from gen.physmem import PhysMem

from pymakedumpfile import AddressTranslationError, open_dump
from pymakedumpfile.core.vmcoreinfo import VmcoreInfo
from pymakedumpfile.translate import arch_from_elf_machine, arch_from_machine
from pymakedumpfile.translate.arm import ArmTranslator

PHYS = 0x8000_0000  # RAM from 2 GiB
LOWMEM = 0x2000_0000  # 512 MiB of it mapped


class Machine:
    """``swapper_pg_dir`` at PHYS + 0x4000 (virtual PAGE_OFFSET + 0x4000), RAM mapped linearly,
    and a vmap_area_list whose first area (a module, below PAGE_OFFSET) precedes the first one
    above the linear map."""

    def __init__(self, lpae: bool, page_offset: int = 0xC000_0000) -> None:
        self.m = PhysMem(first_free=PHYS + 0x0100_0000)
        self.lpae, self.po = lpae, page_offset
        self.root = PHYS + 0x4000
        if lpae:  # four first-level entries, then one second-level table per GiB, from the root page on
            for i in range(4):
                self.m.put(self.root + i * 8, (self.root + 0x1000 * (i + 1)) | 3, "<Q")
        step = 2 << 20 if lpae else 1 << 20
        for pa in range(0, LOWMEM, step):
            self.map_block(page_offset + pa, PHYS + pa)
        list_head, first, second = PHYS + 0x10_0000, PHYS + 0x10_1000, PHYS + 0x10_2000
        self.m.put(list_head, self.virt(first) + 20, "<I")
        self.m.put(first, 0xBF00_0000, "<I")  # a module
        self.m.put(first + 20, self.virt(second) + 20, "<I")
        self.m.put(second, page_offset + LOWMEM + (8 << 20), "<I")
        self.m.put(second + 20, self.virt(list_head), "<I")

    def virt(self, pa: int) -> int:
        return pa - PHYS + self.po

    def _l2(self, vaddr: int) -> int:
        """The LPAE second-level entry's address of ``vaddr``."""
        t = int.from_bytes(self.m.read(self.root + (vaddr >> 30) * 8, 8), "little") & ~0xFFF
        return t + ((vaddr >> 21) & 511) * 8

    def map_block(self, vaddr: int, pa: int, supersection: bool = False) -> None:
        if self.lpae:
            self.m.put(self._l2(vaddr), pa | 1, "<Q")
        elif supersection:  # 16 identical entries; physical bits 35..32 from pa
            e = (pa & 0xFF00_0000) | ((pa >> 32) & 0xF) << 20 | 1 << 18 | 2
            for i in range(16):
                self.m.put(self.root + ((vaddr >> 20) + i) * 4, e, "<I")
        else:
            self.m.put(self.root + (vaddr >> 20) * 4, pa | 2, "<I")

    def map_page(self, vaddr: int, pa: int, large: bool = False) -> None:
        if self.lpae:
            l2 = self._l2(vaddr)
            e = int.from_bytes(self.m.read(l2, 8), "little")
            if e & 3 != 3:
                e = self.m.alloc(4096) | 3
                self.m.put(l2, e, "<Q")
            self.m.put((e & ~0xFFF) + ((vaddr >> 12) & 511) * 8, pa | 3, "<Q")
            return
        l1 = self.root + (vaddr >> 20) * 4
        e = int.from_bytes(self.m.read(l1, 4), "little")
        if e & 3 != 1:
            e = self.m.alloc(1024) | 1
            self.m.put(l1, e, "<I")
        if large:  # 16 identical entries
            for i in range(16):
                self.m.put((e & ~0x3FF) + (((vaddr >> 12) & 0xF0) + i) * 4, (pa & 0xFFFF_0000) | 1, "<I")
        else:
            self.m.put((e & ~0x3FF) + ((vaddr >> 12) & 255) * 4, pa | 0x13, "<I")  # small page, XN

    def translator(self, phys_base: int = PHYS, **extra: object) -> ArmTranslator:
        vi = VmcoreInfo(vmcoreinfo_text({"SYMBOL(swapper_pg_dir)": self.virt(self.root),
                                         "SYMBOL(_stext)": self.po + 0x0010_0000,
                                         "SYMBOL(vmap_area_list)": self.virt(PHYS + 0x10_0000),
                                         "OFFSET(vmap_area.va_start)": 0, "OFFSET(vmap_area.list)": 20, **extra}))
        return ArmTranslator(self.m.read, vi, phys_base)


@pytest.mark.parametrize("lpae", [False, True])
@pytest.mark.parametrize("phys_base", [PHYS, 0])
def test_layout_found_by_the_tables(lpae: bool, phys_base: int) -> None:
    """LPAE or not, PAGE_OFFSET and PHYS_OFFSET (also when phys_base is not given: QEMU's files);
    the linear map ends at the first vmalloc area above PAGE_OFFSET, not at a module's."""
    x = Machine(lpae).translator(phys_base)
    assert (x.lpae, x.page_offset, x.phys_offset, x.arch_pfn_offset) == (lpae, 0xC000_0000, PHYS, PHYS >> 12)
    assert x.lowmem_end == 0xE080_0000
    assert x.vtop(0xC123_4567) == PHYS + 0x0123_4567


def test_vmsplit_2g() -> None:
    x = Machine(False, 0x8000_0000).translator()
    assert x.page_offset == 0x8000_0000 and x.vtop(0x8765_4321) == PHYS + 0x0765_4321


def test_short_descriptors() -> None:
    mc = Machine(False)
    mc.map_page(0xF000_1000, 0x0802_0000)
    mc.map_page(0xF010_0000, 0x1234_0000, large=True)
    mc.map_block(0xF100_0000, 0x3_4500_0000, supersection=True)  # above 4 GiB
    x = mc.translator()
    pa, steps = x.walk(0xF000_1123)
    assert pa == 0x0802_0123 and [s.level for s in steps] == ["PGD", "PTE"]
    assert steps[0].entry_addr == mc.root + 0xF00 * 4 and steps[0].shown == 0xC000_4000 + 0xF00 * 4
    assert steps[1].entry & 0xFFFF_F000 == 0x0802_0000 and steps[1].entry_addr & 0x3FF == 4
    assert x.vtop(0xF010_ABCD) == 0x1234_ABCD
    assert x.translate(0xF010_ABCD)[1] == 0x1_0000 - 0xABCD
    assert x.vtop(0xF1AB_CDEF) == 0x3_45AB_CDEF
    assert x.translate(0xF1AB_CDEF)[1] == 0x0100_0000 - 0xAB_CDEF
    pa, steps = x.walk(0xC030_0018)  # a section of the linear map: one entry, its own MiB's
    assert pa == PHYS + 0x30_0018 and [(s.level, s.entry_addr) for s in steps] == [("PGD", mc.root + 0xC03 * 4)]


def test_long_descriptors() -> None:
    mc = Machine(True)
    mc.map_page(0xF000_1000, 0x2_0802_0000)  # a frame above 4 GiB
    x = mc.translator()
    pa, steps = x.walk(0xF000_1123)
    assert pa == 0x2_0802_0123 and [s.level for s in steps] == ["PGD", "PMD", "PTE"]
    assert steps[0].entry_addr == mc.root + 3 * 8
    pa, steps = x.walk(0xC123_4567)  # a 2 MiB block of the linear map
    assert pa == PHYS + 0x0123_4567 and [s.level for s in steps] == ["PGD", "PMD"]
    assert x.translate(0xF000_1123) == (0x2_0802_0123, 0x1000 - 0x123)


@pytest.mark.parametrize("lpae", [False, True])
def test_not_mapped(lpae: bool) -> None:
    mc = Machine(lpae)
    mc.map_page(0xF000_1000, 0x0802_0000)
    x = mc.translator()
    with pytest.raises(AddressTranslationError, match="PTE entry"):
        x.vtop(0xF000_2000)
    with pytest.raises(AddressTranslationError, match="entry"):
        x.vtop(0xF800_0000)


def test_config_line_forces_lpae() -> None:
    assert Machine(True).translator(CONFIG_ARM_LPAE="y").lpae
    with pytest.raises(AddressTranslationError, match="maps itself"):
        Machine(False).translator(CONFIG_ARM_LPAE="y")


def test_registered() -> None:
    a = arch_from_machine("armv7l")
    assert a is not None and a is arch_from_elf_machine(40) and a.name == "arm" and a.ptr_size == 4
    assert a.kdump_pfn_offset and a.int64_align == 8


def test_kdump_pages_count_from_phys_base(tmp_path: Path) -> None:
    """An arm kdump file (ARM EABI sub header) whose page 0 is physical phys_base, as makedumpfile
    writes them: read in physical addresses; page 3 of the file is physical 0x40003000."""
    pages = {0: Page(b"A" * 4096), 3: Page(b"B" * 4096, "zlib")}
    build_kdump(tmp_path / "arm", pages, max_mapnr=16, arch="arm", layout="32pad", machine="armv7l",
                phys_base=0x4000_0000)
    with open_dump(tmp_path / "arm") as ctx:
        assert ctx.attr["arch.name"] == "arm" and ctx.max_pfn == 0x40000 + 16
        assert list(ctx.attr["memory.pagemap"].runs()) == [(0x40000, 0x40001), (0x40003, 0x40004)]
        assert ctx.read_phys(0x4000_3000, 4) == b"BBBB" and ctx.read_pfn(0x40000)[:1] == b"A"
        with pytest.raises(Exception, match="pfn 0x40001"):
            ctx.read_pfn(0x40001)


def test_qemu_arm_kdump_is_not_offset(tmp_path: Path) -> None:
    """QEMU writes phys_base but numbers pages from 0, and names no arm machine: no offset."""
    from pymakedumpfile.input import open_reader

    build_kdump(tmp_path / "q", {0x40003: Page(b"B" * 4096)}, max_mapnr=0x40010, arch="arm", layout="32pad",
                machine="Unknown", phys_base=0x4000_0000)
    r = open_reader(tmp_path / "q")
    assert r.pfn_offset == 0 and r.max_pfn == 0x40010 and r.read_page(0x40003)[:4] == b"BBBB"
