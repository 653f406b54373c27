"""ia32 translation on tables built here, from the Intel SDM's rules for 32-bit paging (volume 3,
chapter 4) and Linux's use of them:

* without PAE, CR3 points to a directory of 1024 four-byte entries indexed by bits 31..22; a
  directory entry with PS (bit 7) maps 4 MiB, its bits 31..22 the frame and bits 20..13 the
  physical address bits 39..32 (PSE-36); otherwise it points to a table of 1024 four-byte
  entries indexed by bits 21..12;
* with PAE, CR3 points to 4 eight-byte entries indexed by bits 31..30, each to a directory of 512
  eight-byte entries (bits 29..21; PS maps 2 MiB), each to a table of 512 (bits 20..12); a frame
  is bits 51..12 of an entry, so memory above 4 GiB is reachable;
* bit 0 is "present".

Linux maps low memory at PAGE_OFFSET (3 GiB, or 2 GiB, ... with another VMSPLIT) in
``swapper_pg_dir`` and starts vmalloc past it; VMCOREINFO names ``swapper_pg_dir`` and
``vmap_area_list``.  Expected addresses are written out by hand.
"""

from __future__ import annotations

import pytest
from gen import vmcoreinfo_text
from gen.physmem import PhysMem

from pymakedumpfile import AddressTranslationError
from pymakedumpfile.core.vmcoreinfo import VmcoreInfo
from pymakedumpfile.translate import arch_from_elf_machine, arch_from_machine
from pymakedumpfile.translate.ia32 import Ia32Translator

P, PS = 0x1, 0x80
LOWMEM = 0x3000_0000  # 768 MiB of low memory


class Machine:
    """A kernel's ``swapper_pg_dir`` at physical 0x1a00000 mapping LOWMEM bytes at
    ``page_offset`` with large pages, and a ``vmap_area_list`` whose first area starts at
    ``vstart``; :meth:`map4k` and :meth:`map_large` add vmalloc mappings."""

    def __init__(self, pae: bool, page_offset: int = 0xC000_0000, vstart: int | None = None) -> None:
        self.m = PhysMem(first_free=0x0200_0000)
        self.pae, self.po = pae, page_offset
        self.root = 0x01A0_0000
        large = 1 << 21 if pae else 1 << 22
        for pa in range(0, LOWMEM, large):
            self._large(page_offset + pa, pa)
        self.vstart = vstart if vstart is not None else page_offset + LOWMEM + (8 << 20)
        # vmap_area_list (a list_head) at 0x1b00000, its first area at 0x1b01000 (va_start at 0,
        # the list_head at 20, as Debian's 6.1 kernel lays out struct vmap_area)
        self.m.put(0x01B0_0000, page_offset + 0x01B0_1000 + 20, "<I")
        self.m.put(0x01B0_1000, self.vstart, "<I")

    def _dir(self, vaddr: int) -> int:
        """The physical address of the directory entry of ``vaddr``, making a directory (PAE)."""
        if not self.pae:
            return self.root + (vaddr >> 22) * 4
        slot = self.root + (vaddr >> 30) * 8
        e = int.from_bytes(self.m.read(slot, 8), "little")
        if not e & P:
            e = self.m.alloc(4096) | P
            self.m.put(slot, e, "<Q")
        return (e & ~0xFFF) + ((vaddr >> 21) & 511) * 8

    def _large(self, vaddr: int, pa: int, high: int = 0) -> None:
        if self.pae:
            self.m.put(self._dir(vaddr), pa | P | PS, "<Q")
        else:  # PSE-36: physical bits 39..32 in bits 20..13
            self.m.put(self._dir(vaddr), pa | (high << 13) | P | PS, "<I")

    def map_large(self, vaddr: int, pa: int, high: int = 0) -> None:
        self._large(vaddr, pa, high)

    def map4k(self, vaddr: int, pa: int) -> None:
        d = self._dir(vaddr)
        fmt, size, index = ("<Q", 8, (vaddr >> 12) & 511) if self.pae else ("<I", 4, (vaddr >> 12) & 1023)
        e = int.from_bytes(self.m.read(d, size), "little")
        if not e & P:
            e = self.m.alloc(4096) | P
            self.m.put(d, e, fmt)
        self.m.put((e & 0xFFFFF000) + index * size, pa | P, fmt)

    def translator(self, **extra: object) -> Ia32Translator:
        vi = VmcoreInfo(vmcoreinfo_text({"SYMBOL(swapper_pg_dir)": self.po + self.root,
                                         "SYMBOL(vmap_area_list)": self.po + 0x01B0_0000,
                                         "OFFSET(vmap_area.va_start)": 0, "OFFSET(vmap_area.list)": 20, **extra}))
        return Ia32Translator(self.m.read, vi, 0)


@pytest.mark.parametrize("pae", [True, False])
def test_paging_mode_and_page_offset_found_by_the_tables(pae: bool) -> None:
    x = Machine(pae).translator()
    assert (x.pae, x.page_offset, x.root, x.lowmem_end) == (pae, 0xC000_0000, 0x01A0_0000, 0xF080_0000)


@pytest.mark.parametrize("po", [0x8000_0000, 0xB000_0000, 0x4000_0000])
def test_another_vmsplit(po: int) -> None:
    """VMSPLIT_2G, 3G_OPT, 1G: PAGE_OFFSET is the one under which swapper_pg_dir maps itself."""
    x = Machine(True, po).translator()
    assert x.page_offset == po and x.vtop(po + 0x1234_5678) == 0x1234_5678


def test_config_line_forces_pae() -> None:
    """VMCOREINFO's CONFIG_X86_PAE=y: only PAE is tried (non-PAE tables then do not translate)."""
    assert Machine(True).translator(CONFIG_X86_PAE="y").pae
    with pytest.raises(AddressTranslationError, match="maps itself"):
        Machine(False).translator(CONFIG_X86_PAE="y")


def test_pae_walk_4k_above_4gib_and_2m() -> None:
    mc = Machine(True)
    mc.map4k(0xF801_2000, 0x3_2345_6000)  # a frame above 4 GiB
    mc.map_large(0xFF40_0000, 0x1_2360_0000)
    x = mc.translator()
    pa, steps = x.walk(0xF801_2345)
    assert pa == 0x3_2345_6345 and [s.level for s in steps] == ["PGD", "PMD", "PTE"]
    # the directory entry for 0xf8012345 is slot 3 of the root; makedumpfile prints its kernel
    # virtual address
    assert steps[0].entry_addr == 0x01A0_0018 and steps[0].shown == 0xC1A0_0018
    assert steps[1].entry_addr & 0xFFF == ((0xF801_2345 >> 21) & 511) * 8 == 0xE00
    assert x.vtop(0xFF4A_BCDE) == 0x1_236A_BCDE
    assert x.translate(0xFF4A_BCDE) == (0x1_236A_BCDE, 0xFF60_0000 - 0xFF4A_BCDE)
    assert x.translate(0xF801_2345) == (0x3_2345_6345, 0x1000 - 0x345)


def test_nopae_walk_4k_and_4m_with_pse36() -> None:
    mc = Machine(False)
    mc.map4k(0xF801_2000, 0x0765_4000)
    mc.map_large(0xFF80_0000, 0x12C0_0000, high=0x3)  # physical 0x3_12c0_0000
    x = mc.translator()
    pa, steps = x.walk(0xF801_2345)
    assert pa == 0x0765_4345 and [s.level for s in steps] == ["PGD", "PTE"]
    assert steps[0].entry_addr == 0x01A0_0000 + (0xF801_2345 >> 22) * 4 and steps[0].shown is None
    assert steps[1].entry_addr & 0xFFF == ((0xF801_2345 >> 12) & 1023) * 4 == 0x48
    assert x.vtop(0xFF81_2345) == 0x3_12C1_2345
    assert x.translate(0xFF81_2345)[1] == 0x0040_0000 - 0x1_2345


@pytest.mark.parametrize("pae", [True, False])
def test_linear_map_needs_no_tables(pae: bool) -> None:
    """Up to the first vmalloc area an address is PAGE_OFFSET plus its physical address, read
    without a walk (makedumpfile prints none either); translate() runs to the map's end."""
    x = Machine(pae).translator()
    assert x.walk(0xC123_4567) == (0x0123_4567, [])
    assert x.translate(0xF000_0000) == (0x3000_0000, 0xF080_0000 - 0xF000_0000)


@pytest.mark.parametrize("pae", [True, False])
def test_not_present(pae: bool) -> None:
    mc = Machine(pae)
    mc.map4k(0xF801_2000, 0x0765_4000)
    x = mc.translator()
    with pytest.raises(AddressTranslationError, match="PTE entry"):
        x.vtop(0xF801_3000)  # the same table, the next entry
    with pytest.raises(AddressTranslationError, match="(PGD|PMD) entry"):
        x.vtop(0xFA00_0000)
    with pytest.raises(AddressTranslationError, match="PGD entry"):
        x.vtop(0x0804_8000)  # user space is not in swapper_pg_dir


def test_without_vmap_area_list_every_address_is_walked() -> None:
    mc = Machine(True)
    vi = VmcoreInfo(vmcoreinfo_text({"SYMBOL(swapper_pg_dir)": 0xC000_0000 + mc.root}))
    x = Ia32Translator(mc.m.read, vi, 0)
    assert x.lowmem_end is None
    pa, steps = x.walk(0xC123_4567)
    assert pa == 0x0123_4567 and [s.level for s in steps] == ["PGD", "PMD"]


def test_registered() -> None:
    a = arch_from_machine("i686")
    assert a is not None and a is arch_from_elf_machine(3) and a.name == "ia32" and a.ptr_size == 4
    assert a.translator is Ia32Translator


def test_prstatus_of_a_32_bit_kernel() -> None:
    """struct elf_prstatus of i386: pr_pid at 24, pr_reg (17 longs, ebx first) at 72."""
    a = arch_from_machine("i386")
    assert a is not None
    desc = bytearray(144)
    desc[24:28] = (4321).to_bytes(4, "little")
    for k in range(17):
        desc[72 + 4 * k : 76 + 4 * k] = (0x1000 + k).to_bytes(4, "little")
    got = a.prstatus(bytes(desc))
    assert got is not None
    pid, regs = got
    assert pid == 4321 and regs["ebx"] == 0x1000 and regs["eip"] == 0x1000 + 12 and regs["ss"] == 0x1000 + 16
    assert a.prstatus(bytes(desc[:100])) is None
