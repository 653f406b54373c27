"""Command line: a drop-in for makedumpfile's syntax.

The package knows options, messages and exit codes, nothing about formats: ``options`` declares
makedumpfile's options and parses their values, ``modes`` has one function per mode (convert,
-F, --split, --reassemble, -R, --dump-dmesg, --mem-usage, --info, -g), each calling the layers
below (input, filter, output, tools); ``messages`` and ``report`` say what happened.

Exit codes are makedumpfile's: 0 success, 1 failure.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, Callable

import click

from .. import __version__, accel, codecs
from ..core.errors import DumpError, UsageError
from ..translate import support as _arch_support
from . import modes
from .messages import DEFAULT_MESSAGE_LEVEL, ML_DEBUG, ML_ERROR, ML_REPORT, PROG, Messages
from .options import NOT_YET, Run, c_atoi, inexact_levels, makedumpfile_options, parse_levels, parse_size
from .streams import Closed, SafeStream, guard

# the modes an option selects, in the order they are looked for; without one, VMCORE DUMPFILE
MODES: list[tuple[str, Callable[[Run, modes.Options], None]]] = [
    ("dump_dmesg", modes.dump_dmesg),
    ("mem_usage", modes.mem_usage),
    ("info", modes.info),
    ("rearrange", modes.rearrange),
    ("reassemble", modes.reassemble),
    ("split", modes.split),
    ("flatten", modes.flatten),
]


def _version_text() -> str:
    av = codecs.available()
    lines = [f"{PROG}: version {__version__} (accel: {accel.BACKEND})"]
    for name in ("lzo", "snappy", "zstd"):
        lines.append(f"{name}\t{'enabled' if av[name] else 'disabled'}")
    return "\n".join(lines) + "\n"


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# --help: a string, not the docstring, so that it stays in the crash kernel's copy (compiled without
# docstrings)
HELP = """Make a small dumpfile of kdump (makedumpfile-compatible).

\b
Creating DUMPFILE:
  pymakedumpfile [-c|-l|-p|-z|-E] [-d DL] [-x VMLINUX|-i VMCOREINFO] VMCORE DUMPFILE
Outputting the dump in the flattened format to standard output:
  pymakedumpfile -F [-c|-l|-p|-z|-E] [-d DL] [-x VMLINUX|-i VMCOREINFO] VMCORE
Rearranging a flattened stream on standard input into DUMPFILE:
  pymakedumpfile -R DUMPFILE
Splitting the dump over several files, written in parallel:
  pymakedumpfile --split [OPTION] [-x VMLINUX|-i VMCOREINFO] VMCORE DUMPFILE1 DUMPFILE2 [...]
Reassembling the files of a split dump:
  pymakedumpfile --reassemble DUMPFILE1 DUMPFILE2 [...] DUMPFILE
Generating VMCOREINFO:
  pymakedumpfile -g VMCOREINFO -x VMLINUX
Extracting the kernel log:
  pymakedumpfile --dump-dmesg [-x VMLINUX|-i VMCOREINFO] VMCORE LOGFILE
Pages of the running system per category:
  pymakedumpfile --mem-usage /proc/kcore
Describing a dump [pymakedumpfile]:
  pymakedumpfile --info [--json] DUMPFILE [DUMPFILE2 ...]
Serving a dump to gdb [pymakedumpfile]:
  pymakedumpfile gdbserver [--stdio | --listen HOST:PORT] [--tasks | --pid PID] [-x VMLINUX] DUMPFILE

Options marked [pymakedumpfile] are ours; makedumpfile does not have them.
Dumps of the architectures listed at the end are read and filtered on any host.
VMCORE may be an ELF or kdump-compressed dump (flattened, split, in a zstd or lz4 stream), or [pymakedumpfile] a
LiME or AVML image, a Xen domain dump or save image, an S390DUMP, z/VM VMDUMP, LKCD or SADUMP file, or a raw memory
image as FILE@ADDRESS: the kernel is found in their memory.
"""
HELP += "\n\b\n" + _arch_support.text()


@click.command(context_settings=CONTEXT_SETTINGS, no_args_is_help=False, help=HELP)
@makedumpfile_options
def command(**o: Any) -> None:
    """makedumpfile's command line (HELP is its --help text)."""
    global _MSG
    level, exact = c_atoi(o["message_level"])
    # with -F the dump goes to standard output: messages go to standard error
    msg = _MSG = Messages(DEFAULT_MESSAGE_LEVEL, data_on_stdout=bool(o["flatten"]))
    if not 0 <= level <= 31:
        msg.fail(f"Message_level({level}) is invalid.")
    if not exact:
        msg.warn(f"--message-level {o['message_level']}: read as {level}, as makedumpfile reads it")
    msg.level = level | (ML_DEBUG if o["debug"] else 0) | (ML_REPORT if o["show_stats"] else 0)
    if o["version"]:
        SafeStream("stdout").write(_version_text())
        return
    if o["eppic"] is not None:
        msg.fail("--eppic: eppic scripts do not run here; --config FILE with --filter-hook FILE.py decides in "
                 "Python what to erase (docs/erase.md)")
    for key, opt in NOT_YET.items():
        v = o.get(key)
        if v not in (None, False, (), 0):
            msg.fail(f"{opt}: not supported yet")
    if o["work_dir"] is not None and not os.path.isdir(o["work_dir"]):
        msg.fail(f"--work-dir {o['work_dir']}: not a directory")
    numbers(msg, o)
    run = Run(msg, force=o["force"], threads=o["num_threads"], ignore_read_errors=o["ignore_read_errors"],
              closed=_CLOSED)
    if o["diskset"]:
        if len(o["diskset"]) < 2:
            msg.fail("--diskset: a SADUMP disk set has two disks at least: give each with --diskset, disk 1 first")
        o["args"] = (list(o["diskset"]), *o["args"])  # VMCORE: the disks
    if o["gen_vmcoreinfo"] is not None:
        modes.gen_vmcoreinfo(run, o)
        return
    run.vmlinux = o["vmlinux"]
    if o["config"] is not None:
        # read first: a mistake in it is reported before anything is opened or written
        from ..filter.config import parse_config

        run.config = parse_config(o["config"])
    if o["btf"] is not None:
        if o["config"] is None:
            msg.fail("--btf is for --config: it gives the types of the objects the configuration names")
        if not os.path.exists(o["btf"]):
            msg.fail(f"--btf {o['btf']}: no such file or directory")
        run.btf = o["btf"]
    if o["filter_hook"] is not None:
        if o["config"] is None:
            msg.fail("--filter-hook needs --config: the hook decides about the objects the configuration names")
        from ..filter.erase import load_hook

        run.filter_hook = load_hook(o["filter_hook"])
    if o["vmcoreinfo_in"] is not None:
        try:
            with open(o["vmcoreinfo_in"], "rb") as f:
                run.vmcoreinfo = f.read(1 << 20)
        except OSError as e:
            msg.fail(f"{o['vmcoreinfo_in']}: Cannot read the VMCOREINFO file: {e.strerror}")
    o["limit_bytes"] = None
    if o["limit"] is not None:
        limit = parse_size(o["limit"])
        if limit is None:
            msg.fail(f"Limit size({o['limit']}) is invalid.")
        o["limit_bytes"] = None if limit == -1 else limit  # -1: no limit, as makedumpfile
    # a list (-d 11,31) names levels to retry with when the output does not
    # fit (-L, a full disk); until then the first level is the one used
    levels = parse_levels(o["dump_level"])
    if isinstance(levels, str):
        msg.fail(f"Dump_level({levels}) is invalid.")
    for item in inexact_levels(o["dump_level"]):
        msg.warn(f"-d {item}: read as {c_atoi(item)[0]}, as makedumpfile reads it")
    o["levels"] = levels
    if o["elf"] and o["comp"]:
        msg.fail("-E cannot be combined with -c, -l, -p or -z (ELF pages are not compressed).")
    if o["partial_dmesg"] and not o["dump_dmesg"]:
        msg.fail("--partial-dmesg needs --dump-dmesg.")
    for key, mode in MODES:
        if o[key]:
            mode(run, o)
            return
    modes.convert(run, o)


def numbers(msg: Messages, o: modes.Options) -> None:
    """-b, --num-threads, --cyclic-buffer and --splitblock-size read with C's atoi, as makedumpfile
    reads them (no error: a value that is not a plain number is said in a warning)."""
    for key, opt in (("block_order", "-b"), ("num_threads", "--num-threads"), ("cyclic_buffer", "--cyclic-buffer"),
                     ("splitblock_size", "--splitblock-size")):
        if o[key] is None:
            continue
        value, exact = c_atoi(o[key])
        if not exact:
            msg.warn(f"{opt} {o[key]}: read as {value}, as makedumpfile reads it")
        o[key] = value
    if o["num_threads"] is not None and o["num_threads"] <= 0:
        o["num_threads"] = None  # makedumpfile: 0 is no worker threads; ours: the default (all CPUs)
    if o["block_order"] is not None and not 0 <= o["block_order"] <= 20:
        msg.warn(f"-b {o['block_order']}: ignored (we write in 4 MiB blocks whatever the order)")
    if o["splitblock_size"] is not None and o["splitblock_size"] <= 0:
        o["splitblock_size"] = None  # makedumpfile: 0 is the default, 1 GiB
    if o["xen_phys_start"] is not None:
        t = o["xen_phys_start"].strip().lower()
        try:  # C's strtoul base 0: 0x hex, a leading 0 octal, else decimal
            o["xen_phys_start"] = int(t, 16 if t.startswith("0x") else 8 if t.startswith("0") and len(t) > 1 else 10)
        except ValueError:
            msg.fail(f"--xen_phys_start {o['xen_phys_start']}: not an address")
    if not o["exclude_xen_dom"] and o["gen_vmcoreinfo"] is None:
        for key, opt in (("xen_syms", "--xen-syms"), ("xen_vmcoreinfo", "--xen-vmcoreinfo"),
                         ("xen_phys_start", "--xen_phys_start")):
            if o[key] is not None:
                msg.warn(f"{opt}: ignored without -X")


# click 8.2+ raises this for a bare command line; older releases (Python 3.9's) have no such class
_NO_ARGS_IS_HELP: type[Exception] | tuple[()] = getattr(click.exceptions, "NoArgsIsHelpError", ())


_MSG: Messages | None = None  # the run's messages, once the options are read
_CLOSED = Closed()  # the standard descriptors closed at start (entry() fills them)


@click.command(context_settings=CONTEXT_SETTINGS, help="Serve DUMPFILE to gdb as a stopped, read-only target "
               "(docs/gdbserver.md): gdb -ex 'target remote | pymakedumpfile gdbserver --stdio DUMPFILE' VMLINUX")
@click.option("--stdio", is_flag=True, help="Talk to gdb on standard input and output (target remote | ...).")
@click.option("--listen", metavar="HOST:PORT", help="Listen for gdb there (default 127.0.0.1:1234, loopback only).")
@click.option("--tasks", is_flag=True, help="A thread per task of the kernel, with the registers it would resume with.")
@click.option("--pid", type=int, metavar="PID", help="Process PID's view: its address space and its threads' user "
              "registers (x86_64).")
@click.option("-x", "vmlinux", metavar="VMLINUX", help="Symbols and types from this kernel image (default: the dump's "
              "kallsyms and BTF).")
@click.argument("dumpfile", metavar="DUMPFILE")
def gdbserver_command(stdio: bool, listen: str | None, tasks: bool, pid: int | None, vmlinux: str | None,
                      dumpfile: str) -> None:
    try:
        from ..tools.gdbserver import run_gdbserver
    except ImportError:  # the crash kernel's initramfs leaves it out (dracut/99pymakedumpfile)
        raise UsageError("gdbserver is not installed here (the crash kernel's initramfs leaves it out)") from None

    if stdio and listen:
        raise click.UsageError("--stdio and --listen: one or the other")
    if tasks and pid is not None:
        raise click.UsageError("--tasks and --pid: one view or the other")
    run_gdbserver(dumpfile, listen, stdio, lambda text: _say_error(text, prefix=False), tasks=tasks, vmlinux=vmlinux,
                  pid=pid)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code. Errors are one line, no traceback."""
    global _MSG
    _MSG = None
    args = list(argv) if argv is not None else sys.argv[1:]
    cmd, name = command, PROG
    if args[:1] == ["gdbserver"]:  # a subcommand: makedumpfile's command line has none
        cmd, name, args = gdbserver_command, f"{PROG} gdbserver", args[1:]
    try:
        cmd.main(args=args, prog_name=name, standalone_mode=False)
    except _NO_ARGS_IS_HELP as e:
        _say_error(e.format_message() if hasattr(e, "format_message") else str(e), prefix=False)
        return 1
    except click.UsageError as e:
        _say_error(f"{e.format_message()}\nTry `{name} --help' for more information.")
        return 1
    except (click.exceptions.Abort, KeyboardInterrupt):
        _say_error("interrupted")
        return 1
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    except DumpError as e:
        _say_error(str(e))
        _messages().say(ML_ERROR, f"\n{PROG} Failed.")
        return int(getattr(e, "exit_code", 1))  # 2: a VMCOREINFO of another release (makedumpfile's)
    except MemoryError:
        _say_error("out of memory")
        return 1
    return 0


def _messages() -> Messages:
    return _MSG if _MSG is not None else Messages(DEFAULT_MESSAGE_LEVEL)


def _say_error(text: str, prefix: bool = True) -> None:
    """An error on standard error, whatever the message level (as before the options are read)."""
    SafeStream("stderr").write((f"{PROG}: " if prefix else "") + text + "\n")


def entry() -> None:
    global _CLOSED
    from .. import accel

    _CLOSED = guard()  # before any file is opened
    accel.tune_malloc()  # before any worker thread: flat memory over long runs
    sys.exit(main())


if __name__ == "__main__":
    entry()


__all__ = ["UsageError", "main"]
