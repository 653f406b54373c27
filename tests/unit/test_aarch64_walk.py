"""arm64 page-table walks on page tables built here, for the granules and address sizes Debian
ships no kernel for (64 KiB pages, 39- and 42-bit walks, LPA), and for those it does (checked on
real dumps too: tests/real/test_arm64_real.py).

The builder is this file's own: it lays the tables out from the ARMv8 rules (a level resolves
PAGE_SHIFT - 3 bits of the address; descriptor bit 0 valid, bit 1 table or page; the output
address in bits 47..PAGE_SHIFT, with LPA2's bits 51:50 in bits 9:8 and LPA's 51:48 in bits
15:12).  Every case maps one chosen physical page or block; the expected addresses are written out
by hand.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from gen import build_elf, make_note, vmcoreinfo_text

from pymakedumpfile import AddressTranslationError, open_dump
from pymakedumpfile.core.vmcoreinfo import VmcoreInfo
from pymakedumpfile.translate import get_arch
from pymakedumpfile.translate.aarch64 import Aarch64Translator, Layout

M64 = (1 << 64) - 1
AF, SH_INNER = 1 << 10, 3 << 8  # access flag; inner shareable (bits 9:8 when LPA2 is off)
ROOT = 0x4100_0000  # physical address of swapper_pg_dir


class Tables:
    """Physical memory holding page tables: tables are allocated one granule each."""

    def __init__(self, page_shift: int, lpa2: bool = False, lpa: bool = False) -> None:
        self.shift, self.lpa2, self.lpa = page_shift, lpa2, lpa
        self.mem: dict[int, bytearray] = {}
        self.next = 0x4200_0000

    def table(self, at: int | None = None) -> int:
        if at is None:
            at, self.next = self.next, self.next + (1 << self.shift)
        self.mem.setdefault(at & ~((1 << self.shift) - 1), bytearray(1 << self.shift))
        return at

    def encode(self, pa: int) -> int:
        if self.lpa2:  # PA[49:shift] in place, PA[51:50] in bits 9:8
            return (pa & ((1 << 50) - 1)) | (pa >> 50 & 3) << 8
        if self.lpa:  # PA[47:16] in place, PA[51:48] in bits 15:12
            return (pa & ((1 << 48) - 1)) | (pa >> 48 & 0xF) << 12
        return pa | SH_INNER

    def put(self, table: int, index: int, value: int) -> None:
        base = table & ~((1 << self.shift) - 1)
        struct.pack_into("<Q", self.mem[base], table - base + index * 8, value)

    def map(self, root: int, vaddr: int, pa: int, vabits: int, leaf_level: int) -> None:
        """Map ``vaddr`` to ``pa`` through new tables below ``root``; the descriptor of level
        ``leaf_level`` (0 = the first) is the leaf: a page at the last level, else a block."""
        bits = self.shift - 3
        levels = -(-(vabits - self.shift) // bits)
        t = root
        for lvl in range(levels):
            sh = self.shift + (levels - 1 - lvl) * bits
            idx = (vaddr >> sh) & ((1 << (vabits - sh if lvl == 0 else bits)) - 1)
            if lvl == leaf_level:
                kind = 0b11 if lvl == levels - 1 else 0b01
                self.put(t, idx, self.encode(pa) | AF | kind)
                return
            nxt = self.table()
            self.put(t, idx, self.encode(nxt) | 0b11)
            t = nxt

    def read(self, addr: int, n: int) -> bytes:
        base = addr & ~((1 << self.shift) - 1)
        return bytes(self.mem[base][addr - base : addr - base + n])


def vmcoreinfo(page_shift: int, va_bits: int, vabits: int) -> VmcoreInfo:
    """The kernel image 2 GiB into the upper half of kernel space, at physical 0x40000000."""
    voffset = ((M64 << (vabits - 1)) & M64) + 0x8000_0000 - 0x4000_0000
    return VmcoreInfo(vmcoreinfo_text({
        "PAGESIZE": 1 << page_shift, "NUMBER(VA_BITS)": va_bits, "NUMBER(TCR_EL1_T1SZ)": 64 - vabits,
        "NUMBER(kimage_voffset)": f"{voffset:#x}", "NUMBER(PHYS_OFFSET)": "0x40000000",
        "SYMBOL(swapper_pg_dir)": f"{ROOT + voffset:x}", "SYMBOL(_stext)": f"{0x40010000 + voffset:x}",
    }))


# (page shift, VA_BITS, bits the kernel runs with, levels, leaf level, vaddr, physical page or block, expected)
CASES = [
    # 4 KiB pages
    ("4k-39bit-page", 12, 39, 39, 3, 2, 0xFFFF_FFC0_1234_5678, 0x4876_5000, 0x4876_5678),
    ("4k-48bit-page", 12, 48, 48, 4, 3, 0xFFFF_8000_1234_F678, 0x4ABC_D000, 0x4ABC_D678),
    ("4k-48bit-2M-block", 12, 48, 48, 4, 2, 0xFFFF_8000_4031_2345, 0x6000_0000, 0x6011_2345),
    ("4k-48bit-1G-block", 12, 48, 48, 4, 1, 0xFFFF_8000_C012_3456, 0x8000_0000, 0x8012_3456),
    ("4k-52bit-lpa2-page", 12, 52, 52, 5, 4, 0xFFF8_0000_1234_5890, 0xC_0000_1234_5000, 0xC_0000_1234_5890),
    ("4k-52bit-config-48bit-cpu", 12, 52, 48, 4, 3, 0xFFFF_8000_1234_F678, 0x4ABC_D000, 0x4ABC_D678),
    # 16 KiB pages
    ("16k-47bit-page", 14, 47, 47, 3, 2, 0xFFFF_C000_1234_5678, 0x4567_C000, 0x4567_D678),
    ("16k-48bit-page", 14, 48, 48, 4, 3, 0xFFFF_8000_1234_5678, 0x4567_C000, 0x4567_D678),
    ("16k-48bit-32M-block", 14, 48, 48, 4, 2, 0xFFFF_8000_4234_5678, 0x6200_0000, 0x6234_5678),
    ("16k-52bit-lpa2-page", 14, 52, 52, 4, 3, 0xFFF8_0000_1234_5678, 0x8_0000_4567_C000, 0x8_0000_4567_D678),
    # 64 KiB pages
    ("64k-42bit-page", 16, 42, 42, 2, 1, 0xFFFF_FE00_1234_5678, 0x4876_0000, 0x4876_5678),
    ("64k-48bit-page", 16, 48, 48, 3, 2, 0xFFFF_8000_1234_5678, 0x4876_0000, 0x4876_5678),
    ("64k-48bit-512M-block", 16, 48, 48, 3, 1, 0xFFFF_8000_3234_5678, 0x6000_0000, 0x7234_5678),
    ("64k-52bit-lpa-page", 16, 52, 52, 3, 2, 0xFFF8_0000_1234_5678, 0xF_0000_1234_0000, 0xF_0000_1234_5678),
]


@pytest.mark.parametrize(("name", "shift", "va_bits", "vabits", "levels", "leaf", "vaddr", "pa", "want"), CASES,
                         ids=[c[0] for c in CASES])
def test_walk(name: str, shift: int, va_bits: int, vabits: int, levels: int, leaf: int, vaddr: int, pa: int,
              want: int) -> None:
    t = Tables(shift, lpa2=shift < 16 and vabits == 52, lpa=shift == 16 and vabits == 52)
    t.table(ROOT)
    t.map(ROOT, vaddr, pa, vabits, leaf)
    x = Aarch64Translator(t.read, vmcoreinfo(shift, va_bits, vabits), 0)
    assert x.levels == levels
    got, steps = x.walk(vaddr)
    assert got == want and len(steps) == leaf + 1
    # translate() tells how far the page or block goes on
    size = 1 << (shift + (levels - 1 - leaf) * (shift - 3))
    assert x.translate(vaddr) == (want, size - (vaddr & (size - 1)))
    # an address of another first-level entry is not mapped
    with pytest.raises(AddressTranslationError, match="not valid"):
        x.vtop(vaddr ^ (1 << (vabits - 2)))


def test_64k_52bit_kernel_on_48bit_cpu() -> None:
    """A 64 KiB-page kernel built for 52 bits, running with 48: its top table has 1024 entries
    and TTBR1 points at the last 64 of them (entry 0x3c0), which a 48-bit walk indexes."""
    t = Tables(16)
    t.table(ROOT)
    top48 = ROOT + (1024 - 64) * 8  # where the hardware's 48-bit walk starts
    t.map(top48, 0xFFFF_8000_1234_5678, 0x4876_0000, 48, 2)
    assert struct.unpack_from("<Q", t.mem[ROOT], 0x3E0 * 8)[0] & 1  # entry 0x3c0 + 0x20 of the 52-bit table
    x = Aarch64Translator(t.read, vmcoreinfo(16, 52, 48), 0)
    assert x.vtop(0xFFFF_8000_1234_5678) == 0x4876_5678


def test_linear_map_and_kernel_image() -> None:
    """The linear map needs no walk: va - PAGE_OFFSET + PHYS_OFFSET, PAGE_OFFSET = -(1 << VA_BITS);
    with a randomized linear map PHYS_OFFSET is negative (printed as a large hex number)."""
    vi = VmcoreInfo(vmcoreinfo_text({
        "PAGESIZE": 4096, "NUMBER(VA_BITS)": 48, "NUMBER(TCR_EL1_T1SZ)": "0x10",
        "NUMBER(kimage_voffset)": "0xffffb5e62c800000", "NUMBER(PHYS_OFFSET)": "0xffffbf5cc0000000",
        "SYMBOL(swapper_pg_dir)": "ffffb5e66e253000", "SYMBOL(_stext)": "ffffb5e66d010000",
    }))
    lay = Layout(vi, 0)
    assert lay.flipped and lay.page_offset == 0xFFFF_0000_0000_0000
    # 0xffff40a3_9fecf380 - 0xffff0000_00000000 = 0x40a3_9fecf380, plus PHYS_OFFSET = -0x40a3_40000000
    assert lay.is_linear(0xFFFF_40A3_9FEC_F380)
    assert lay.linear_to_phys(0xFFFF_40A3_9FEC_F380) == 0x5FEC_F380
    assert not lay.is_linear(0xFFFF_B5E6_6E25_3000)  # the image, in the upper half
    assert lay.image_to_phys(0xFFFF_B5E6_6E25_3000) == 0x41A5_3000
    assert get_arch("aarch64").kernel_text_to_phys(0xFFFF_B5E6_6E25_3000, vi, 0) == 0x41A5_3000


def test_pointer_authentication_is_stripped() -> None:
    """A return address signed with pointer authentication (48-bit VA: the code in bits 63:56
    and 54:48, bit 55 kept) becomes the kernel address again."""
    vi = VmcoreInfo(vmcoreinfo_text({
        "PAGESIZE": 4096, "NUMBER(VA_BITS)": 48, "NUMBER(KERNELPACMASK)": "0xffff000000000000",
        "SYMBOL(_stext)": "ffffa9ebdf810000",
    }))
    lay = Layout(vi, 0)
    assert lay.strip_pac(0x4A8D_A9EB_DF81_2345) == 0xFFFF_A9EB_DF81_2345
    assert lay.strip_pac(0xFFFF_A9EB_DF81_2345) == 0xFFFF_A9EB_DF81_2345


@pytest.mark.parametrize("machine", [243, 0x7A7B], ids=["riscv64-no-translator", "unknown-machine"])
@pytest.mark.parametrize("opts", [["-l", "-d", "0"], ["-l", "-d", "1"], ["-E", "-d", "0"]], ids=" ".join)
def test_levels_0_and_1_need_no_translation(machine: int, opts: list[str], tmp_path: Path) -> None:
    """Levels 0 and 1 read no kernel data: a dump of an architecture we cannot translate (or do
    not know) converts, its release taken from VMCOREINFO."""
    from pymakedumpfile.cli import main

    pages = bytearray(8 * 4096)
    pages[4096:4101] = b"hello"
    src = tmp_path / "vmcore"
    build_elf(src, [(0x8000_0000, 0, bytes(pages))], machine=machine,
              notes=make_note(b"VMCOREINFO", 0, vmcoreinfo_text(OSRELEASE="6.9.9-other", PAGESIZE=4096)))
    out = tmp_path / "out"
    assert main([*opts, "--message-level", "0", str(src), str(out)]) == 0
    with open_dump(out) as ctx:
        assert ctx.attr["linux.uts.release"] == "6.9.9-other"
        pfn = 0x8000_0000 // 4096 + 1
        assert ctx.read_pfn(pfn)[:5] == b"hello"
        assert ctx.read_pfn(pfn + 1) == bytes(4096)  # at -d 1 the kdump file's shared zero page
