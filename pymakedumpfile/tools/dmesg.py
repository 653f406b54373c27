"""The kernel log of a dump: makedumpfile's ``--dump-dmesg`` and ``--partial-dmesg``.

:func:`dump_dmesg` returns the log text exactly as makedumpfile writes its
LOGFILE; :func:`write_dmesg` writes it to a file created like a dump
(``O_EXCL``, mode 0600, never through a symlink, ``force`` to replace).
Everything is read through :meth:`Context.read_virt`, so every input format
works.  Three kernel log layouts exist, told apart by what VMCOREINFO
exports (makedumpfile ``dump_dmesg()`` and ``printk.c``):

* **Lockless ring** (Linux 5.10+, ``SYMBOL(prb)``): ``struct
  printk_ringbuffer`` with a descriptor ring (``prb_desc`` + ``printk_info``)
  and a text data ring.  Descriptor ids are walked from ``tail_id`` to
  ``head_id``; a record is printed only if its descriptor still carries that
  id and its state (the top two bits of ``state_var``) is committed or
  finalized.  ``--partial-dmesg`` starts at ``head_id`` rounded down to the
  ring size plus ``clear_seq`` modulo it (``clear_seq`` is a ``struct
  latched_seq`` since 5.13): so, as with makedumpfile, a log never cleared
  whose ring has wrapped starts at the current lap, not at the oldest
  record.
* **Structured records** (3.5 to 5.9): ``log_buf`` holds ``struct
  printk_log`` records (``struct log`` before 3.11), each ``len`` bytes with
  its text right after the header; a record of length 0 marks the wrap to
  the start of the buffer.  The walk goes from ``log_first_idx`` (or
  ``clear_idx`` for a partial log) to ``log_next_idx`` with makedumpfile's
  cycle detection (Brent's algorithm, ``detect_cycle.c``).
* **Legacy ring** (before 3.5, ``SYMBOL(log_end)``): the raw character ring
  is copied, oldest byte first.

A record is written as ``[%5lu.%06lu] `` (seconds and microseconds of
``ts_nsec``), then with ``caller_id`` and a kernel exporting
``OFFSET(printk_info.caller_id)`` / ``OFFSET(printk_log.caller_id)`` the
caller as ``[%8s] `` of ``T<pid>`` or ``C<cpu>`` (makedumpfile 1.7.5+,
upstream commit 48bb1e0 "add PRINTK_CALLER id support to --dump-dmesg
option"; 1.7.2 and older never print it), then the text: a newline becomes a
newline plus one space per character of that prefix, printable characters
and C ``isspace()`` ones are copied, any other byte is written ``\\x%02x`` --
of a C ``char``, so on architectures where ``char`` is signed (x86) bytes
0x80-0xff come out as ``\\xffffff80``..``\\xffffffff``.  A newline ends each
record.  Only ``text_len`` bytes are printed: dictionaries and device info
are not, and continuation records are not merged (makedumpfile neither).

makedumpfile's own corruption checks are kept (a cycle in the records, the
next record outside the buffer) and its output then too: the error is
:class:`DmesgCorruptError`, whose ``partial`` holds what makedumpfile leaves
in LOGFILE (for a cycle: the records up to one full turn of it, as
makedumpfile rewrites them).  Where makedumpfile has no check and would
read outside what it copied (text past the end of the buffer or the data
ring, a first index outside the buffer), write without end (a cycle that
starts at a wrap marker) or loop practically forever (ids from tail to head
more than a ring apart), the same error is raised, and so it is for states
no kernel writes that would let the output grow out of proportion (a
record whose text is longer than the record, more text than the data ring
holds, ring sizes beyond the kernel's 2 GiB or the dump's memory).  The
one deliberate difference on sound data: with ``partial`` on a lockless ring, when ``clear_seq`` falls in the
previous lap of the descriptor ring (``clear_seq % count > head_id %
count``) makedumpfile computes a start id past ``head_id`` and loops over
the whole 2^62 id space; we start one lap earlier, at the record whose
sequence number is ``clear_seq``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..core.errors import CorruptDumpError, DumpError, UnsupportedDumpError
from ..core.hints import TYPE_CHECKING
from ..translate.base import IntDecoder

if TYPE_CHECKING:
    from ..core.context import Context

__all__ = [
    "DmesgCorruptError",
    "DmesgError",
    "DmesgUnsupportedError",
    "dump_dmesg",
    "log_format",
    "write_dmesg",
]


class DmesgError(DumpError):
    """The kernel log could not be extracted.

    :ivar partial: the log text written before the failure, as makedumpfile
        leaves it in LOGFILE (empty when it fails before opening LOGFILE).
    """

    def __init__(self, message: str, path: str | None = None, partial: bytes = b"") -> None:
        super().__init__(message, path)
        self.partial = partial


class DmesgCorruptError(DmesgError, CorruptDumpError):
    """The log buffer contradicts itself (cycle, index or length outside it)."""


class DmesgUnsupportedError(DmesgError, UnsupportedDumpError):
    """VMCOREINFO lacks what is needed to find or parse the log."""


# ---------------------------------------------------------------------------
# record formatting (makedumpfile dump_log_entry() / printk.c dump_record())

NSEC_PER_SEC = 1_000_000_000
CALLER_CPU = 0x80000000  # the kernel's caller_id flag for a CPU (not a task) id
PID_CHARS_DEFAULT = 8  # makedumpfile's width of the caller field

# bytes copied as they are: C isprint() (0x20-0x7e) and isspace() (\t \n \v \f \r)
_ESCAPED = re.compile(rb"[^\x20-\x7e\t\n\x0b\x0c\r]")

# makedumpfile is built natively; where C char is unsigned, bytes >= 0x80
# print as two hex digits, elsewhere sign-extended to eight
_UNSIGNED_CHAR_ARCHES = frozenset({"aarch64", "arm", "ppc64", "ppc", "s390x", "riscv64"})


def _escape_table(signed_char: bool) -> list[bytes]:
    return [(b"\\xffffff%02x" if signed_char and b >= 0x80 else b"\\x%02x") % b for b in range(256)]


class _Formatter:
    def __init__(self, signed_char: bool) -> None:
        self._table = _escape_table(signed_char)

    def _escape(self, m: re.Match[bytes]) -> bytes:
        return self._table[m[0][0]]

    def entry(self, ts_nsec: int, caller: int | None, text: bytes) -> bytes:
        head = b"[%5d.%06d] " % (ts_nsec // NSEC_PER_SEC, ts_nsec % NSEC_PER_SEC // 1000)
        if caller is not None:
            tag = b"%c%d" % (ord("C") if caller & CALLER_CPU else ord("T"), caller & ~CALLER_CPU & 0xFFFFFFFF)
            head += b"[%*s] " % (PID_CHARS_DEFAULT, tag)
        body = _ESCAPED.sub(self._escape, text)
        if b"\n" in body:
            body = body.replace(b"\n", b"\n" + b" " * len(head))
        return head + body + b"\n"


# ---------------------------------------------------------------------------
# kernel access


class _Kernel:
    """Reads of kernel memory and VMCOREINFO, with errors naming what was read."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.path = ctx.name
        vi = ctx.reader.vmcoreinfo
        if vi is None or not vi:
            raise DmesgUnsupportedError("Cannot extract the kernel log: the dump has no VMCOREINFO", self.path)
        self.vi = vi
        self.ints = IntDecoder("big" if ctx.attr.get("arch.byte_order", "little") == "big" else "little",
                               int(ctx.attr.get("arch.ptr_size", 8)))
        self.ptr = self.ints.ptr_size
        self.arch = str(ctx.attr.get("arch.name", ""))
        try:  # no kernel buffer is larger than the memory it lives in
            self.mem_bytes: int | None = ctx.max_pfn * ctx.page_size
        except (KeyError, TypeError, ValueError):
            self.mem_bytes = None

    def read(self, addr: int, size: int, what: str) -> bytes:
        try:
            data = self.ctx.read_virt(addr, size)
        except DumpError as e:
            raise DmesgError(f"Cannot read {what} at {addr:#x}: {e.message}", self.path) from e
        if len(data) != size:
            raise DmesgError(f"Cannot read {what} at {addr:#x}: short read", self.path)
        return data

    def read_ulong(self, addr: int, what: str) -> int:
        return self.ulong(self.read(addr, self.ptr, what), 0)

    def read_u32(self, addr: int, what: str) -> int:
        return self.u32(self.read(addr, 4, what), 0)

    def read_u64(self, addr: int, what: str) -> int:
        return self.u64(self.read(addr, 8, what), 0)

    # unpacking from buffers this module copied; callers keep offsets inside
    def u16(self, buf: bytes, off: int) -> int:
        return self.ints.unpack(buf, off, 2)

    def u32(self, buf: bytes, off: int) -> int:
        return self.ints.unpack(buf, off, 4)

    def u64(self, buf: bytes, off: int) -> int:
        return self.ints.unpack(buf, off, 8)

    def ulong(self, buf: bytes, off: int) -> int:
        return self.ints.unpack_ptr(buf, off)

    def need(self, kind: str, names: list[str], layout: str) -> dict[str, int]:
        table: dict[str, int] = getattr(self.vi, kind)
        missing = [n for n in names if n not in table]
        if missing:
            raise DmesgUnsupportedError(
                f"Cannot extract the kernel log ({layout}): VMCOREINFO lacks "
                + ", ".join(f"{kind}({n})" for n in missing), self.path)
        return {n: table[n] for n in names}

    def release(self) -> tuple[int, int, int] | None:
        m = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", self.vi.lines.get("OSRELEASE", ""))
        if not m:
            return None
        return int(m[1]), int(m[2]), int(m[3] or 0)

    def too_big(self, nbytes: int) -> bool:
        return self.mem_bytes is not None and nbytes > self.mem_bytes

    def corrupt(self, what: str, partial: list[bytes]) -> DmesgCorruptError:
        return DmesgCorruptError(f"Cannot extract the kernel log: {what}", self.path, b"".join(partial))


def _check_int_len(k: _Kernel, log_buf_len: int) -> int:
    """``log_buf_len`` is a C ``int`` in makedumpfile: it must be positive
    (and, for us, no larger than the dump's memory)."""
    if log_buf_len & 0x80000000 or log_buf_len == 0 or k.too_big(log_buf_len):
        raise DmesgCorruptError(f"Cannot extract the kernel log: log_buf_len is {log_buf_len:#x}", k.path)
    return log_buf_len


def log_format(ctx: Context) -> str:
    """The kernel log layout of a dump: ``"lockless"`` (5.10+),
    ``"printk_log"`` (3.5-5.9) or ``"legacy"`` (before 3.5).

    :raises DmesgUnsupportedError: VMCOREINFO names no kernel log.
    """
    return _layout(_Kernel(ctx))


def _layout(k: _Kernel) -> str:
    sym = k.vi.SYMBOL
    if "prb" in sym:
        return "lockless"
    if "log_buf" not in sym or "log_buf_len" not in sym:
        raise DmesgUnsupportedError("Cannot extract the kernel log: VMCOREINFO lacks SYMBOL(log_buf) or "
                                    "SYMBOL(log_buf_len)", k.path)
    if "log_end" in sym:
        return "legacy"
    if "log_first_idx" in sym and "log_next_idx" in sym:
        return "printk_log"
    raise DmesgUnsupportedError("Cannot extract the kernel log: VMCOREINFO has neither SYMBOL(log_end) nor "
                                "SYMBOL(log_first_idx) and SYMBOL(log_next_idx)", k.path)


# ---------------------------------------------------------------------------
# before 3.5: a character ring


def _legacy(k: _Kernel) -> bytes:
    sym = k.vi.SYMBOL
    log_buf = k.read_ulong(sym["log_buf"], "log_buf")
    # log_end is "unsigned" since 2.6.25, "unsigned long" before
    rel = k.release()
    if rel is not None and rel < (2, 6, 25):
        log_end = k.read_ulong(sym["log_end"], "log_end")
    else:
        log_end = k.read_u32(sym["log_end"], "log_end")
    length = _check_int_len(k, k.read_u32(sym["log_buf_len"], "log_buf_len"))
    if log_end < length:
        return k.read(log_buf, log_end, "the log buffer")
    index = log_end & (length - 1)  # makedumpfile assumes a power of two
    return k.read(log_buf + index, length - index, "the log buffer") + k.read(log_buf, index, "the log buffer")


# ---------------------------------------------------------------------------
# 3.5 to 5.9: struct printk_log records


def _structured(k: _Kernel, partial: bool, caller_id: bool, fmt: _Formatter) -> bytes:
    vi, sym = k.vi, k.vi.SYMBOL
    name = "printk_log" if "printk_log" in vi.SIZE else "log"  # "struct log" before 3.11
    hdr = k.need("SIZE", [name], f"struct {name}")[name]
    off = k.need("OFFSET", [f"{name}.ts_nsec", f"{name}.len", f"{name}.text_len"], f"struct {name}")
    o_ts, o_len, o_tlen = off[f"{name}.ts_nsec"], off[f"{name}.len"], off[f"{name}.text_len"]
    o_cid = vi.OFFSET.get("printk_log.caller_id") if caller_id and name == "printk_log" else None
    if max(o_ts + 8, o_len + 2, o_tlen + 2, 0 if o_cid is None else o_cid + 4) > hdr:
        raise DmesgUnsupportedError(f"Cannot extract the kernel log: struct {name} fields lie outside SIZE({name})",
                                    k.path)

    first_sym = sym["clear_idx"] if partial and "clear_idx" in sym else sym["log_first_idx"]
    first = k.read_u32(first_sym, "clear_idx" if first_sym != sym["log_first_idx"] else "log_first_idx")
    next_idx = k.read_u32(sym["log_next_idx"], "log_next_idx")
    log_buf = k.read_ulong(sym["log_buf"], "log_buf")
    size = _check_int_len(k, k.read_u32(sym["log_buf_len"], "log_buf_len"))
    buf = k.read(log_buf, size, "the log buffer")
    last = size - hdr  # the highest index a record header fits at

    def rec_len(p: int) -> int:
        return k.u16(buf, p + o_len)

    def nxt(p: int) -> int:
        # a zero length marks the end of the buffer: the record at its start
        # is the one read as this one, and the one after it comes next
        n = rec_len(p)
        return rec_len(0) if n == 0 else p + n

    def from_ptr(p: int) -> int:
        return 0 if rec_len(p) == 0 else p

    out: list[bytes] = []

    def emit(p: int) -> None:
        text_len = k.u16(buf, p + o_tlen)
        n = rec_len(p)
        if hdr + text_len > n or p + hdr + text_len > size:
            raise k.corrupt(f"record at index {p:#x} of log_buf {log_buf:#x} has {text_len} bytes of text "
                            f"but is {n} bytes long (log_buf_len {size:#x})", out)
        ts = k.u64(buf, p + o_ts)
        cid = None if o_cid is None else k.u32(buf, p + o_cid)
        out.append(fmt.entry(ts, cid, buf[p + hdr : p + hdr + text_len]))

    ptr = first
    if ptr != next_idx and not 0 <= ptr <= last:
        raise k.corrupt(f"the first index {ptr:#x} lies outside log_buf {log_buf:#x} (log_buf_len {size:#x})", out)
    # Brent's cycle detection, stepping with the walk (makedumpfile detect_cycle.c)
    slow = fast = first
    length, power = 0, 2
    while ptr != next_idx:
        emit(from_ptr(ptr))
        if length == power:
            length, power, slow = 0, power * 2, fast
        fast = nxt(fast)  # == nxt(ptr)
        length += 1
        if slow == fast:
            _rewrite_to_cycle(first, length, nxt, from_ptr, emit, out)
            raise k.corrupt(f"cycle in the records of log_buf {log_buf:#x} (idx {ptr:#x}): the log buffer is "
                            "most likely corrupted", out)
        if not 0 <= fast <= last:
            raise k.corrupt(f"index {fast:#x} outside log_buf {log_buf:#x} (log_buf_len {size:#x}): the log "
                            "buffer is most likely corrupted", out)
        ptr = fast
    return b"".join(out)


def _rewrite_to_cycle(first: int, lam: int, nxt: Callable[[int], int], from_ptr: Callable[[int], int],
                      emit: Callable[[int], None], out: list[bytes]) -> None:
    """makedumpfile's answer to a cycle: start LOGFILE again and write the
    records from the first one to one full turn of the cycle."""
    # dc_find_start(): the cycle's first element (mu steps from the head)
    slow = fast = first
    for _ in range(lam):
        fast = nxt(fast)
    mu = 0
    while slow != fast:
        slow, fast = nxt(slow), nxt(fast)
        mu += 1
    start = slow
    out.clear()
    ptr, in_cycle, left = first, False, lam
    # makedumpfile counts the turn from the entry it printed that is the
    # cycle's start; were the start a wrap marker it never would, and loop
    # on: mu + lam entries are all there is to write
    for _ in range(mu + lam):
        if not left:
            break
        lp = from_ptr(ptr)
        emit(lp)
        ptr = nxt(ptr)
        if lp == start:
            in_cycle = True
        if in_cycle:
            left -= 1


# ---------------------------------------------------------------------------
# 5.10+: the lockless printk_ringbuffer

_DESC_COMMITTED, _DESC_FINALIZED = 1, 2


def _lockless(k: _Kernel, partial: bool, caller_id: bool, fmt: _Formatter) -> bytes:
    vi = k.vi
    layout = "printk_ringbuffer"
    sz = k.need("SIZE", ["printk_ringbuffer", "prb_desc", "printk_info"], layout)
    off = k.need("OFFSET", [
        "printk_ringbuffer.desc_ring", "printk_ringbuffer.text_data_ring",
        "prb_desc_ring.count_bits", "prb_desc_ring.descs", "prb_desc_ring.infos",
        "prb_desc_ring.head_id", "prb_desc_ring.tail_id",
        "prb_desc.state_var", "prb_desc.text_blk_lpos",
        "prb_data_blk_lpos.begin", "prb_data_blk_lpos.next",
        "prb_data_ring.size_bits", "prb_data_ring.data",
        "printk_info.ts_nsec", "printk_info.text_len", "atomic_long_t.counter",
    ], layout)
    o_cid = vi.OFFSET.get("printk_info.caller_id") if caller_id else None
    P = k.ptr
    bits = 8 * P
    id_mask = (1 << (bits - 2)) - 1  # DESC_ID_MASK: the state is in the top two bits
    atomic = off["atomic_long_t.counter"]

    def field(buf: bytes, o: int, n: int, what: str) -> None:
        if o < 0 or o + n > len(buf):
            raise DmesgUnsupportedError(f"Cannot extract the kernel log: {what} lies outside its structure", k.path)

    prb_addr = k.read_ulong(vi.SYMBOL["prb"], "prb")
    prb = k.read(prb_addr, sz["printk_ringbuffer"], "the printk_ringbuffer")
    dr = off["printk_ringbuffer.desc_ring"]
    tr = off["printk_ringbuffer.text_data_ring"]
    for o, n, what in ((dr + off["prb_desc_ring.count_bits"], 4, "prb_desc_ring.count_bits"),
                       (dr + off["prb_desc_ring.descs"], P, "prb_desc_ring.descs"),
                       (dr + off["prb_desc_ring.infos"], P, "prb_desc_ring.infos"),
                       (dr + off["prb_desc_ring.head_id"] + atomic, P, "prb_desc_ring.head_id"),
                       (dr + off["prb_desc_ring.tail_id"] + atomic, P, "prb_desc_ring.tail_id"),
                       (tr + off["prb_data_ring.size_bits"], 4, "prb_data_ring.size_bits"),
                       (tr + off["prb_data_ring.data"], P, "prb_data_ring.data")):
        field(prb, o, n, what)
    count_bits = k.u32(prb, dr + off["prb_desc_ring.count_bits"])
    size_bits = k.u32(prb, tr + off["prb_data_ring.size_bits"])
    count, size = 1 << count_bits, 1 << size_bits
    d_size, i_size = sz["prb_desc"], sz["printk_info"]
    # the kernel caps log_buf_len at 2 GiB and makes one descriptor per 32
    # bytes of text (PRB_AVGBITS): more, or more than the memory, is corrupt
    if size_bits > 31 or count_bits > size_bits or k.too_big(size + count * (d_size + i_size)):
        raise k.corrupt(f"implausible ring sizes (count_bits {count_bits}, size_bits {size_bits})", [])
    o_sv = off["prb_desc.state_var"] + atomic
    o_begin = off["prb_desc.text_blk_lpos"] + off["prb_data_blk_lpos.begin"]
    o_next = off["prb_desc.text_blk_lpos"] + off["prb_data_blk_lpos.next"]
    o_ts, o_tlen = off["printk_info.ts_nsec"], off["printk_info.text_len"]
    dummy_d, dummy_i = bytes(d_size), bytes(i_size)
    field(dummy_d, o_sv, P, "prb_desc.state_var")
    field(dummy_d, o_begin, P, "prb_data_blk_lpos.begin")
    field(dummy_d, o_next, P, "prb_data_blk_lpos.next")
    field(dummy_i, o_ts, 8, "printk_info.ts_nsec")
    field(dummy_i, o_tlen, 2, "printk_info.text_len")
    if o_cid is not None:
        field(dummy_i, o_cid, 4, "printk_info.caller_id")

    descs = k.read(k.ulong(prb, dr + off["prb_desc_ring.descs"]), d_size * count, "prb->desc_ring.descs")
    infos = k.read(k.ulong(prb, dr + off["prb_desc_ring.infos"]), i_size * count, "prb->desc_ring.infos")
    data = k.read(k.ulong(prb, tr + off["prb_data_ring.data"]), size, "prb->text_data_ring.data")

    tail = k.ulong(prb, dr + off["prb_desc_ring.tail_id"] + atomic)
    head = k.ulong(prb, dr + off["prb_desc_ring.head_id"] + atomic)
    if head > id_mask or tail > id_mask:
        raise k.corrupt(f"head_id {head:#x} or tail_id {tail:#x} has state bits set", [])
    if partial and "clear_seq" in vi.SYMBOL:
        clear_addr = vi.SYMBOL["clear_seq"]
        clear_seq = k.read_u64(clear_addr, "clear_seq")
        if "latched_seq" in vi.SIZE:  # 5.13+: struct latched_seq, val[] picked by the latch's low bit
            o_val = k.need("OFFSET", ["latched_seq.val"], "struct latched_seq")["latched_seq.val"]
            clear_seq = k.read_u64(clear_addr + o_val + (clear_seq & 1) * 8, "the latched clear_seq")
        tail = head - head % count + clear_seq % count
        if tail > head:
            # the record with that sequence number is in the previous lap
            # (makedumpfile would walk the whole id space here)
            tail = (tail - count) & id_mask
    span = (head - tail) & id_mask
    if span >= count:
        raise k.corrupt(f"tail_id {tail:#x} and head_id {head:#x} are more than the {count} descriptors "
                        "of the ring apart", [])

    out: list[bytes] = []
    budget = 2 * size + 0x10000  # text of live records never overlaps: more is a corrupt ring
    for i in range(span + 1):
        rid = (tail + i) & id_mask
        slot = rid % count
        d = slot * d_size
        sv = k.ulong(descs, d + o_sv)
        if sv & id_mask != rid or (sv >> (bits - 2)) not in (_DESC_COMMITTED, _DESC_FINALIZED):
            continue
        begin = k.ulong(descs, d + o_begin) % size
        end = k.ulong(descs, d + o_next) % size
        if begin == end:  # no data block
            continue
        inf = slot * i_size
        text_len = k.u16(infos, inf + o_tlen)
        if begin > end:  # a wrapping block keeps its data at the ring's start
            begin = 0
        begin += P  # skip the block's id
        avail = (end - begin) % (1 << bits)
        if avail < text_len:  # a truncated message
            text_len = avail
        if begin + text_len > size:
            raise k.corrupt(f"record {rid:#x} has {text_len} bytes of text at {begin:#x} in a data ring of "
                            f"{size:#x} bytes", out)
        budget -= text_len
        if budget < 0:
            raise k.corrupt("the records' text adds up to more than the data ring holds", out)
        ts = k.u64(infos, inf + o_ts)
        cid = None if o_cid is None else k.u32(infos, inf + o_cid)
        out.append(fmt.entry(ts, cid, data[begin : begin + text_len]))
    return b"".join(out)


# ---------------------------------------------------------------------------
# API


def dump_dmesg(ctx: Context, partial: bool = False, *, caller_id: bool = True,
               signed_char: bool | None = None) -> bytes:
    """The kernel log of the dump, as makedumpfile ``--dump-dmesg`` writes it.

    :param partial: ``--partial-dmesg``: only what ``dmesg -c`` has not
        cleared (from ``clear_idx`` / ``clear_seq``; the whole log when the
        kernel has neither, and always for kernels before 3.5).
    :param caller_id: print ``[T<pid>]`` / ``[C<cpu>]`` where VMCOREINFO
        has the caller_id offset, as makedumpfile 1.7.5 and later do;
        ``False`` gives the output of makedumpfile 1.7.4 and older.
    :param signed_char: escape bytes >= 0x80 as a signed C ``char``
        (``\\xffffffc3``); ``None`` follows the dump's architecture, as a
        makedumpfile built for it does.
    :raises DmesgUnsupportedError: VMCOREINFO lacks a symbol, size or offset.
    :raises DmesgError: the log could not be read (page excluded, address not
        mapped).
    :raises DmesgCorruptError: the log buffer is inconsistent; ``partial``
        holds what makedumpfile writes before giving up.
    """
    k = _Kernel(ctx)
    if signed_char is None:
        signed_char = k.arch not in _UNSIGNED_CHAR_ARCHES
    fmt = _Formatter(signed_char)
    layout = _layout(k)
    if layout == "lockless":
        return _lockless(k, partial, caller_id, fmt)
    if layout == "printk_log":
        return _structured(k, partial, caller_id, fmt)
    return _legacy(k)


def write_dmesg(ctx: Context, path: str, force: bool = False, partial: bool = False, *,
                caller_id: bool = True) -> int:
    """Write :func:`dump_dmesg` to ``path``, created as a dump is (mode 0600,
    ``O_EXCL``, never through a symlink; ``force`` replaces a regular file,
    only once the new one is complete).

    As makedumpfile does, a corrupt log buffer still leaves the log up to
    the corruption in ``path`` before the error is raised; other errors
    leave no file.

    :returns: the number of bytes written.
    :raises OutputError: ``path`` exists (without ``force``), is a symlink,
        or cannot be written.
    """
    from ..output.target import check_target, write_file

    check_target(path, force)
    try:
        text = dump_dmesg(ctx, partial, caller_id=caller_id)
        failure: DmesgCorruptError | None = None
    except DmesgCorruptError as e:
        text, failure = e.partial, e
    n = write_file(path, text, force)
    if failure is not None:
        raise failure
    return n
