"""A small x86_64 kernel that lives in a dump: gen/vmlinux.py's structures compiled by gcc, linked
at the kernel's own addresses (text at 0xffffffff81000000, so physical 16 MiB with phys_base 0),
and its loaded segments laid out in physical memory, with what makedumpfile and we read of a
kernel filled in: the page tables, SPARSEMEM's mem_section, the struct pages, the online CPUs,
linux_banner and init_uts_ns.  A tool given the image with ``-x`` finds everything at the
addresses the image says, as in a real dump taken without VMCOREINFO (SADUMP).

The memory: ``MEM_PAGES`` pages; the page contents outside the kernel are chosen by page kind
(``kinds``): ``zero``, ``cache`` (PG_lru, a file mapping), ``private`` (PG_lru and PG_private,
a file mapping), ``user`` (a mapping with the anonymous bit), ``plain`` (none of those).
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .vmlinux import KERNEL_C

START_KERNEL_MAP = 0xFFFFFFFF80000000
TEXT = 0xFFFFFFFF81000000
PAGE_OFFSET = 0xFFFF888000000000
PS = 4096
MEM_PAGES = 6144  # 24 MiB: the kernel at 16 MiB, then its bss
PAGE_SIZE_STRUCT = 64
# enum pageflags of KERNEL_C
PG_LRU, PG_PRIVATE = 4, 13
RELEASE = "6.1.0-linked-test"

EXTRA_C = r"""
char linux_banner[] = "Linux version RELEASE (gen@linked) #1 SMP\n";
struct cpumask { unsigned long bits[1]; };
struct cpumask __cpu_online_mask = { { 3 } };
struct page pages[MEM_PAGES];
struct mem_section sec0[256];
struct mem_section *root0[1] = { sec0 };
struct mem_section **mem_section = root0;
pg_data_t node0;
pg_data_t *node_data[64] = { &node0 };
nodemask_t node_states[NR_NODE_STATES] = { [N_ONLINE] = { { 1 } }, [N_NORMAL_MEMORY] = { { 1 } } };
unsigned long max_pfn = MEM_PAGES;
unsigned long init_top_pgt[512] __attribute__((aligned(4096)));
unsigned long level3_kernel_pgt[512] __attribute__((aligned(4096)));
unsigned long level3_direct_pgt[512] __attribute__((aligned(4096)));
struct page *used_page; struct folio *used_folio; struct vm_struct *used_vm; struct vmap_area *used_va;
enum pageflags used_pageflags; enum zone_stat_item used_zone_stat; pud_t used_pud;
struct printk_ringbuffer *prb;
struct latched_seq clear_seq;
struct list_head vmap_area_list;
void *high_memory;
void _stext(void) {}
void _start(void) { for (;;); }
"""


@dataclass
class LinkedKernel:
    vmlinux: Path
    pages: dict[int, bytes]  # pfn -> data, every page of RAM
    kinds: dict[int, str] = field(default_factory=dict)  # pfn -> kind (pages outside the kernel)
    symbols: dict[str, int] = field(default_factory=dict)


def _types_only() -> str:
    """KERNEL_C's declarations, without its variables (defined again here)."""
    return KERNEL_C[: KERNEL_C.index("struct uts_namespace init_uts_ns")]


def _nm(nm: str, path: Path) -> dict[str, int]:
    out = {}
    for line in subprocess.run([nm, str(path)], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            out[parts[2]] = int(parts[0], 16)
    return out


def _loads(path: Path) -> list[tuple[int, int, int, int]]:
    """PT_LOADs of an ELF64 little-endian file: (vaddr, offset, filesz, memsz)."""
    data = path.read_bytes()
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    out = []
    for i in range(phnum):
        p_type, _, off, vaddr, _, filesz, memsz, _ = struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
        if p_type == 1:
            out.append((vaddr, off, filesz, memsz))
    return out


def build_linked_kernel(out_dir: str | os.PathLike[str], *, seed: int = 5) -> LinkedKernel:
    """Compile and link the kernel in ``out_dir`` (``vmlinux``) and make its memory.  Raises
    FileNotFoundError without gcc or nm."""
    cc, nm = shutil.which("gcc") or shutil.which("cc"), shutil.which("nm")
    if cc is None or nm is None:
        raise FileNotFoundError("no C compiler or nm")
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    src, vmlinux = d / "linked.c", d / "vmlinux"
    src.write_text(_types_only().replace("6.1.0-dwarf-test", RELEASE)
                   + "struct uts_namespace init_uts_ns = { 1, { \"Linux\", \"(none)\", \"RELEASE\", \"#1 SMP\", "
                     "\"x86_64\", \"(none)\" } };\n".replace("RELEASE", RELEASE)
                   + EXTRA_C.replace("RELEASE", RELEASE).replace("MEM_PAGES", str(MEM_PAGES)))
    subprocess.run([cc, "-g", "-O0", "-nostdlib", "-static", "-no-pie", "-fno-pic", "-mcmodel=kernel",
                    f"-Wl,-Ttext={TEXT:#x}", "-Wl,-z,max-page-size=4096", "-o", str(vmlinux), str(src)], check=True)
    src.unlink()
    syms = _nm(nm, vmlinux)
    mem = bytearray(MEM_PAGES * PS)
    data = vmlinux.read_bytes()
    for vaddr, off, filesz, memsz in _loads(vmlinux):
        pa = vaddr - START_KERNEL_MAP
        if pa + memsz > len(mem):
            raise ValueError(f"the kernel ends at {pa + memsz:#x}, past the {len(mem):#x} bytes of memory")
        mem[pa:pa + filesz] = data[off:off + filesz]

    def pa(sym: str) -> int:
        return syms[sym] - START_KERNEL_MAP

    def put(addr: int, b: bytes) -> None:
        mem[addr:addr + len(b)] = b

    # page tables: the kernel text and the direct map, each one 1 GiB page onto physical 0
    table = 0x63  # present, writable, accessed, dirty
    put(pa("init_top_pgt") + ((TEXT >> 39) & 511) * 8, struct.pack("<Q", pa("level3_kernel_pgt") | table))
    put(pa("init_top_pgt") + ((PAGE_OFFSET >> 39) & 511) * 8, struct.pack("<Q", pa("level3_direct_pgt") | table))
    put(pa("level3_kernel_pgt") + ((START_KERNEL_MAP >> 30) & 511) * 8, struct.pack("<Q", 0 | table | 0x80))
    put(pa("level3_direct_pgt") + ((PAGE_OFFSET >> 30) & 511) * 8, struct.pack("<Q", 0 | table | 0x80))
    # SPARSEMEM: section 0 (128 MiB) holds every page; its section_mem_map is the address of the
    # struct page of pfn 0 (minus section 0's first pfn, 0), with SECTION_MARKED_PRESENT (1) and
    # SECTION_HAS_MEM_MAP (2)
    put(pa("sec0"), struct.pack("<Q", syms["pages"] | 3))
    # the struct pages: flags at 0, mapping at 24 (struct page of KERNEL_C)
    rng = random.Random(seed)
    kernel_pfns = set()
    for vaddr, _, _, memsz in _loads(vmlinux):
        a = (vaddr - START_KERNEL_MAP) // PS
        kernel_pfns.update(range(a, -(-(vaddr - START_KERNEL_MAP + memsz) // PS)))
    k = LinkedKernel(vmlinux, {}, {}, syms)
    for pfn in range(MEM_PAGES):
        if pfn in kernel_pfns:
            kind = "kernel"
        else:
            kind = rng.choice(["zero", "cache", "private", "user", "plain", "plain"])
            if kind != "zero":
                mem[pfn * PS:(pfn + 1) * PS] = (b"%s %06d " % (kind.encode(), pfn) * PS)[:PS]
        k.kinds[pfn] = kind
        flags, mapping = {"cache": (1 << PG_LRU, 0xFFFF888000100000),
                          "private": (1 << PG_LRU | 1 << PG_PRIVATE, 0xFFFF888000100000),
                          "user": (1 << PG_LRU, 0xFFFF888000200001)}.get(kind, (0, 0))
        at = pa("pages") + pfn * PAGE_SIZE_STRUCT
        put(at, struct.pack("<Q", flags))
        put(at + 24, struct.pack("<Q", mapping))
        put(at + 52, struct.pack("<i", 1))  # _refcount
        put(at + 48, struct.pack("<i", -1))  # _mapcount
    # the kernel's pages again: its struct pages were written into its bss
    for pfn in range(MEM_PAGES):
        k.pages[pfn] = bytes(mem[pfn * PS:(pfn + 1) * PS])
    return k
