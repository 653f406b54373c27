"""Debian 13's 6.12 kernels: page classification checked against the guest's
own /proc/kpageflags (makedumpfile 1.7.2 predates 6.12's page-type encoding
and excludes slab pages as user data there, so it is not the reference; on
arm64, where trixie's kernels use 52-bit addresses, no makedumpfile release
processes the dump at all).  The runs: x86_64, and arm64 with QEMU's -cpu max
(LPA2: a 52-bit walk of 5 levels) and cortex-a57 (48 bits, 4 levels), and the
16 KiB-page flavour (-cpu max).  The same truth checks Debian 12's big-endian
s390x kernel (6.1, at 512 MiB and 1 GiB; tests/rig/qemu_rig.py), where
makedumpfile:s390x agrees with us (test_s390x_real.py) and the guest's
kpageflags, in its byte order, say whether both are right; it has no crash
kernel, so only QEMU's dump is checked there.  And Debian 12's ppc64le kernel
(64 KiB pages) with the radix and the hash MMU, where only the crash kernel's
/proc/vmcore is checked (tests/rig/qemu_rig.py takes no QEMU dump of it).  And Debian 12's
32-bit kernels: x86 with PAE (1 GiB: high memory) and without, arm with LPAE (1 GiB: high
memory; no makedumpfile release reads it, test_arm_real.py) and without; QEMU's dumps too for
x86 (arm's kernels give QEMU no VMCOREINFO).  And Debian 13's riscv64 kernel with Sv57 and Sv39,
whose crash kernel's makedumpfile (sid's 1.7.8) excludes kernel data (test_riscv64_real.py).  And
Debian sid's loongarch64 kernel (16 KiB pages), for which Debian has no makedumpfile: the guest's
kpageflags are the only reference of its classes (test_loongarch64_real.py).

The rig (tests/rig/kpf_twice.py) asks the running guest for /proc/kpageflags
twice in a row, A then B, and QEMU dumps the guest right after B; later the
guest panics and the crash kernel captures /proc/vmcore.  The guest does not
stand still meanwhile: the console command that reads kpageflags starts
processes whose pages are allocated and freed (their stacks, buffers and page
tables), and free pages move between the per-CPU lists and the buddy
allocator.  So a page can be in one state in B and in another in the dump,
and how many do so differs from run to run (from 0 to a few hundred here).

The allowance is therefore measured on each run, not fixed.  For each class
(page cache, user data, free pages, kernel data) it is the number of pages
that entered or left the class between A and B.  The time from A to B holds
one whole read of kpageflags and what the kernel does meanwhile; the time
from B to QEMU's dump holds the end of one read and the QMP round trip, less.
So the pages that differ between B and the dump are expected to be no more
than those that differed between A and B.  Such counts scatter as Poisson
counts do, so the bound adds three standard deviations; a class that
happened not to change between A and B can still change afterwards, so the
scale of that margin is set by the whole guest's activity (the pages whose
flags changed at all between A and B) when that is larger, and is never
below 8 pages (for a count of 0, the 99.9 % upper bound of a Poisson mean is
6.9).  Kernel data (slab, page tables) that was so in both reads is never
excluded from QEMU's dump; a page that became kernel data between the reads
(a page table of the reading process itself) may have been freed since, and
then may be excluded only as a free page.  In the crash kernel's copy, seconds
later, the same holds for page tables of processes that ended meanwhile.

One movement is not bounded so: free pages that sat on a per-CPU list in B
(kpageflags 0, no reference) go back to the buddy allocator as the kernel
trims those lists on a timer, so how many have moved by the dump depends on
how long the host took to get there (hundreds when the host is busy; the
crash kernel's copy comes seconds later, after two QEMU dumps and a
`sleep 1`).  Such a page is free at both moments and rightly excluded as free:
it is not counted as a difference.  Nor is the other way round: an allocation
refills a per-CPU list with a batch taken from the buddy allocator (dozens of
pages at once, at any moment after B), so a page free in the buddy allocator
in B can be free on a per-CPU list in the dump (its struct page: no flags, no
reference, no page type), free at both moments and rightly kept (makedumpfile
keeps them too: only PageBuddy pages are excluded as free).  Seen on a fresh
x86_64 run: 70 of 78 such pages, in runs of 5 to 32.  And one step further: a
page of such a batch that an allocation took after B is in use at the dump (a
reference count, no flag, no page type) and rightly kept; a fresh arm64 run
whose guest was quiet between A and B (no free page changed) had 41 such pages,
runs of 31 and 14, all of them kernel allocations.  Every other difference,
in particular a page in use in B that the dump calls free, is held to the
measured bound.
"""

from __future__ import annotations

import json
import math
import os
import sys
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from util import rig_release

from pymakedumpfile import open_dump
from pymakedumpfile.filter import make_write_context

# /proc/kpageflags bits (the kernel's Documentation/admin-guide/mm/pagemap.rst)
LRU, SLAB, BUDDY, ANON, SWAPCACHE, SWAPBACKED, HUGE, NOPAGE, PGTABLE = 5, 7, 10, 12, 13, 14, 17, 20, 26
PRIVATE = 35


# Debian 13's kernels: x86_64, and arm64 (52-bit VA; on 4 KiB pages with and without LPA2, and
# the 16 KiB-page flavour), for which no makedumpfile release is a reference
RUNS = {"x86_64": ("-trixie", "mem512"), "arm64": ("-arm64-trixie", "mem512"),
        "arm64-a57": ("-arm64-trixie", "mem512-a57"), "arm64-16k": ("-arm64-trixie-16k", "mem512"),
        "s390x": ("-s390x", "mem512"), "s390x-1g": ("-s390x", "mem1024"),
        "ppc64le-radix": ("-ppc64el", "p9"), "ppc64le-hash": ("-ppc64el", "p8"),
        "ia32-pae": ("-i386-pae", "mem1024"), "ia32": ("-i386", "mem512"),
        "arm": ("-armhf", "mem512"), "arm-lpae": ("-armhf-lpae", "mem1024"),
        "riscv64": ("-riscv64", "mem1024"), "riscv64-sv39": ("-riscv64", "mem1024-sv39"),
        "loongarch64": ("-loong64", "mem1024")}


def run_folder(mem512: Path, which: str) -> Path:
    """A 6.12 run (PMD_TRUTH_DIR names another x86_64 run folder, to check a fresh one)."""
    from util import need

    suffix, name = RUNS[which]
    d = Path(str(mem512.parent.parent) + suffix) / "dumps" / name
    if which == "x86_64" and os.environ.get("PMD_TRUTH_DIR"):
        d = Path(os.environ["PMD_TRUTH_DIR"])
    need((d / "kpageflags.bin").exists() and (d / "kpageflags.first.bin").exists()
         and ((d / "qemu-elf").exists() or (d / "vmcore.elf").exists()),
         f"no 6.12 rig run with two kpageflags reads in {d} (tests/rig/make-dumps.sh makes it)")
    return d


@pytest.fixture(scope="module", params=list(RUNS))
def trixie(request: pytest.FixtureRequest, mem512: Path) -> Path:
    return run_folder(mem512, request.param)


def read_u64s(path: Path) -> array:
    """/proc/kpageflags or kpagecount as the guest wrote it: u64s in its byte order."""
    a = array("Q")
    a.frombytes(path.read_bytes())
    rec = json.loads((path.parent / "rig-run.json").read_text())
    if (rec.get("arch") == "s390x") != (sys.byteorder == "big"):  # the guest's order is not the host's
        a.byteswap()
    return a


@pytest.fixture(scope="module")
def kpf(trixie: Path) -> array:
    """kpageflags B: the read just before the dumps."""
    return read_u64s(trixie / "kpageflags.bin")


@pytest.fixture(scope="module")
def kpf_first(trixie: Path) -> array:
    """kpageflags A: the read before B."""
    return read_u64s(trixie / "kpageflags.first.bin")


@pytest.fixture(scope="module")
def kpc(trixie: Path) -> array:
    """/proc/kpagecount, read with B."""
    return read_u64s(trixie / "kpagecount.bin")


def excluded(path: Path, level: int) -> tuple[set[int], set[int]]:
    """(pfns excluded at ``level``, pfns the dump holds at level 0)."""
    with open_dump(path) as src:
        assert src.attr["linux.uts.release"] == rig_release(path.parent)  # the kernel the rig booted
        w = make_write_context(src, format="kdump", dump_level=level)
        keep = w.pagemap
        # a kdump file ends at the last pfn with a struct page (QEMU's framebuffer and BIOS above
        # RAM are cut off at every level, as makedumpfile does): no level decides those pages
        stored = {p for a, b in src.pagemap.runs() for p in range(a, min(b, w.max_pfn))}
        return {p for p in stored if not keep.test(p)}, stored


def has(f: int, b: int) -> bool:
    return bool(f >> b & 1)


def anon_pages(kpf: array, present: list[int]) -> set[int]:
    # kpageflags calls a slab page ANON when the slab's field over page->mapping has
    # bit 0 set: a slab page is kernel data whatever that bit (truth_compare's order)
    return {p for p in present if (has(kpf[p], ANON) or has(kpf[p], HUGE))
            and not (has(kpf[p], BUDDY) or has(kpf[p], SLAB) or has(kpf[p], PGTABLE))}


def kernel_pages(kpf: array, present: list[int]) -> set[int]:
    return {p for p in present if has(kpf[p], SLAB) or has(kpf[p], PGTABLE)}


def cache_pages(kpf: array, present: list[int]) -> set[int]:
    return {p for p in present if not has(kpf[p], ANON) and (has(kpf[p], LRU) or has(kpf[p], SWAPCACHE))}


def buddy_pages(kpf: array, present: list[int]) -> set[int]:
    return {p for p in present if has(kpf[p], BUDDY)}


def moved_out_of_buddy(page: PageReader, pfns: set[int]) -> tuple[set[int], set[int]]:
    """Of ``pfns`` (free in the buddy allocator in B, kept by the dump), the pages the dump shows
    (1) free on a per-CPU list: a ``struct page`` with no flag set (the low 24 bits; node, zone
    and section numbers sit above), a reference count of 0 and no page type (``_mapcount`` -1);
    (2) allocated out of the free lists: no flag, no page type, a reference count (a kernel
    allocation served from a per-CPU list refilled after B)."""
    sp = struct_pages(page, pfns)
    return ({p for p, (flags, ref, mapc) in sp.items() if flags == 0 and ref == 0 and mapc == -1},
            {p for p, (flags, ref, mapc) in sp.items() if flags == 0 and ref > 0 and mapc == -1})


class RawPage(NamedTuple):
    """A ``struct page``'s fields as the dump holds them (whole words, not decoded)."""
    flags: int
    ref: int
    mapc: int
    mapping: int
    private: int


PageReader = Callable[[int], "RawPage | None"]


@contextmanager
def raw_pages(path: Path) -> Iterator[tuple[PageReader, Any]]:
    """A reader of the raw ``struct page`` of any pfn of the dump (None: no mem_map covers it),
    and the dump's VMCOREINFO; each page is read once, however often it is asked for."""
    import functools
    import struct

    from pymakedumpfile.filter.memmap import find_mem_map

    with open_dump(path) as src:
        vi = src.reader.vmcoreinfo
        ranges = find_mem_map(vi, src.kernel_memory(), src.max_pfn, src.page_size, src.attr["arch.name"])
        size = vi.SIZE["page"]
        e = ">" if src.attr.get("arch.byte_order") == "big" else "<"
        w = e + ("Q" if src.attr.get("arch.ptr_size", 8) == 8 else "I")
        at = {k: vi.OFFSET[f"page.{k}"] for k in ("_refcount", "_mapcount", "mapping", "private")}

        @functools.cache
        def page(p: int) -> RawPage | None:
            r = next((r for r in ranges if r.pfn_start <= p < r.pfn_end and r.mem_map), None)
            if r is None:
                return None
            sp = src.read_virt(r.mem_map + (p - r.pfn_start) * size, size)
            return RawPage(struct.unpack_from(w, sp, 0)[0], struct.unpack_from(e + "i", sp, at["_refcount"])[0],
                           struct.unpack_from(e + "i", sp, at["_mapcount"])[0],
                           struct.unpack_from(w, sp, at["mapping"])[0], struct.unpack_from(w, sp, at["private"])[0])

        yield page, vi


def struct_pages(page: PageReader, pfns: set[int]) -> dict[int, tuple[int, int, int]]:
    """pfn -> (the low 24 bits of flags, _refcount, _mapcount) of each of ``pfns`` in the dump
    (``page``: :func:`raw_pages`'s reader)."""
    out: dict[int, tuple[int, int, int]] = {}
    for p in pfns:
        r = page(p)
        if r is not None:
            out[p] = (r.flags & 0xFFFFFF, r.ref, r.mapc)
    return out


def moved_in_or_out_of_cache(page: PageReader, vi: Any, kept: set[int], dropped: set[int],
                             private_too: bool) -> set[int]:
    """Of the pages that read B calls page cache and the dump keeps (``kept``), those that are
    not on an LRU list at the dump: freed since B (a tmpfs file deleted), or taken off the
    list; and of the pages B does not call cache that the dump's level excludes as cache
    (``dropped``), those that are page cache at the dump: on an LRU list, not anonymous (the low
    bit of ``mapping`` clear), and for level 2 without private data.  Both are pages whose state
    changed after B, read from the raw struct page (flags, mapping), not from the classifier.

    Seen on a fresh arm64 16 KiB-page run (6.12.117): between B and the crash kernel's copy the
    rig wrote its files out, and 328 pages of a tmpfs file were freed while 309 free pages
    became page cache; QEMU's dump, right after B, had 27 such pages, all freed or reused."""
    out: set[int] = set()
    lru, private = vi.NUMBER.get("PG_lru", 5), vi.NUMBER.get("PG_private")
    for p in kept | dropped:
        r = page(p)
        if r is None:
            continue
        on_lru = bool(r.flags >> lru & 1)
        is_cache = on_lru and not r.mapping & 1 and (private_too or private is None or not r.flags >> private & 1)
        if (p in kept and not on_lru) or (p in dropped and is_cache):
            out.add(p)
    return out


def moved_user_or_free(page: PageReader, vi: Any, user_kept: set[int], user_dropped: set[int], free_kept: set[int],
                       free_dropped: set[int]) -> tuple[set[int], set[int]]:
    """As :func:`moved_in_or_out_of_cache`, for user and free pages, from the raw struct page at
    the dump: a page B calls user data that the dump keeps and that is no longer an anonymous page
    in use (``mapping``'s low bit and a reference), or the other way round; a page B calls free
    (buddy) that the dump keeps and that is in use at the dump (a reference), or a page B does not
    call free that the dump excludes as free and that is free at the dump (no reference, a page
    type in ``_mapcount``, or inside a free block: only a block's first page carries the buddy
    type and the block's order, in ``private``).  Seen on the same arm64 16 KiB-page crash-kernel
    copy: 100 user and 687 free pages whose class changed after B (the tmpfs pages freed there
    went back to the buddy allocator as parts of larger blocks), against 18 and 110 between A
    and B."""
    user: set[int] = set()
    free: set[int] = set()
    buddy = vi.NUMBER["PAGE_BUDDY_MAPCOUNT_VALUE"] & 0xFFFFFFFF

    def is_buddy(mapc: int) -> bool:
        # 6.1: the whole _mapcount is the value; 6.12: the type is its top byte (data below)
        m = mapc & 0xFFFFFFFF
        return m == buddy or (buddy & 0xFFFFFF == 0 and m & 0xFF000000 == buddy)

    def in_free_block(p: int) -> bool:
        for k in range(16):
            first = p & ~((1 << k) - 1)
            head = page(first)
            if head is not None and is_buddy(head.mapc) and p < first + (1 << head.private):
                return True
        return False

    for p in user_kept | user_dropped | free_kept | free_dropped:
        r = page(p)
        if r is None:
            continue
        anon_in_use = bool(r.mapping & 1) and r.ref > 0
        if (p in user_kept and not anon_in_use) or (p in user_dropped and anon_in_use):
            user.add(p)
        if (p in free_kept and r.ref > 0) or (p in free_dropped and r.ref == 0 and in_free_block(p)):
            free.add(p)
    return user, free


def allowance(changed: int, total: int) -> int:
    """The most pages of one class that may differ between read B and the dump, given
    ``changed`` pages of that class and ``total`` pages of any kind whose flags differed
    between reads A and B (the module docstring argues it)."""
    return changed + max(8, math.ceil(3 * math.sqrt(max(changed, total))))


@pytest.mark.parametrize("dump", ["qemu-elf", "vmcore.elf"])
def test_classes_agree_with_kpageflags(dump: str, trixie: Path, kpf: array, kpf_first: array, kpc: array) -> None:
    if not (trixie / dump).exists():
        pytest.skip(f"{trixie} has no {dump} (s390x: no crash kernel; ppc64le: no QEMU dump)")
    ex31, stored = excluded(trixie / dump, 31)
    with open_dump(trixie / dump) as src:
        mib = src.page_size / (1 << 20)  # the sizes below hold whatever the page size
    ex16, _ = excluded(trixie / dump, 16)
    present = sorted(p for p in stored if p < len(kpf))  # compare the pages the dump holds
    # kernel data is never excluded: a page that was slab or a page table in both reads is
    # always kept; one that became so between them (a page table of the very process reading
    # kpageflags) may have been freed since, and then only as a free page
    kernel, kernel_first = kernel_pages(kpf, present), kernel_pages(kpf_first, present)
    assert len(kernel) * mib > 4
    stable_gone = kernel & kernel_first & ex31
    if dump == "qemu-elf":  # dumped right after B
        assert sorted(stable_gone) == []
    else:  # seconds later: the page tables of processes that ended since (the rig's own) are free
        assert stable_gone <= ex16, sorted(stable_gone - ex16)
    freed = ((kernel - kernel_first) & ex31) | stable_gone
    assert freed <= ex16 and len(freed) <= allowance(len(kernel ^ kernel_first), 0), (
        len(freed), len(kernel ^ kernel_first))
    # page cache, with and without private data; user and free pages
    total = sum(kpf[p] != kpf_first[p] for p in present)
    ex2, _ = excluded(trixie / dump, 2)
    ex4, _ = excluded(trixie / dump, 4)
    ex8, _ = excluded(trixie / dump, 8)
    cache, cache_first = cache_pages(kpf, present), cache_pages(kpf_first, present)
    plain, plain_first = ({p for p in c if not has(k[p], PRIVATE)} for c, k in ((cache, kpf), (cache_first, kpf_first)))
    anon, buddy = anon_pages(kpf, present), buddy_pages(kpf, present)
    with raw_pages(trixie / dump) as (page, vi):  # struct pages at the dump, each read once for the four
        # pages that left the page cache after B or joined it, as their struct page at the dump shows
        moved4 = moved_in_or_out_of_cache(page, vi, cache - ex4, ex4 - cache, private_too=True)
        moved2 = moved_in_or_out_of_cache(page, vi, plain - ex2, ex2 - plain, private_too=False)
        # in the buddy allocator in B, on a per-CPU list at the dump (a list refilled) (and on from
        # there: taken by an allocation, in use at the dump, rightly kept)
        to_pcp, allocated = moved_out_of_buddy(page, buddy - ex16)
        # and user and free pages whose raw struct page at the dump shows they changed class after B
        moved_user, moved_free = moved_user_or_free(page, vi, anon - ex8, ex8 - anon, buddy - ex16, ex16 - buddy)
    assert len(cache) * mib > 19
    cache_diff, plain_diff = len((ex4 ^ cache) - moved4), len((ex2 ^ plain) - moved2)
    assert cache_diff <= allowance(len(cache ^ cache_first), total), (cache_diff, len(cache ^ cache_first), len(moved4))
    assert plain_diff <= allowance(len(plain ^ plain_first), total), (plain_diff, len(plain ^ plain_first), len(moved2))
    # user and free pages: agreement but for pages that changed state, bounded by what changed
    # between the two reads
    assert len(anon) * mib > 78 and len(buddy) * mib > 19
    churn_anon = len(anon ^ anon_pages(kpf_first, present))
    churn_buddy = len(buddy ^ buddy_pages(kpf_first, present))
    # free in B on a per-CPU list, in the buddy allocator at the dump
    freed_from_pcp = {p for p in ex16 - buddy if kpf[p] == 0 and kpc[p] == 0}
    user_diff = len((anon ^ ex8) - moved_user)
    free_diff = len((buddy ^ ex16) - freed_from_pcp - to_pcp - allocated - moved_free)
    print(dump, {"changed A-B": total, "cache": len(cache), "B-dump cache": len(ex4 ^ cache), "anon": len(anon),
                 "A-B anon": churn_anon, "B-dump anon": user_diff, "buddy": len(buddy),
                 "A-B buddy": churn_buddy, "B-dump buddy": free_diff, "per-CPU to buddy": len(freed_from_pcp),
                 "buddy to per-CPU": len(to_pcp), "buddy to in use": len(allocated), "moved user": len(moved_user),
                 "moved free": len(moved_free), "moved cache": len(moved4)})
    assert user_diff <= allowance(churn_anon, total), (user_diff, churn_anon, total)
    assert free_diff <= allowance(churn_buddy, total), (free_diff, churn_buddy, total)

def test_makedumpfile_172_excludes_kernel_data_we_keep(mem512: Path) -> None:
    """Where our output and makedumpfile's differ on 6.12, the truth says we are right: the
    makedumpfile 1.7.2 of the rig's crash kernel wrote `-l -d 31` of this same /proc/vmcore,
    and it excluded slab pages (kernel data in both kpageflags reads) as if they were user data;
    test_classes_agree_with_kpageflags shows we exclude none."""
    from util import need

    trixie = run_folder(mem512, "x86_64")
    kpf, kpf_first = read_u64s(trixie / "kpageflags.bin"), read_u64s(trixie / "kpageflags.first.bin")
    theirs = trixie / "capture-out" / "dumpfile-l-d31"
    need(theirs.exists(), f"no makedumpfile output of the 6.12 vmcore in {theirs.parent}")
    with open_dump(trixie / "vmcore.elf") as src:
        stored = {p for a, b in src.pagemap.runs() for p in range(a, b) if p < len(kpf)}
    with open_dump(theirs) as mdf:
        assert mdf.attr["linux.uts.release"] == rig_release(trixie)
        kept = {p for a, b in mdf.pagemap.runs() for p in range(a, b)}
    stable_kernel = kernel_pages(kpf, sorted(stored)) & kernel_pages(kpf_first, sorted(stored))
    lost = {p for p in stable_kernel - kept if has(kpf[p], SLAB)}
    ours, _ = excluded(trixie / "vmcore.elf", 31)
    print(f"makedumpfile 1.7.2 excluded {len(lost)} slab pages; we exclude {len(lost & ours)} of them")
    assert len(lost) > 20 and not lost & ours
