"""Command line: a drop-in for makedumpfile's syntax.

The package knows options, messages and exit codes, nothing about formats: ``options`` declares
makedumpfile's options and parses their values, ``modes`` has one function per mode (convert,
-F, --split, --reassemble, -R, --dump-dmesg, --mem-usage, --info, -g), each calling the layers
below (input, filter, output, tools); ``messages`` and ``report`` say what happened.

Exit codes are makedumpfile's: 0 success, 1 failure.

A plain command line is read by ``options.quick_parse``; click (``cli.clicked``) reads the others
and writes --help.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from .. import __version__, accel, codecs
from ..core.errors import DumpError, UsageError
from ..core.hints import Callable
from . import modes
from .messages import DEFAULT_MESSAGE_LEVEL, ML_DEBUG, ML_ERROR, ML_REPORT, PROG, Messages
from .options import NOT_YET, Run, c_atoi, inexact_levels, parse_levels, parse_size, quick_parse
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


def run(o: modes.Options) -> None:
    """Run the command line's options (``options.quick_parse``'s or click's keyword arguments)."""
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


_MSG: Messages | None = None  # the run's messages, once the options are read
_CLOSED = Closed()  # the standard descriptors closed at start (entry() fills them)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code. Errors are one line, no traceback."""
    global _MSG
    _MSG = None
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        o = quick_parse(args) if args[:1] != ["gdbserver"] else None
        if o is None:
            from .clicked import click_main

            return click_main(args)
        run(o)
    except KeyboardInterrupt:
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
