"""gdb on the real 6.1 dumps through `pymakedumpfile gdbserver --stdio`, with the kernel's -dbg
vmlinux: the kdump file makedumpfile wrote in the crash kernel after the real panic, and our
kdump and ELF outputs of the /proc/vmcore of that panic.

What gdb prints is compared with what the dump holds, read without gdb: the CPUs are the
PRSTATUS notes binutils' readelf lists, the release is the one the rig booted, and the bytes
of init_task are the ones our Python API reads.  The panic is the rig's `echo c >
/proc/sysrq-trigger`, so the panicking CPU's stack goes through sysrq_handle_crash whatever
the guest did before."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from needs import need_tool
from util import run_cli

from pymakedumpfile import open_dump


def gdb(gdb_bin: str, vmlinux: Path, dump: Path, *commands: str, check: bool = True, tasks: bool = False,
        pid: int | None = None, env_prefix: str = "") -> str:
    """gdb's output (standard output and error) of ``commands`` on ``dump``; ``check``: it
    must exit 0 (gdb -batch exits 1 when a command failed); ``tasks``, ``pid``: that view."""
    view = " --tasks" if tasks else f" --pid {pid}" if pid is not None else ""
    args = [gdb_bin, "-nx", "-batch", "-ex", "set pagination off", "-ex",
            f"target remote | {env_prefix}{sys.executable} -m pymakedumpfile gdbserver{view} --stdio {dump}"]
    for c in commands:
        args += ["-ex", c]
    p = subprocess.run([*args, str(vmlinux)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0 or not check, p.stderr[-3000:]
    return p.stdout + p.stderr


@pytest.fixture(scope="module")
def gdb_bin() -> str:
    return need_tool("gdb")


@pytest.fixture(scope="module")
def dumps(mem512: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("gdb")
    src = mem512 / "vmcore.elf"
    out = {"makedumpfile's kdump": mem512 / "capture-out" / "dumpfile-l-d31", "our kdump": d / "ours.l",
           "our ELF": d / "ours.elf"}
    if not out["makedumpfile's kdump"].exists():
        pytest.skip(f"no kdump file of the real panic in {mem512 / 'capture-out'} (tests/rig/make-dumps.sh)")
    run_cli("-l", "-d", "31", "--message-level", "0", str(src), str(out["our kdump"]), timeout=600)
    run_cli("-E", "-d", "31", "--message-level", "0", str(src), str(out["our ELF"]), timeout=600)
    return out


def prstatus_notes(vmcore: Path) -> int:
    p = subprocess.run(["readelf", "-nW", str(vmcore)], capture_output=True, text=True, check=True)
    return len(re.findall(r"NT_PRSTATUS", p.stdout))


@pytest.mark.parametrize("which", ["makedumpfile's kdump", "our kdump", "our ELF"])
def test_gdb_sees_the_crash(which: str, dumps: dict[str, Path], mem512: Path, vmlinux: Path, release: str,
                            gdb_bin: str) -> None:
    dump = dumps[which]
    out = gdb(gdb_bin, vmlinux, dump, "info threads", "bt", "p init_uts_ns.name.release", "x/32xg &init_task")
    threads = re.findall(r"^\*?\s+(\d+)\s+Thread \d+ \(CPU (\d+)", out, re.M)
    n = prstatus_notes(mem512 / "vmcore.elf")
    assert n >= 1 and len(threads) == n, out[-3000:]
    assert re.search(r"^\*\s+1\s+Thread \d+ \(CPU \d+ \(panic\)", out, re.M), out[-3000:]  # the current one
    bt = out[out.index("#0") :]
    assert re.search(r"^#\d+ .*sysrq_handle_crash", bt, re.M), out[-3000:]
    assert re.search(rf'^\$1 = "{re.escape(release)}"', out, re.M), out[-3000:]
    rows = re.findall(r"^(0x[0-9a-f]+) <init_task(?:\+\d+)?>:\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)$", out, re.M)
    assert len(rows) == 16, out[-3000:]
    values = [int(v, 16) for _, a, b in rows for v in (a, b)]
    with open_dump(dump) as ctx:
        raw = ctx.read_virt(int(rows[0][0], 16), 256)
    assert values == [int.from_bytes(raw[i : i + 8], "little") for i in range(0, 256, 8)]


def test_an_excluded_page_cannot_be_read(dumps: dict[str, Path], mem512: Path, vmlinux: Path, gdb_bin: str) -> None:
    """A page the -d 31 file left out (a free or user page of RAM) is "Cannot access memory"
    to gdb, where the unfiltered vmcore gives its bytes."""
    with open_dump(dumps["our kdump"]) as out, open_dump(mem512 / "vmcore.elf") as full:
        pfn = next(p for p in range(0x10000, full.max_pfn) if full.is_stored(p) and not out.is_stored(p))
    expr = f"x/2xg (char *)page_offset_base + {pfn * 4096:#x}"
    cut = gdb(gdb_bin, vmlinux, dumps["our kdump"], expr, check=False)
    assert re.search(r"Cannot access memory at address 0x[0-9a-f]+", cut), cut[-2000:]
    whole = gdb(gdb_bin, vmlinux, mem512 / "vmcore.elf", expr)
    assert "Cannot access memory" not in whole and re.search(r"^0x[0-9a-f]+:\s+0x[0-9a-f]+", whole, re.M), whole


def test_arm64(tmp_path: Path) -> None:
    """The real arm64 panic (bookworm's kernel, KASLR, pointer authentication), the vmcore and
    our kdump output of it: a thread per CPU, the release, init_task's bytes, and the
    panicking CPU's stack down to sysrq_handle_crash.  The stack needs gdb 14 or later, which
    strips a kernel return address's authentication code with the pauth_v2 masks we give:
    sid's gdb-multiarch, which the rig unpacks (Debian 12's gdb 13 stops after __crash_kexec,
    checked here too)."""
    from test_arm64_real import BOOKWORM
    from util import RIG, need

    gdb13 = need_tool("gdb-multiarch")
    gdb_sid = RIG / "gdb-sid" / "gdb-multiarch"
    need(gdb_sid.exists(), f"no sid gdb-multiarch in {gdb_sid.parent} (tests/rig/make-dumps.sh unpacks it)")
    kpkg = (BOOKWORM / "kernel" / "KPKG").read_text().strip() if (BOOKWORM / "kernel" / "KPKG").exists() else ""
    vmlinux = BOOKWORM / "dbg/usr/lib/debug/boot" / f"vmlinux-{kpkg.removeprefix('linux-image-')}"
    src = BOOKWORM / "dumps" / "mem512" / "vmcore.elf"
    need(bool(kpkg) and vmlinux.exists() and src.exists(), f"no arm64 dump and debug vmlinux in {BOOKWORM}")
    ours = tmp_path / "ours.l"
    run_cli("-l", "-d", "31", "--message-level", "0", str(src), str(ours), timeout=600)
    with open_dump(src) as ctx:
        release = ctx.reader.vmcoreinfo.osrelease
    for dump in (src, ours):
        # the wrapper's PYTHONHOME (sid's Python for gdb) must not reach our server
        out = gdb(str(gdb_sid), vmlinux, dump, "info threads", "bt", "p init_uts_ns.name.release", "x/32xg &init_task",
                  env_prefix="env -u PYTHONHOME ")
        assert len(re.findall(r"^\*?\s+\d+\s+Thread \d+ \(CPU \d+", out, re.M)) == prstatus_notes(src), out[-3000:]
        bt = out[out.index("#0") :]
        assert re.search(r"^#\d+ .*sysrq_handle_crash", bt, re.M), out[-3000:]
        assert re.search(rf'^\$1 = "{re.escape(str(release))}"', out, re.M), out[-3000:]
        rows = re.findall(r"^(0x[0-9a-f]+) <init_task(?:\+\d+)?>:\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)$", out, re.M)
        assert len(rows) == 16, out[-3000:]
        with open_dump(dump) as ctx:
            raw = ctx.read_virt(int(rows[0][0], 16), 256)
        assert [int(v, 16) for _, a, b in rows for v in (a, b)] == [int.from_bytes(raw[i : i + 8], "little")
                                                                   for i in range(0, 256, 8)]
    old = gdb(gdb13, vmlinux, src, "bt")
    assert re.search(r"^#1\s+.*__crash_kexec", old, re.M) and "sysrq_handle_crash" not in old, old[-3000:]


def drgn_tasks(vmcore: Path, vmlinux: Path) -> list[tuple[int, str]]:
    """(pid, comm) of every task drgn's own core-dump reader finds (for_each_task: the pid
    namespace, so not the idle tasks, whose pid is 0)."""
    from util import need

    try:
        import drgn
        from drgn.helpers.linux.pid import for_each_task
    except ImportError:
        need(False, "drgn is not installed (pip install drgn)")
    prog = drgn.Program()
    prog.set_core_dump(str(vmcore))
    prog.load_debug_info([str(vmlinux)])
    return sorted((int(t.pid), t.comm.string_().decode()) for t in for_each_task(prog))


def test_tasks_view(mem512: Path, vmlinux: Path, gdb_bin: str) -> None:
    """--tasks: a thread per task, named `pid N "comm"`: the tasks drgn finds, and one idle
    task (pid 0) per CPU.  A sleeping kernel thread's stack, from the frame its last context
    switch saved, goes through schedule(); the panicking task is the current thread."""
    src = mem512 / "vmcore.elf"
    theirs = drgn_tasks(src, vmlinux)
    out = gdb(gdb_bin, vmlinux, src, "info threads", tasks=True)
    rows = re.findall(r'^\*?\s+(\d+)\s+Thread \d+ \(pid (\d+) "([^"]*)"', out, re.M)
    ours = sorted((int(p), c) for _, p, c in rows if p != "0")
    assert ours == theirs and len(theirs) > 20, out[-3000:]
    assert len([r for r in rows if r[1] == "0"]) == prstatus_notes(src)
    assert "sysrq_handle_crash" in gdb(gdb_bin, vmlinux, src, "bt")  # the kernel view's current thread
    sleeping = next(n for n, p, c in rows if c == "kthreadd")  # waits for work in schedule()
    bt = gdb(gdb_bin, vmlinux, src, f"thread {sleeping}", "bt", tasks=True)
    frames = re.findall(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\w+)", bt[bt.index("#0") :], re.M)
    assert "schedule" in frames and frames.index("schedule") < 4 and "kthreadd" in frames, bt[-3000:]
    assert re.search(r'^\*\s+1\s+Thread \d+ \(pid \d+ "[^"]*" \(CPU \d+, panic\)\)', out, re.M), out[-3000:]


def test_process_view(mem512: Path, vmlinux: Path, gdb_bin: str, tmp_path: Path) -> None:
    """--pid 1 on the unfiltered dump: PID 1's address space through its own page tables, and
    its user registers.  The rig's PID 1 is its initramfs /init, a shell script: the kernel
    ran the script's interpreter with the script's path after it, so argv[0] and argv[1]
    (at mm->arg_start) are the #! line's program and "/init", read from the initramfs here."""
    src = mem512 / "vmcore.elf"
    initramfs = mem512.parents[1] / "initramfs.cpio.gz"
    if not initramfs.exists():
        pytest.skip(f"no rig initramfs {initramfs}")
    p = subprocess.run(f"zcat {initramfs} | cpio -i --quiet --to-stdout init", shell=True, capture_output=True,
                       check=True)
    interp = p.stdout.split(b"\n", 1)[0].removeprefix(b"#!").split()[0].decode()
    ps = gdb(gdb_bin, vmlinux, src, "monitor ps")
    task = re.search(r"^\s+1\s+1\s+\S+\s+\S+\s+(0x[0-9a-f]+) ", ps, re.M)
    assert task, ps[-2000:]
    out = gdb(gdb_bin, vmlinux, src, "info threads", "info registers cs ss",
              f"x/2s ((struct task_struct *){task.group(1)})->mm->arg_start", pid=1)
    assert re.search(r'^\*\s+1\s+Thread \d+ \(pid 1 "', out, re.M), out[-2000:]
    assert re.search(r"^cs\s+0x33\s", out, re.M) and re.search(r"^ss\s+0x2b\s", out, re.M), out  # user segments
    strings = re.findall(r'^0x[0-9a-f]+:\s+"([^"]*)"$', out, re.M)
    assert strings == [interp, "/init"], out[-2000:]


def test_drgn_reads_the_dump_through_us(dumps: dict[str, Path], vmlinux: Path, release: str) -> None:
    """drgn with our reader as its memory (tools/drgnprog.py): makedumpfile's kdump file and
    our ELF output give the release and the same tasks as drgn's own reader of the vmcore."""
    from util import need

    try:
        from drgn.helpers.linux.pid import for_each_task
    except ImportError:
        need(False, "drgn is not installed (pip install drgn)")
    from pymakedumpfile.tools.drgnprog import drgn_program

    for which in ("makedumpfile's kdump", "our ELF"):
        with open_dump(dumps[which]) as ctx:
            prog = drgn_program(ctx, str(vmlinux))
            assert prog["init_uts_ns"].name.release.string_().decode() == release == ctx.reader.vmcoreinfo.osrelease
            assert prog["init_task"].address_ == ctx.symbols["init_task"]
            n = len(list(for_each_task(prog)))
    assert n > 20


def test_panicking_cpu_without_panic_cpu(mem512: Path) -> None:
    """Where kallsyms lacks data symbols (Debian's arm64: no panic_cpu), the panicking CPU is the one
    whose saved pc is in the crash path; on x86_64, where panic_cpu can be read, both agree, and on
    arm64 it is the CPU whose task triggered the crash (the rig's init, pid 1), whichever it was."""
    from test_arm64_real import BOOKWORM

    from pymakedumpfile.tools.gdbserver import KernelTarget

    with open_dump(mem512 / "vmcore.elf") as ctx:
        t = KernelTarget(ctx)
        cpus = [{"cpu": k, "regs": v} for k, v in t.cpu_regs.items()]
        assert t._cpu_in_crash_path(cpus) == t._panic_cpu(len(cpus)) is not None
    src = BOOKWORM / "dumps" / "mem512" / "vmcore.elf"
    if src.exists():
        with open_dump(src) as ctx:
            t = KernelTarget(ctx)
            assert "panic_cpu" not in t.symbols
            first = t.threads[0]
            assert first.panic and first.pid == 1
