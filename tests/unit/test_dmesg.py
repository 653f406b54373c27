"""--dump-dmesg / --partial-dmesg on synthetic dumps (pymakedumpfile.tools.dmesg).

The log buffers are built by tests/gen/printk.py from the kernel's layouts;
every expected text below is written out by hand from the records put in
(makedumpfile's format: ``[%5lu.%06lu] `` + text, a newline in the text
continued with one space per prefix character, bytes that are neither C
isprint() nor isspace() as ``\\x%02x`` of a signed char).  Where the
``makedumpfile`` binary is installed (Debian's 1.7.2, which prints no caller
ids) it must write the same text from the same ELF file, which checks the
builder and these literals independently of our code.
"""

from __future__ import annotations

import os
import random
import shutil
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from gen import flatten, split_files
from gen.printk import (
    CALLER_CPU,
    DESC_COMMITTED,
    DESC_RESERVED,
    KernelImage,
    PrintkLog,
    PrintkRingbuffer,
    legacy_log,
)
from gen.x86_64 import START_KERNEL_MAP
from needs import need_tool

from pymakedumpfile import CorruptDumpError, DumpError, UnsupportedDumpError, open_dump
from pymakedumpfile.core.errors import OutputError
from pymakedumpfile.tools.dmesg import (
    DmesgCorruptError,
    DmesgError,
    DmesgUnsupportedError,
    dump_dmesg,
    log_format,
    write_dmesg,
)

MDF = shutil.which("makedumpfile")
# a build of makedumpfile 1.7.5+ (prints caller ids), for the optional checks
MDF_HEAD = os.environ.get("MAKEDUMPFILE_HEAD")

US = 1000  # ns
S = 1_000_000_000


def ours(path: Path | list[Path], partial: bool = False, **kw: object) -> bytes:
    with open_dump([str(p) for p in path] if isinstance(path, list) else str(path)) as ctx:
        return dump_dmesg(ctx, partial, **kw)  # type: ignore[arg-type]


def makedumpfile(path: Path, partial: bool = False, exe: str | None = None,
                 timeout: float = 30) -> tuple[int, bytes | None]:
    """(exit status, LOGFILE contents or None) of makedumpfile --dump-dmesg."""
    exe = exe or MDF
    if exe is None:
        exe = need_tool("makedumpfile")
    out = path.parent / f"mdf-{path.name}-{int(partial)}.txt"
    if out.exists():
        out.unlink()
    args = [exe, "--dump-dmesg", *(["--partial-dmesg"] if partial else []), str(path), str(out)]
    r = subprocess.run(args, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return r.returncode, out.read_bytes() if out.exists() else None


# ---------------------------------------------------------------------------
# images: each returns the ELF path; expected texts follow each builder


def img_printk_log(tmp: Path) -> Path:
    """5.4 without CONFIG_PRINTK_CALLER: struct printk_log of 16 bytes."""
    img = KernelImage(release="5.4.0-synthetic")
    log = PrintkLog(256)
    log.append(0, b"Linux version 5.4.0-synthetic")
    log.append(1_234_567_890, b"line one\nline two")
    log.append(123_456_789_012_345, b"tab\there\x01bell\xc3\xa9\r\x0b\x0c\x7f\x00end")
    log.append(5 * S, b"with dict", dict_=b"SUBSYSTEM=pci\0DEVICE=+pci:0000:00:01.0")
    log.append(5 * S + 1 * US, b"")
    log.install(img)
    p = tmp / "printk_log.elf"
    img.write_elf(p)
    return p


PRINTK_LOG = (
    b"[    0.000000] Linux version 5.4.0-synthetic\n"
    b"[    1.234567] line one\n"
    b"               line two\n"
    b"[123456.789012] tab\there\\x01bell\\xffffffc3\\xffffffa9\r\x0b\x0c\\x7f\\x00end\n"
    b"[    5.000000] with dict\n"
    b"[    5.000001] \n"
)


def img_printk_log_caller(tmp: Path) -> Path:
    """5.4 with CONFIG_PRINTK_CALLER: 20-byte records with caller_id."""
    img = KernelImage(release="5.4.0-synthetic")
    log = PrintkLog(256, caller_id=True)
    log.append(0, b"Linux version 5.4.0-synthetic", caller=0)
    log.append(2_000_001_999, b"from cpu 3\nsecond line", caller=CALLER_CPU | 3)
    log.append(100_000 * S, b"task 123456789", caller=123456789)
    log.install(img)
    p = tmp / "printk_log_caller.elf"
    img.write_elf(p)
    return p


PRINTK_LOG_CALLER = (
    b"[    0.000000] [      T0] Linux version 5.4.0-synthetic\n"
    b"[    2.000001] [      C3] from cpu 3\n"
    b"                          second line\n"
    b"[100000.000000] [T123456789] task 123456789\n"
)
PRINTK_LOG_NO_CALLER = (
    b"[    0.000000] Linux version 5.4.0-synthetic\n"
    b"[    2.000001] from cpu 3\n"
    b"               second line\n"
    b"[100000.000000] task 123456789\n"
)


def img_struct_log(tmp: Path) -> Path:
    """3.10: the record is "struct log" (SIZE(log), OFFSET(log.*))."""
    img = KernelImage(release="3.10.0-synthetic")
    log = PrintkLog(128, name="log")
    log.append(7 * US, b"old name")
    log.install(img, with_clear_idx=False)
    p = tmp / "struct_log.elf"
    img.write_elf(p)
    return p


STRUCT_LOG = b"[    0.000007] old name\n"


def _wrapped_log(clear_after: int | None) -> PrintkLog:
    # 24-byte records (16 + "msg N" padded to 4) in 128 bytes: m0@0 m1@24
    # m2@48 m3@72; m4 needs 24 + 16 free: m0, m1 are dropped, a wrap marker
    # goes at 96 and m4 at 0; m5 drops m2 and goes at 24.  Left: m3 m4 m5.
    log = PrintkLog(128)
    for i in range(6):
        assert log.append(i * US, b"msg %d" % i) == [0, 24, 48, 72, 0, 24][i]
        if i == clear_after:
            log.clear()
    assert (log.first_idx, log.next_idx) == (72, 48)
    return log


def img_wrapped(tmp: Path) -> Path:
    img = KernelImage(release="4.19.0-synthetic")
    _wrapped_log(clear_after=4).install(img)
    p = tmp / "wrapped.elf"
    img.write_elf(p)
    return p


WRAPPED = b"[    0.000003] msg 3\n[    0.000004] msg 4\n[    0.000005] msg 5\n"
WRAPPED_PARTIAL = b"[    0.000005] msg 5\n"  # cleared after msg 4


def img_wrapped_no_clear_idx(tmp: Path) -> Path:
    img = KernelImage(release="4.19.0-synthetic")
    _wrapped_log(clear_after=4).install(img, with_clear_idx=False)
    p = tmp / "wrapped_nc.elf"
    img.write_elf(p)
    return p


LEGACY_CHARS = b"".join(b"<6>line %d\n" % i for i in range(12))  # 10 x 10 + 2 x 11 = 122 bytes


def img_legacy(tmp: Path) -> Path:
    img = KernelImage(release="2.6.32-synthetic")
    legacy_log(img, LEGACY_CHARS, log_buf_len=64)
    p = tmp / "legacy.elf"
    img.write_elf(p)
    return p


# log_end 122 >= 64: the ring from 122 & 63 = 58 on, i.e. chars[58:122]
LEGACY = b"5\n<6>line 6\n<6>line 7\n<6>line 8\n<6>line 9\n<6>line 10\n<6>line 11\n"


def img_legacy_long(tmp: Path) -> Path:
    """2.6.18: log_end is an unsigned long."""
    img = KernelImage(release="2.6.18-synthetic")
    legacy_log(img, LEGACY_CHARS, log_buf_len=64, long_log_end=True)
    p = tmp / "legacy_long.elf"
    img.write_elf(p)
    return p


def img_legacy_short(tmp: Path) -> Path:
    """log_end < log_buf_len: the first log_end bytes, raw (\\x01 too)."""
    img = KernelImage(release="3.4.0-synthetic")
    legacy_log(img, b"<4>hello\n<6>wor\x01ld", log_buf_len=64)
    p = tmp / "legacy_short.elf"
    img.write_elf(p)
    return p


LEGACY_SHORT = b"<4>hello\n<6>wor\x01ld"


def img_lockless(tmp: Path) -> Path:
    """6.1 layout, 16 descriptors, 1 KiB of text."""
    img = KernelImage(release="6.1.0-synthetic")
    rb = PrintkRingbuffer(4, 10)
    rb.append(0, b"Linux version 6.1.0-synthetic", caller=0)
    rb.append(1_500 * US, b"multi\nline", caller=CALLER_CPU | 1)
    rb.append(2 * S, b"")  # no data block: not printed
    rb.append(3 * S, b"reserved", state=DESC_RESERVED)  # not committed: not printed
    rb.append(4 * S + 1, b"pid 4242 \xff", caller=4242)
    rb.append(5 * S, b"committed", state=DESC_COMMITTED)
    rb.install(img)
    p = tmp / "lockless.elf"
    img.write_elf(p)
    return p


LOCKLESS_CALLER = (
    b"[    0.000000] [      T0] Linux version 6.1.0-synthetic\n"
    b"[    0.001500] [      C1] multi\n"
    b"                          line\n"
    b"[    4.000000] [   T4242] pid 4242 \\xffffffff\n"
    b"[    5.000000] [      T0] committed\n"
)
LOCKLESS = (
    b"[    0.000000] Linux version 6.1.0-synthetic\n"
    b"[    0.001500] multi\n"
    b"               line\n"
    b"[    4.000000] pid 4242 \\xffffffff\n"
    b"[    5.000000] committed\n"
)


def img_lockless_desc_wrap(tmp: Path) -> Path:
    """4 descriptors, 6 records: the tail was pushed to rec2."""
    img = KernelImage(release="6.1.0-synthetic")
    rb = PrintkRingbuffer(2, 7)
    for i in range(6):
        rb.append(i * S, b"rec%d" % i, caller=i)
    assert rb.tail_id == rb.base + 2 and rb.head_id == rb.base + 5
    rb.install(img)
    p = tmp / "lockless_desc_wrap.elf"
    img.write_elf(p)
    return p


LOCKLESS_DESC_WRAP = (
    b"[    2.000000] rec2\n[    3.000000] rec3\n[    4.000000] rec4\n[    5.000000] rec5\n"
)
# never cleared (clear_seq 0): makedumpfile starts at head_id rounded down to
# the ring size plus clear_seq % 4, i.e. at the first id of the current lap
# (base + 4), not at the oldest record
LOCKLESS_DESC_WRAP_PARTIAL = b"[    4.000000] rec4\n[    5.000000] rec5\n"


def img_lockless_data_wrap(tmp: Path) -> Path:
    """128 bytes of text, 32-byte blocks: r3 would end at the ring's end, so
    it is stored at its start (over r0, which is dropped)."""
    img = KernelImage(release="6.1.0-synthetic")
    rb = PrintkRingbuffer(4, 7)
    for i in range(4):
        rb.append(i * S, b"twenty bytes text #%d" % i)
    assert rb.blocks[rb.base + 3] == (96, 160)
    rb.install(img)
    p = tmp / "lockless_data_wrap.elf"
    img.write_elf(p)
    return p


LOCKLESS_DATA_WRAP = (
    b"[    1.000000] twenty bytes text #1\n[    2.000000] twenty bytes text #2\n"
    b"[    3.000000] twenty bytes text #3\n"
)


def img_lockless_truncated(tmp: Path) -> Path:
    """text_len 50 in a 16-byte block: the 8 bytes after the id are printed."""
    img = KernelImage(release="6.1.0-synthetic")
    rb = PrintkRingbuffer(4, 10)
    rb.append(1 * US, b"abc", text_len=50)
    rb.install(img)
    p = tmp / "lockless_truncated.elf"
    img.write_elf(p)
    return p


LOCKLESS_TRUNCATED = b"[    0.000001] abc\\x00\\x00\\x00\\x00\\x00\n"


def _partial_ring(latched: bool, latch: int) -> tuple[KernelImage, PrintkRingbuffer]:
    img = KernelImage(release="6.1.0-synthetic" if latched else "5.10.0-synthetic")
    rb = PrintkRingbuffer(4, 10)
    for i in range(5):
        rb.append(i * S, b"p%d" % i)
        if i == 2:
            rb.clear()  # clear_seq = 3
    rb.install(img, latched=latched, latch=latch)
    return img, rb


def img_lockless_partial_latched(tmp: Path) -> Path:
    img, _ = _partial_ring(True, 1)  # val[1] holds clear_seq, val[0] garbage
    p = tmp / "lockless_partial_latched.elf"
    img.write_elf(p)
    return p


def img_lockless_partial_plain(tmp: Path) -> Path:
    img, _ = _partial_ring(False, 0)  # 5.10-5.12: clear_seq is a u64
    p = tmp / "lockless_partial_plain.elf"
    img.write_elf(p)
    return p


LOCKLESS_PARTIAL_FULL = b"".join(b"[    %d.000000] p%d\n" % (i, i) for i in range(5))
LOCKLESS_PARTIAL = b"[    3.000000] p3\n[    4.000000] p4\n"


# name: (builder, expected full, expected partial, expected with caller_id=True or None if the same)
CASES: dict[str, tuple[Callable[[Path], Path], bytes, bytes, bytes | None]] = {
    "printk_log": (img_printk_log, PRINTK_LOG, PRINTK_LOG, None),  # clear_idx 0: partial = all
    "printk_log_caller": (img_printk_log_caller, PRINTK_LOG_NO_CALLER, PRINTK_LOG_NO_CALLER, PRINTK_LOG_CALLER),
    "struct_log": (img_struct_log, STRUCT_LOG, STRUCT_LOG, None),
    "wrapped": (img_wrapped, WRAPPED, WRAPPED_PARTIAL, None),
    "wrapped_no_clear_idx": (img_wrapped_no_clear_idx, WRAPPED, WRAPPED, None),
    "legacy": (img_legacy, LEGACY, LEGACY, None),
    "legacy_long": (img_legacy_long, LEGACY, LEGACY, None),
    "legacy_short": (img_legacy_short, LEGACY_SHORT, LEGACY_SHORT, None),
    "lockless": (img_lockless, LOCKLESS, LOCKLESS, LOCKLESS_CALLER),
    "lockless_desc_wrap": (img_lockless_desc_wrap, LOCKLESS_DESC_WRAP, LOCKLESS_DESC_WRAP_PARTIAL, None),
    "lockless_data_wrap": (img_lockless_data_wrap, LOCKLESS_DATA_WRAP, LOCKLESS_DATA_WRAP, None),
    "lockless_truncated": (img_lockless_truncated, LOCKLESS_TRUNCATED, LOCKLESS_TRUNCATED, None),
    "lockless_partial_latched": (img_lockless_partial_latched, LOCKLESS_PARTIAL_FULL, LOCKLESS_PARTIAL, None),
    "lockless_partial_plain": (img_lockless_partial_plain, LOCKLESS_PARTIAL_FULL, LOCKLESS_PARTIAL, None),
}


def _caller_text(case: str) -> bytes:
    _, full, _, caller = CASES[case]
    if caller is not None:
        return caller
    if case.startswith("lockless"):  # every printk_info has a caller_id: T0 unless set
        return LOCKLESS_DESC_WRAP_CALLER if case == "lockless_desc_wrap" else _with_t0(full)
    return full


def _with_t0(text: bytes) -> bytes:
    return b"\n".join(line[:15] + b"[      T0] " + line[15:] if line else line for line in text.split(b"\n"))


LOCKLESS_DESC_WRAP_CALLER = (
    b"[    2.000000] [      T2] rec2\n[    3.000000] [      T3] rec3\n"
    b"[    4.000000] [      T4] rec4\n[    5.000000] [      T5] rec5\n"
)


@pytest.mark.parametrize("case", list(CASES))
def test_text(case: str, tmp_path: Path) -> None:
    build, full, part, _ = CASES[case]
    p = build(tmp_path)
    assert ours(p, caller_id=False) == full
    assert ours(p, partial=True, caller_id=False) == part
    assert ours(p) == _caller_text(case)  # the default: upstream's caller ids


@pytest.mark.parametrize("case", list(CASES))
def test_makedumpfile_writes_the_same(case: str, tmp_path: Path) -> None:
    """Debian's makedumpfile 1.7.2 on the same files (no caller ids)."""
    build, full, part, _ = CASES[case]
    p = build(tmp_path)
    assert makedumpfile(p) == (0, full)
    assert makedumpfile(p, partial=True) == (0, part)


@pytest.mark.skipif(not MDF_HEAD, reason="MAKEDUMPFILE_HEAD (a makedumpfile 1.7.5+ build) is not set")
@pytest.mark.parametrize("case", list(CASES))
def test_makedumpfile_head_caller_ids(case: str, tmp_path: Path) -> None:
    p = CASES[case][0](tmp_path)
    assert makedumpfile(p, exe=MDF_HEAD) == (0, _caller_text(case))


def test_lockless_partial_previous_lap(tmp_path: Path) -> None:
    """clear_seq % count > head_id % count: makedumpfile computes a start
    past head_id and walks the whole 2^62 id space; we start one lap back,
    at the record whose sequence number is clear_seq."""
    img = KernelImage(release="6.1.0-synthetic")
    rb = PrintkRingbuffer(2, 10)
    for i in range(6):
        rb.append(i * S, b"q%d" % i)
        if i == 2:
            rb.clear()
    assert rb.clear_seq == 3 and (rb.head_id % 4, rb.clear_seq % 4) == (1, 3)
    rb.install(img)
    p = tmp_path / "lap.elf"
    img.write_elf(p)
    assert ours(p, caller_id=False) == b"".join(b"[    %d.000000] q%d\n" % (i, i) for i in range(2, 6))
    assert ours(p, partial=True, caller_id=False) == b"[    3.000000] q3\n[    4.000000] q4\n[    5.000000] q5\n"


def test_signed_char_override(tmp_path: Path) -> None:
    p = img_printk_log(tmp_path)
    want = PRINTK_LOG.replace(b"\\xffffffc3\\xffffffa9", b"\\xc3\\xa9")
    assert ours(p, signed_char=False) == want


# ---------------------------------------------------------------------------
# every input format


def test_input_formats(tmp_path: Path) -> None:
    """ELF, kdump (zlib), flattened and split: the same log."""
    img = KernelImage(release="6.1.0-synthetic")
    rb = PrintkRingbuffer(4, 10)
    rb.append(0, b"Linux version 6.1.0-synthetic", caller=0)
    rb.append(1_500 * US, b"multi\nline", caller=CALLER_CPU | 1)
    rb.install(img)
    want = b"[    0.000000] Linux version 6.1.0-synthetic\n[    0.001500] multi\n               line\n"
    elf, kd, flat = tmp_path / "v.elf", tmp_path / "v.kdump", tmp_path / "v.flat"
    img.write_elf(elf)
    img.write_kdump(kd)
    flatten(kd, flat, chunk=1000, shuffle=True)
    parts = [tmp_path / f"v.split{i}" for i in range(3)]
    split_files(parts, img.pages(), max_mapnr=img.npages, vmcoreinfo=img.text(), dump_level=0,
                release=img.release)
    for src in (elf, kd, flat, parts):
        assert ours(src, caller_id=False) == want, src


def test_log_format(tmp_path: Path) -> None:
    for build, want in ((img_legacy, "legacy"), (img_printk_log, "printk_log"), (img_struct_log, "printk_log"),
                        (img_lockless, "lockless")):
        with open_dump(str(build(tmp_path))) as ctx:
            assert log_format(ctx) == want


# ---------------------------------------------------------------------------
# corrupt rings: an error, the text makedumpfile leaves behind, no hang


def _hand_log(size: int, recs: list[tuple[int, bytes]], first: int, nxt: int, *,
              release: str = "4.19.0-synthetic") -> KernelImage:
    img = KernelImage(release=release)
    log = PrintkLog(size)
    for at, raw in recs:
        log.put(at, raw)
    log.install(img, first_idx=first, next_idx=nxt, clear_idx=first)
    return img


def _corrupt(img: KernelImage, tmp: Path, name: str) -> tuple[Path, DmesgCorruptError]:
    p = tmp / f"{name}.elf"
    img.write_elf(p)
    t = time.monotonic()
    with pytest.raises(DmesgCorruptError) as ei:
        ours(p, caller_id=False)
    assert time.monotonic() - t < 5
    assert isinstance(ei.value, CorruptDumpError) and isinstance(ei.value, DumpError)
    return p, ei.value


def test_cycle(tmp_path: Path) -> None:
    # a@0 -> b@24 -> c@48 -> wrap marker@72 -> (a, printed for the marker) -> b ...;
    # log_next_idx 100 is never reached.  The cycle starts at b and is 3
    # long: makedumpfile rewrites LOGFILE with a, then one turn: b c a.
    r = PrintkLog(128)
    img = _hand_log(128, [(0, r.record(1 * US, b"a", length=24)), (24, r.record(2 * US, b"b", length=24)),
                          (48, r.record(3 * US, b"c", length=24)), (72, bytes(16))], 0, 100)
    p, e = _corrupt(img, tmp_path, "cycle")
    want = b"[    0.000001] a\n[    0.000002] b\n[    0.000003] c\n[    0.000001] a\n"
    assert e.partial == want
    assert "cycle" in str(e)
    if MDF:
        assert makedumpfile(p) == (1, want)


def test_cycle_starting_at_a_wrap_marker(tmp_path: Path) -> None:
    # x@48 (len 24) -> marker@72 -> a@0 (len 24) -> y@24 (len 48) -> marker@72:
    # the cycle starts at the marker, which is never printed as itself, so
    # makedumpfile's rewrite would never count the turn (it loops on
    # writing); we stop after the 3 records leading to one full turn.
    r = PrintkLog(128)
    x = r.record(1 * US, b"x", length=24)
    y = r.record(3 * US, b"y", length=48)
    img = _hand_log(128, [(0, r.record(2 * US, b"a", length=24)), (24, y), (48, x), (72, bytes(16))], 48, 100)
    _, e = _corrupt(img, tmp_path, "marker_cycle")
    assert e.partial == b"[    0.000001] x\n[    0.000002] a\n[    0.000003] y\n"


def test_index_outside_buffer(tmp_path: Path) -> None:
    r = PrintkLog(128)
    a = r.record(1 * US, b"a", length=200)  # the next record would be at 200 of 128
    img = _hand_log(128, [(0, a)], 0, 64)
    p, e = _corrupt(img, tmp_path, "outside")
    assert e.partial == b"[    0.000001] a\n"
    assert "outside" in str(e)
    if MDF:
        assert makedumpfile(p) == (1, b"[    0.000001] a\n")


def test_text_longer_than_record(tmp_path: Path) -> None:
    r = PrintkLog(128)
    img = _hand_log(128, [(0, r.record(1 * US, b"ok", length=24)), (24, r.record(2 * US, b"b", text_len=100))], 0, 48)
    _, e = _corrupt(img, tmp_path, "textlen")
    assert e.partial == b"[    0.000001] ok\n"


def test_zero_length_record_at_start(tmp_path: Path) -> None:
    img = _hand_log(128, [(0, bytes(16))], 0, 8)
    _, e = _corrupt(img, tmp_path, "zero")
    assert e.partial == b""


def test_first_index_outside_buffer(tmp_path: Path) -> None:
    img = _hand_log(128, [], 500, 0)
    _corrupt(img, tmp_path, "first")


def test_empty_log(tmp_path: Path) -> None:
    img = _hand_log(128, [], 40, 40)
    p = tmp_path / "empty.elf"
    img.write_elf(p)
    assert ours(p) == b""


def test_lockless_ids_too_far_apart(tmp_path: Path) -> None:
    img = KernelImage(release="6.1.0-synthetic")
    rb = PrintkRingbuffer(4, 10)
    rb.append(0, b"x")
    rb.install(img, tail_id=rb.head_id - 16)
    _corrupt(img, tmp_path, "far")


def test_lockless_text_past_ring(tmp_path: Path) -> None:
    img = KernelImage(release="6.1.0-synthetic")
    rb = PrintkRingbuffer(4, 7)
    rb.append(1 * US, b"fine")
    rid = rb.append(2 * US, b"bad", text_len=65535)
    rb.set_desc(rid, 2, 100, 104)  # begin + 8 passes next: no truncation
    rb.install(img)
    _, e = _corrupt(img, tmp_path, "pastring")
    assert e.partial == b"[    0.000001] fine\n"


def test_lockless_implausible_ring_size(tmp_path: Path) -> None:
    img = KernelImage(release="6.1.0-synthetic")
    rb = PrintkRingbuffer(4, 10)
    rb.append(0, b"x")
    rb.count_bits = 40
    rb.install(img)
    _corrupt(img, tmp_path, "bits")


@pytest.mark.parametrize("value", [0, 0x80000000, 0x7FFFFFFF])
def test_implausible_log_buf_len(value: int, tmp_path: Path) -> None:
    """Not a positive int, or larger than the dump's 64 pages of memory."""
    img = KernelImage(release="4.19.0-synthetic")
    log = PrintkLog(128)
    log.append(0, b"x")
    log.install(img)
    pa = img.vmcoreinfo["SYMBOL(log_buf_len)"] - START_KERNEL_MAP  # type: ignore[operator]
    img.write(pa, value.to_bytes(4, "little"))
    _, e = _corrupt(img, tmp_path, "len")
    assert "log_buf_len" in str(e)


def test_garbage_rings_terminate(tmp_path: Path) -> None:
    """Random record buffers and indexes: text or DmesgCorruptError, quickly."""
    rnd = random.Random(7)
    for trial in range(40):
        img = KernelImage(release="4.19.0-synthetic")
        log = PrintkLog(512)
        blob = bytearray(rnd.randbytes(512))
        for i in range(0, 512, 4):  # small lengths so the walks go somewhere
            if rnd.random() < 0.5:
                blob[i + 8:i + 10] = rnd.choice([0, 4, 8, 16, 20, 24, 36]).to_bytes(2, "little")
                blob[i + 10:i + 12] = rnd.randrange(0, 12).to_bytes(2, "little")
        log.put(0, bytes(blob))
        log.install(img, first_idx=rnd.randrange(0, 500), next_idx=rnd.randrange(0, 500))
        p = tmp_path / f"g{trial}.elf"
        img.write_elf(p)
        t = time.monotonic()
        try:
            ours(p)
        except DmesgCorruptError:
            pass
        assert time.monotonic() - t < 5


def test_garbage_lockless_terminates(tmp_path: Path) -> None:
    rnd = random.Random(11)
    for trial in range(20):
        img = KernelImage(release="6.1.0-synthetic")
        rb = PrintkRingbuffer(5, 9)
        rb.descs[:] = rnd.randbytes(len(rb.descs))
        rb.infos[:] = rnd.randbytes(len(rb.infos))
        rb.data[:] = rnd.randbytes(len(rb.data))
        for i in range(32):  # some descriptors that match their id
            if rnd.random() < 0.5:
                rid = rb.base + i
                rb.set_desc(rid, rnd.choice([1, 2]), rnd.randrange(0, 2048), rnd.randrange(0, 2048))
        head = rb.base + rnd.randrange(0, 32)
        rb.install(img, head_id=head, tail_id=head - rnd.randrange(0, 40), clear_seq=rnd.randrange(0, 99))
        p = tmp_path / f"gl{trial}.elf"
        img.write_elf(p)
        for partial in (False, True):
            try:
                ours(p, partial)
            except DmesgCorruptError:
                pass


# ---------------------------------------------------------------------------
# what the dump lacks


def test_no_log_symbols(tmp_path: Path) -> None:
    img = KernelImage()
    p = tmp_path / "nolog.elf"
    img.write_elf(p)
    with pytest.raises(DmesgUnsupportedError, match="log_buf") as ei:
        ours(p)
    assert isinstance(ei.value, UnsupportedDumpError)


def test_missing_offset(tmp_path: Path) -> None:
    img = KernelImage(release="6.1.0-synthetic")
    rb = PrintkRingbuffer(4, 10)
    rb.append(0, b"x")
    rb.install(img)
    del img.vmcoreinfo["OFFSET(prb_desc.state_var)"]
    p = tmp_path / "nooff.elf"
    img.write_elf(p)
    with pytest.raises(DmesgUnsupportedError, match=r"OFFSET\(prb_desc.state_var\)"):
        ours(p)


def test_missing_printk_log_size(tmp_path: Path) -> None:
    img = KernelImage(release="4.19.0-synthetic")
    PrintkLog(128).install(img)
    del img.vmcoreinfo["SIZE(printk_log)"]
    p = tmp_path / "nosize.elf"
    img.write_elf(p)
    with pytest.raises(DmesgUnsupportedError, match=r"SIZE\(log\)"):
        ours(p)


def test_excluded_log_page(tmp_path: Path) -> None:
    """The log buffer's page is not in the dump: a read error, no file."""
    img = KernelImage(release="6.1.0-synthetic")
    rb = PrintkRingbuffer(4, 10)
    rb.append(0, b"x")
    rb.install(img)
    data_va = rb.addresses["data"]
    p = tmp_path / "excl.kdump"
    img.write_kdump(p, excluded=(img.pfn_of(data_va),))
    with pytest.raises(DmesgError, match="Cannot read prb->text_data_ring.data") as ei:
        ours(p)
    assert not isinstance(ei.value, DmesgCorruptError)
    out = tmp_path / "log"
    with open_dump(str(p)) as ctx, pytest.raises(DmesgError):
        write_dmesg(ctx, str(out))
    assert not out.exists()


# ---------------------------------------------------------------------------
# write_dmesg: LOGFILE as safe as a dump


def test_write_dmesg(tmp_path: Path) -> None:
    p = img_lockless(tmp_path)
    out = tmp_path / "log.txt"
    with open_dump(str(p)) as ctx:
        assert write_dmesg(ctx, str(out), caller_id=False) == len(LOCKLESS)
        assert out.read_bytes() == LOCKLESS
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        with pytest.raises(OutputError, match="exists"):
            write_dmesg(ctx, str(out))
        assert out.read_bytes() == LOCKLESS
        write_dmesg(ctx, str(out), force=True)  # default: caller ids
        assert out.read_bytes() == LOCKLESS_CALLER
        link = tmp_path / "link"
        link.symlink_to(tmp_path / "target")
        for force in (False, True):
            with pytest.raises(OutputError, match="symbolic link"):
                write_dmesg(ctx, str(link), force=force)
        assert not (tmp_path / "target").exists()


def test_write_dmesg_partial(tmp_path: Path) -> None:
    p = img_wrapped(tmp_path)
    out = tmp_path / "log.txt"
    with open_dump(str(p)) as ctx:
        write_dmesg(ctx, str(out), partial=True)
    assert out.read_bytes() == WRAPPED_PARTIAL


def test_write_dmesg_corrupt_leaves_the_text_before_it(tmp_path: Path) -> None:
    r = PrintkLog(128)
    img = _hand_log(128, [(0, r.record(1 * US, b"a", length=200))], 0, 64)
    p = tmp_path / "c.elf"
    img.write_elf(p)
    out = tmp_path / "log.txt"
    with open_dump(str(p)) as ctx, pytest.raises(DmesgCorruptError):
        write_dmesg(ctx, str(out))
    assert out.read_bytes() == b"[    0.000001] a\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
