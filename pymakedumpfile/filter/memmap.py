"""Finding ``mem_map``: where the kernel keeps the ``struct page`` of each pfn.

Memory models as makedumpfile tests them (``get_mem_type``,
``get_mm_sparsemem``, docs/formats.md §5.5): SPARSEMEM (extreme
or not; with VMEMMAP the decoded address is a vmemmap virtual address read
through the page tables) and FLATMEM.  DISCONTIGMEM is not implemented.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..core.errors import CorruptDumpError, DumpError, UnsupportedDumpError
from ..core.record import dataclass
from ..core.vmcoreinfo import VmcoreInfo
from ..translate import KernelMemory, get_arch

SECTION_MARKED_PRESENT = 1 << 0
SECTION_MAP_LAST_BIT = 1 << 5
MAX_ROOTS = 1 << 20  # NR_SECTION_ROOTS is 1 << 18 with 5-level paging: a larger root array is garbage



@dataclass(frozen=True)
class MemMapRange:
    """``struct page`` of pfns [pfn_start, pfn_end) start at kernel address ``mem_map``."""

    pfn_start: int
    pfn_end: int
    mem_map: int


def memory_model(vi: VmcoreInfo, page_size: int, arch: str = "") -> str:
    sym, size, off, length = vi.SYMBOL, vi.SIZE, vi.OFFSET, vi.LENGTH
    if (("node_data" in sym and "node_data" in length) or "pgdat_list" in sym) and "pglist_data.node_mem_map" in off:
        return "DISCONTIGMEM"
    if "mem_section" in sym and "mem_section" in size and "mem_section.section_mem_map" in off:
        return "SPARSEMEM_EX" if _is_extreme(vi, page_size, arch) else "SPARSEMEM"
    if "mem_map" in sym:
        return "FLATMEM"
    return "UNKNOWN"


def _section_bits(vi: VmcoreInfo, arch: str) -> tuple[int, int]:
    """SECTION_SIZE_BITS and MAX_PHYSMEM_BITS from VMCOREINFO, else the architecture's defaults
    (``ArchInfo.sparsemem``)."""
    info = get_arch(arch)
    d = info.sparsemem if info is not None else None
    ssb = vi.NUMBER.get("SECTION_SIZE_BITS", d[0] if d else None)
    mpb = vi.NUMBER.get("MAX_PHYSMEM_BITS")
    if mpb is None and d:
        mpb = d[2] if vi.NUMBER.get("pgtable_l5_enabled") == 1 else d[1]
    if ssb is None or mpb is None:
        raise UnsupportedDumpError(f"VMCOREINFO has no SECTION_SIZE_BITS/MAX_PHYSMEM_BITS and {arch} has no default")
    if not 0 < ssb < mpb <= 64:
        raise CorruptDumpError(f"Cannot use SECTION_SIZE_BITS {ssb} with MAX_PHYSMEM_BITS {mpb}")
    return ssb, mpb


def _check_sparse(vi: VmcoreInfo, page_size: int) -> None:
    """The VMCOREINFO sizes the SPARSEMEM decoding divides and indexes by are sane."""
    ms_size, map_off = vi.SIZE["mem_section"], vi.OFFSET["mem_section.section_mem_map"]
    if not 8 <= ms_size <= page_size or not 0 <= map_off <= ms_size - 8:
        raise CorruptDumpError(
            f"Cannot find mem_map: SIZE(mem_section) {ms_size} or OFFSET(mem_section.section_mem_map) {map_off} "
            "is absurd"
        )
    if vi.SIZE.get("page", 0) <= 0:
        raise UnsupportedDumpError("Cannot find mem_map: VMCOREINFO has no SIZE(page)")


def _is_extreme(vi: VmcoreInfo, page_size: int, arch: str) -> bool:
    n = vi.LENGTH.get("mem_section")
    if n is None:
        return True
    ssb, mpb = _section_bits(vi, arch)
    _check_sparse(vi, page_size)
    per_root = page_size // vi.SIZE["mem_section"]
    return n == -(-(1 << (mpb - ssb)) // per_root)


def find_mem_map(vi: VmcoreInfo, km: KernelMemory, max_pfn: int, page_size: int, arch: str) -> list[MemMapRange]:
    """The mem_map ranges covering [0, max_pfn), one per present section."""
    model = memory_model(vi, page_size, arch)
    if model in ("SPARSEMEM", "SPARSEMEM_EX"):
        _check_sparse(vi, page_size)
        return _sparsemem(vi, km, max_pfn, page_size, arch, model == "SPARSEMEM_EX")
    if model == "FLATMEM":
        # mem_map[0] is the page of the first pfn of RAM where the kernel counts pfns from there
        # (ARCH_PFN_OFFSET: arm's PHYS_OFFSET), of pfn 0 elsewhere
        first = getattr(getattr(km, "xlat", None), "arch_pfn_offset", 0)
        end = min(max_pfn, _flatmem_end(vi, km) or max_pfn)
        return [MemMapRange(first, end, km.ptr(vi.SYMBOL["mem_map"]))] if first < end else []
    raise UnsupportedDumpError(f"Cannot find mem_map: memory model {model} is not supported")


def _flatmem_end(vi: VmcoreInfo, km: KernelMemory) -> int | None:
    """The pfn after the last page of FLATMEM's one node (``contig_page_data``: its start and
    spanned pages), where mem_map ends: a dump may hold more (QEMU's: a framebuffer above RAM)."""
    node = vi.SYMBOL.get("contig_page_data")
    start, spanned = vi.OFFSET.get("pglist_data.node_start_pfn"), vi.OFFSET.get("pglist_data.node_spanned_pages")
    if node is None or start is None or spanned is None:
        return None
    try:
        end = km.ulong(node + start) + km.ulong(node + spanned)
    except DumpError:
        return None
    return end or None


def _sparsemem(vi: VmcoreInfo, km: KernelMemory, max_pfn: int, page_size: int, arch: str,
               extreme: bool) -> list[MemMapRange]:
    ssb, mpb = _section_bits(vi, arch)
    shift = ssb - (page_size.bit_length() - 1)
    if shift < 0:
        raise CorruptDumpError(f"Cannot find mem_map: SECTION_SIZE_BITS {ssb} is below the page size")
    per_section = 1 << shift
    # no more sections than the kernel has (NR_MEM_SECTIONS): a larger max_pfn is past MAX_PHYSMEM_BITS
    num_section = min(-(-max_pfn // per_section), 1 << (mpb - ssb))
    ms_size = vi.SIZE["mem_section"]
    map_off = vi.OFFSET["mem_section.section_mem_map"]
    page_sz = vi.SIZE["page"]
    root = vi.SYMBOL["mem_section"]
    bits = 8 * km.ptr_size
    mask = (1 << bits) - 1  # addresses wrap at the pointer size
    info = get_arch(arch)
    high = info.kernel_half_high if info is not None else True
    map_mask = ~(SECTION_MAP_LAST_BIT - 1) & mask

    def decode(roots: list[int] | None, base: int) -> list[tuple[int, int]]:
        """(section number, mem_map) of each present section; ``roots``: the
        entries of the root array when ``extreme`` (else None)."""
        maps: list[tuple[int, int]] = []
        per_root = page_size // ms_size if extreme else 1
        todo: Iterator[int]
        if extreme:  # the sections of each root that is there
            todo = (nr for i, r in enumerate(roots or []) if r
                    for nr in range(i * per_root, min((i + 1) * per_root, num_section)))
        else:
            todo = iter(range(num_section))
        for nr in todo:
            if roots is not None:  # extreme
                addr = roots[nr // per_root] + (nr % per_root) * ms_size
            else:
                addr = base + nr * ms_size
            raw = km.read(addr, ms_size)
            v = km.unpack_ptr(raw, map_off)
            if v & SECTION_MARKED_PRESENT:
                maps.append((nr, ((v & map_mask) + nr * per_section * page_sz) & mask))
        return maps

    def attempt(base: int) -> list[tuple[int, int]] | None:
        roots = None
        if extreme:
            nroots = -(-num_section // (page_size // ms_size))
            if nroots > MAX_ROOTS:
                raise CorruptDumpError(f"Cannot find mem_map: {nroots} mem_section roots is absurd")
            w = km.ptr_size
            raw = km.read(base, w * nroots)
            roots = [km.unpack_ptr(raw, i * w) for i in range(nroots)]
        try:
            maps = decode(roots, base)
        except DumpError:
            return None
        if not maps or any(not m >> (bits - 1) for _, m in maps) and high:
            return None  # no section, or a map that is not a kernel address (the top bit clear)
        return maps

    maps = attempt(root)
    if maps is None and extreme:  # mem_section given as the pointer to the root array
        maps = attempt(km.ptr(root))
    if maps is None:
        raise UnsupportedDumpError("Cannot find mem_map: no valid mem_section array")
    return [MemMapRange(nr * per_section, min((nr + 1) * per_section, max_pfn), m) for nr, m in maps]
