"""Kernel log buffers inside a synthetic x86_64 dump, for --dump-dmesg tests.

Like the rest of ``tests.gen`` this shares no code with ``pymakedumpfile``.
The layouts are written out here from the kernel's own definitions
(shared/formats.md section 8 names the VMCOREINFO entries):

* **legacy** (before 3.5, ``kernel/printk.c``): ``char *log_buf``, ``int
  log_buf_len``, ``unsigned log_end``; ``emit_log_char()`` stores character
  ``c`` at ``log_buf[log_end & (log_buf_len - 1)]`` and increments
  ``log_end``.
* **printk_log** (3.5-5.9, ``kernel/printk/printk.c``)::

      struct printk_log {          /* "struct log" before 3.11 */
          u64 ts_nsec;             /*  0 */
          u16 len;                 /*  8: the whole record, padded */
          u16 text_len;            /* 10 */
          u16 dict_len;            /* 12 */
          u8 facility;             /* 14 */
          u8 flags:5, level:3;     /* 15 */
          u32 caller_id;           /* 16, CONFIG_PRINTK_CALLER (5.1+) */
      } __packed __aligned(4);     /* x86: LOG_ALIGN 4; sizeof 16 or 20 */

  A record is the header, the text, the dictionary and padding to
  LOG_ALIGN.  ``log_store()`` drops the oldest records until the new one
  plus an empty header fits (``log_make_free_space()``), and when it does
  not fit before the end of the buffer writes a zeroed header there (the
  wrap marker, ``len == 0``) and starts again at index 0.
* **lockless printk_ringbuffer** (5.10+, ``kernel/printk/printk_ringbuffer.h``,
  offsets of Linux 6.1 x86_64 as its VMCOREINFO states them)::

      struct printk_ringbuffer {          /* 88 */
          struct prb_desc_ring desc_ring; /*  0: count_bits 0 (u32), descs 8,
                                                 infos 16, head_id 24, tail_id 32,
                                                 last_finalized_id 40 (48 bytes) */
          struct prb_data_ring text_data_ring; /* 48: size_bits 0 (u32), data 8,
                                                 head_lpos 16, tail_lpos 24 (32 bytes) */
          atomic_long_t fail;             /* 80 */
      };
      struct prb_desc { atomic_long_t state_var; /* 0 */
                        struct prb_data_blk_lpos text_blk_lpos; /* 8: begin 0, next 8 */ }; /* 24 */
      struct printk_info { u64 seq; /* 0 */ u64 ts_nsec; /* 8 */ u16 text_len; /* 16 */
                           u8 facility; /* 18 */ u8 flags:5, level:3; /* 19 */
                           u32 caller_id; /* 20 */ struct dev_printk_info dev_info; /* 24 */ }; /* 88 */
      struct latched_seq { seqcount_latch_t latch; /* 0 */ u64 val[2]; /* 8 */ }; /* 24 */

  ``state_var`` holds the descriptor id in its low 62 bits and the state in
  the top two (0 reserved, 1 committed, 2 finalized, 3 reusable).  A data
  block is ``unsigned long id`` then the text, ``ALIGN(8 + text_len, 8)``
  bytes at logical position ``begin``; a block that would reach the end of
  the ring is stored at its start instead (``next`` is then in the next
  lap).  A record without text has ``begin == next == NO_LPOS`` (3).  The
  descriptor ring starts as ``DESC0_ID = (u32)-(count + 1)`` for both head
  and tail, that descriptor reusable with ``FAILED_LPOS`` (1) blocks; the
  record with id ``i`` has sequence number ``i - (u32)-count``.

Caller ids are ``pid`` for a task or ``0x80000000 | cpu``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .elf import build_elf
from .kdump import Page, build_kdump
from .notes import make_note, prstatus_note, vmcoreinfo_text
from .x86_64 import PAGE_OFFSET, START_KERNEL_MAP, x86_64_kernel

PAGE = 4096
CALLER_CPU = 0x80000000

# ---------------------------------------------------------------------------
# a memory image with the kernel bits of gen.x86_64


@dataclass
class KernelImage:
    """Physical memory of a small x86_64 dump: page tables mapping the
    kernel image and the direct map onto physical 0 (gen.x86_64, pfns 1-3),
    and objects placed from pfn 4 by :meth:`alloc`.

    Kernel variables get image addresses (``START_KERNEL_MAP + phys``) and
    a ``SYMBOL(name)`` entry; allocated buffers are referred to by their
    direct-map address (``PAGE_OFFSET + phys``), as memblock memory is.
    """

    npages: int = 64
    release: str = "5.4.0-synthetic"
    mem: bytearray = field(init=False)
    vmcoreinfo: dict[str, object] = field(init=False)
    _next: int = field(init=False, default=4 * PAGE)

    def __post_init__(self) -> None:
        k = x86_64_kernel(first_pfn=1, release=self.release)
        self.mem = bytearray(self.npages * PAGE)
        for pfn, p in k.pages.items():
            self.mem[pfn * PAGE:(pfn + 1) * PAGE] = p.data
        self.vmcoreinfo = dict(k.vmcoreinfo)

    def alloc(self, size: int, align: int = 8) -> int:
        """Physical address of ``size`` fresh bytes."""
        a = -(-self._next // align) * align
        if a + size > len(self.mem):
            raise ValueError("KernelImage too small")
        self._next = a + max(size, 1)
        return a

    def write(self, phys: int, data: bytes) -> None:
        self.mem[phys:phys + len(data)] = data

    def variable(self, name: str, data: bytes, align: int = 8) -> int:
        """Place a kernel variable; returns its (image) virtual address."""
        p = self.alloc(len(data), align)
        self.write(p, data)
        va = START_KERNEL_MAP + p
        self.vmcoreinfo[f"SYMBOL({name})"] = va
        return va

    def buffer(self, data: bytes, align: int = 8, *, own_pages: bool = False) -> int:
        """Place a buffer; returns its direct-map virtual address.
        ``own_pages``: on pages of its own (to exclude them from a dump)."""
        p = self.alloc(len(data), PAGE if own_pages else align)
        self.write(p, data)
        if own_pages:
            self._next = -(-self._next // PAGE) * PAGE
        return PAGE_OFFSET + p

    def text(self) -> bytes:
        return vmcoreinfo_text(self.vmcoreinfo)

    def write_elf(self, path: object) -> None:
        notes = prstatus_note("x86_64") + make_note(b"VMCOREINFO", 0, self.text())
        build_elf(path, [(0, PAGE_OFFSET, bytes(self.mem), len(self.mem))], notes=notes)  # type: ignore[arg-type]

    def pages(self, *, how: str = "zlib", excluded: tuple[int, ...] = ()) -> dict[int, Page]:
        """Every pfn as a :class:`Page` (for build_kdump / split_files)."""
        return {pfn: Page.excluded() if pfn in excluded else Page(bytes(self.mem[pfn * PAGE:(pfn + 1) * PAGE]), how)
                for pfn in range(self.npages)}

    def pfn_of(self, vaddr: int) -> int:
        """The pfn behind a direct-map or kernel-image address."""
        base = START_KERNEL_MAP if vaddr >= START_KERNEL_MAP else PAGE_OFFSET
        return (vaddr - base) // PAGE

    def write_kdump(self, path: object, *, how: str = "zlib", excluded: tuple[int, ...] = ()) -> None:
        build_kdump(path, self.pages(how=how, excluded=excluded), max_mapnr=self.npages,  # type: ignore[arg-type]
                    vmcoreinfo=self.text(), dump_level=0, release=self.release)


# ---------------------------------------------------------------------------
# before 3.5


def legacy_log(img: KernelImage, chars: bytes, *, log_buf_len: int, log_end: int | None = None,
               long_log_end: bool = False) -> int:
    """Store ``chars`` as emit_log_char() would from log_end 0 (or write them
    raw and set ``log_end`` when given); returns the buffer's address.
    ``long_log_end``: ``unsigned long log_end`` (before 2.6.25); otherwise an
    ``unsigned`` followed by four bytes of garbage."""
    buf = bytearray(log_buf_len)
    end = 0
    if log_end is None:
        for c in chars:
            buf[end & (log_buf_len - 1)] = c
            end += 1
    else:
        buf[:len(chars)] = chars
        end = log_end
    va = img.buffer(bytes(buf))
    img.variable("log_buf", struct.pack("<Q", va))
    img.variable("log_buf_len", struct.pack("<i", log_buf_len))
    if long_log_end:
        img.variable("log_end", struct.pack("<Q", end))
    else:
        img.variable("log_end", struct.pack("<I", end & 0xFFFFFFFF) + b"\xee" * 4, 8)  # garbage after the u32
    return va


# ---------------------------------------------------------------------------
# 3.5 - 5.9


class PrintkLog:
    """A ``log_buf`` of ``struct printk_log`` records, filled as log_store() does.

    :param header: 16, or 20 with ``caller_id`` (CONFIG_PRINTK_CALLER).
    :param name: ``printk_log``, or ``log`` for kernels before 3.11.
    """

    def __init__(self, size: int, *, caller_id: bool = False, name: str = "printk_log", align: int = 4) -> None:
        self.buf = bytearray(size)
        self.caller_id = caller_id
        self.header = 20 if caller_id else 16
        self.name = name
        self.align = align
        self.first_idx = self.next_idx = self.clear_idx = 0
        self.first_seq = self.next_seq = self.clear_seq = 0

    # raw record bytes
    def record(self, ts_nsec: int, text: bytes, *, dict_: bytes = b"", caller: int = 0, level: int = 6,
               facility: int = 0, length: int | None = None, text_len: int | None = None) -> bytes:
        size = self.header + len(text) + len(dict_)
        size += -size % self.align
        hdr = struct.pack("<QHHHBB", ts_nsec, size if length is None else length,
                          len(text) if text_len is None else text_len, len(dict_), facility, level << 5)
        if self.caller_id:
            hdr += struct.pack("<I", caller)
        rec = hdr + text + dict_
        return rec + bytes(size - len(rec))

    def put(self, idx: int, raw: bytes) -> None:
        """Write bytes at an index (for hand-made and corrupt buffers)."""
        self.buf[idx:idx + len(raw)] = raw

    def _len(self, idx: int) -> int:
        return struct.unpack_from("<H", self.buf, idx + 8)[0]  # type: ignore[no-any-return]

    def _next(self, idx: int) -> int:
        n = self._len(idx)
        return self._len(0) if n == 0 else idx + n

    def _has_space(self, size: int, empty: bool) -> bool:
        if self.next_idx > self.first_idx or empty:
            free = max(len(self.buf) - self.next_idx, self.first_idx)
        else:
            free = self.first_idx - self.next_idx
        return free >= size + self.header

    def append(self, ts_nsec: int, text: bytes, **kw: object) -> int:
        """log_store(): returns the index the record went to."""
        rec = self.record(ts_nsec, text, **kw)  # type: ignore[arg-type]
        size = len(rec)
        while self.first_seq < self.next_seq and not self._has_space(size, False):
            self.first_idx = self._next(self.first_idx)
            self.first_seq += 1
        if self.clear_seq < self.first_seq:
            self.clear_seq, self.clear_idx = self.first_seq, self.first_idx
        if not self._has_space(size, self.first_seq == self.next_seq):
            raise ValueError("record does not fit in the buffer")
        if self.next_idx + size + self.header > len(self.buf):
            self.buf[self.next_idx:self.next_idx + self.header] = bytes(self.header)
            self.next_idx = 0
        at = self.next_idx
        self.put(at, rec)
        self.next_idx += size
        self.next_seq += 1
        return at

    def clear(self) -> None:
        """syslog(SYSLOG_ACTION_CLEAR), as ``dmesg -C``."""
        self.clear_seq, self.clear_idx = self.next_seq, self.next_idx

    def install(self, img: KernelImage, *, first_idx: int | None = None, next_idx: int | None = None,
                clear_idx: int | None = None, with_clear_idx: bool = True) -> int:
        """Place the buffer and its variables; returns the buffer's address."""
        va = img.buffer(bytes(self.buf), own_pages=True)
        img.variable("log_buf", struct.pack("<Q", va))
        img.variable("log_buf_len", struct.pack("<I", len(self.buf)))
        img.variable("log_first_idx", struct.pack("<I", self.first_idx if first_idx is None else first_idx), 4)
        img.variable("log_next_idx", struct.pack("<I", self.next_idx if next_idx is None else next_idx), 4)
        if with_clear_idx:
            img.variable("clear_idx", struct.pack("<I", self.clear_idx if clear_idx is None else clear_idx), 4)
        n = self.name
        img.vmcoreinfo[f"SIZE({n})"] = self.header
        img.vmcoreinfo[f"OFFSET({n}.ts_nsec)"] = 0
        img.vmcoreinfo[f"OFFSET({n}.len)"] = 8
        img.vmcoreinfo[f"OFFSET({n}.text_len)"] = 10
        if self.caller_id:
            img.vmcoreinfo[f"OFFSET({n}.caller_id)"] = 16
        return va


# ---------------------------------------------------------------------------
# 5.10+


DESC_RESERVED, DESC_COMMITTED, DESC_FINALIZED, DESC_REUSABLE = 0, 1, 2, 3
ID_MASK = (1 << 62) - 1
FAILED_LPOS, NO_LPOS = 0x1, 0x3


class PrintkRingbuffer:
    """A printk_ringbuffer filled as prb_reserve()/prb_final_commit() do,
    simplified: the oldest records are dropped when the descriptor ring or
    the data ring is full."""

    def __init__(self, count_bits: int, size_bits: int) -> None:
        self.count = 1 << count_bits
        self.size = 1 << size_bits
        self.count_bits, self.size_bits = count_bits, size_bits
        self.descs = bytearray(24 * self.count)
        self.infos = bytearray(88 * self.count)
        self.data = bytearray(self.size)
        self.base = (2**32 - self.count) & ID_MASK  # id of sequence number 0
        desc0 = (self.base - 1) & ID_MASK
        self.head_id = self.tail_id = desc0
        self.set_desc(desc0, DESC_REUSABLE, FAILED_LPOS, FAILED_LPOS)
        self.head_lpos = self.tail_lpos = 0  # data ring, logical positions
        self.blocks: dict[int, tuple[int, int]] = {}
        self.clear_seq = 0

    def slot(self, rid: int) -> int:
        return rid % self.count

    def seq(self, rid: int) -> int:
        return (rid - self.base) & ID_MASK

    def set_desc(self, rid: int, state: int, begin: int, nxt: int, *, sv_id: int | None = None) -> None:
        sv = (state << 62) | ((rid if sv_id is None else sv_id) & ID_MASK)
        struct.pack_into("<QQQ", self.descs, 24 * self.slot(rid), sv, begin, nxt)

    def set_info(self, rid: int, ts_nsec: int, text_len: int, caller: int, level: int = 6) -> None:
        struct.pack_into("<QQHBBI", self.infos, 88 * self.slot(rid), self.seq(rid), ts_nsec, text_len, 0,
                         level << 5, caller)

    def _push_tail(self) -> None:
        """desc_push_tail(): the tail record becomes reusable, its data free."""
        t = self.tail_id
        _, nxt = self.blocks.pop(t, (0, NO_LPOS))
        if nxt not in (NO_LPOS, FAILED_LPOS):
            self.tail_lpos = max(self.tail_lpos, nxt)
        _, b, n = struct.unpack_from("<QQQ", self.descs, 24 * self.slot(t))
        self.set_desc(t, DESC_REUSABLE, b, n)
        self.tail_id = (t + 1) & ID_MASK

    def append(self, ts_nsec: int, text: bytes, *, caller: int = 0, state: int = DESC_FINALIZED,
               text_len: int | None = None) -> int:
        """Add a record; returns its id."""
        rid = (self.head_id + 1) & ID_MASK
        if ((rid - self.count) & ID_MASK) == self.tail_id:
            self._push_tail()  # the new record takes the tail's slot
        if text:
            blk = -(-(8 + len(text)) // 8) * 8
            if blk > self.size:
                raise ValueError("text larger than the data ring")
            begin = self.head_lpos
            if begin % self.size + blk < self.size:
                nxt, at = begin + blk, begin % self.size
            else:  # it would reach the end: the id at begin, the block at 0
                nxt, at = (begin // self.size + 1) * self.size + blk, 0
            while nxt - self.tail_lpos > self.size and self.tail_id != rid:
                self._push_tail()
            self.tail_lpos = max(self.tail_lpos, nxt - self.size)
            struct.pack_into("<Q", self.data, begin % self.size, rid)
            struct.pack_into("<Q", self.data, at, rid)
            self.data[at + 8:at + 8 + len(text)] = text
            self.head_lpos = nxt
        else:
            begin = nxt = NO_LPOS
        self.blocks[rid] = (begin, nxt)
        self.set_desc(rid, state, begin, nxt)
        self.set_info(rid, ts_nsec, len(text) if text_len is None else text_len, caller)
        self.head_id = rid
        return rid

    def clear(self) -> None:
        """``dmesg -C``: clear_seq becomes the next record's sequence number."""
        self.clear_seq = self.seq((self.head_id + 1) & ID_MASK)

    def install(self, img: KernelImage, *, latched: bool = True, latch: int = 0, caller_id: bool = True,
                head_id: int | None = None, tail_id: int | None = None,
                clear_seq: int | None = None) -> int:
        """Place the ring and its variables; returns the address of the
        printk_ringbuffer.  ``latched``: clear_seq is a struct latched_seq
        (5.13+) whose ``val[latch & 1]`` holds it, else a plain u64."""
        descs = img.buffer(bytes(self.descs))
        infos = img.buffer(bytes(self.infos))
        data = img.buffer(bytes(self.data), own_pages=True)
        self.addresses = {"descs": descs, "infos": infos, "data": data}
        h = self.head_id if head_id is None else head_id
        t = self.tail_id if tail_id is None else tail_id
        prb = struct.pack("<IIQQQQQ", self.count_bits, 0, descs, infos, h, t, h)
        prb += struct.pack("<IIQQQ", self.size_bits, 0, data, self.head_lpos, self.tail_lpos)
        prb += struct.pack("<Q", 0)
        assert len(prb) == 88
        rb = img.variable("printk_rb_static", prb)
        img.variable("prb", struct.pack("<Q", rb))
        cs = self.clear_seq if clear_seq is None else clear_seq
        if latched:
            vals = [0xDEAD, 0xDEAD]
            vals[latch & 1] = cs
            img.variable("clear_seq", struct.pack("<IIQQ", latch, 0, *vals))
        else:
            img.variable("clear_seq", struct.pack("<Q", cs))
        v = img.vmcoreinfo
        v.update({
            "SIZE(printk_ringbuffer)": 88,
            "OFFSET(printk_ringbuffer.desc_ring)": 0,
            "OFFSET(printk_ringbuffer.text_data_ring)": 48,
            "OFFSET(printk_ringbuffer.fail)": 80,
            "SIZE(prb_desc_ring)": 48,
            "OFFSET(prb_desc_ring.count_bits)": 0,
            "OFFSET(prb_desc_ring.descs)": 8,
            "OFFSET(prb_desc_ring.infos)": 16,
            "OFFSET(prb_desc_ring.head_id)": 24,
            "OFFSET(prb_desc_ring.tail_id)": 32,
            "SIZE(prb_desc)": 24,
            "OFFSET(prb_desc.state_var)": 0,
            "OFFSET(prb_desc.text_blk_lpos)": 8,
            "SIZE(prb_data_blk_lpos)": 16,
            "OFFSET(prb_data_blk_lpos.begin)": 0,
            "OFFSET(prb_data_blk_lpos.next)": 8,
            "SIZE(printk_info)": 88,
            "OFFSET(printk_info.seq)": 0,
            "OFFSET(printk_info.ts_nsec)": 8,
            "OFFSET(printk_info.text_len)": 16,
            "OFFSET(printk_info.dev_info)": 24,
            "SIZE(prb_data_ring)": 32,
            "OFFSET(prb_data_ring.size_bits)": 0,
            "OFFSET(prb_data_ring.data)": 8,
            "OFFSET(prb_data_ring.head_lpos)": 16,
            "OFFSET(prb_data_ring.tail_lpos)": 24,
            "SIZE(atomic_long_t)": 8,
            "OFFSET(atomic_long_t.counter)": 0,
        })
        if caller_id:
            v["OFFSET(printk_info.caller_id)"] = 20
        if latched:
            v["SIZE(latched_seq)"] = 24
            v["OFFSET(latched_seq.val)"] = 8
        return rb
