"""``-e``: leave out the pages of the vmemmap that only describe pages the dump leaves out.

On x86_64 the ``struct page`` array (the vmemmap) is mapped with 2 MiB pages.  Where a long
run of present pages is excluded whole (free memory, above all), the pages of the vmemmap
that hold only their ``struct page`` say nothing a reader of the dump needs, and on a big
machine they are many (64 bytes per 4 KiB page: 1.6 % of memory).  makedumpfile's ``-e``
drops them and sets a flag in the kdump header so that crash knows; this is the same choice
of pages, step by step (docs/erase.md, "-e"):

- the vmemmap's 2 MiB mappings are grouped where they are physically contiguous, walking the
  kernel's page tables from the vmemmap's start for as many ``struct page`` as the dump has
  page frames (a group ends at the first pfn of the mapping that breaks it; the last group
  at the first pfn of the last mapping walked);
- the page maps are scanned in blocks of 32768 pfns, in words of 64 pfns: a run of two words
  or more, each with all 64 pfns present and none kept, inside one group, frees the vmemmap
  pages that lie wholly within the run's ``struct page`` bytes.

Where those vmemmap pages are in physical memory is read from the page tables, page by page
(one walk per mapping). makedumpfile 1.7.2 computes it from the group's first mapping instead,
and after a hole in the memory map that arithmetic picks other pages: on a 4 GiB x86_64 guest
(RAM above 4 GiB) it drops 14,025 pages none of which is a vmemmap page, 5,107 of them pages
that -d 31 keeps. The choice of runs stays makedumpfile's; the pages dropped are the ones that hold their
``struct page`` (tests/real/test_vmemmap_real.py).
"""

from __future__ import annotations

from ..core.errors import AddressTranslationError, UnsupportedDumpError
from ..core.hints import Any
from ..core.pagemap import PageMap
from ..translate.x86_64 import PAGE_PSE

HUGE = 2 << 20
WORD = 64  # pfns per bitmap word
BLOCK = 4096 * 8  # pfns per block of the scan
PMASK = 0x7FFFFFFFFFFFF000  # makedumpfile's mask of a table entry's address (wider than the translator's)


def vmemmap_groups(ctx: Any, base: int, struct_size: int, high_pfn: int) -> list[tuple[int, int]]:
    """The physically contiguous groups of the vmemmap's 2 MiB mappings, as (first pfn
    represented, last pfn represented, inclusive)."""
    vi = ctx.reader.vmcoreinfo
    km = ctx.kernel_memory()
    if km.xlat.levels != 4:
        raise UnsupportedDumpError("-e: 5-level page tables are not supported yet", ctx.name)
    top = vi.SYMBOL.get("init_top_pgt") or vi.SYMBOL.get("init_level4_pgt")
    if top is None:
        raise UnsupportedDumpError("-e: VMCOREINFO has no SYMBOL(init_top_pgt)", ctx.name)
    mask = PMASK & ~(vi.NUMBER.get("sme_mask", 0) & 0xFFFFFFFFFFFFFFFF)

    def u64s(pa: int, n: int) -> list[int]:
        b = ctx.read_phys(pa, 8 * n)
        return [int.from_bytes(b[i : i + 8], "little") for i in range(0, 8 * n, 8)]

    per_pgd = 512 * 512 * ctx.page_size // struct_size  # struct pages one pgd entry maps
    npgd = -(-high_pfn // per_pgd)
    pgd = km.vtop(top) + ((base >> 39) & 511) * 8
    groups: list[tuple[int, int]] = []
    first = True
    last_valid = last_invalid = False
    off_start = off_end = 0
    last_data = data = 0
    done = False
    for g in range(npgd):
        pud_page = u64s(pgd + 8 * g, 1)[0] & mask
        if not pud_page:
            continue
        for pud in u64s(pud_page, 512):
            pmd_page = pud & mask
            if not pmd_page:
                continue
            for pmd in u64s(pmd_page, 512):
                if off_end // struct_size >= high_pfn:  # the next mapping describes no page frame
                    done = True
                    break
                off_end += HUGE
                brk = in_valids = False
                if pmd:  # (over a hole, ``data`` stays the last mapping's, as makedumpfile keeps it)
                    if not pmd & PAGE_PSE:
                        raise UnsupportedDumpError("-e: the vmemmap is not mapped with 2 MiB pages", ctx.name)
                    data = pmd & mask
                    if first:
                        last_data, first = data - HUGE, False
                    if last_invalid:  # a hole ends: a new group starts here
                        last_data = data - HUGE
                        brk = True
                    last_valid, last_invalid = True, False
                    if data != last_data + HUGE:
                        brk = in_valids = True
                else:
                    if last_valid:
                        brk = in_valids = True
                    last_valid, last_invalid = False, True
                if brk:
                    if in_valids:
                        groups.append((off_start // struct_size, (off_end - HUGE) // struct_size))
                    off_start = off_end - HUGE
                last_data = data
            if done:
                break
        if done:
            break
    groups.append((off_start // struct_size, (off_end - HUGE) // struct_size))
    return groups


def unused_vmemmap_pages(ctx: Any, present: PageMap, kept: PageMap, max_pfn: int) -> list[tuple[int, int]]:
    """(first pfn, count) of the vmemmap pages that describe only pages ``kept`` leaves out
    among pages ``present`` has.

    :raises UnsupportedDumpError: not an x86_64 dump, or its vmemmap cannot be walked.
    """
    if ctx.attr.get("arch.name") != "x86_64":
        raise UnsupportedDumpError(f"-e: only x86_64 dumps (this one is {ctx.attr.get('arch.name')})", ctx.name)
    from .memmap import find_mem_map

    vi = ctx.reader.vmcoreinfo
    size = vi.SIZE.get("page")
    if not size:
        raise UnsupportedDumpError("-e: VMCOREINFO has no SIZE(page)", ctx.name)
    ranges = [r for r in find_mem_map(vi, ctx.kernel_memory(), ctx.max_pfn, ctx.page_size, "x86_64") if r.mem_map]
    if not ranges:
        raise UnsupportedDumpError("-e: mem_map not found", ctx.name)
    base = ranges[0].mem_map - ranges[0].pfn_start * size
    groups = vmemmap_groups(ctx, base, size, ctx.max_pfn)
    km = ctx.kernel_memory()
    ps = ctx.page_size
    out: list[tuple[int, int]] = []
    full = b"\xff" * 8
    for b0 in range(0, max_pfn, BLOCK):
        b1 = min(b0 + BLOCK, max_pfn)
        have, keep = present.to_bytes(b0, b1), kept.to_bytes(b0, b1)
        words = (b1 - b0) // WORD
        run = -1
        for i in range(words + 1):
            ok = i < words and have[8 * i : 8 * i + 8] == full and not any(keep[8 * i : 8 * i + 8])
            if ok:
                if run < 0:
                    run = i
                continue
            if run >= 0 and i - run > 1:
                first, last = b0 + run * WORD, b0 + i * WORD - 1
                for rep0, rep1 in groups:
                    if rep0 <= first and last <= rep1:
                        # the vmemmap pages wholly within the run's struct pages
                        va0 = -(-(base + first * size) // ps) * ps
                        out += _backing(km, va0, (base + (last + 1) * size) // ps * ps, ps)
                        break
            run = -1
    return out


def _backing(km: Any, va0: int, va1: int, ps: int) -> list[tuple[int, int]]:
    """(first pfn, count) of the physical pages behind the kernel virtual pages [va0, va1),
    read from the page tables (a page not mapped has none)."""
    out: list[tuple[int, int]] = []
    va = va0
    while va < va1:
        try:
            pa, left = km.xlat.translate(va)
        except AddressTranslationError:
            va += ps
            continue
        n = max(1, min(left, va1 - va) // ps)
        pfn = pa // ps
        if out and out[-1][0] + out[-1][1] == pfn:
            out[-1] = (out[-1][0], out[-1][1] + n)
        else:
            out.append((pfn, n))
        va += n * ps
    return out


__all__ = ["unused_vmemmap_pages", "vmemmap_groups"]
