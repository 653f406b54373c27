"""Synthetic machines of the architectures that no Debian kernel under QEMU can dump here:
loongarch64, mips64el, mips (32-bit, big-endian), powerpc (32-bit book3s) and s390 (31-bit).

Like the rest of ``tests.gen`` this shares no code with ``pymakedumpfile``.  Each machine is a
few MiB of physical memory written as an ELF vmcore of its class and byte order, holding:

* page tables built from the architecture's manual and the kernel's headers, written out below
  for each one (the entry formats are this module's own constants), mapping a vmalloc page, a
  page of the vmemmap where the kernel has one, and a huge block where the architecture has them;
* ``init_uts_ns``; a ``mem_map`` (FLATMEM on the 32-bit machines, SPARSEMEM with the vmemmap on
  loongarch64 and with mem_map in XKPHYS on mips64) whose struct pages say what each page is;
* pages of every kind a dump level tests (:data:`KINDS`), planted at known pfns;
* a kernel log: the lockless printk ring (Linux 5.10 and later), or ``struct printk_log``
  records for s390, whose 31-bit kernels ended with Linux 4.0;
* a PRSTATUS note whose registers count up from ``REG_BASE``, and VMCOREINFO.

What a tool must find is in :class:`Machine`: ``vtop`` (virtual → physical, as mapped here),
``kinds`` (pfn → kind), :func:`kept` (the pfns a dump level keeps) and ``log`` (the messages).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .elf import build_elf
from .notes import make_note, vmcoreinfo_text

# what each planted page is; the rest of RAM is kernel memory left zero
KINDS = ("zero", "cache", "cache_private", "anon", "free", "slab", "kernel")
PER_KIND = 8  # pages of each kind, in a row (the free ones: one order-3 buddy block)
REG_BASE = 0x1000
BUDDY_MAPCOUNT = -129  # PAGE_BUDDY_MAPCOUNT_VALUE since 4.x (~PG_buddy, PG_buddy 0x80)
PG_LRU, PG_SLAB, PG_PRIVATE, PG_SWAPCACHE, PG_SWAPBACKED = 4, 9, 13, 10, 19
LOG = (b"Linux version synthetic", b"Kernel command line: console=ttyS0", b"sysrq: Trigger a crash",
       b"Kernel panic - not syncing: sysrq triggered crash")


def kept(m: Machine, level: int) -> set[int]:
    """The pfns of machine ``m`` that dump level ``level`` keeps: level 1 drops every page whose
    bytes are all zero (the planted ``zero`` ones, RAM nobody wrote, empty tables), the others
    the kinds planted."""
    out = set()
    ps = m.page_size
    for pfn in range(m.npages):
        k = m.kinds.get(pfn, "zero")
        if (level & 1 and not any(m.mem[pfn * ps:(pfn + 1) * ps])) or (level & 2 and k == "cache") \
                or (level & 4 and k in ("cache", "cache_private")) or (level & 8 and k == "anon") \
                or (level & 16 and k == "free"):
            continue
        out.add(pfn)
    return out


@dataclass
class Machine:
    """One synthetic machine: its memory and what it holds."""

    arch: str  # the name pymakedumpfile gives it
    uname: str  # ``uname -m``
    e_machine: int
    bits: int
    endian: str  # '<' or '>'
    page_size: int
    npages: int
    release: str
    mem: bytearray = field(init=False)
    vtop: dict[int, int] = field(default_factory=dict)  # virtual address -> physical, to check
    unmapped: list[int] = field(default_factory=list)  # virtual addresses the tables do not map
    kinds: dict[int, str] = field(default_factory=dict)
    vmcoreinfo: dict[str, object] = field(default_factory=dict)
    log: tuple[bytes, ...] = LOG
    image: tuple[int, int, int] | None = None  # the kernel image's own PT_LOAD: (paddr, vaddr, size)
    _next: int = 0

    def __post_init__(self) -> None:
        self.mem = bytearray(self.npages * self.page_size)
        self._next = self.page_size  # page 0 stays empty
        self.first = self.npages // 4  # the planted pages start here; the kernel's stay below


    # ---- memory ----
    @property
    def ptr(self) -> int:
        return self.bits // 8

    def alloc(self, size: int, align: int | None = None) -> int:
        align = align or self.page_size
        at = -(-self._next // align) * align
        self._next = at + size
        for pfn in range(at // self.page_size, -(-(at + size) // self.page_size)):
            self.kinds.setdefault(pfn, "kernel")
        assert self._next <= self.first * self.page_size, "the kernel's memory reached the planted pages"
        return at

    def put(self, pa: int, fmt: str, *values: int) -> None:
        struct.pack_into(self.endian + fmt, self.mem, pa, *values)

    def word(self, pa: int, value: int) -> None:
        self.put(pa, "I" if self.bits == 32 else "Q", value & ((1 << self.bits) - 1))

    def write(self, pa: int, data: bytes) -> None:
        self.mem[pa:pa + len(data)] = data

    # ---- the ELF vmcore ----
    def prstatus(self, nregs: int) -> bytes:
        """struct elf_prstatus: signal info, masks and pids of the pointer's width, then pr_reg."""
        w = self.ptr
        pid_at, reg_at = (24, 72) if w == 4 else (32, 112)
        desc = bytearray(reg_at + w * nregs + w)  # pr_reg, then pr_fpvalid
        struct.pack_into(self.endian + "I", desc, pid_at, 1)
        for i in range(nregs):
            struct.pack_into(self.endian + ("I" if w == 4 else "Q"), desc, reg_at + w * i, REG_BASE + i)
        return bytes(desc)

    def write_elf(self, path: object, linear: int, nregs: int) -> None:
        """The vmcore: the kernel image's PT_LOAD first where the image is not in the linear map
        (``image``: physical start, virtual start, size), then one for all of RAM at the kernel's
        ``linear`` address of physical 0."""
        text = vmcoreinfo_text(self.vmcoreinfo, OSRELEASE=self.release, PAGESIZE=self.page_size)
        notes = make_note(b"CORE", 1, self.prstatus(nregs), endian=self.endian) \
            + make_note(b"VMCOREINFO", 0, text, endian=self.endian)
        loads = [(self.image[0], self.image[1], bytes(self.mem[self.image[0]:self.image[0] + self.image[2]]),
                  self.image[2])] if self.image else []
        loads.append((0, linear, bytes(self.mem), len(self.mem)))
        build_elf(path, loads, elfclass=self.bits,  # type: ignore[arg-type]
                  endian=self.endian, machine=self.e_machine, notes=notes)


# ---------------------------------------------------------------------------
# the kernel's structures, laid out by pointer size (offsets of Linux 6.x for the struct page and
# the printk ring; every one of them goes to VMCOREINFO, where a tool reads it)


def struct_page(ptr: int) -> dict[str, int]:
    """flags, lru (compound_head), mapping, index, private, _mapcount, _refcount."""
    return {"flags": 0, "lru": ptr, "mapping": 3 * ptr, "index": 4 * ptr, "private": 5 * ptr,
            "_mapcount": 6 * ptr, "_refcount": 6 * ptr + 4, "size": 6 * ptr + 8 if ptr == 8 else 32}


def plant(m: Machine, kva: int) -> tuple[int, int]:
    """The mem_map of every pfn (its physical address and size returned, page-aligned), the kinds
    planted from ``m.first``; ``kva`` is the kernel address of physical 0 (for the mappings)."""
    sp = struct_page(m.ptr)
    size = sp["size"]
    npfn = m.npages
    mm = m.alloc(npfn * size)
    pfn = m.first
    for kind in KINDS:
        for i in range(PER_KIND):
            base = mm + pfn * size
            flags, mapping, mapcount, private = 0, 0, -1, 0
            if kind == "cache":
                flags, mapping = 1 << PG_LRU, kva + 0x4000
            elif kind == "cache_private":
                flags, mapping = 1 << PG_LRU | 1 << PG_PRIVATE, kva + 0x4000
            elif kind == "anon":
                flags, mapping, mapcount = 1 << PG_LRU | 1 << PG_SWAPBACKED, kva + 0x4001, 0
            elif kind == "free" and i == 0:
                mapcount, private = BUDDY_MAPCOUNT, 3  # an order-3 block: these 8 pages
            elif kind == "slab":
                flags = 1 << PG_SLAB
            m.word(base + sp["flags"], flags)
            m.word(base + sp["mapping"], mapping)
            m.word(base + sp["private"], private)
            m.put(base + sp["_mapcount"], "ii", mapcount, 1)
            m.kinds[pfn] = kind
            if kind != "zero":  # content: the kind's name and the pfn, so level 1 keeps it
                m.write(pfn * m.page_size + 16, f"{kind} page {pfn:#x}".encode())
            pfn += 1
    return mm, npfn * size


def page_vmcoreinfo(m: Machine) -> dict[str, object]:
    sp = struct_page(m.ptr)
    vi: dict[str, object] = {"SIZE(page)": sp["size"]}
    for f in ("flags", "lru", "mapping", "private", "_mapcount", "_refcount"):
        vi[f"OFFSET(page.{f})"] = sp[f]
    vi.update({"NUMBER(PG_lru)": PG_LRU, "NUMBER(PG_private)": PG_PRIVATE, "NUMBER(PG_swapcache)": PG_SWAPCACHE,
               "NUMBER(PG_swapbacked)": PG_SWAPBACKED, "NUMBER(PG_slab)": PG_SLAB,
               "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)": BUDDY_MAPCOUNT, "LENGTH(zone.free_area)": 11})
    return vi


def uts(m: Machine, kva: int) -> int:
    """init_uts_ns: a kref (int), then struct new_utsname (six 65-byte strings)."""
    pa = m.alloc(4 + 6 * 65, 8)
    for i, s in enumerate(("Linux", "synthetic-" + m.arch, m.release, "#1 SMP", m.uname, "(none)")):
        m.write(pa + 4 + 65 * i, s.encode())
    return kva + pa


def printk_ring(m: Machine, kva: int) -> dict[str, object]:
    """The lockless printk ring (5.10+), its records finalized; VMCOREINFO entries returned.

    struct printk_ringbuffer { prb_desc_ring desc_ring; prb_data_ring text_data_ring;
    atomic_long_t fail; } with prb_desc_ring { u32 count_bits; prb_desc *descs; printk_info
    *infos; atomic_long_t head_id, tail_id, last_finalized_id; }, prb_data_ring { u32 size_bits;
    char *data; atomic_long_t head_lpos, tail_lpos; }, prb_desc { atomic_long_t state_var;
    prb_data_blk_lpos { unsigned long begin, next; } }, printk_info { u64 seq; u64 ts_nsec; u16
    text_len; u8 facility; u8 flags:5, level:3; u32 caller_id; dev_printk_info dev_info }."""
    p = m.ptr
    count_bits, size_bits = 4, 10
    count, size = 1 << count_bits, 1 << size_bits
    desc_ring = {"count_bits": 0, "descs": p, "infos": 2 * p, "head_id": 3 * p, "tail_id": 4 * p}
    dr_size = 6 * p
    data_ring = {"size_bits": 0, "data": p, "head_lpos": 2 * p, "tail_lpos": 3 * p}
    prb_size = dr_size + 4 * p + p
    desc_size, info_size = 3 * p, 88  # printk_info: dev_info (64 bytes) from 24
    descs, infos, data = m.alloc(desc_size * count, 8), m.alloc(info_size * count, 8), m.alloc(size, 8)
    prb = m.alloc(prb_size, 8)
    id_bits = 8 * p - 2
    mask = (1 << id_bits) - 1
    first = ((1 << 32) - count) & mask  # the id of sequence number 0 (DESC0_ID + 1)
    lpos = 0
    for seq, text in enumerate(m.log):
        rid = (first + seq) & mask
        slot = rid % count
        blk = -(-(p + len(text)) // p) * p
        m.word(data + lpos, rid)
        m.write(data + lpos + p, text)
        d = descs + slot * desc_size
        m.word(d, (2 << id_bits) | rid)  # finalized
        m.word(d + p, lpos)
        m.word(d + 2 * p, lpos + blk)
        i = infos + slot * info_size
        m.put(i, "QQHBBI", seq, 1_000_000 * (seq + 1), len(text), 0, 6 << 5, 1)
        lpos += blk
    head = (first + len(m.log) - 1) & mask
    m.put(prb + desc_ring["count_bits"], "I", count_bits)
    m.word(prb + desc_ring["descs"], kva + descs)
    m.word(prb + desc_ring["infos"], kva + infos)
    m.word(prb + desc_ring["head_id"], head)
    m.word(prb + desc_ring["tail_id"], first)
    m.put(prb + dr_size + data_ring["size_bits"], "I", size_bits)
    m.word(prb + dr_size + data_ring["data"], kva + data)
    m.word(prb + dr_size + data_ring["head_lpos"], lpos)
    ptr_var = m.alloc(p, p)
    m.word(ptr_var, kva + prb)
    vi: dict[str, object] = {
        "SYMBOL(prb)": kva + ptr_var, "SIZE(printk_ringbuffer)": prb_size, "SIZE(prb_desc)": desc_size,
        "SIZE(printk_info)": info_size, "OFFSET(printk_ringbuffer.desc_ring)": 0,
        "OFFSET(printk_ringbuffer.text_data_ring)": dr_size, "OFFSET(prb_desc.state_var)": 0,
        "OFFSET(prb_desc.text_blk_lpos)": p, "OFFSET(prb_data_blk_lpos.begin)": 0,
        "OFFSET(prb_data_blk_lpos.next)": p, "OFFSET(printk_info.seq)": 0, "OFFSET(printk_info.ts_nsec)": 8,
        "OFFSET(printk_info.text_len)": 16, "OFFSET(printk_info.caller_id)": 20,
        "OFFSET(printk_info.dev_info)": 24, "OFFSET(atomic_long_t.counter)": 0,
    }
    vi.update({f"OFFSET(prb_desc_ring.{k})": v for k, v in desc_ring.items()})
    vi.update({f"OFFSET(prb_data_ring.{k})": v for k, v in data_ring.items()})
    return vi


def printk_log(m: Machine, kva: int) -> dict[str, object]:
    """Records of 3.11-5.9's ``struct printk_log`` (u64 ts_nsec; u16 len, text_len, dict_len; u8
    facility; u8 flags:5, level:3; no caller_id before 5.1), LOG_ALIGN 4, in ``log_buf``."""
    buf_len = 4096
    buf = m.alloc(buf_len, 8)
    pos = 0
    for seq, text in enumerate(m.log):
        n = -(-(16 + len(text)) // 4) * 4
        m.put(buf + pos, "QHHHBB", 1_000_000 * (seq + 1), n, len(text), 0, 0, 0)
        m.write(buf + pos + 16, text)
        pos += n
    p = m.ptr
    vars_ = m.alloc(p + 12, 8)  # log_buf (a pointer), then log_buf_len, log_first_idx, log_next_idx (u32)
    m.word(vars_, kva + buf)
    m.put(vars_ + p, "III", buf_len, 0, pos)
    return {"SYMBOL(log_buf)": kva + vars_, "SYMBOL(log_buf_len)": kva + vars_ + p,
            "SYMBOL(log_first_idx)": kva + vars_ + p + 4, "SYMBOL(log_next_idx)": kva + vars_ + p + 8,
            "SIZE(printk_log)": 16, "OFFSET(printk_log.ts_nsec)": 0, "OFFSET(printk_log.len)": 8,
            "OFFSET(printk_log.text_len)": 10}


def vmap_area(m: Machine, kva: int, start: int, end: int) -> dict[str, object]:
    """vmap_area_list with one area: struct vmap_area { unsigned long va_start, va_end;
    struct rb_node rb_node (three words); struct list_head list; ... }."""
    p = m.ptr
    head = m.alloc(2 * p, p)
    area = m.alloc(8 * p, p)
    m.word(area, start)
    m.word(area + p, end)
    link = area + 5 * p
    m.word(link, kva + head)
    m.word(link + p, kva + head)
    m.word(head, kva + link)
    m.word(head + p, kva + link)
    return {"SYMBOL(vmap_area_list)": kva + head, "OFFSET(vmap_area.va_start)": 0,
            "OFFSET(vmap_area.list)": 5 * p, "OFFSET(list_head.next)": 0}


def sparsemem(m: Machine, kva: int, symbol_base: int, section_map: int, section_bits: int,
              physmem_bits: int) -> dict[str, object]:
    """SPARSEMEM_EXTREME with all of RAM in section 0: ``mem_section`` (a pointer, at
    ``symbol_base`` + its physical address) -> an array of root pointers -> struct mem_section
    {section_mem_map, usage} (16 bytes), section 0's map ``section_map`` with
    SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP; pointers by their ``kva`` address."""
    sec = m.alloc(16 * 2, 8)
    m.word(sec, section_map | 1 | 2)
    roots = m.alloc(8 * 512, 8)
    m.word(roots, kva + sec)
    var = m.alloc(8, 8)
    m.word(var, kva + roots)
    return {"SYMBOL(mem_section)": symbol_base + var, "SIZE(mem_section)": 16,
            "OFFSET(mem_section.section_mem_map)": 0, "NUMBER(SECTION_SIZE_BITS)": section_bits,
            "NUMBER(MAX_PHYSMEM_BITS)": physmem_bits}


def flatmem(m: Machine, kva: int) -> dict[str, object]:
    mm, _ = plant(m, kva)
    var = m.alloc(m.ptr, m.ptr)
    m.word(var, kva + mm)
    return {"SYMBOL(mem_map)": kva + var}


# ---------------------------------------------------------------------------
# the architectures


def loongarch64() -> Machine:
    """16 KiB pages; three levels (11 index bits each: 36, 25, 14); upper entries hold the DMW
    (0x9000…) address of the next table, empty ones the shared invalid tables.  PTE bits: V 0, D
    1, MAT 4-5, G 6, P (present) 7, W 8, NX 62; a PMD with HUGE (bit 6) maps 32 MiB, its global
    bit at 12.  Physical address bits 14..47 (PTE), 25..47 (huge PMD)."""
    m = Machine("loongarch64", "loongarch64", 258, 64, "<", 16384, 1024, "6.12.0-synthetic")
    dmw = 0x9000_0000_0000_0000
    ps = m.page_size
    V, D, MAT_CC, G, P, W, HUGE, HGLOBAL, NX = 1, 2, 1 << 4, 1 << 6, 1 << 7, 1 << 8, 1 << 6, 1 << 12, 1 << 62
    inv_pte = m.alloc(ps)
    inv_pmd = m.alloc(ps)
    for i in range(2048):
        m.word(inv_pmd + 8 * i, dmw | inv_pte)
    pgd = m.alloc(ps)
    for i in range(2048):
        m.word(pgd + 8 * i, dmw | inv_pmd)
    tables: dict[tuple[int, int], int] = {}

    def table(level: int, index: int, parent: int, fill: int) -> int:
        t = tables.get((level, index))
        if t is None:
            t = tables[(level, index)] = m.alloc(ps)
            for i in range(2048):
                m.word(t + 8 * i, fill)
            m.word(parent, dmw | t)
        return t

    def pmd_of(va: int) -> int:
        return table(1, va >> 36, pgd + 8 * ((va >> 36) & 2047), dmw | inv_pte) + 8 * ((va >> 25) & 2047)

    def map_page(va: int, pa: int) -> None:
        pte = table(2, va >> 25, pmd_of(va), 0)
        m.word(pte + 8 * ((va >> 14) & 2047), pa | V | D | MAT_CC | G | P | W | NX)

    vmalloc, vmemmap, huge = 0xFFFF_8000_0200_0000, 0xFFFF_FE00_0000_0000, 0xFFFF_8000_4000_0000
    kva = dmw
    mm, mm_size = plant(m, kva)
    for off in range(0, mm_size, ps):  # the vmemmap: the struct pages by 16 KiB pages
        map_page(vmemmap + off, mm + off)
    target = (m.first + 6 * PER_KIND) * ps  # a kernel page: mapped at vmalloc and at vmalloc + 2 pages
    map_page(vmalloc, target)
    map_page(vmalloc + 2 * ps, target + ps)
    m.word(pmd_of(huge), 0 | V | D | MAT_CC | HUGE | P | W | HGLOBAL)  # 32 MiB at physical 0
    m.vtop.update({vmalloc + 0x123: target + 0x123, vmalloc + 2 * ps + 8: target + ps + 8,
                   huge + 0xABCDEF: 0xABCDEF, dmw + 0x5678: 0x5678, 0x8000_0000_0000_2000: 0x2000,
                   vmemmap + 0x40: mm + 0x40})
    m.unmapped += [vmalloc + ps, huge + (32 << 20)]
    # SPARSEMEM with the vmemmap: section 0's map is the vmemmap
    m.vmcoreinfo.update(sparsemem(m, kva, kva, vmemmap, 29, 48))
    m.vmcoreinfo.update({"SYMBOL(swapper_pg_dir)": kva + pgd, "SYMBOL(init_uts_ns)": uts(m, kva)})
    m.vmcoreinfo.update(page_vmcoreinfo(m))
    m.vmcoreinfo.update(printk_ring(m, kva))
    return m


def mips64el() -> Machine:
    """4 KiB pages (Malta); three levels (9 index bits: 30, 21, 12); upper entries hold the
    XKPHYS (0x9800…) address of the next table, empty ones the invalid tables.  PTE bits of a
    kernel built for a CPU with RI/XI, huge pages, PTE_SPECIAL (as Debian 12's 5kc-malta and
    loongson-3 configurations are; no soft-dirty bit, no NUMA balancing): PRESENT 0, WRITE 1, ACCESSED 2,
    MODIFIED 3, HUGE 4, SPECIAL 5, NO_EXEC 6, NO_READ 7, GLOBAL 8, VALID 9, DIRTY 10, cache
    attribute 11-13, the frame number from bit 14.  A PMD with HUGE maps 2 MiB."""
    m = Machine("mips64", "mips64", 8, 64, "<", 4096, 4096, "6.1.0-synthetic")
    xkphys, ckseg0 = 0x9800_0000_0000_0000, 0xFFFF_FFFF_8000_0000
    ps = m.page_size
    PRESENT, WRITE, ACCESSED, MODIFIED, HUGE = 1, 2, 4, 8, 16
    GLOBAL, VALID, DIRTY, CACHE_NONCOHERENT, PFN = 1 << 8, 1 << 9, 1 << 10, 3 << 11, 14
    kernel = PRESENT | WRITE | ACCESSED | MODIFIED | GLOBAL | VALID | DIRTY | CACHE_NONCOHERENT
    inv_pte = m.alloc(ps)
    inv_pmd = m.alloc(ps)
    for i in range(512):
        m.word(inv_pmd + 8 * i, xkphys | inv_pte)
    pgd = m.alloc(ps)
    for i in range(512):
        m.word(pgd + 8 * i, xkphys | inv_pmd)
    pmd = m.alloc(ps)
    for i in range(512):
        m.word(pmd + 8 * i, xkphys | inv_pte)
    pte = m.alloc(ps)
    vmalloc = 0xC000_0000_0000_0000 + 0x40_0000  # pgd 0, pmd 2
    m.word(pgd, ckseg0 | pmd)  # a table by its CKSEG0 address: both kinds occur
    m.word(pmd + 8 * 2, xkphys | pte)
    kva = xkphys
    target = (m.first + 6 * PER_KIND) * ps
    m.word(pte + 8 * 0, (target >> 12) << PFN | kernel)
    m.word(pte + 8 * 5, ((target + ps) >> 12) << PFN | kernel)
    huge = 0xC000_0000_0000_0000 + 0x60_0000  # pmd 3: 2 MiB at physical 2 MiB
    m.word(pmd + 8 * 3, (0x20_0000 >> 12) << PFN | kernel | HUGE)
    m.vtop.update({vmalloc + 0x321: target + 0x321, vmalloc + 5 * ps + 4: target + ps + 4,
                   huge + 0x12345: 0x21_2345, xkphys + 0x7000: 0x7000, ckseg0 + 0x9000: 0x9000,
                   0xFFFF_FFFF_A000_0010: 0x10})
    m.unmapped += [vmalloc + ps, 0xC000_0000_4000_0000]
    mm, _ = plant(m, kva)
    # SPARSEMEM without vmemmap (mips has none): the section's map is in XKPHYS
    m.vmcoreinfo.update(sparsemem(m, kva, ckseg0, kva + mm, 28, 48))
    m.vmcoreinfo.update({"SYMBOL(swapper_pg_dir)": ckseg0 + pgd, "SYMBOL(init_uts_ns)": uts(m, ckseg0)})
    m.vmcoreinfo.update(page_vmcoreinfo(m))
    m.vmcoreinfo.update(printk_ring(m, kva))
    return m


def mips() -> Machine:
    """32-bit big-endian, 4 KiB pages; two levels (10 index bits: 22, 12) of 32-bit entries; a
    directory entry holds the KSEG0 address of a PTE page, empty ones ``invalid_pte_table``'s.
    PTE bits of a kernel without RI/XI (a MIPS32 R1 CPU): PRESENT 0, READ 1, WRITE 2, ACCESSED 3,
    MODIFIED 4, SPECIAL 5, GLOBAL 6, VALID 7, DIRTY 8, cache attribute 9-11, the frame number
    from bit 12."""
    m = Machine("mips", "mips", 8, 32, ">", 4096, 4096, "6.1.0-synthetic")
    kseg0 = 0x8000_0000
    ps = m.page_size
    kernel = 1 | 2 | 4 | 8 | 16 | 1 << 6 | 1 << 7 | 1 << 8 | 3 << 9
    inv_pte = m.alloc(ps)
    pgd = m.alloc(ps)
    for i in range(1024):
        m.word(pgd + 4 * i, kseg0 | inv_pte)
    pte = m.alloc(ps)
    vmalloc = 0xC000_0000 + 0x10_0000  # pgd 0x300, pte 0x100
    m.word(pgd + 4 * (vmalloc >> 22), kseg0 | pte)
    target = (m.first + 6 * PER_KIND) * ps
    m.word(pte + 4 * ((vmalloc >> 12) & 1023), target | kernel)
    m.word(pte + 4 * (((vmalloc >> 12) + 3) & 1023), (target + ps) | kernel)
    m.vtop.update({vmalloc + 0x10: target + 0x10, vmalloc + 3 * ps + 0xFF0: target + ps + 0xFF0,
                   kseg0 + 0x3000: 0x3000, 0xA000_2000: 0x2000})
    m.unmapped += [vmalloc + ps, 0xE000_0000]
    m.vmcoreinfo.update({"SYMBOL(swapper_pg_dir)": kseg0 + pgd, "SYMBOL(init_uts_ns)": uts(m, kseg0)})
    m.vmcoreinfo.update(flatmem(m, kseg0))
    m.vmcoreinfo.update(page_vmcoreinfo(m))
    m.vmcoreinfo.update(printk_ring(m, kseg0))
    return m


def ppc() -> Machine:
    """32-bit book3s (hash MMU, as a PowerMac G4 runs), 4 KiB pages; linear map at 0xc0000000; two
    levels (22, 12) of 32-bit entries: a directory entry is the physical address of a PTE page
    (zero: none); PTE bits PRESENT 0x001, HASHPTE 0x002, USER 0x004, GUARDED 0x008, COHERENT 0x010,
    NO_CACHE 0x020, WRITETHRU 0x040, DIRTY 0x080, ACCESSED 0x100, EXEC 0x200, RW 0x400, the
    physical page from bit 12."""
    m = Machine("ppc", "ppc", 20, 32, ">", 4096, 4096, "6.1.0-synthetic")
    po = 0xC000_0000
    ps = m.page_size
    pgd = m.alloc(ps)
    pte = m.alloc(ps)
    vmalloc = 0xF100_0000  # above lowmem (16 MiB) and its gap
    m.word(pgd + 4 * (vmalloc >> 22), pte)
    target = (m.first + 6 * PER_KIND) * ps
    kernel = 0x001 | 0x080 | 0x100 | 0x400
    m.word(pte + 4 * ((vmalloc >> 12) & 1023), target | kernel)
    m.word(pte + 4 * (((vmalloc >> 12) + 7) & 1023), (target + ps) | kernel)
    m.vtop.update({vmalloc + 0x44: target + 0x44, vmalloc + 7 * ps + 0x200: target + ps + 0x200,
                   po + 0x5000: 0x5000})
    m.unmapped += [vmalloc + ps, 0xF500_0000]
    m.vmcoreinfo.update({"SYMBOL(swapper_pg_dir)": po + pgd, "SYMBOL(init_uts_ns)": uts(m, po),
                         "SYMBOL(_stext)": po})
    m.vmcoreinfo.update(vmap_area(m, po, vmalloc, vmalloc + 8 * ps))
    m.vmcoreinfo.update(flatmem(m, po))
    m.vmcoreinfo.update(page_vmcoreinfo(m))
    m.vmcoreinfo.update(printk_ring(m, po))
    return m


def s390() -> Machine:
    """ESA/390, 31-bit addresses, 4 KiB pages, kernel virtual = physical.  Segment table: 2048
    entries of 4 bytes (address bits 1..11 index it, the segment index), each: page-table
    origin in bits 1..25 (64-byte units), bit 26 invalid (0x20), bit 27 common, bits 28..31 the
    table length; page table: 256 entries (bits 12..19 of the address), each: frame in bits
    1..19, bit 21 invalid (0x400), bit 22 protection (0x200).  Linux packs four 1 KiB page
    tables in a page."""
    m = Machine("s390", "s390", 22, 32, ">", 4096, 4096, "4.0.0-synthetic")
    ps = m.page_size
    sgt = m.alloc(2 * ps, 2 * ps)
    for i in range(2048):
        m.word(sgt + 4 * i, 0x20)
    pts = m.alloc(ps)
    for i in range(1024):
        m.word(pts + 4 * i, 0x400)
    vmalloc = 0x0180_0000  # 24 MiB: above RAM (16 MiB) and an 8 MiB gap
    pt = pts + 0x400  # the second 1 KiB table of the page
    m.word(sgt + 4 * (vmalloc >> 20), pt | 0x0F)
    target = (m.first + 6 * PER_KIND) * ps
    m.word(pt + 4 * ((vmalloc >> 12) & 255), target)
    m.word(pt + 4 * (((vmalloc >> 12) + 9) & 255), (target + ps) | 0x200)  # read-only is still mapped
    m.vtop.update({vmalloc + 0x77: target + 0x77, vmalloc + 9 * ps + 0x10: target + ps + 0x10,
                   0x6000: 0x6000})
    m.unmapped += [vmalloc + ps, vmalloc + (1 << 20)]
    m.vmcoreinfo.update({"SYMBOL(swapper_pg_dir)": sgt, "SYMBOL(init_uts_ns)": uts(m, 0)})
    m.vmcoreinfo.update(vmap_area(m, 0, vmalloc, vmalloc + 16 * ps))
    m.vmcoreinfo.update(flatmem(m, 0))
    m.vmcoreinfo.update(page_vmcoreinfo(m))
    m.vmcoreinfo.update(printk_log(m, 0))
    return m


SPARC64_PAGE_OFFSET = 0xFFF0_0000_0000_0000  # -(1 << 52): a CPU with 52 physical address bits


def sparc64() -> Machine:
    """sun4v, 8 KiB pages, big-endian.  The image is linked at KERNBASE 0x400000 and loaded at
    physical 8 KiB here (its own PT_LOAD, the first); RAM is mapped linearly at PAGE_OFFSET
    (``-(1 << 52)``); four levels of 1024 entries (address bits 52..43, 42..33, 32..23, 22..13)
    whose upper entries hold the physical address of the next table.  sun4v PTE: VALID bit 63,
    the physical address in bits 55..13, PRESENT 0x10, CP 0x400, CV 0x200, P (privileged) 0x100,
    EXEC 0x80, W 0x40; a PMD with bit 56 (huge) maps 8 MiB.  SPARSEMEM with the vmemmap at
    0x10000000000."""
    m = Machine("sparc64", "sparc64", 43, 64, ">", 8192, 2048, "6.1.0-synthetic")
    ps, kernbase, po = m.page_size, 0x400000, SPARC64_PAGE_OFFSET
    m.image = (ps, kernbase, (m.first - 1) * ps)  # loaded at physical 8 KiB: phys_base 0x2000
    VALID, PRESENT, CP, CV, PRIV, W, HUGE = 1 << 63, 0x10, 0x400, 0x200, 0x100, 0x40, 1 << 56
    kernel = VALID | PRESENT | CP | CV | PRIV | W
    pgd = m.alloc(ps)
    tables: dict[tuple[int, int], int] = {}

    def table(level: int, key: int, parent: int) -> int:
        t = tables.get((level, key))
        if t is None:
            t = tables[(level, key)] = m.alloc(ps)
            m.word(parent, t)  # a physical address
        return t

    def pmd_entry(va: int) -> int:
        pud = table(1, va >> 43, pgd + 8 * ((va >> 43) & 1023))
        return table(2, va >> 33, pud + 8 * ((va >> 33) & 1023)) + 8 * ((va >> 23) & 1023)

    def map_page(va: int, pa: int) -> None:
        pte = table(3, va >> 23, pmd_entry(va))
        m.word(pte + 8 * ((va >> 13) & 1023), pa | kernel)

    vmalloc, vmemmap, huge = 0x1_0000_0000 + 0x20_0000, 0x100_0000_0000, 0x1_1000_0000
    mm, mm_size = plant(m, po)
    for off in range(0, mm_size, ps):
        map_page(vmemmap + off, mm + off)
    target = (m.first + 6 * PER_KIND) * ps
    map_page(vmalloc, target)
    map_page(vmalloc + 3 * ps, target + ps)
    m.word(pmd_entry(huge), 0x80_0000 | kernel | HUGE)  # 8 MiB at physical 8 MiB
    m.vtop.update({vmalloc + 0x99: target + 0x99, vmalloc + 3 * ps + 0x1000: target + ps + 0x1000,
                   huge + 0x12345: 0x81_2345, po + 0x6000: 0x6000, kernbase + 0x4010: 0x6010,
                   vmemmap + 0x2000: mm + 0x2000})
    m.unmapped += [vmalloc + ps, huge + (8 << 20)]
    image = kernbase - ps  # kernel variables by their image address (physical - phys_base + KERNBASE)
    # mem_section's roots are pointers into the linear map (how the translator finds PAGE_OFFSET)
    m.vmcoreinfo.update(sparsemem(m, po, image, vmemmap, 30, 53))
    m.vmcoreinfo.update({"SYMBOL(swapper_pg_dir)": image + pgd, "SYMBOL(init_uts_ns)": uts(m, image)})
    m.vmcoreinfo.update(page_vmcoreinfo(m))
    m.vmcoreinfo.update(printk_ring(m, po))
    return m


def alpha() -> Machine:
    """8 KiB pages, little-endian; physical memory at KSEG 0xfffffc0000000000; three levels of
    1024 entries (address bits 42..33, 32..23, 22..13), every entry holding the page frame number
    in bits 63..32 and VALID in bit 0 (PTE: FOR 0x2, FOW 0x4, FOE 0x8, ASM 0x10, KRE 0x100, URE
    0x200, KWE 0x1000, UWE 0x2000); vmalloc from 0xfffffffc00000000 (-2 PGDIR_SIZE).  FLATMEM."""
    m = Machine("alpha", "alpha", 0x9026, 64, "<", 8192, 2048, "6.1.0-synthetic")
    ps, kseg = m.page_size, 0xFFFF_FC00_0000_0000
    VALID, ASM, KRE, KWE = 0x1, 0x10, 0x100, 0x1000
    pgd, pmd, pte = m.alloc(ps), m.alloc(ps), m.alloc(ps)
    vmalloc = 0xFFFF_FFFC_0000_0000 + 0x4000  # pgd 1022, pmd 0, pte 2
    m.word(pgd + 8 * ((vmalloc >> 33) & 1023), (pmd // ps) << 32 | VALID)
    m.word(pmd + 8 * ((vmalloc >> 23) & 1023), (pte // ps) << 32 | VALID)
    target = (m.first + 6 * PER_KIND) * ps
    m.word(pte + 8 * ((vmalloc >> 13) & 1023), (target // ps) << 32 | VALID | ASM | KRE | KWE)
    m.word(pte + 8 * (((vmalloc >> 13) + 4) & 1023), ((target + ps) // ps) << 32 | VALID | ASM | KRE)
    m.vtop.update({vmalloc + 0x1FFF - 8: target + 0x1FFF - 8, vmalloc + 4 * ps + 0x100: target + ps + 0x100,
                   kseg + 0x8008: 0x8008})
    m.unmapped += [vmalloc + ps, 0xFFFF_FFFE_0000_0000]
    m.vmcoreinfo.update({"SYMBOL(swapper_pg_dir)": kseg + pgd, "SYMBOL(init_uts_ns)": uts(m, kseg),
                         "SYMBOL(_stext)": kseg + 0x31_0000})
    m.vmcoreinfo.update(flatmem(m, kseg))
    m.vmcoreinfo.update(page_vmcoreinfo(m))
    m.vmcoreinfo.update(printk_ring(m, kseg))
    return m


def ia64() -> Machine:
    """16 KiB pages, little-endian.  Region 7 (0xe000…) maps physical memory; the image is linked
    at KERNEL_START 0xa000000100000000 (region 5) and loaded at physical 16 KiB here (its own PT_LOAD,
    the first); vmalloc from 4 GiB above it.  The kernel walks region 5 without its region bits:
    three levels of 2048 entries (address bits 46..36, 35..25, 24..14), upper entries the physical
    address of the next table, a PTE the page in bits 49..12 and P 0x1, A 0x20, D 0x40, access
    rights in bits 9..11.  SPARSEMEM with the vmemmap in region 5; ``CONFIG_PGTABLE_3=y``."""
    m = Machine("ia64", "ia64", 50, 64, "<", 16384, 1024, "4.19.0-synthetic")
    ps, kstart, r7 = m.page_size, 0xA000_0001_0000_0000, 0xE000_0000_0000_0000
    m.image = (ps, kstart, (m.first - 1) * ps)  # loaded at physical 16 KiB: phys_base 0x4000
    image = kstart - ps  # kernel variables by their image address
    kernel = 0x1 | 0x20 | 0x40 | 2 << 9
    pgd = m.alloc(ps)
    tables: dict[tuple[int, int], int] = {}

    def table(level: int, key: int, parent: int) -> int:
        t = tables.get((level, key))
        if t is None:
            t = tables[(level, key)] = m.alloc(ps)
            m.word(parent, t)
        return t

    def map_page(va: int, pa: int) -> None:
        pmd = table(1, (va >> 36) & 2047, pgd + 8 * ((va >> 36) & 2047))
        pte = table(2, (va >> 25) & 0xFFFFF, pmd + 8 * ((va >> 25) & 2047))
        m.word(pte + 8 * ((va >> 14) & 2047), pa | kernel)

    vmalloc, vmemmap = kstart + (1 << 32) + 0x8000, 0xA000_0003_0000_0000
    mm, mm_size = plant(m, r7)
    for off in range(0, mm_size, ps):
        map_page(vmemmap + off, mm + off)
    target = (m.first + 6 * PER_KIND) * ps
    map_page(vmalloc, target)
    map_page(vmalloc + 5 * ps, target + ps)
    m.vtop.update({vmalloc + 0x3FF0: target + 0x3FF0, vmalloc + 5 * ps + 0x10: target + ps + 0x10,
                   r7 + 0x4444: 0x4444, 0xC000_0000_0000_8000: 0x8000, kstart + 0x12340: 0x16340,
                   vmemmap + 0x4008: mm + 0x4008})
    m.unmapped += [vmalloc + ps, 0x2000_0000_0000_0000]
    m.vmcoreinfo.update(sparsemem(m, r7, image, vmemmap, 30, 50))
    m.vmcoreinfo.update({"SYMBOL(swapper_pg_dir)": image + pgd, "SYMBOL(init_uts_ns)": uts(m, image),
                         "SYMBOL(_stext)": kstart, "CONFIG_PGTABLE_3": "y"})
    m.vmcoreinfo.update(page_vmcoreinfo(m))
    m.vmcoreinfo.update(printk_log(m, r7))
    return m


#: name -> (builder, the kernel's address of physical 0 for the PT_LOAD, registers in pr_reg)
MACHINES = {
    "loongarch64": (loongarch64, 0x9000_0000_0000_0000, 45),
    "mips64": (mips64el, 0x9800_0000_0000_0000, 45),
    "mips": (mips, 0x8000_0000, 45),
    "ppc": (ppc, 0xC000_0000, 48),
    "s390": (s390, 0, 36),
    "sparc64": (sparc64, SPARC64_PAGE_OFFSET, 36),
    "alpha": (alpha, 0xFFFF_FC00_0000_0000, 33),
    "ia64": (ia64, 0xE000_0000_0000_0000, 128),
}


def build(name: str, path: object) -> Machine:
    """Build machine ``name`` and write its vmcore to ``path``."""
    make, linear, nregs = MACHINES[name]
    m = make()
    m.write_elf(path, linear, nregs)
    return m
