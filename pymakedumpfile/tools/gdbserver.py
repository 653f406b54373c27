"""A dump served to gdb as a stopped target (``pymakedumpfile gdbserver DUMP``), read-only.

The kernel view: memory is the kernel's virtual address space (page tables of the dump), one
thread per CPU with the registers of its PRSTATUS note, the panicking CPU first.  The
protocol's framing is tools/rsp.py; what each packet gets is :meth:`Session.handle`.
docs/gdbserver.md lists the packets and monitor commands.
"""

from __future__ import annotations

import bisect
import os
import socket
import sys
from typing import NamedTuple

from ..core.errors import DumpError
from ..core.hints import Any, BinaryIO, Callable
from . import rsp

SIGTRAP = 5
E_FAULT = b"E14"  # EFAULT: memory that cannot be read
E_INVAL = b"E16"
E_RDONLY = b"E1e"  # EROFS: a dump is not written to
PAGE = 4096

# the functions a panicking CPU's registers are saved in (crash_setup_regs is inlined in the first)
CRASH_PATH = ("__crash_kexec", "crash_kexec", "machine_crash_shutdown", "crash_save_cpu")
PC_NAMES = ("rip", "pc", "nip", "eip", "r15", "psw_addr")


class Thread(NamedTuple):
    tid: int  # gdb's thread id (> 0)
    cpu: int | None  # the CPU it ran on (None: a task that was not running)
    pid: int  # the task that ran on the CPU
    regs: dict[str, int]
    panic: bool
    name: str = ""  # what gdb shows beside it (the task view: pid N "comm")


class KernelTarget:
    """What gdb sees of a dump ``ctx``: its kernel address space and its CPUs, or with
    ``tasks`` every task of the kernel (symbols and types from kallsyms and BTF, or from
    ``vmlinux``)."""

    def __init__(self, ctx: Any, tasks: bool = False, vmlinux: str | None = None, pid: int | None = None) -> None:
        from ..translate import get_arch
        from .info import registers

        self.ctx = ctx
        self.arch = get_arch(ctx.attr.get("arch.name", ""))
        if self.arch is None or self.arch.gdb is None:
            raise DumpError(f"gdbserver: no gdb target description for the architecture "
                            f"'{ctx.attr.get('arch.name', '?')}' yet", ctx.name)
        self.gdb = self.arch.gdb
        self.mem = ctx.kernel_memory()
        self.byte_order = ctx.attr.get("arch.byte_order") or self.arch.byte_order
        cpus = registers(ctx)
        self.cpu_regs = {c["cpu"]: c["regs"] for c in cpus}  # for the task views
        try:
            self.symbols = ctx.symbols  # kallsyms (Linux 6.0 and later)
        except DumpError:
            self.symbols = {}
        panic = self._panic_cpu(len(cpus))
        if panic is None:
            panic = self._cpu_in_crash_path(cpus)
        order = sorted(cpus, key=lambda c: (c["cpu"] != panic, c["cpu"]))
        self.threads = [Thread(c["cpu"] + 1, c["cpu"], c["pid"], c["regs"], c["cpu"] == panic) for c in order]
        if not self.threads:
            raise DumpError("gdbserver: the dump has no CPU registers (no PRSTATUS notes)", ctx.name)
        self.vmlinux = vmlinux
        self._tasks: list[Any] | None = None
        vi = ctx.reader.vmcoreinfo
        self.kaslr = vi.get_int("KERNELOFFSET") or 0
        # where the image's first segment is (its link address + KASLR): the kernel's _text,
        # or VMCOREINFO's _stext less what comes before it
        self.text = self.symbols.get("_text")
        if self.text is None and "_stext" in vi.SYMBOL:
            self.text = vi.SYMBOL["_stext"] - self.gdb.text_to_stext
        self.numbers = {src: vi.number_u64(src) for *_, src in self.gdb.registers
                        if src is not None and src.isupper() and vi.number_u64(src) is not None}
        self.process = False
        if pid is not None:
            self._process(pid)
        elif tasks:
            self.threads = self._task_threads(panic if panic is not None else order[0]["cpu"])

    def _panic_cpu(self, n: int) -> int | None:
        """The CPU that panicked: the kernel's ``panic_cpu`` (through kallsyms)."""
        at = self.symbols.get("panic_cpu")
        if at is None:
            return None
        try:
            v = int.from_bytes(self.mem.read(at, 4), self.byte_order, signed=True)
        except DumpError:
            return None
        return v if 0 <= v < n else None

    def _cpu_in_crash_path(self, cpus: list[dict[str, Any]]) -> int | None:
        """The CPU that panicked when ``panic_cpu`` is not among the symbols (kallsyms without
        data symbols: Debian's arm64): the one CPU whose saved pc is in the crash path's
        functions (its registers were saved there; the others stopped in an interrupt or idle)."""
        if not self.symbols:
            return None
        starts = sorted(set(self.symbols.values()))
        spans = []
        for name in CRASH_PATH:
            a = self.symbols.get(name)
            if a is not None:
                i = bisect.bisect_right(starts, a)
                spans.append((a, starts[i] if i < len(starts) else a + 1))
        hits = [c["cpu"] for c in cpus
                if any(lo <= next((c["regs"][r] for r in PC_NAMES if r in c["regs"]), -1) < hi for lo, hi in spans)]
        return hits[0] if len(hits) == 1 else None

    def offsets(self) -> bytes:
        """The qOffsets answer.  With one segment base (the image's first segment), gdb moves
        every loaded section of the image by its distance to the link address: the KASLR
        offset.  Without it, only .text, .data and .bss can be moved."""
        if self.text is not None:
            return b"TextSeg=%x" % self.text
        k = self.kaslr
        return b"Text=%x;Data=%x;Bss=%x" % (k, k, k)

    def kernel_tasks(self) -> Any:
        """The kernel's tasks (tools/tasks.py), listed once."""
        if self._tasks is None:
            from .tasks import KernelTasks

            mem = self.ctx.kernel_memory()
            self._tasks = KernelTasks(self.ctx, self._types(), mem, self.kaslr, self.cpu_regs).tasks()
        return self._tasks

    def _types(self) -> Any:
        from ..input.ktypes import kernel_types

        names = frozenset({"task_struct", "signal_struct", "rq", "inactive_task_frame", "thread_struct",
                           "cpu_context", "init_task", "runqueues", "__per_cpu_offset", "mm_struct", "pt_regs"})
        return kernel_types(self.ctx, names, self.vmlinux, None, self.mem)[0]

    def _process(self, pid: int) -> None:
        """The process view: ``pid``'s address space (its page tables) and its threads with
        their user registers."""
        import copy

        from .tasks import KernelTasks, user_view

        threads, pgd = user_view(KernelTasks(self.ctx, self._types(), self.mem, self.kaslr, self.cpu_regs), pid)
        mem = copy.copy(self.mem)
        mem.xlat = copy.copy(self.mem.xlat)
        mem.xlat.root = pgd  # the walk starts at the process's top table
        self.mem, self.process = mem, True
        self.threads = [Thread(i + 1, t.cpu, t.pid, t.regs, False, f'pid {t.pid} "{t.comm}"')
                        for i, t in enumerate(threads)]

    def _task_threads(self, panic_cpu: int) -> list[Thread]:
        tasks = sorted(self.kernel_tasks(), key=lambda t: t.cpu != panic_cpu)  # the panicking task first
        out = []
        for i, t in enumerate(tasks):
            where = f" (CPU {t.cpu}{', panic' if t.cpu == panic_cpu else ''})" if t.cpu is not None else ""
            out.append(Thread(i + 1, t.cpu, t.pid, t.regs, t.cpu == panic_cpu, f'pid {t.pid} "{t.comm}"{where}'))
        return out

    def thread(self, tid: int) -> Thread | None:
        for t in self.threads:
            if t.tid == tid:
                return t
        return None

    def read(self, addr: int, n: int) -> bytes:
        """As many of the ``n`` bytes at ``addr`` as the dump holds, from the first on."""
        out = bytearray()
        while len(out) < n:
            a = addr + len(out)
            k = min(n - len(out), PAGE - a % PAGE)
            try:
                out += self.mem.read(a, k)
            except (DumpError, ValueError, OverflowError):
                break
        return bytes(out)

    def register_bytes(self, t: Thread, index: int) -> bytes:
        """Register ``index`` of the description as gdb wants it: target byte order, or
        ``x`` digits (unavailable) when the dump does not have it."""
        name, bits, _type, _feature, source = self.gdb.registers[index]
        size = bits // 8
        v = (t.regs.get(source, self.numbers.get(source))) if source else None
        if v is None:
            return b"xx" * size
        return (v & ((1 << bits) - 1)).to_bytes(size, self.byte_order).hex().encode()

    def all_registers(self, t: Thread) -> bytes:
        return b"".join(self.register_bytes(t, i) for i in range(len(self.gdb.registers)))

    def target_xml(self) -> bytes:
        return self.gdb.target_xml().encode()

    def memory_map(self) -> bytes:
        """The kernel half of the address space; the process view adds the lower half."""
        start = 1 << 63 if self.arch.kernel_half_high else 0  # type: ignore[union-attr]
        spans = [(start, (1 << 64) - start)]
        if self.process and start:
            spans.insert(0, (0, start))
        regions = "".join(f'  <memory type="ram" start="{a:#x}" length="{n:#x}"/>\n' for a, n in spans)
        return ('<?xml version="1.0"?>\n<!DOCTYPE memory-map PUBLIC "+//IDN gnu.org//DTD GDB Memory Map V1.0//EN" '
                f'"http://sourceware.org/gdb/gdb-memory-map.dtd">\n<memory-map>\n{regions}</memory-map>\n').encode()

    def describe(self, t: Thread) -> str:
        return t.name or f"CPU {t.cpu}{' (panic)' if t.panic else ''} pid {t.pid}"


class Session:
    """One connection's state: acknowledgments, the thread of register reads."""

    def __init__(self, target: KernelTarget, monitor: Callable[[str], str] | None = None) -> None:
        self.t = target
        self.ack = True
        self.current = target.threads[0].tid
        self.monitor = monitor
        self.done = False

    def handle(self, pkt: bytes) -> bytes | list[bytes] | None:
        """The reply to one packet's data (None: no reply; a list: several packets in turn)."""
        if not pkt:
            return b""
        c, rest = pkt[:1], pkt[1:]
        try:
            if c == b"?":
                return self.stop_reply()
            if c == b"g":
                return self.t.all_registers(self._thread())
            if c == b"p":
                i = int(rest, 16)
                if not 0 <= i < len(self.t.gdb.registers):
                    return E_INVAL
                return self.t.register_bytes(self._thread(), i)
            if c == b"m":
                a, n = rest.split(b",")
                addr, size = int(a, 16), min(int(n, 16), rsp.MAX_PACKET // 4)
                data = self.t.read(addr, size) if size else b""
                if size and not data:
                    return E_FAULT
                return rsp.hexbytes(data)
            if c in (b"M", b"X", b"G", b"P"):
                return E_RDONLY
            if c == b"H":
                tid = self._tid(rest[1:])
                if tid is not None and tid > 0 and self.t.thread(tid) is None:
                    return E_INVAL
                if rest[:1] == b"g" and tid is not None and tid > 0:
                    self.current = tid
                return b"OK"
            if c == b"T":
                tid = self._tid(rest)
                return b"OK" if tid is not None and self.t.thread(tid) is not None else E_INVAL
            if c in (b"c", b"s", b"C", b"S"):
                return b"E01"  # a dump does not run
            if c == b"D":
                self.done = True
                return b"OK"
            if c == b"k":
                self.done = True
                return None
            if c == b"q":
                return self.query(pkt)
            if c == b"Q":
                if pkt == b"QStartNoAckMode":
                    return b"OK"
                return b""
            if c == b"v":
                return self.v(pkt)
        except (ValueError, IndexError):
            return E_INVAL
        return b""

    def after(self, pkt: bytes) -> None:
        """What changes once the reply to ``pkt`` is sent."""
        if pkt == b"QStartNoAckMode":
            self.ack = False

    def _tid(self, text: bytes) -> int | None:
        if text.startswith(b"p"):  # multiprocess form pPID.TID
            text = text.split(b".")[-1]
        if text in (b"-1", b"0"):
            return int(text)
        return int(text, 16) if text else None

    def _thread(self) -> Thread:
        return self.t.thread(self.current) or self.t.threads[0]

    def stop_reply(self) -> bytes:
        return b"T%02xthread:%x;" % (SIGTRAP, self.current)

    def query(self, pkt: bytes) -> bytes | list[bytes]:
        if pkt.startswith(b"qSupported"):
            return (b"PacketSize=%x;qXfer:features:read+;qXfer:memory-map:read+;QStartNoAckMode+;"
                    b"qXfer:threads:read-;vContSupported-" % (rsp.MAX_PACKET // 2))
        if pkt == b"qfThreadInfo":
            return b"m" + b",".join(b"%x" % t.tid for t in self.t.threads)
        if pkt == b"qsThreadInfo":
            return b"l"
        if pkt == b"qC":
            return b"QC%x" % self.current
        if pkt == b"qAttached" or pkt.startswith(b"qAttached:"):
            return b"1"
        if pkt == b"qOffsets":  # the kernel's KASLR offset: gdb moves the image's symbols by it
            return self.t.offsets()
        if pkt.startswith(b"qThreadExtraInfo,"):
            th = self.t.thread(int(pkt.split(b",", 1)[1], 16))
            return rsp.hexbytes(self.t.describe(th).encode()) if th else E_INVAL
        if pkt.startswith(b"qXfer:features:read:"):
            annex, off, n = self._xfer(pkt[len(b"qXfer:features:read:"):])
            if annex != b"target.xml":
                return b"E00"
            return self._part(self.t.target_xml(), off, n)
        if pkt.startswith(b"qXfer:memory-map:read:"):
            _annex, off, n = self._xfer(pkt[len(b"qXfer:memory-map:read:"):])
            return self._part(self.t.memory_map(), off, n)
        if pkt.startswith(b"qRcmd,"):
            return self.rcmd(rsp.unhex(pkt[6:]).decode("utf-8", "replace"))
        if pkt == b"qSymbol::":
            return b"OK"
        return b""

    def _xfer(self, rest: bytes) -> tuple[bytes, int, int]:
        annex, span = rest.split(b":", 1)
        off, n = span.split(b",")
        return annex, int(off, 16), int(n, 16)

    @staticmethod
    def _part(doc: bytes, off: int, n: int) -> bytes:
        chunk = doc[off : off + n]
        return (b"l" if off + n >= len(doc) else b"m") + chunk

    def rcmd(self, text: str) -> bytes | list[bytes]:
        if self.monitor is None:
            return b""
        try:
            out = self.monitor(text)
        except DumpError as e:
            out = f"error: {e}\n"
        # console output as O packets, then OK
        parts = [b"O" + rsp.hexbytes(out[i : i + 4096].encode()) for i in range(0, len(out), 4096)]
        return [*parts, b"OK"]

    def v(self, pkt: bytes) -> bytes:
        if pkt == b"vCont?":
            return b""  # no resuming a dump
        if pkt.startswith(b"vCont"):
            return b"E01"
        if pkt == b"vMustReplyEmpty":
            return b""
        if pkt.startswith(b"vKill"):
            self.done = True
            return b"OK"
        return b""


def serve(target: KernelTarget, rfile: BinaryIO | int, wfile: BinaryIO | int,
          monitor: Callable[[str], str] | None = None) -> None:
    """Answer one gdb on a pair of file descriptors until it detaches, kills or goes away."""
    rfd = rfile if isinstance(rfile, int) else rfile.fileno()
    wfd = wfile if isinstance(wfile, int) else wfile.fileno()
    s = Session(target, monitor)
    reader = rsp.Reader()

    def send(data: bytes) -> None:
        out = rsp.frame(data)
        while out:
            k = os.write(wfd, out)
            out = out[k:]

    while not s.done:
        try:
            data = os.read(rfd, 65536)
        except ConnectionResetError:
            return
        if not data:
            return
        for kind, pkt in reader.feed(data):
            if kind == "bad":
                if s.ack:
                    os.write(wfd, b"-")
                continue
            if kind == "interrupt":
                send(s.stop_reply())
                continue
            if kind != "packet":
                continue
            if s.ack:
                os.write(wfd, b"+")
            reply = s.handle(pkt)
            if reply is not None:
                for r in reply if isinstance(reply, list) else [reply]:
                    send(r)
            s.after(pkt)
            if s.done:
                return


def monitor_commands(ctx: Any, target: KernelTarget) -> Callable[[str], str]:
    """``monitor`` commands: help, info, dmesg, phys ADDR LEN."""

    def run(text: str) -> str:
        words = text.split()
        if not words or words[0] == "help":
            return ("monitor info          what --info prints of the dump\n"
                    "monitor dmesg         the kernel log\n"
                    "monitor ps            the kernel's tasks\n"
                    "monitor phys ADDR LEN physical memory, in hex\n")
        if words[0] == "info":
            from .info import dump_info, format_text

            return format_text(dump_info(ctx, classify=False))
        if words[0] == "dmesg":
            from .dmesg import dump_dmesg

            return dump_dmesg(ctx).decode("utf-8", "replace")
        if words[0] == "ps":
            from .tasks import ps_text

            return ps_text(target.kernel_tasks())
        if words[0] == "phys" and len(words) == 3:
            addr, n = int(words[1], 0), min(int(words[2], 0), 1 << 16)
            data = ctx.read_phys(addr, n)
            return "".join(f"{addr + i:#018x}: {data[i:i + 16].hex(' ')}\n" for i in range(0, len(data), 16))
        return f"unknown monitor command: {text}\n"

    return run


def run_gdbserver(path: str, listen: str | None, stdio: bool, say: Callable[[str], None], tasks: bool = False,
                  vmlinux: str | None = None, pid: int | None = None) -> None:
    """Open ``path`` and serve it: on standard input and output (``stdio``), else on one TCP
    connection after another at ``listen`` (HOST:PORT, loopback unless told otherwise).
    ``tasks``: a thread per task; ``pid``: that process's view; ``vmlinux``: symbols and types
    from this image."""
    from ..input import open_dump

    ctx = open_dump(path)
    target = KernelTarget(ctx, tasks=tasks, vmlinux=vmlinux, pid=pid)
    mon = monitor_commands(ctx, target)
    if target.kaslr:
        say(f"gdbserver: KASLR offset {target.kaslr:#x}: gdb takes it from the target (qOffsets); "
            f"by hand: symbol-file VMLINUX -o {target.kaslr:#x}")
    if stdio:
        serve(target, sys.stdin.buffer, sys.stdout.buffer, mon)
        return
    host, _, port = (listen or "127.0.0.1:1234").rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if host not in ("127.0.0.1", "::1", "localhost"):
        say(f"gdbserver: warning: listening on {host}, not on loopback: whoever reaches it reads the dump, and "
            "the dump holds the machine's secrets")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((host, int(port)))
        srv.listen(1)
        say(f"gdbserver: {path} on {host}:{srv.getsockname()[1]} (target remote {host}:{srv.getsockname()[1]})")
        while True:
            conn, _ = srv.accept()
            with conn:
                serve(target, conn.fileno(), conn.fileno(), mon)


__all__ = ["KernelTarget", "Session", "monitor_commands", "run_gdbserver", "serve"]
