"""A small kernel image with DWARF, compiled by gcc: the structures, enums
and variables makedumpfile -g looks up, laid out as in Linux 6.1 (anonymous
unions and structs in struct page, typedef'd nodemask_t, atomic_long_t and
pud_t, the printk ring buffer).  For the -g/-x tests and the dwarf fuzz
seeds; no distribution debug vmlinux is needed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

KERNEL_C = r"""
struct list_head { struct list_head *next, *prev; };
typedef struct { long counter; } atomic_long_t;
typedef struct { unsigned long bits[16]; } nodemask_t;
typedef struct { unsigned long pud; } pud_t;
enum pageflags { PG_locked, PG_referenced, PG_uptodate, PG_dirty, PG_lru, PG_active, PG_workingset,
    PG_waiters, PG_error, PG_slab, PG_owner_priv_1, PG_arch_1, PG_reserved, PG_private, PG_private_2,
    PG_writeback, PG_head, PG_mappedtodisk, PG_reclaim, PG_swapbacked, PG_unevictable, PG_mlocked,
    PG_uncached, PG_hwpoison, __NR_PAGEFLAGS, PG_swapcache = PG_owner_priv_1 };
enum zone_stat_item { NR_FREE_PAGES, NR_ZONE_LRU_BASE };
enum node_states { N_POSSIBLE, N_ONLINE, N_NORMAL_MEMORY, NR_NODE_STATES };
enum { HUGETLB_PAGE_DTOR = 2 };
struct page {
    unsigned long flags;
    union {
        struct { union { struct list_head lru; struct { void *__filler; unsigned int mlock_count; }; };
                 void *mapping; unsigned long index; unsigned long private; };
        struct { unsigned long compound_head; unsigned char compound_dtor; unsigned char compound_order;
                 int compound_mapcount; };
        struct { unsigned long _pt_pad_1; void *pmd_huge_pte; };
    };
    union { int _mapcount; unsigned int page_type; };
    int _refcount;
    unsigned long memcg_data;
};
struct folio { unsigned long flags; union { struct { struct list_head lru; void *mapping; }; struct page page; };
    unsigned char _folio_dtor; unsigned char _folio_order; };
struct mem_section { unsigned long section_mem_map; void *usage; void *page_ext; unsigned long pad; };
struct free_area { struct list_head free_list[5]; unsigned long nr_free; };
struct zone { unsigned long _watermark[4]; long lowmem_reserve[4]; int node; void *zone_pgdat;
    unsigned long zone_start_pfn; unsigned long managed_pages; unsigned long spanned_pages;
    struct free_area free_area[11]; unsigned long flags; atomic_long_t vm_stat[12]; };
typedef struct pglist_data { struct zone node_zones[4]; int nr_zones; unsigned long node_start_pfn;
    unsigned long node_present_pages; unsigned long node_spanned_pages; int node_id; } pg_data_t;
struct new_utsname { char sysname[65], nodename[65], release[65], version[65], machine[65], domainname[65]; };
struct uts_namespace { int kref; struct new_utsname name; void *user_ns; };
struct vm_struct { struct vm_struct *next; void *addr; unsigned long size; };
struct vmap_area { unsigned long va_start; unsigned long va_end; struct list_head list; };
struct prb_data_blk_lpos { unsigned long begin; unsigned long next; };
struct prb_desc { atomic_long_t state_var; struct prb_data_blk_lpos text_blk_lpos; };
struct printk_info { unsigned long long seq; unsigned long long ts_nsec; unsigned short text_len;
    unsigned char facility; unsigned char flags : 5; unsigned char level : 3; unsigned int caller_id; };
struct prb_desc_ring { unsigned int count_bits; struct prb_desc *descs; struct printk_info *infos;
    atomic_long_t head_id; atomic_long_t tail_id; atomic_long_t last_finalized_id; };
struct prb_data_ring { unsigned int size_bits; char *data; atomic_long_t head_lpos; atomic_long_t tail_lpos; };
struct printk_ringbuffer { struct prb_desc_ring desc_ring; struct prb_data_ring text_data_ring; atomic_long_t fail; };
struct latched_seq { unsigned long seqcount; unsigned long long val[2]; };

struct uts_namespace init_uts_ns = { 1, { "Linux", "(none)", "6.1.0-dwarf-test", "#1 SMP", "x86_64", "(none)" } };
struct mem_section **mem_section;
pg_data_t *node_data[64];
nodemask_t node_states[NR_NODE_STATES];
struct printk_ringbuffer *prb;
struct latched_seq clear_seq;
struct list_head vmap_area_list;
unsigned long max_pfn;
void *high_memory;
unsigned long init_top_pgt[512] __attribute__((aligned(4096)));
enum pageflags used_pageflags;
enum zone_stat_item used_zone_stat;
pud_t used_pud;
struct page *used_page; struct folio *used_folio; struct vm_struct *used_vm; struct vmap_area *used_va;
void _stext(void) {}
void _start(void) { for (;;); }
"""


def build_vmlinux(out: str | os.PathLike[str], *flags: str, release: str = "6.1.0-dwarf-test") -> Path:
    """Compile the image to ``out`` with extra gcc ``flags`` (-gdwarf-5,
    -gz=zlib, -g0 ...).  Raises FileNotFoundError without a C compiler."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise FileNotFoundError("no C compiler")
    out = Path(out)
    src = out.with_suffix(".c")
    src.write_text(KERNEL_C.replace("6.1.0-dwarf-test", release))
    subprocess.run([cc, "-O0", "-nostdlib", "-static", "-o", str(out), str(src), *flags], check=True)
    src.unlink()
    return out
