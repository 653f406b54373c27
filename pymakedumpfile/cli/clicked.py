"""The command line read by click: --help, mistakes (one line each), and any command line
``options.quick_parse`` leaves to it; and the ``gdbserver`` subcommand. Imported only then."""

from __future__ import annotations

from collections.abc import Sequence

import click

from ..core.errors import UsageError
from ..core.hints import Any
from ..translate import support as _arch_support
from . import _say_error, run
from .messages import PROG
from .options import makedumpfile_options

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
    run(o)


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


# click 8.2+ raises this for a bare command line; older releases (Python 3.9's) have no such class
_NO_ARGS_IS_HELP: type[Exception] | tuple[()] = getattr(click.exceptions, "NoArgsIsHelpError", ())


def click_main(args: Sequence[str]) -> int:
    """Read ARGS with click and run them; click's own errors are one line and exit 1. The rest
    (a DumpError, an interrupt) goes to the caller, ``cli.main``."""
    cmd, name = command, PROG
    if args[:1] == ["gdbserver"]:  # a subcommand: makedumpfile's command line has none
        cmd, name, args = gdbserver_command, f"{PROG} gdbserver", args[1:]
    try:
        cmd.main(args=list(args), prog_name=name, standalone_mode=False)
    except _NO_ARGS_IS_HELP as e:
        _say_error(e.format_message() if hasattr(e, "format_message") else str(e), prefix=False)
        return 1
    except click.UsageError as e:
        _say_error(f"{e.format_message()}\nTry `{name} --help' for more information.")
        return 1
    except click.exceptions.Abort:
        _say_error("interrupted")
        return 1
    return 0
