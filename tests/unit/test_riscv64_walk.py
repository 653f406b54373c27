"""riscv64 translation on tables built here from the RISC-V privileged specification's Sv39, Sv48
and Sv57 (three, four and five levels of 512 eight-byte entries, indexed by the virtual page
number's 9-bit fields from bit 12 up; an entry is valid with bit 0, a leaf when R, W or X (bits
1-3) is set, at any level, and holds the physical page number in bits 53..10), and Linux's
layout as VMCOREINFO gives it: the linear map from PAGE_OFFSET at phys_ram_base, the kernel image
at va_kernel_pa_offset, the rest walked from swapper_pg_dir.  Expected addresses are written out
by hand.
"""

from __future__ import annotations

import pytest
from gen import vmcoreinfo_text
from gen.physmem import PhysMem

from pymakedumpfile import AddressTranslationError
from pymakedumpfile.core.vmcoreinfo import VmcoreInfo
from pymakedumpfile.translate import arch_from_elf_machine, arch_from_machine
from pymakedumpfile.translate.riscv64 import Riscv64Translator

RAM = 0x8000_0000
KERNEL_LINK = 0xFFFF_FFFF_8000_0000
PA_OFFSET = KERNEL_LINK - (RAM + 0x20_0000)  # the image at physical 0x80200000
PAGE_OFFSETS = {39: 0xFFFF_FFD6_0000_0000, 48: 0xFFFF_AF80_0000_0000, 57: 0xFF60_0000_0000_0000}
VMALLOC = {39: 0xFFFF_FFC6_0000_0000, 48: 0xFFFF_8F80_0000_0000, 57: 0xFF20_0000_0000_0000}
R, W, V = 0x2, 0x4, 0x1


class Sv:
    def __init__(self, va_bits: int) -> None:
        self.va_bits, self.levels = va_bits, {39: 3, 48: 4, 57: 5}[va_bits]
        self.m = PhysMem(first_free=RAM + 0x100_0000)
        self.root = RAM + 0x20_0000 + 0x40_0000  # swapper_pg_dir, inside the image

    def map(self, vaddr: int, pa: int, level: int = 0) -> None:
        """A leaf at ``level`` (0: a 4 KiB page; 1: 2 MiB; 2: 1 GiB)."""
        table = self.root
        for i in range(self.levels - 1, level, -1):
            slot = table + ((vaddr >> (12 + 9 * i)) & 511) * 8
            e = int.from_bytes(self.m.read(slot, 8), "little")
            if not e & V:
                e = (self.m.alloc(4096) >> 12) << 10 | V
                self.m.put(slot, e, "<Q")
            table = (e >> 10) << 12
        self.m.put(table + ((vaddr >> (12 + 9 * level)) & 511) * 8, (pa >> 12) << 10 | R | W | V, "<Q")

    def translator(self) -> Riscv64Translator:
        po, vm = PAGE_OFFSETS[self.va_bits], VMALLOC[self.va_bits]
        vi = VmcoreInfo(vmcoreinfo_text({
            "SYMBOL(swapper_pg_dir)": KERNEL_LINK + 0x40_0000, "NUMBER(VA_BITS)": self.va_bits,
            "NUMBER(PAGE_OFFSET)": hex(po), "NUMBER(phys_ram_base)": RAM, "NUMBER(KERNEL_LINK_ADDR)": hex(KERNEL_LINK),
            "NUMBER(va_kernel_pa_offset)": hex(PA_OFFSET), "NUMBER(VMALLOC_START)": hex(vm),
            "NUMBER(VMALLOC_END)": hex(po), "NUMBER(MODULES_VADDR)": hex(KERNEL_LINK - (2 << 30)),
            "NUMBER(MODULES_END)": hex(KERNEL_LINK)}))
        return Riscv64Translator(self.m.read, vi, RAM)


@pytest.mark.parametrize("va_bits", [39, 48, 57])
def test_walks(va_bits: int) -> None:
    sv = Sv(va_bits)
    vm = VMALLOC[va_bits]
    sv.map(vm + 0x5000, 0x9_1234_5000)  # a 4 KiB page above 4 GiB
    sv.map(vm + 0x4000_0000, 0x8860_0000, level=1)  # 2 MiB
    sv.map(vm + 0x8000_0000, 0xC000_0000, level=2)  # 1 GiB
    x = sv.translator()
    pa, steps = x.walk(vm + 0x5123)
    assert pa == 0x9_1234_5123 and len(steps) == sv.levels and steps[-1].level == "PTE"
    assert steps[0].entry_addr == sv.root + ((vm >> (12 + 9 * (sv.levels - 1))) & 511) * 8
    assert x.vtop(vm + 0x4012_3456) == 0x8872_3456
    assert x.translate(vm + 0x4012_3456) == (0x8872_3456, 0x20_0000 - 0x12_3456)
    assert x.vtop(vm + 0x8765_4321) == 0xC765_4321
    with pytest.raises(AddressTranslationError, match="not present"):
        x.vtop(vm + 0x6000)


@pytest.mark.parametrize("va_bits", [39, 57])
def test_linear_map_and_image_need_no_tables(va_bits: int) -> None:
    x = Sv(va_bits).translator()
    assert x.walk(PAGE_OFFSETS[va_bits] + 0x1234_5678) == (RAM + 0x1234_5678, [])
    assert x.walk(KERNEL_LINK + 0x1234) == (RAM + 0x20_1234, [])
    assert x.root == RAM + 0x60_0000


def test_old_kernel_without_layout() -> None:
    vi = VmcoreInfo(vmcoreinfo_text({"SYMBOL(swapper_pg_dir)": KERNEL_LINK}))
    with pytest.raises(AddressTranslationError, match="VA_BITS"):
        Riscv64Translator(PhysMem().read, vi, 0)


def test_registered() -> None:
    a = arch_from_machine("riscv64")
    assert a is not None and a is arch_from_elf_machine(243, 64) and a.translator is Riscv64Translator
    assert len(a.registers) == 32 and a.registers[0] == "pc" and not a.kdump_pfn_offset
