"""gdbserver: the protocol's framing on recorded packets, the answers on a synthetic x86_64
dump (two CPUs whose PRSTATUS registers are all different, a panic_cpu found through
kallsyms), a whole exchange over standard input and output, and hostile input (the real
dumps with gdb itself: tests/real/test_gdbserver_real.py)."""

from __future__ import annotations

import random
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gen import build_elf, make_note, vmcoreinfo_text
from gen.kallsyms import kallsyms_tables, place_kallsyms
from gen.x86_64 import PAGE_OFFSET, START_KERNEL_MAP, x86_64_kernel

from pymakedumpfile.tools import rsp
from pymakedumpfile.tools.gdbserver import KernelTarget, Session, monitor_commands

# --- framing --------------------------------------------------------------------------------

def test_checksums_of_known_packets() -> None:
    assert rsp.frame(b"OK") == b"$OK#9a"
    assert rsp.frame(b"") == b"$#00"
    assert rsp.frame(b"qSupported", compress=False) == b"$qSupported#37"
    assert rsp.checksum(b"m0,4") == 0xFD  # 0x6d + 0x30 + 0x2c + 0x34 = 0xfd


def test_escapes() -> None:
    # '#' 0x23, '$' 0x24, '}' 0x7d, '*' 0x2a: '}' then the byte XOR 0x20
    assert rsp.escape(b"a#b$c}d*e") == b"a}\x03b}\x04c}]d}\ne"
    body = rsp.escape(b"#$}*")
    assert list(rsp.Reader().feed(b"$" + body + b"#%02x" % rsp.checksum(body))) == [("packet", b"#$}*")]


def test_run_length_encoding() -> None:
    # 16 zeros: '0' and 15 repeats; 15 + 29 = 44 = ','
    assert rsp.rle(b"0" * 16) == b"0*,"
    # 7 in all (6 repeats, count '#') and 8 (7 repeats, '$') cannot be written as one run
    assert b"#" not in rsp.rle(b"x" * 7)[1:] and b"$" not in rsp.rle(b"x" * 8)[1:]
    for n in range(1, 300):
        for c in (b"0", b"#", b"}", b"*"):
            d = c * n + b"z"
            f = rsp.frame(d)
            assert max(f[1:-3]) <= 126 and list(rsp.Reader().feed(f)) == [("packet", d)], (n, c)
    # gdb's own example: "0* " is 0000 (a count of ' ' = 32 - 29 = 3 more)
    assert rsp.decode(b"0* ") == b"0000"


def test_reader_acks_interrupts_and_bad_packets() -> None:
    r = rsp.Reader()
    events = list(r.feed(b"+$OK#9a-\x03$OK#00junk$m0,4#f"))
    assert events == [("ack", b"+"), ("packet", b"OK"), ("ack", b"-"), ("interrupt", b""), ("bad", b"OK")]
    assert list(r.feed(b"d")) == [("packet", b"m0,4")]  # the checksum came in two reads
    with pytest.raises(ValueError):
        rsp.decode(b"*!")
    with pytest.raises(ValueError):
        rsp.decode(b"ab}")


# --- a synthetic dump -----------------------------------------------------------------------

# struct user_regs_struct (x86_64), the order of a PRSTATUS note's pr_reg
USER_REGS = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi",
             "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs")
# gdb's amd64 numbering of the general registers
GDB_ORDER = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
             "r15", "rip")


def prstatus(cpu: int, pid: int) -> bytes:
    desc = bytearray(336)
    struct.pack_into("<i", desc, 32, pid)
    for k in range(len(USER_REGS)):
        struct.pack_into("<Q", desc, 112 + 8 * k, (cpu + 1) << 32 | 0x1000 + k)
    return make_note(b"CORE", 1, bytes(desc))


def value(cpu: int, reg: str) -> int:
    return (cpu + 1) << 32 | 0x1000 + USER_REGS.index(reg)


P_KSYMS, P_PANIC = 0x8000, 0x7000


@pytest.fixture
def dump(tmp_path: Path) -> tuple[Path, bytes]:
    kb = x86_64_kernel(first_pfn=1)
    mem = bytearray(16 * 4096)
    for pfn, pg in kb.pages.items():
        mem[pfn * 4096 : pfn * 4096 + 4096] = pg.data
    struct.pack_into("<i", mem, P_PANIC, 1)  # panic_cpu: CPU 1 panicked
    va = lambda p: START_KERNEL_MAP + p  # noqa: E731
    syms = [("T", "_stext", va(0x1000)), ("T", "_text", va(0x1000)), ("D", "panic_cpu", va(P_PANIC)),
            ("D", "init_uts_ns", kb.symbols["init_uts_ns"])]
    k = kallsyms_tables(sorted(syms, key=lambda s: s[2]), mode="relative")
    vi = dict(kb.vmcoreinfo)
    vi.update(place_kallsyms(mem, k, P_KSYMS, START_KERNEL_MAP))
    vi["SYMBOL(_stext)"] = va(0x1000)
    vi["KERNELOFFSET"] = "1c000000"
    path = tmp_path / "vmcore"
    build_elf(path, [(0, PAGE_OFFSET, bytes(mem))],
              notes=prstatus(0, 0) + prstatus(1, 4242) + make_note(b"VMCOREINFO", 0, vmcoreinfo_text(vi)))
    return path, bytes(mem)


def session(path: Path) -> Session:
    from pymakedumpfile import open_dump

    ctx = open_dump(path)
    t = KernelTarget(ctx)
    return Session(t, monitor_commands(ctx, t))


def test_threads_and_registers(dump: tuple[Path, bytes]) -> None:
    s = session(dump[0])
    assert s.handle(b"qfThreadInfo") == b"m2,1"  # CPU 1 panicked: its thread comes first
    assert s.handle(b"qsThreadInfo") == b"l"
    assert s.handle(b"?") == b"T05thread:2;" and s.handle(b"qC") == b"QC2"
    assert s.handle(b"qThreadExtraInfo,2") == rsp.hexbytes(b"CPU 1 (panic) pid 4242")
    gx = s.handle(b"g")
    assert isinstance(gx, bytes) and b"x" * 20 in gx  # the x87 registers: unavailable
    g = rsp.unhex(gx[: 18 * 16])
    regs = struct.unpack_from("<17Q", g)
    assert regs == tuple(value(1, r) for r in GDB_ORDER)
    assert struct.unpack_from("<I", g, 17 * 8)[0] == value(1, "eflags") & 0xFFFFFFFF
    assert s.handle(b"Hg1") == b"OK"
    assert s.handle(b"p10") == struct.pack("<Q", value(0, "rip")).hex().encode()  # register 16: rip
    assert s.handle(b"p18") == b"x" * 20  # st0: not in a PRSTATUS note, unavailable
    assert s.handle(b"Hg7") == b"E16" and s.handle(b"T7") == b"E16" and s.handle(b"T1") == b"OK"
    assert s.handle(b"p999") == b"E16"


def test_memory_and_read_only(dump: tuple[Path, bytes]) -> None:
    path, mem = dump
    s = session(path)
    uts = 3 * 4096
    assert s.handle(b"m%x,20" % (START_KERNEL_MAP + uts)) == mem[uts : uts + 0x20].hex().encode()
    assert s.handle(b"m%x,10" % (PAGE_OFFSET + uts + 4)) == mem[uts + 4 : uts + 0x14].hex().encode()
    # the dump ends at 64 KiB of RAM: a read that runs past it gives the bytes up to there
    end = PAGE_OFFSET + len(mem)
    assert s.handle(b"m%x,20" % (end - 8)) == mem[-8:].hex().encode()
    assert s.handle(b"m%x,8" % end) == b"E14"
    assert s.handle(b"m1000,8") == b"E14"  # a user address: not mapped by the kernel's tables
    assert s.handle(b"M%x,1:00" % end) == b"E1e" and s.handle(b"X0,0:") == b"E1e"
    assert s.handle(b"c") == b"E01" and s.handle(b"vCont;c") == b"E01" and s.handle(b"vCont?") == b""
    assert s.handle(b"mzz,1") == b"E16"


def test_queries(dump: tuple[Path, bytes]) -> None:
    s = session(dump[0])
    sup = s.handle(b"qSupported:multiprocess+;swbreak+")
    assert b"qXfer:features:read+" in sup and b"QStartNoAckMode+" in sup  # type: ignore[operator]
    # one segment base: the image's first segment, at _text (its link address + KERNELOFFSET)
    assert s.handle(b"qOffsets") == b"TextSeg=%x" % (START_KERNEL_MAP + 0x1000)
    doc = b""
    off = 0
    while True:  # read the description in pieces of 100 bytes, as gdb does with a small buffer
        r = s.handle(b"qXfer:features:read:target.xml:%x,64" % off)
        assert isinstance(r, bytes) and r[:1] in (b"m", b"l")
        doc += r[1:]
        off += 0x64
        if r[:1] == b"l":
            break
    assert doc.startswith(b"<?xml") and doc.endswith(b"</target>\n")
    assert b"<architecture>i386:x86-64</architecture>" in doc and b'name="rax"' in doc
    assert s.handle(b"qXfer:features:read:other.xml:0,100") == b"E00"
    mm = s.handle(b"qXfer:memory-map:read::0,1000")
    assert b'start="0x8000000000000000"' in mm  # type: ignore[operator]
    assert s.handle(b"QStartNoAckMode") == b"OK" and s.ack
    s.after(b"QStartNoAckMode")
    assert not s.ack
    assert s.handle(b"qUnknownThing") == b"" and s.handle(b"") == b""


def test_monitor(dump: tuple[Path, bytes]) -> None:
    s = session(dump[0])
    out = s.handle(b"qRcmd," + rsp.hexbytes(b"phys 0x3004 8"))
    assert isinstance(out, list) and out[-1] == b"OK"
    text = b"".join(rsp.unhex(p[1:]) for p in out[:-1]).decode()
    assert text == "0x0000000000003004: " + " ".join(f"{b:02x}" for b in b"Linux\0\0\0") + "\n"
    info = b"".join(rsp.unhex(p[1:]) for p in s.handle(b"qRcmd," + rsp.hexbytes(b"info"))[:-1])  # type: ignore
    assert b"x86_64" in info
    help_ = b"".join(rsp.unhex(p[1:]) for p in s.handle(b"qRcmd," + rsp.hexbytes(b"nonsense"))[:-1])  # type: ignore
    assert help_.startswith(b"unknown monitor command")


def test_a_whole_exchange_on_stdio(dump: tuple[Path, bytes]) -> None:
    """gdb's opening packets, as gdb 13 sends them, with acknowledgments, to a real process;
    then a detach: every packet is acknowledged and answered, and the server exits."""
    sent = [b"qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;exec-events+",
            b"vMustReplyEmpty", b"QStartNoAckMode", b"Hg0", b"qXfer:features:read:target.xml:0,ffb", b"qTStatus",
            b"?", b"qfThreadInfo", b"qsThreadInfo", b"qAttached", b"qOffsets", b"g",
            b"m%x,8" % (START_KERNEL_MAP + 3 * 4096), b"D"]
    stream = b"".join((b"+" if i else b"") + rsp.frame(p, compress=False) for i, p in enumerate(sent))
    p = subprocess.run([sys.executable, "-m", "pymakedumpfile", "gdbserver", "--stdio", str(dump[0])], input=stream,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    events = list(rsp.Reader().feed(p.stdout))
    acks = [e for e in events if e[0] == "ack"]
    replies = [d for k, d in events if k == "packet"]
    assert len(acks) == 3  # up to and including QStartNoAckMode
    assert len(replies) == len(sent)
    assert replies[2] == b"OK" and replies[6] == b"T05thread:2;" and replies[7] == b"m2,1"
    assert replies[12] == dump[1][3 * 4096 : 3 * 4096 + 8].hex().encode() and replies[-1] == b"OK"
    assert b"KASLR offset 0x1c000000" in p.stderr


def test_hostile_input_neither_crashes_nor_hangs(dump: tuple[Path, bytes]) -> None:
    """Random and mangled packets into the framing and the session: every one gets an answer
    (or none) and no exception; the whole batch in bounded time."""
    s = session(dump[0])
    rnd = random.Random(3)
    seeds = [b"m", b"p", b"g", b"H", b"T", b"q", b"Q", b"v", b"qXfer:features:read:", b"qRcmd,", b"qThreadExtraInfo,",
             b"qXfer:memory-map:read::", b"M", b"X", b"D"]
    start = time.monotonic()
    reader = rsp.Reader()
    for _ in range(3000):
        tail = bytes(rnd.choice(b"0123456789abcdefxyz,:;-$#}*\x00\xff") for _ in range(rnd.randrange(30)))
        pkt = rnd.choice(seeds) + tail
        r = s.handle(pkt)
        assert r is None or isinstance(r, (bytes, list))
        s.done = False
        noise = bytes(rnd.randrange(256) for _ in range(rnd.randrange(40)))
        for kind, _ in reader.feed(noise + rsp.frame(pkt)[: rnd.randrange(1, 40)]):
            assert kind in ("packet", "bad", "ack", "interrupt")
    assert time.monotonic() - start < 60
    # an endless packet without '#' is dropped, not buffered forever
    r = rsp.Reader()
    for _ in range(5):
        list(r.feed(b"$" + b"a" * rsp.MAX_PACKET))
    assert len(r.buf) <= 2 * rsp.MAX_PACKET + 4 + rsp.MAX_PACKET


def test_task_states_as_ps_shows_them() -> None:
    from pymakedumpfile.tools.tasks import Task, ps_text, state_name

    # include/linux/sched.h: TASK_RUNNING 0, INTERRUPTIBLE 1, UNINTERRUPTIBLE 2, __TASK_STOPPED 4,
    # __TASK_TRACED 8, EXIT_DEAD 16, EXIT_ZOMBIE 32, TASK_PARKED 64, TASK_NOLOAD 0x400
    assert [state_name(s) for s in (0, 1, 2, 4, 8, 16, 32, 64, 0x402, 0x80)] == \
        ["R", "S", "D", "T", "t", "X", "Z", "P", "I", "?"]
    text = ps_text([Task(0xFFFF888001234000, 42, 41, "worker", 1, None, {}),
                    Task(0xFFFF888001238000, 1, 1, "init", 0, 0, {})])
    assert text.splitlines() == ["    PID   TGID  CPU ST TASK               COMM",
                                 "     42     41    -  S 0xffff888001234000 worker",
                                 "      1      1    0  R 0xffff888001238000 init"]


def test_context_api(dump: tuple[Path, bytes]) -> None:
    """The stable surface the README documents: regs(cpu), symbols (kallsyms), read_virt."""
    from pymakedumpfile import open_dump

    with open_dump(dump[0]) as ctx:
        assert ctx.regs(1)["rip"] == value(1, "rip") and ctx.regs(0)["rsp"] == value(0, "rsp")
        with pytest.raises(KeyError):
            ctx.regs(5)
        assert ctx.symbols["panic_cpu"] == START_KERNEL_MAP + P_PANIC
        assert ctx.read_virt(ctx.symbols["panic_cpu"], 4) == struct.pack("<i", 1)


@pytest.mark.parametrize("host, warned", [("127.0.0.1", False), ("0.0.0.0", True)])
def test_listen(dump: tuple[Path, bytes], host: str, warned: bool) -> None:
    """--listen: loopback quietly, any other address with a warning (whoever reaches it reads
    the machine's memory); a TCP client gets the same answers as on stdio."""
    import socket

    p = subprocess.Popen([sys.executable, "-m", "pymakedumpfile", "gdbserver", "--listen", f"{host}:0", str(dump[0])],
                         stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        assert p.stderr is not None
        while True:
            ln = p.stderr.readline()
            assert ln, lines
            lines.append(ln)
            if " on " in ln and "target remote" in ln:
                break
        assert any("warning: listening on 0.0.0.0" in ln for ln in lines) == warned, lines
        port = int(lines[-1].rsplit(":", 1)[1].rstrip(")\n"))
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(rsp.frame(b"qfThreadInfo", compress=False))
            got = b""
            while b"#" not in got or len(got) < got.index(b"#") + 3:
                got += s.recv(4096)
            assert list(rsp.Reader().feed(got)) == [("ack", b"+"), ("packet", b"m2,1")]
            s.sendall(b"+" + rsp.frame(b"D", compress=False))
    finally:
        p.kill()
        p.wait()
