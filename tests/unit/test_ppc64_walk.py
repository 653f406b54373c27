"""ppc64 (Book3S-64) translation on tables built here: the radix and the hash MMU's Linux page
tables on 64 KiB and 4 KiB pages, huge leaves at the PMD and PUD levels, the linear map,
vmemmap through ``vmemmap_list``, and which MMU a dump used.

The builder is this file's own, from the kernel's rules for these tables: four levels whose index
sizes (PTE, PMD, PUD, PGD) are 5/9/9/13 for radix on 64 KiB pages, 8/10/10/8 for hash on 64 KiB,
9/9/9/13 for radix on 4 KiB and 9/7/9/9 for hash on 4 KiB; entries are big-endian u64s, whatever
the kernel's byte order; a directory entry is the next table's physical address with the valid
bit 63, and, on radix, the next table's index size in its low five bits; a leaf has bit 62
(``_PAGE_PTE``), a present page bit 63 too, and its frame in bits 52..page shift.  Expected
addresses are written out by hand.
"""

from __future__ import annotations

import pytest
from gen import vmcoreinfo_text
from gen.physmem import PhysMem

from pymakedumpfile import AddressTranslationError
from pymakedumpfile.core.vmcoreinfo import VmcoreInfo
from pymakedumpfile.translate import arch_from_elf_machine, arch_from_machine
from pymakedumpfile.translate.ppc64 import Ppc64Translator

PO = 0xC000000000000000
ROOT = 0x20_0000  # physical address of swapper_pg_dir
VALID, LEAF = 1 << 63, 1 << 62
BITS = {("64k", "radix"): (5, 9, 9, 13), ("64k", "hash"): (8, 10, 10, 8),
        ("4k", "radix"): (9, 9, 9, 13), ("4k", "hash"): (9, 7, 9, 9)}


class Tables:
    """Linux page tables of one geometry in a :class:`PhysMem`."""

    def __init__(self, pages: str, mmu: str) -> None:
        self.m = PhysMem()
        self.radix = mmu == "radix"
        self.bits = BITS[(pages, mmu)]
        self.shift = 16 if pages == "64k" else 12
        s = [self.shift]
        for b in self.bits[:3]:
            s.append(s[-1] + b)
        self.shifts = s  # PTE, PMD, PUD, PGD
        if self.radix:  # radix maps the linear map too (with 1 GiB leaves), from PGD entry 0
            self.map(PO, 0, "PUD")

    def directory(self, table_bits: int) -> int:
        """A directory entry's flags for a table of ``table_bits`` index bits."""
        return VALID | (table_bits if self.radix else 0)

    def map(self, vaddr: int, frame: int, leaf: str = "PTE") -> None:
        """Map ``vaddr`` to ``frame`` with a leaf at level ``leaf`` (PTE, PMD or PUD)."""
        table = ROOT
        for level, name in enumerate(("PGD", "PUD", "PMD", "PTE")):
            i = 3 - level
            slot = table + 8 * ((vaddr >> self.shifts[i]) & ((1 << self.bits[i]) - 1))
            if name == leaf:
                self.m.put(slot, VALID | LEAF | frame | 0x18F)  # present, accessed, dirty, rwx
                return
            child_bits = self.bits[i - 1]
            nxt = int.from_bytes(self.m.read(slot, 8), "big") & ~0xC0000000000000FF & ((1 << 64) - 1)
            if not nxt:
                nxt = self.m.alloc(8 << child_bits)
                self.m.put(slot, nxt | self.directory(child_bits))
            table = nxt

    def translator(self, page_size: int | None = None, order: str = "little", **keys: object) -> Ppc64Translator:
        vi = {"PAGESIZE": page_size or 1 << self.shift, "SYMBOL(swapper_pg_dir)": PO + ROOT, **keys}
        return Ppc64Translator(self.m.read, VmcoreInfo(vmcoreinfo_text(vi)), 0, byte_order=order)  # type: ignore[arg-type]


VMALLOC = 0xC008_0000_1234_5678


@pytest.mark.parametrize(("pages", "mmu"), list(BITS), ids=lambda p: str(p))
def test_walk_each_geometry(pages: str, mmu: str) -> None:
    t = Tables(pages, mmu)
    va = VMALLOC if (pages, mmu) != ("4k", "hash") else 0xC0003D00_0012_3678  # hash 4K: past 61 TiB
    ps = 1 << t.shift
    t.map(va, 0x7654_0000)
    x = t.translator()
    assert x.radix == (mmu == "radix") and x.bits == BITS[(pages, mmu)]
    pa, steps = x.walk(va)
    assert pa == 0x7654_0000 + (va & (ps - 1))
    assert [s.level for s in steps] == ["PGD", "PUD", "PMD", "PTE"]
    assert x.translate(va) == (pa, ps - (va & (ps - 1)))
    with pytest.raises(AddressTranslationError, match="empty"):
        x.vtop(va + (1 << x.shifts[2]))  # the next PMD entry's range: nothing there


@pytest.mark.parametrize(("pages", "mmu", "leaf", "size"), [
    ("64k", "radix", "PMD", 2 << 20), ("64k", "radix", "PUD", 1 << 30),
    ("64k", "hash", "PMD", 16 << 20), ("4k", "radix", "PMD", 2 << 20)])
def test_huge_leaves(pages: str, mmu: str, leaf: str, size: int) -> None:
    t = Tables(pages, mmu)
    t.map(VMALLOC, 0x4000_0000, leaf)
    x = t.translator()
    pa, steps = x.walk(VMALLOC)
    assert pa == 0x4000_0000 + (VMALLOC & (size - 1)) and steps[-1].level == leaf
    assert x.translate(VMALLOC)[1] == size - (VMALLOC & (size - 1))


def test_page_not_present() -> None:
    t = Tables("64k", "radix")
    t.map(VMALLOC, 0x7654_0000)
    slot = x_slot = next(s.entry_addr for s in t.translator().walk(VMALLOC)[1] if s.level == "PTE")
    t.m.put(x_slot, LEAF | 0x7654_0000)  # a swapped-out or PROT_NONE entry: no present bit
    assert slot
    with pytest.raises(AddressTranslationError, match="not present"):
        t.translator().vtop(VMALLOC)


def test_linear_map_needs_no_tables() -> None:
    x = Tables("64k", "hash").translator()
    assert x.walk(PO + 0x1234_5678) == (0x1234_5678, [])
    assert x.translate(PO + 0x1_0010) == (0x1_0010, 0xFFF0)
    # NUMBER(VMALLOC_START) (Linux 6.9 and later) bounds the linear map when it is lower
    x = Tables("64k", "radix").translator(**{"NUMBER(VMALLOC_START)": 0xC004_0000_0000_0000})
    with pytest.raises(AddressTranslationError):
        x.vtop(0xC004_0000_0000_1000)


@pytest.mark.parametrize("order", ["little", "big"])
def test_vmemmap_list(order: str) -> None:
    """vmemmap through vmemmap_list (the hash MMU's only way there), in the kernel's byte order:
    three backing blocks of 16 MiB (mmu_psize_defs[mmu_vmemmap_psize].shift 24), listed out of
    order, the last one pointing back at the first."""
    t = Tables("64k", "hash")
    m, e = t.m, "<" if order == "little" else ">"
    head, psize, defs = 0x300_0000, 0x300_0100, 0x300_0200
    m.put(psize, 3, e + "I")
    m.put(defs + 3 * 96, 24, e + "I")  # SIZE(mmu_psize_def) 96, shift at 0
    blocks = [(0xC00C_0000_0100_0000, 0x5000_0000), (0xC00C_0000_0000_0000, 0x6000_0000),
              (0xC00C_0000_0200_0000, 0x7000_0000)]
    nodes = [0x310_0000 + 0x40 * i for i in range(3)]
    m.put(head, PO + nodes[0], e + "Q")
    for i, (virt, phys) in enumerate(blocks):
        m.put(nodes[i], PO + nodes[(i + 1) % 3], e + "Q")  # list
        m.put(nodes[i] + 8, phys, e + "Q")
        m.put(nodes[i] + 16, virt, e + "Q")
    x = t.translator(order=order, **{
        "SYMBOL(vmemmap_list)": PO + head, "SYMBOL(mmu_vmemmap_psize)": PO + psize,
        "SYMBOL(mmu_psize_defs)": PO + defs, "SIZE(mmu_psize_def)": 96, "OFFSET(mmu_psize_def.shift)": 0,
        "OFFSET(vmemmap_backing.list)": 0, "OFFSET(vmemmap_backing.phys)": 8,
        "OFFSET(vmemmap_backing.virt_addr)": 16})
    assert x.walk(0xC00C_0000_0000_0040) == (0x6000_0040, [])
    assert x.translate(0xC00C_0000_01FF_FFC0) == (0x50FF_FFC0, 0x40)
    assert x.vtop(0xC00C_0000_0200_1000) == 0x7000_1000
    with pytest.raises(AddressTranslationError):  # past the last block, and hash has no table for it
        x.vtop(0xC00C_0000_0300_0000)


@pytest.mark.parametrize("mmu", ["radix", "hash"])
def test_mmu_from_vmcoreinfo_or_tables(mmu: str) -> None:
    """NUMBER(RADIX_MMU) decides where VMCOREINFO has it; without it (Linux before 6.7), the
    directory entries: a radix one carries the next table's index size."""
    t = Tables("64k", mmu)
    t.map(VMALLOC, 0x7654_0000)
    assert t.translator().radix == (mmu == "radix")
    assert t.translator(**{"NUMBER(RADIX_MMU)": 1}).radix is True
    assert t.translator(**{"NUMBER(RADIX_MMU)": 0}).radix is False


def test_registered_for_both_byte_orders() -> None:
    a = arch_from_elf_machine(21)
    assert a is not None and a is arch_from_machine("ppc64le") is arch_from_machine("ppc64")
    assert a.translator is Ppc64Translator and a.registers[32:37] == ("nip", "msr", "orig_gpr3", "ctr", "link")
    assert a.kernel_text_to_phys(PO + 0x20_0000, VmcoreInfo(b""), 0) == 0x20_0000
