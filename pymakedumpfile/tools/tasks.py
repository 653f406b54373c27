"""The kernel's tasks in a dump, and the registers each one would resume with (the gdbserver's
task view, ``monitor ps``).

Tasks are found as crash lists them: every thread group on ``init_task.tasks``, every thread
of a group on its ``signal->thread_head`` (``task_struct.thread_node``), and the idle task of
each CPU (``runqueues[cpu].idle``).  A task running on a CPU (``runqueues[cpu].curr``) has the
registers of that CPU's PRSTATUS note; any other has those its last context switch saved:
on x86_64 the ``struct inactive_task_frame`` at ``thread.sp``, on arm64 ``thread.cpu_context``.
Symbols and types come from input/ktypes.py (kallsyms and the kernel's BTF, or -x VMLINUX).
"""

from __future__ import annotations

from typing import NamedTuple

from ..core.errors import DumpError
from ..core.hints import Any

MAX_TASKS = 1 << 20


class Task(NamedTuple):
    addr: int  # of its struct task_struct
    pid: int
    tgid: int
    comm: str
    state: int
    cpu: int | None  # the CPU it was running on, None if it was not
    regs: dict[str, int]  # gdb's register names (x86_64: rip, rsp...; arm64: x19, sp, pc...)


class KernelTasks:
    """The tasks of dump ``ctx``'s kernel, with ``types`` (ktypes.DwarfTypes or BtfTypes)."""

    def __init__(self, ctx: Any, types: Any, mem: Any, kaslr: int, cpu_regs: dict[int, dict[str, int]]) -> None:
        self.ctx, self.types, self.mem, self.kaslr = ctx, types, mem, kaslr
        self.arch = ctx.attr.get("arch.name", "")
        self.cpu_regs = cpu_regs  # cpu -> its PRSTATUS registers, named as translate/ names them
        self.ts = self._struct("task_struct")
        self.off = {m: self._member(self.ts, m, "task_struct") for m in
                    ("tasks", "pid", "tgid", "comm", "signal", "thread_node", "thread", "stack", "mm")}
        self.state_off = self._state()
        sig = self._struct("signal_struct")
        self.thread_head = self._member(sig, "thread_head", "signal_struct")

    # -- types
    def _struct(self, name: str) -> Any:
        s = self.types.struct(name)
        if s is None:
            raise DumpError(f"Cannot list tasks: no type struct {name}", self.ctx.name)
        return s

    def _member(self, s: Any, name: str, what: str) -> int:
        m = self.types.member(s, name)
        if m is None:
            raise DumpError(f"Cannot list tasks: struct {what} has no member {name}", self.ctx.name)
        return int(m[0])

    def _state(self) -> int | None:
        for name in ("__state", "state"):  # renamed in Linux 5.14
            m = self.types.member(self.ts, name)
            if m is not None:
                return int(m[0])
        return None

    def _symbol(self, name: str) -> int:
        a = self.types.symbol(name)
        if a is None:
            raise DumpError(f"Cannot list tasks: no symbol {name} (kallsyms without data symbols, as arm64's "
                            "Debian kernels: give -x VMLINUX)", self.ctx.name)
        return int(a) + self._shift(int(a))

    def _shift(self, a: int) -> int:
        """What to add to a symbol: the KASLR offset for an image's symbol inside the image."""
        if self.types.runtime_symbols:
            return 0
        lo, hi = self.types.symbol("_text") or 0, self.types.symbol("_end") or 0
        return self.kaslr if lo <= a <= hi else 0

    # -- memory
    def _ptr(self, a: int) -> int:
        return int(self.mem.ptr(a))

    def _list(self, head: int) -> list[int]:
        """The nodes of the list_head at ``head`` (next at offset 0), without the head."""
        out: list[int] = []
        seen = {head}
        p = self._ptr(head)
        while p not in seen:
            if p == 0 or len(out) >= MAX_TASKS:
                raise DumpError(f"Cannot list tasks: the list at {head:#x} is broken", self.ctx.name)
            seen.add(p)
            out.append(p)
            p = self._ptr(p)
        return out

    def _percpu(self, name: str, cpu: int) -> int:
        """The address of CPU ``cpu``'s copy of per-CPU variable ``name``."""
        offsets = self._symbol("__per_cpu_offset")
        return self._symbol(name) + self._ptr(offsets + self.mem.ptr_size * cpu)

    # -- tasks
    def tasks(self) -> list[Task]:
        init = self._symbol("init_task")
        order: list[int] = []
        seen: set[int] = set()

        def add(t: int) -> None:
            if t not in seen:
                seen.add(t)
                order.append(t)

        for leader in [init] + [n - self.off["tasks"] for n in self._list(init + self.off["tasks"])]:
            add(leader)
            sig = self._ptr(leader + self.off["signal"])
            if sig:
                for n in self._list(sig + self.thread_head):
                    add(n - self.off["thread_node"])
        running: dict[int, int] = {}
        rq = self.types.struct("rq")
        if rq is not None and self.types.symbol("runqueues") is not None:
            curr, idle = self._member(rq, "curr", "rq"), self._member(rq, "idle", "rq")
            for cpu in sorted(self.cpu_regs):
                try:
                    base = self._percpu("runqueues", cpu)
                    running[self._ptr(base + curr)] = cpu
                    add(self._ptr(base + idle))
                except DumpError:
                    continue
        return [self._task(t, running.get(t)) for t in order]

    def _task(self, t: int, cpu: int | None) -> Task:
        o = self.off
        raw = self.mem.read(t + o["comm"], 16)
        pid = int.from_bytes(self.mem.read(t + o["pid"], 4), self.mem.byte_order, signed=True)
        tgid = int.from_bytes(self.mem.read(t + o["tgid"], 4), self.mem.byte_order, signed=True)
        state = self.mem.u32(t + self.state_off) if self.state_off is not None else 0
        regs = self._running_regs(cpu) if cpu is not None else self._saved_regs(t)
        return Task(t, pid, tgid, raw.split(b"\0", 1)[0].decode("utf-8", "replace"), state, cpu, regs)

    def _running_regs(self, cpu: int) -> dict[str, int]:
        return dict(self.cpu_regs.get(cpu, {}))

    def _saved_regs(self, t: int) -> dict[str, int]:
        thread = self.types.member(self.ts, "thread")
        try:
            if self.arch == "x86_64":
                sp = self._ptr(t + self.off["thread"] + self._member(thread[1], "sp", "thread_struct"))
                frame = self._struct("inactive_task_frame")
                regs = {}
                for name, key in (("r15", "r15"), ("r14", "r14"), ("r13", "r13"), ("r12", "r12"), ("bx", "rbx"),
                                  ("bp", "rbp")):
                    regs[key] = self._ptr(sp + self._member(frame, name, "inactive_task_frame"))
                regs["rip"] = self._ptr(sp + self._member(frame, "ret_addr", "inactive_task_frame"))
                regs["rsp"] = sp + frame.size  # where the switch returns to, its frame popped
                return regs
            if self.arch == "aarch64":
                ctxo = self.off["thread"] + self._member(thread[1], "cpu_context", "thread_struct")
                cc = self._struct("cpu_context")
                regs = {f"x{i}": self._ptr(t + ctxo + self._member(cc, f"x{i}", "cpu_context"))
                        for i in range(19, 29)}
                regs["x29"] = self._ptr(t + ctxo + self._member(cc, "fp", "cpu_context"))
                regs["sp"] = self._ptr(t + ctxo + self._member(cc, "sp", "cpu_context"))
                regs["pc"] = regs["x30"] = self._ptr(t + ctxo + self._member(cc, "pc", "cpu_context"))
                return regs
        except DumpError:
            return {}
        return {}


THREAD_SIZE = {"x86_64": 16384}  # a kernel stack (no KASAN); its user registers are at its top
# struct pt_regs members -> gdb's names (x86_64)
_PT_REGS = {"bp": "rbp", "bx": "rbx", "ax": "rax", "cx": "rcx", "dx": "rdx", "si": "rsi", "di": "rdi",
            "ip": "rip", "flags": "rflags", "sp": "rsp", "orig_ax": "orig_rax"}


def user_view(kt: KernelTasks, tgid: int) -> tuple[list[Task], int]:
    """The threads of process ``tgid`` with their user registers (from the ``struct pt_regs`` at
    the top of each one's kernel stack), and the physical address of its page tables
    (``mm->pgd``).  x86_64 only for now.

    :raises DumpError: no such process, a kernel thread (no mm), or another architecture.
    """
    if kt.arch not in THREAD_SIZE:
        raise DumpError(f"--pid: the process view is for x86_64 only yet, not {kt.arch}", kt.ctx.name)
    threads = [t for t in kt.tasks() if t.tgid == tgid]
    if not threads:
        raise DumpError(f"--pid {tgid}: no such process in the dump", kt.ctx.name)
    mm = kt._ptr(threads[0].addr + kt.off["mm"])
    if not mm:
        raise DumpError(f"--pid {tgid}: a kernel thread, it has no address space of its own", kt.ctx.name)
    mms = kt._struct("mm_struct")
    pgd = kt.mem.vtop(kt._ptr(mm + kt._member(mms, "pgd", "mm_struct")))
    pr = kt._struct("pt_regs")
    names = [m for m in ("r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si",
                         "di", "orig_ax", "ip", "cs", "flags", "sp", "ss") if kt.types.member(pr, m) is not None]
    out = []
    for t in threads:
        top = kt._ptr(t.addr + kt.off["stack"]) + THREAD_SIZE[kt.arch] - pr.size
        regs = {_PT_REGS.get(m, m): kt._ptr(top + kt._member(pr, m, "pt_regs")) for m in names}
        out.append(t._replace(regs=regs))
    return out, pgd


# the task state bits ps shows, in its order: TASK_INTERRUPTIBLE S, TASK_UNINTERRUPTIBLE D,
# __TASK_STOPPED T, __TASK_TRACED t, EXIT_DEAD X, EXIT_ZOMBIE Z, TASK_PARKED P
_BITS = ((0x1, "S"), (0x2, "D"), (0x4, "T"), (0x8, "t"), (0x10, "X"), (0x20, "Z"), (0x40, "P"))
TASK_IDLE = 0x402  # TASK_UNINTERRUPTIBLE | TASK_NOLOAD


def state_name(state: int) -> str:
    """ps's letter of a task state: R (0), I (an idle kernel thread), else its first bit's."""
    if state == 0:
        return "R"
    if state & TASK_IDLE == TASK_IDLE:
        return "I"
    for bit, c in _BITS:
        if state & bit:
            return c
    return "?"


def ps_text(tasks: list[Task]) -> str:
    lines = ["    PID   TGID  CPU ST TASK               COMM"]
    for t in tasks:
        cpu = f"{t.cpu:>4}" if t.cpu is not None else "   -"
        lines.append(f"{t.pid:>7} {t.tgid:>6} {cpu} {state_name(t.state):>2} {t.addr:#018x} {t.comm}")
    return "\n".join(lines) + "\n"


__all__ = ["KernelTasks", "Task", "ps_text", "state_name", "user_view"]
