"""Fuzz targets: one function per reader, each taking the fuzz input as bytes.

The contract every target checks: whatever the input, pymakedumpfile raises
nothing but :class:`pymakedumpfile.core.errors.DumpError` (and subclasses), and it
returns within :data:`TIME_LIMIT` seconds.  Any other exception escapes the
target; :func:`run_one` also turns a hang into :class:`Hang`.

A few targets add oracles of their own (the flattened stream is compared
with a naive reassembly; ``read_pages`` must equal the ``read_page`` of
each pfn; the native and pure-Python classifiers must agree).

Input formats (``make_seeds.py`` writes seeds in these formats):

``elf``, ``kdump``, ``flat``, ``file``
    the dump file itself (``flat``: a flattened stream around any dump;
    ``file``: any file, opened by name through ``open_dump``, which also
    unwraps zstd/lz4 streams).
``split``
    the parts of a split set, each as ``u32 length (LE)`` then its bytes;
    a length past the end takes the rest (at most :data:`MAX_PARTS`).
``vmcoreinfo``
    VMCOREINFO text.
``pagetable``
    ``<Q root_va> <q phys_base> <B flags> <B nvaddr> <Q sme_mask>``
    (26 bytes), ``nvaddr`` (<= 16) ``<Q vaddr>``, then physical memory as
    records (see :func:`parse_records`).  ``flags`` bit 0: 5-level paging,
    bit 1: pass ``NUMBER(sme_mask)``, bits 2-3: root symbol name.
``memmap``
    ``<H n>`` then ``n`` bytes of VMCOREINFO text, ``<I max_pfn>``, then
    kernel *virtual* memory as records.  Runs ``find_mem_map`` and the
    free-list walk (over the ranges found, or one FLATMEM-like range).
``classify``
    ``<H n>`` VMCOREINFO text, ``<B dump_level> <I pfn0> <H count>``, then
    raw ``struct page`` bytes: ``build_params`` then ``accel.classify``.
``lime``, ``xc_core``, ``s390dump``, ``lkcd``, ``sadump``
    the image file itself.
``raw``
    ``<B n>`` then n regions ``<Q address> <I length>`` and their bytes.
``filter``
    a dump file, through ``make_write_context`` (levels 31, 16 without the
    buddy marker, and ELF level 1).
``rsp``
    what gdb sends a gdbserver (packets, ``+``/``-``, interrupts).
``btf``
    a BTF blob.

Records (memory of the ``pagetable`` and ``memmap`` targets) are
``<Q address> <H length>`` then ``length`` bytes; a record makes its whole
4 KiB page(s) readable (zeros where no record wrote).
"""

from __future__ import annotations

import functools
import os
import signal
import struct
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
if str(REPO) not in sys.path:  # scripts run from anywhere; pytest already has it
    sys.path.insert(0, str(REPO))

from pymakedumpfile import accel  # noqa: E402
from pymakedumpfile.core.context import Context  # noqa: E402
from pymakedumpfile.core.errors import AddressTranslationError, DumpError, PageExcludedError  # noqa: E402
from pymakedumpfile.core.pagemap import Bitmap  # noqa: E402
from pymakedumpfile.core.vmcoreinfo import VmcoreInfo  # noqa: E402
from pymakedumpfile.filter import params as fclassify  # noqa: E402
from pymakedumpfile.filter.freelist import exclude_free_lists  # noqa: E402
from pymakedumpfile.filter.memmap import MemMapRange, find_mem_map  # noqa: E402
from pymakedumpfile.formats import flattened as flatfmt  # noqa: E402
from pymakedumpfile.input import READERS, open_dump  # noqa: E402
from pymakedumpfile.input.base import DumpReader  # noqa: E402
from pymakedumpfile.input.elf import ElfReader  # noqa: E402
from pymakedumpfile.input.kdump import KdumpReader  # noqa: E402
from pymakedumpfile.input.lime import LimeReader  # noqa: E402
from pymakedumpfile.input.lkcd import LkcdReader  # noqa: E402
from pymakedumpfile.input.raw import RawReader  # noqa: E402
from pymakedumpfile.input.s390dump import S390DumpReader  # noqa: E402
from pymakedumpfile.input.sadump import SadumpReader  # noqa: E402
from pymakedumpfile.input.source import FlattenedSource, Source  # noqa: E402
from pymakedumpfile.input.split import SplitReader  # noqa: E402
from pymakedumpfile.input.vmdump import VmdumpReader  # noqa: E402
from pymakedumpfile.input.xc_core import XcCoreReader  # noqa: E402
from pymakedumpfile.input.xc_save import XcSaveReader  # noqa: E402
from pymakedumpfile.translate import MemoryReader  # noqa: E402
from pymakedumpfile.translate.x86_64 import X86_64Translator  # noqa: E402

MAX_PAGES = int(os.environ.get("PMD_FUZZ_MAX_PAGES", "4096"))  # pages read per input, at most
MAX_PARTS = 4
TIME_LIMIT = float(os.environ.get("PMD_FUZZ_TIME_LIMIT", "10"))  # seconds per input
PAGE = 4096


class Hang(BaseException):
    """An input ran longer than the time limit (a BaseException, so that no
    ``except Exception`` in the code under test can swallow it)."""


class OracleError(AssertionError):
    """The code returned, but a wrong answer (an oracle of a target failed)."""


# ---------------------------------------------------------------- plumbing


class MemSource(Source):
    """A dump held in memory: the transport layer without a file."""

    def __init__(self, data: bytes, name: str = "<fuzz>") -> None:
        self.data = bytes(data)
        self.size = len(self.data)
        self.name = name

    def pread(self, offset: int, size: int) -> bytes:
        if offset < 0 or size <= 0:
            return b""
        return self.data[offset : offset + size]


def mem_source(data: bytes, name: str = "<fuzz>") -> Source:
    """What ``open_source`` does for a file, in memory: unwrap a flattened stream."""
    src: Source = MemSource(data, name)
    if flatfmt.is_header(src.pread(0, flatfmt.HEADER.size)):
        src = FlattenedSource(src)
    return src


def probe_reader(src: Source) -> DumpReader | None:
    for cls in READERS:
        if cls.probe(src):
            return cls(src)
    return None


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread after ``seconds`` (no-op if 0)."""
    if seconds <= 0:
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"input took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def expect_dump_errors(fn: Callable[[], object]) -> object:
    """Call ``fn``; a DumpError is an accepted answer (returns None)."""
    try:
        return fn()
    except DumpError:
        return None


# ---------------------------------------------------------------- exercising a reader


def exercise(reader: DumpReader) -> None:
    """Everything a user of an open dump does with it, bounded.

    DumpErrors are accepted at every step (each is tried independently);
    anything else escapes.
    """
    ps = reader.page_size
    if not (isinstance(ps, int) and ps > 0 and ps & (ps - 1) == 0):
        raise OracleError(f"page size {ps!r}")
    ctx = expect_dump_errors(lambda: Context(reader))
    pm = reader.pagemap
    max_pfn = reader.max_pfn
    pm.count()
    reader.memmap.count()
    if max_pfn <= 1 << 20:
        pm.to_bytes(0, max_pfn)
    # every page the page map claims, up to MAX_PAGES
    budget = MAX_PAGES
    got: dict[int, bytes] = {}
    runs = []
    for a, b in pm.runs():
        if not pm.test(a) or not pm.test(b - 1):
            raise OracleError(f"run {a:#x}-{b:#x} not in the page map")
        n = min(b - a, budget)
        runs.append((a, a + n))
        for pfn in range(a, a + n):
            try:
                page = reader.read_page(pfn)
            except DumpError:
                continue
            if len(page) != ps:
                raise OracleError(f"read_page({pfn:#x}) gave {len(page)} bytes, not {ps}")
            got[pfn] = page
        budget -= n
        if budget <= 0:
            break
    # read_pages over the runs (and past their ends) agrees with read_page
    for a, b in runs[:8]:
        for start, count in ((a, min(b - a, 64)), (max(b - 2, a), 4)):
            try:
                data = reader.read_pages(start, count)
            except DumpError:
                continue
            if len(data) != count * ps:
                raise OracleError(f"read_pages({start:#x}, {count}) gave {len(data)} bytes")
            for i in range(count):
                want = got.get(start + i)
                if want is not None and data[i * ps : (i + 1) * ps] != want:
                    raise OracleError(f"read_pages({start:#x}, {count}) differs from read_page({start + i:#x})")
    # pages that are not there
    for pfn, count in ((-1, 1), (max_pfn, 1), (max_pfn - 1, 2), (max_pfn + 12345, 3)):
        try:
            data = reader.read_pages(pfn, count) if count > 1 else reader.read_page(pfn)
        except DumpError:
            continue
        if pfn < 0 or pfn + count > max_pfn:
            raise OracleError(f"read of pfn {pfn:#x}+{count} past max_pfn {max_pfn:#x} returned data")
    # the kernel's virtual memory, through the dump's own page tables
    if isinstance(ctx, Context):
        vi = reader.vmcoreinfo
        for sym in ("init_uts_ns", "mem_map", "mem_section", "node_online_map"):
            va = vi.SYMBOL.get(sym)
            if va is not None:
                expect_dump_errors(lambda va=va: ctx.read_virt(va, 64))
        expect_dump_errors(lambda: ctx.read_phys(0, 2 * ps + 16))


def open_and_exercise(make: Callable[[], DumpReader | None]) -> None:
    try:
        reader = make()
    except DumpError:
        return
    if reader is None:
        return
    try:
        exercise(reader)
    finally:
        reader.close()


# ---------------------------------------------------------------- reader targets


def target_elf(data: bytes) -> None:
    open_and_exercise(lambda: ElfReader(MemSource(data)))


def target_kdump(data: bytes) -> None:
    open_and_exercise(lambda: KdumpReader(MemSource(data)))


def target_lime(data: bytes) -> None:
    """LiME and AVML images (ranges, snappy framing), then the memory-image layer: the search
    for VMCOREINFO in memory, the architecture from init_uts_ns, page reads."""
    open_and_exercise(lambda: LimeReader(MemSource(data)))


def target_xc_core(data: bytes) -> None:
    """Xen domain dumps: ELF sections, the dump-core notes, the pfn/p2m table."""
    open_and_exercise(lambda: XcCoreReader(MemSource(data)))


def target_xc_save(data: bytes) -> None:
    """Xen save images (legacy format): the configuration, the batches, pages sent again."""
    open_and_exercise(lambda: XcSaveReader(MemSource(data)))


def target_s390dump(data: bytes) -> None:
    """s390 stand-alone dumps: the header, the end marker, the lowcore's VMCOREINFO pointer."""
    open_and_exercise(lambda: S390DumpReader(MemSource(data)))


def target_vmdump(data: bytes) -> None:
    """z/VM VMDUMP: the records, the CPUs' registers, the bitmap index and key pages."""
    open_and_exercise(lambda: VmdumpReader(MemSource(data)))


def target_lkcd(data: bytes) -> None:
    """LKCD dumps: the header layouts, the page records, RLE and zlib pages."""
    open_and_exercise(lambda: LkcdReader(MemSource(data)))


def target_sadump(data: bytes) -> None:
    """SADUMP: the partition header's magic numbers, the dump header, the CPU states, the two
    bitmaps."""
    open_and_exercise(lambda: SadumpReader(MemSource(data)))
    # a disk set: the input cut where a second partition header (its magic numbers after it) starts
    from pymakedumpfile.formats import sadump as sf

    cut = data.find(sf.PART_SIGNATURE, 8)
    while cut > 0:
        if sf.magic_block_size(data[cut : cut + (1 << 16)]):
            open_and_exercise(functools.partial(SadumpReader, MemSource(data[:cut]), [MemSource(data[cut:])]))
            return
        cut = data.find(sf.PART_SIGNATURE, cut + 8)


XEN_MAX_FRAMES = 4096  # frames -X looks at per input (a mutated PT_LOAD can claim terabytes)


def target_xenhost(data: bytes) -> None:
    """A Xen host's crash dump and -X: the crash-info and VMCOREINFO_XEN notes, the
    hypervisor's address space (image window, direct map, page tables), the domain list and
    the frame table."""
    from pymakedumpfile.core.pagemap import Bitmap
    from pymakedumpfile.filter.xen import XenHost

    try:
        reader = ElfReader(MemSource(data))
    except DumpError:
        return
    try:
        try:
            ctx = Context(reader)
            host = XenHost(ctx)
        except DumpError:
            return
        runs, budget = [], XEN_MAX_FRAMES
        for a, b in ctx.pagemap.runs():
            b = min(b, a + budget)
            runs.append((a, b))
            budget -= b - a
            if budget <= 0:
                break
        keep = Bitmap.empty(max((b for _, b in runs), default=0))
        for a, b in runs:
            keep.set_range(a, b)
        before = keep.count()
        try:
            cleared = host.exclude(keep, runs)
        except DumpError:
            return
        if cleared != before - keep.count():
            raise OracleError(f"-X says it cleared {cleared} frames, the map lost {before - keep.count()}")
    finally:
        reader.close()


def target_raw(data: bytes) -> None:
    """Raw images: ``<B n>`` then n regions ``<Q address> <I length>`` and their bytes (a length
    past the end takes the rest)."""
    regions: list[tuple[Source, int]] = []
    if data:
        pos = 1
        for _ in range(min(data[0], MAX_PARTS)):
            if pos + 12 > len(data):
                break
            addr, n = struct.unpack_from("<QI", data, pos)
            pos += 12
            regions.append((MemSource(data[pos : pos + n], f"<raw{len(regions)}>"), addr))
            pos += n
    if regions:
        open_and_exercise(lambda: RawReader(regions))


def naive_unflatten(data: bytes, limit: int = 16 << 20) -> bytes | None:
    """The file a flattened stream stands for, rebuilt the simplest way
    (makedumpfile -R); None when the stream is malformed or too large."""
    pos = flatfmt.HEADER_SIZE
    out = bytearray()
    hs = flatfmt.DATA_HEADER.size
    while True:
        if pos + hs > len(data):
            return None
        off, n = flatfmt.DATA_HEADER.unpack_from(data, pos)
        pos += hs
        if off == flatfmt.END_OFFSET and n == flatfmt.END_SIZE:
            return bytes(out)
        if off < 0 or n < 0 or pos + n > len(data) or off + n > limit:
            return None
        if n:
            if off + n > len(out):
                out.extend(bytes(off + n - len(out)))
            out[off : off + n] = data[pos : pos + n]
        pos += n


def target_flat(data: bytes) -> None:
    try:
        src = FlattenedSource(MemSource(data))
    except DumpError:
        return
    # oracle: the stream reads like the file -R would rebuild
    want = naive_unflatten(data)
    if want is not None:
        if src.size != len(want):
            raise OracleError(f"flattened size {src.size} != rebuilt {len(want)}")
        step = max(1, len(want) // 7)
        for off in list(range(0, len(want), step)) + [max(len(want) - 5, 0)]:
            for n in (1, 17, 4096):
                if src.pread(off, n) != want[off : off + n]:
                    raise OracleError(f"flattened pread({off:#x}, {n}) differs from the rebuilt file")
    open_and_exercise(lambda: probe_reader(src))


def split_parts(data: bytes) -> list[bytes]:
    parts = []
    pos = 0
    while pos < len(data) and len(parts) < MAX_PARTS:
        if pos + 4 > len(data):
            break
        (n,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if len(parts) == MAX_PARTS - 1 or pos + n > len(data):
            n = len(data) - pos
        parts.append(data[pos : pos + n])
        pos += n
    return parts


def target_split(data: bytes) -> None:
    parts = split_parts(data)
    if not parts:
        return
    readers: list[KdumpReader] = []
    try:
        for i, p in enumerate(parts):
            readers.append(KdumpReader(mem_source(p, f"<part {i}>")))
    except DumpError:
        return
    open_and_exercise(lambda: SplitReader(readers))


def target_file(data: bytes) -> None:
    """open_dump() by file name: FileSource, zstd/lz4 stream unwrapping, probing."""
    fd, path = tempfile.mkstemp(prefix="pmd-fuzz-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            ctx = open_dump(path)
        except DumpError:
            return
        try:
            exercise(ctx.reader)
        finally:
            ctx.close()
    finally:
        os.unlink(path)


def target_vmcoreinfo(data: bytes) -> None:
    vi = VmcoreInfo(data)
    for kind in ("SYMBOL", "OFFSET", "SIZE", "LENGTH", "NUMBER"):
        lo, hi = (0, 1 << 64) if kind == "SYMBOL" else (-(1 << 63), 1 << 63)
        for k, v in getattr(vi, kind).items():
            if not isinstance(v, int) or not isinstance(k, str) or not lo <= v < hi:
                raise OracleError(f"{kind}({k!r}) = {v!r}")
    for k, v in vi.lines.items():
        if not isinstance(v, str):
            raise OracleError(f"{k} = {v!r}")
        vi.get_int(k)
    vi.page_size, vi.osrelease, bool(vi)
    for key in ("CRASHTIME", "PAGESIZE", "KERNELOFFSET", "phys_base"):
        v = vi.get_int(key)
        if v is not None and not -(1 << 63) <= v < 1 << 64:
            raise OracleError(f"{key} = {v}: fits no kernel type")


# ---------------------------------------------------------------- memory targets


def parse_records(data: bytes, pos: int) -> dict[int, bytearray]:
    """Sparse memory from records ``<Q addr> <H len> data``: page base -> 4 KiB."""
    mem: dict[int, bytearray] = {}
    while pos + 10 <= len(data) and len(mem) < 4096:
        addr, n = struct.unpack_from("<QH", data, pos)
        pos += 10
        chunk = data[pos : pos + n]
        pos += n
        a = addr
        off = 0  # write chunk at addr, page by page (a 0-byte record maps one page)
        while True:
            cur = (a + off) & 0xFFFFFFFFFFFFFFFF  # addresses wrap at 2**64
            base = cur & ~(PAGE - 1)
            page = mem.setdefault(base, bytearray(PAGE))
            lo = cur - base
            take = min(PAGE - lo, len(chunk) - off)
            page[lo : lo + take] = chunk[off : off + take]
            off += take
            if off >= len(chunk):
                break
    return mem


def read_mem(mem: dict[int, bytearray], addr: int, size: int, missing: Callable[[int], DumpError]) -> bytes:
    out = bytearray()
    while size > 0:
        base = addr & ~(PAGE - 1)
        page = mem.get(base) if addr >= 0 else None
        if page is None:
            raise missing(addr)
        lo = addr - base
        n = min(size, PAGE - lo)
        out += page[lo : lo + n]
        addr += n
        size -= n
    return bytes(out)


ROOT_SYMBOLS = ("init_top_pgt", "init_level4_pgt", "swapper_pg_dir", None)


def target_pagetable(data: bytes) -> None:
    if len(data) < 26:
        return
    root_va, phys_base, flags, nva, sme = struct.unpack_from("<QqBBQ", data, 0)
    nva = min(nva, 16)
    pos = 26
    vaddrs = []
    for _ in range(nva):
        if pos + 8 > len(data):
            break
        vaddrs.append(struct.unpack_from("<Q", data, pos)[0])
        pos += 8
    mem = parse_records(data, pos)
    lines = [f"NUMBER(pgtable_l5_enabled)={flags & 1}"]
    sym = ROOT_SYMBOLS[(flags >> 2) & 3]
    if sym:
        lines.append(f"SYMBOL({sym})={root_va:x}")
    if flags & 2:
        lines.append(f"NUMBER(sme_mask)={sme - (1 << 64) if sme >> 63 else sme}")
    vi = VmcoreInfo("\n".join(lines).encode() + b"\n")

    def read_phys(addr: int, size: int) -> bytes:
        return read_mem(mem, addr, size, lambda a: PageExcludedError(a // PAGE, why="not in the fuzz memory"))

    try:
        xl = X86_64Translator(read_phys, vi, phys_base)
    except DumpError:
        return
    from pymakedumpfile.translate import ARCHES, KernelMemory

    km = KernelMemory(ARCHES["x86_64"], read_phys, vi, phys_base)
    for va in vaddrs:
        try:
            pa, steps = xl.walk(va)
        except DumpError:
            continue
        if not steps or not isinstance(pa, int):
            raise OracleError("walk returned no steps")
        pa2, left = xl.translate(va)
        if pa2 != pa or not 0 < left <= 1 << 30:
            raise OracleError(f"translate({va:#x}) = {pa2:#x}, {left} vs walk {pa:#x}")
        expect_dump_errors(lambda va=va: km.read(va, 4096 + 24))


class FakeKernelMemory(MemoryReader):
    """A KernelMemory over the fuzz bytes: virtual memory from records."""

    def __init__(self, mem: dict[int, bytearray]) -> None:
        super().__init__("little", 8)
        self.mem = mem
        self.reads = 0

    def read(self, vaddr: int, size: int) -> bytes:
        self.reads += 1
        if size > 64 << 20:
            raise OracleError(f"read of {size} bytes")
        return read_mem(self.mem, vaddr, size, lambda a: AddressTranslationError(a, "not in the fuzz memory"))


def _prefixed_vmcoreinfo(data: bytes) -> tuple[VmcoreInfo, int] | None:
    if len(data) < 2:
        return None
    (n,) = struct.unpack_from("<H", data, 0)
    return VmcoreInfo(data[2 : 2 + n]), 2 + n


def target_memmap(data: bytes) -> None:
    got = _prefixed_vmcoreinfo(data)
    if got is None or got[1] + 4 > len(data):
        return
    vi, pos = got
    (max_pfn,) = struct.unpack_from("<I", data, pos)
    km = FakeKernelMemory(parse_records(data, pos + 4))
    try:
        ranges = find_mem_map(vi, km, max_pfn, PAGE, "x86_64")  # type: ignore[arg-type]
    except DumpError:
        base = vi.SYMBOL.get("mem_map", 0xFFFFEA0000000000)
        ranges = [MemMapRange(0, max_pfn, base)]
    for r in ranges:
        if not 0 <= r.pfn_start <= r.pfn_end <= max_pfn:
            raise OracleError(f"mem_map range {r}")
    if max_pfn > 1 << 24:  # the walk needs a bitmap of max_pfn bits
        return
    keep = Bitmap.empty(max_pfn)
    keep.set_range(0, max_pfn)
    try:
        n = exclude_free_lists(vi, km, ranges, keep, max_pfn)  # type: ignore[arg-type]
    except DumpError:
        return
    # n counts every pfn of every block, as makedumpfile does: garbage lists may overlap
    if n < max_pfn - keep.count():
        raise OracleError(f"the free-list walk cleared {max_pfn - keep.count()} pages but counted {n}")


def unsafe_params(params: object) -> list[str]:
    """Parameters with which accel.classify (C) reads outside the struct page
    buffer (known issue classify-negative-offset): it always reads the flags
    and mapping fields, and the order/dtor fields when their width is set,
    but checks only offsets >= 0."""
    from pymakedumpfile.accel.classify_py import C

    p = params  # an array("q") from build_params
    bad = []
    if min(p[C.OFF_FLAGS], p[C.OFF_MAPPING]) < 0:  # type: ignore[index]
        bad += [C.OFF_FLAGS.name, C.OFF_MAPPING.name]
    for off, width in ((C.ORDER_OFF, C.ORDER_WIDTH), (C.DTOR_OFF, C.DTOR_WIDTH)):
        if p[width] > 0 and p[off] < 0:  # type: ignore[index]
            bad.append(off.name)
    return bad


def skip_unsafe(params: object) -> bool:
    """True (skip the input) if ``params`` would make accel.classify read out of
    bounds: a segfault would end the fuzzer.  Under PMD_FUZZ_STRICT it fails."""
    bad = unsafe_params(params)
    if not bad:
        return False
    exc = KnownUnsafe(f"accel.classify would read outside the struct pages: negative {', '.join(bad)}")
    if STRICT:
        raise exc
    n = KNOWN_HITS["classify-negative-offset"] = KNOWN_HITS.get("classify-negative-offset", 0) + 1
    if n in (1, 10, 100, 1000, 10000, 100000):
        print(f"known issue classify-negative-offset: {n} inputs so far", file=sys.stderr, flush=True)
    return True


class KnownUnsafe(OracleError):
    """An input that would crash the process (not an exception) through a known issue."""


def target_classify(data: bytes) -> None:
    """build_params (filter/params.py) then accel.classify, native and
    Python twins, as filter/__init__.py calls them; the twins must agree."""
    from array import array

    from pymakedumpfile.accel.classify_py import C, Cnt

    got = _prefixed_vmcoreinfo(data)
    if got is None or got[1] + 7 > len(data):
        return
    vi, pos = got
    level, pfn0, count = struct.unpack_from("<BIH", data, pos)
    pos += 7
    pfn0 &= 0xFFFFF  # the bitmaps below have a bit per pfn up to pfn0 + count
    try:
        params = fclassify.build_params(vi, level & 31, 8, False)
    except fclassify.MissingInfo:
        return
    sz = params[C.SIZE_PAGE]
    if sz <= 0 or sz > 1 << 16:
        return  # what filter/__init__ would do with it is reported separately
    if skip_unsafe(params):
        return
    raw = data[pos:]
    nstruct = min(len(raw) // sz, 4096)
    count = min(count, nstruct)
    pages = raw[: nstruct * sz]
    max_pfn = pfn0 + count + 64
    results = {}
    for name, fn in accel.implementations("classify").items():
        valid = bytearray(b"\xff" * ((max_pfn + 7) // 8))
        keep = bytearray(b"\xff" * ((max_pfn + 7) // 8))
        counters = array("Q", [0] * len(Cnt))
        try:
            r = fn(pages, nstruct, pfn0, count, pfn0, params, bytes(valid), keep, max_pfn, counters)
        except ValueError as e:
            results[name] = ("ValueError", str(e))
            continue
        results[name] = (r, bytes(keep), tuple(counters))
    if len(set(results.values())) > 1:
        brief = {k: v if v[0] == "ValueError" else v[0] for k, v in results.items()}
        raise OracleError(f"classify twins disagree: {brief}")
    for v in results.values():
        if v[0] == "ValueError":
            raise ValueError(f"accel.classify refused build_params' params: {v[1]}")


FILTER_MAX_PFN = 1 << 22  # the filter allocates bitmaps of max_pfn bits (see docs/fuzzing.md)


def target_filter(data: bytes) -> None:
    """A dump (any format) through the dump-level filter: find mem_map through
    the dump's own page tables, classify every struct page, walk the free
    lists (level 16 without the buddy marker), find zero pages (ELF output)."""
    from pymakedumpfile.filter import make_write_context

    try:
        reader = probe_reader(mem_source(data))
    except DumpError:
        return
    if reader is None:
        return
    try:
        try:
            ctx = Context(reader)
        except DumpError:
            return
        if reader.max_pfn > FILTER_MAX_PFN:
            return
        vi = reader.vmcoreinfo
        try:
            if skip_unsafe(fclassify.build_params(vi, 31, 8, False)):
                return
        except (fclassify.MissingInfo, OverflowError):
            pass
        for fmt, level, no_buddy in (("kdump", 31, False), ("elf", 1, False), ("kdump", 16, True)):
            if no_buddy:
                vi.NUMBER.pop("PAGE_BUDDY_MAPCOUNT_VALUE", None)
                vi.NUMBER.pop("PG_buddy", None)
            try:
                w = make_write_context(ctx, format=fmt, dump_level=level)
            except DumpError:
                continue
            keep = w.pagemap
            if keep.count() > ctx.pagemap.count():
                raise OracleError("the filter kept more pages than the dump holds")
    finally:
        reader.close()


def target_kcore(data: bytes) -> None:
    """/proc/kcore for --mem-usage: KcoreReader (PT_LOADs with a physical
    address, less an excluded range; VMCOREINFO from the notes or at a given
    address), then the level-31 classification of --mem-usage.
    Input: ``<u64 lo><u64 hi><u64 vmcoreinfo paddr><u32 size>`` then the ELF."""
    from pymakedumpfile.input.kcore import KcoreReader
    from pymakedumpfile.tools.memusage import mem_usage_of

    if len(data) < 28:
        return
    lo, hi, at, size = struct.unpack_from("<QQQI", data)
    try:
        reader = KcoreReader(MemSource(data[28:]), exclude=[(lo, hi)] if lo < hi else [],
                             vmcoreinfo_at=f"{at:x} {size:x}")
    except DumpError:
        return
    try:
        exercise(reader)
        ctx = Context(reader)
        try:
            u = mem_usage_of(ctx)
        except DumpError:
            return
        if min(u.zero, u.non_pri_cache, u.pri_cache, u.user, u.free, u.kern_data) < 0:
            raise OracleError(f"negative count in {u}")
    finally:
        reader.close()


def target_dwarf(data: bytes) -> None:
    """-g: the ELF and DWARF reader of a kernel image (written to a file, as
    -x takes a path), then VMCOREINFO generation."""
    from pymakedumpfile.input.dwarf import generate_vmcoreinfo

    fd, path = tempfile.mkstemp(prefix="pmd-fuzz-dwarf-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            text = generate_vmcoreinfo(path, page_size=4096)
        except DumpError:
            return
        if not text.startswith(b"OSRELEASE=") or b"\nPAGESIZE=4096\n" not in text:
            raise OracleError("VMCOREINFO without its first lines")
    finally:
        os.unlink(path)


class _StubTarget:
    """What a gdbserver Session asks of its target, for two CPUs and 64 KiB of memory at
    0xffffffff80000000 (the protocol is the fuzzed part, not the dump)."""

    def __init__(self) -> None:
        from pymakedumpfile.tools.gdbserver import KernelTarget, Thread
        from pymakedumpfile.translate import get_arch

        arch = get_arch("x86_64")
        assert arch is not None and arch.gdb is not None
        self.gdb, self.arch = arch.gdb, arch
        self.threads = [Thread(2, 1, 7, {"rip": 0xFFFFFFFF81000000, "rsp": 0xFFFFFFFF80008000}, True),
                        Thread(1, 0, 0, {"rip": 0xFFFFFFFF81000010}, False)]
        self.byte_order, self.numbers, self.kaslr, self.text = "little", {}, 0x1000000, 0xFFFFFFFF81000000
        self.process = False
        self.mem = bytes(range(256)) * 256
        for name in ("register_bytes", "all_registers", "target_xml", "memory_map", "describe", "offsets",
                     "thread"):
            setattr(self, name, getattr(KernelTarget, name).__get__(self))

    def read(self, addr: int, n: int) -> bytes:
        off = addr - 0xFFFFFFFF80000000
        return self.mem[off : off + n] if 0 <= off < len(self.mem) else b""


def target_rsp(data: bytes) -> None:
    """gdbserver: a byte stream from gdb (packets, acknowledgments, interrupts, noise) through
    the framing and the session, as serve() runs them: every packet gets bytes, a list of
    bytes or None, and each reply frames and reads back as itself."""
    from pymakedumpfile.tools import rsp
    from pymakedumpfile.tools.gdbserver import Session

    s = Session(_StubTarget(), monitor=lambda text: text[:100])  # type: ignore[arg-type]
    reader = rsp.Reader()
    for kind, pkt in reader.feed(data):
        if kind != "packet":
            continue
        reply = s.handle(pkt)
        s.after(pkt)
        for r in reply if isinstance(reply, list) else [] if reply is None else [reply]:
            if not isinstance(r, bytes):
                raise OracleError(f"reply {r!r} to {pkt!r} is not bytes")
            back = list(rsp.Reader().feed(rsp.frame(r)))
            if back != [("packet", r)]:
                raise OracleError(f"the reply {r[:40]!r} does not read back")
        s.done = False


def target_btf(data: bytes) -> None:
    """BTF: a blob parsed, then every structure's members and every variable described with
    makedumpfile's type model (what --config without a kernel image walks)."""
    from pymakedumpfile.input.btf import Btf
    from pymakedumpfile.input.ktypes import BtfTypes

    try:
        t = BtfTypes(Btf(data, "fuzz"), {}, "fuzz")
        for name in list(t.btf.variables)[:50]:
            v = t.variable(name)
            if v is not None and v.die is not None:
                for m in t.btf.members(t.btf.skip(v.die))[:20]:
                    t.member(v, m[0])
        for name in list(t.btf.named)[:50]:
            st = t.struct(name)
            if st is not None:
                for m in t.btf.members(st.die)[:20]:  # type: ignore[arg-type]
                    t.member(st, m[0])
        t.btf.global_variables()
    except DumpError:
        return


TARGETS: dict[str, Callable[[bytes], None]] = {
    "rsp": target_rsp,
    "btf": target_btf,
    "kcore": target_kcore,
    "dwarf": target_dwarf,
    "elf": target_elf,
    "kdump": target_kdump,
    "lime": target_lime,
    "xc_core": target_xc_core,
    "xc_save": target_xc_save,
    "raw": target_raw,
    "s390dump": target_s390dump,
    "vmdump": target_vmdump,
    "lkcd": target_lkcd,
    "sadump": target_sadump,
    "xenhost": target_xenhost,
    "flat": target_flat,
    "split": target_split,
    "file": target_file,
    "vmcoreinfo": target_vmcoreinfo,
    "pagetable": target_pagetable,
    "memmap": target_memmap,
    "classify": target_classify,
    "filter": target_filter,
}


# ---------------------------------------------------------------- known, reported issues
#
# Failures whose fix belongs in files this fuzzing work may not change (they
# are being edited elsewhere); each is reported in docs/fuzzing.md.  They are
# tolerated (counted in KNOWN_HITS) so the fuzzers can go on finding other
# bugs; PMD_FUZZ_STRICT=1 makes them failures again.  Remove an entry once
# its fix lands: the regression inputs then check it.

STRICT = os.environ.get("PMD_FUZZ_STRICT") == "1"


def _raised_at(exc: BaseException, path_end: str, line_has: str = "") -> bool:
    tb = exc.__traceback__
    while tb is not None:
        co = tb.tb_frame.f_code
        if co.co_filename.replace(os.sep, "/").endswith(path_end):
            import linecache

            if line_has in linecache.getline(co.co_filename, tb.tb_lineno):
                return True
        tb = tb.tb_next
    return False


# Issues found in code outside the readers, tolerated while they were open so that
# fuzzing could go on.  All three are fixed now (build_params checks offsets, widths and
# sizes; exclude_unnecessary_pages re-raises as Corrupt/UnsupportedDumpError; the C
# kernel refuses negative offsets it would read): the table stays empty, so any
# recurrence fails.  Add an entry only with an open issue named in it.
KNOWN_ISSUES: dict[str, tuple[str, Callable[[BaseException], bool]]] = {}
KNOWN_HITS: dict[str, int] = {}


def known_issue(exc: BaseException) -> str | None:
    for key, (_, match) in KNOWN_ISSUES.items():
        if match(exc):
            return key
    return None


def call(name: str, data: bytes) -> None:
    """Run target ``name`` on ``data``; a known issue passes unless STRICT."""
    try:
        TARGETS[name](data)
    except Exception as e:
        key = None if STRICT else known_issue(e)
        if key is None:
            raise
        n = KNOWN_HITS[key] = KNOWN_HITS.get(key, 0) + 1
        if n in (1, 10, 100, 1000, 10000, 100000):
            print(f"known issue {key}: {n} inputs so far", file=sys.stderr, flush=True)


def run_one(name: str, data: bytes, timeout: float = TIME_LIMIT) -> None:
    """Run target ``name`` on ``data`` under the time limit."""
    with time_limit(timeout):
        call(name, data)


SEEDS = HERE / "seeds"
REGRESSIONS = HERE / "regressions"


def seed_files(name: str, regressions: bool = True) -> list[Path]:
    dirs = [SEEDS / name] + ([REGRESSIONS / name] if regressions else [])
    out: list[Path] = []
    for d in dirs:
        if d.is_dir():
            out += sorted(p for p in d.iterdir() if p.is_file())
    return out


def main(argv: list[str]) -> int:
    """``python harness.py TARGET FILE...``: run inputs once, print what escapes."""
    import traceback

    name, files = argv[1], argv[2:]
    bad = 0
    for f in files:
        try:
            run_one(name, Path(f).read_bytes())
            print(f"ok   {f}")
        except BaseException:  # noqa: BLE001
            bad += 1
            print(f"FAIL {f}")
            traceback.print_exc()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
