"""makedumpfile's options and arguments: their declarations, the parsing of their values, and
the settings every mode shares (:class:`Run`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from .messages import DEFAULT_MESSAGE_LEVEL, Messages
from .streams import Closed

# Options makedumpfile has that later work will implement: accepted by the
# parser, refused at run time with "not supported yet".
NOT_YET = {
    "extension": "--extension",
}

OPTIONS = [
    click.option("-c", "comp", flag_value="zlib", help="Compress each page with zlib."),
    click.option("-l", "comp", flag_value="lzo", help="Compress each page with LZO."),
    click.option("-p", "comp", flag_value="snappy", help="Compress each page with snappy."),
    click.option("-z", "comp", flag_value="zstd", help="Compress each page with zstd."),
    click.option("-E", "elf", is_flag=True, help="Write an ELF dump instead of kdump-compressed."),
    click.option("-d", "dump_level", default="0", metavar="DL[,DL...]",
                 help="Dump level 0-31 (sum of 1 zero, 2 cache, 4 cache+private, 8 user, 16 free); a list retries with "
                      "the next level."),
    click.option("-f", "force", is_flag=True, help="Overwrite DUMPFILE if it exists."),
    click.option("-F", "flatten", is_flag=True, help="Write the dump as a flattened stream to stdout (for a pipe)."),
    click.option("-R", "rearrange", is_flag=True, help="Rebuild DUMPFILE from a flattened stream on stdin."),
    click.option("-L", "limit", metavar="SIZE",
                 help="Stop at SIZE bytes (suffix K, M or G): the dump is marked incomplete, exit 1; with -d A,B retry "
                      "at level B."),
    click.option("-x", "vmlinux", metavar="VMLINUX",
                 help="Kernel image with debug information (DWARF): what the dump's VMCOREINFO lacks is taken from it; "
                      "with -g, its VMCOREINFO is written."),
    click.option("-i", "vmcoreinfo_in", metavar="VMCOREINFO",
                 help="Use this VMCOREINFO file (as makedumpfile -g writes) in place of the dump's own."),
    click.option("-g", "gen_vmcoreinfo", metavar="VMCOREINFO",
                 help="Write the VMCOREINFO of -x VMLINUX to this file, as makedumpfile -g does."),
    click.option("-b", "block_order", metavar="ORDER",
                 help="makedumpfile's write cache of 2^ORDER pages; accepted, we write in 4 MiB blocks."),
    click.option("-e", "exclude_vmemmap", is_flag=True,
                 help="Leave out the vmemmap pages that describe only excluded pages (x86_64)."),
    click.option("-X", "exclude_xen_dom", is_flag=True,
                 help="A Xen host's dump: keep only the hypervisor's and dom0's pages (dump level 0 or 1)."),
    click.option("-D", "debug", is_flag=True, help="Print debugging messages."),
    click.option("-v", "version", is_flag=True, help="Print the version and the codecs available."),
    click.option("--message-level", "message_level", default=str(DEFAULT_MESSAGE_LEVEL), metavar="ML",
                 show_default=True, help="Bits: 1 progress, 2 common, 4 error, 8 debug, 16 report."),
    click.option("--check-params", "check_params", is_flag=True, help="Only check the options and arguments."),
    click.option("--dry-run", "dry_run", is_flag=True, help="Do everything but write the dump file."),
    click.option("--num-threads", "num_threads", metavar="THREADNUM",
                 help="Threads compressing pages (default: the CPUs available)."),
    click.option("--info", "info", is_flag=True,
                 help="[pymakedumpfile] Describe DUMPFILE (format, header, kernel, pages per category) and exit."),
    click.option("--json", "as_json", is_flag=True,
                 help="[pymakedumpfile] With --info or --mem-usage: the report as JSON on stdout."),
    click.option("--stream-compress", "stream_compress", type=click.Choice(["zstd", "lz4"]),
                 help="[pymakedumpfile] Compress the whole output (with -E or -F); our readers and -R read it back "
                      "as it is."),
    click.option("--split", "split", is_flag=True,
                 help="VMCORE DUMPFILE1 DUMPFILE2...: split the dump over several files, written in parallel."),
    click.option("--reassemble", "reassemble", is_flag=True,
                 help="DUMPFILE1 DUMPFILE2... DUMPFILE: join a split dump into one file."),
    click.option("--splitblock-size", "splitblock_size", metavar="KB",
                 help="Granularity of --split, in KB (default 1 GiB)."),
    click.option("--cyclic-buffer", "cyclic_buffer", metavar="KB",
                 help="makedumpfile's bitmap buffer per cycle; accepted: we keep the page map a cycle (4 GiB of "
                      "memory) at a time, compressed, whatever the value."),
    click.option("--work-dir", "work_dir", metavar="DIR",
                 help="makedumpfile's place for bitmap files; accepted, we keep bitmaps in memory (DIR must exist)."),
    click.option("--ignore-read-errors", "ignore_read_errors", is_flag=True,
                 help="[pymakedumpfile] Pages VMCORE cannot give (I/O errors, corrupt or lost pages) are excluded and "
                      "reported in any case; with this option that still exits 0."),
    click.option("--non-mmap", "non_mmap", is_flag=True,
                 help="Read VMCORE with read(2), not mmap; we always use pread."),
    click.option("--config", "config", metavar="FILTERCONFIGFILE",
                 help="Erase what this filter configuration names (makedumpfile.conf(5)): symbols and types from "
                      "-x VMLINUX, or from the dump's kallsyms and BTF (docs/erase.md)."),
    click.option("--btf", "btf", metavar="PATH",
                 help="[pymakedumpfile] With --config: the kernel's types from this BTF file (/sys/kernel/btf/vmlinux "
                      "saved, or an ELF file's .BTF), or a directory saved from /sys/kernel/btf (modules too)."),
    click.option("--eppic", "eppic", metavar="EPPICMACRO",
                 help="Filter by an eppic macro. [not supported: use --filter-hook]"),
    click.option("--filter-hook", "filter_hook", metavar="PYFILE",
                 help="With --config: a Python file whose erase(obj) decides, for each object the configuration "
                      "names, whether it is erased (docs/erase.md)."),
    click.option("--dump-dmesg", "dump_dmesg", is_flag=True,
                 help="VMCORE LOGFILE: write the kernel log of VMCORE (any format we read)."),
    click.option("--partial-dmesg", "partial_dmesg", is_flag=True,
                 help="With --dump-dmesg: only the log since it was last cleared."),
    click.option("--no-caller-id", "no_caller_id", is_flag=True,
                 help="[pymakedumpfile] With --dump-dmesg: leave out the [T<pid>]/[C<cpu>] fields (as makedumpfile "
                      "before 1.7.5)."),
    click.option("--mem-usage", "mem_usage", is_flag=True,
                 help="/proc/kcore: print the pages of the running system per category, as dump level 31 would filter "
                      "them (to stdout)."),
    click.option("--vtop", "vtop", metavar="VADDR",
                 help="Print the translation of a kernel virtual address (with VMCORE alone, only that)."),
    click.option("--show-stats", "show_stats", is_flag=True,
                 help="Print the report (pages excluded per category), as --message-level bit 16."),
    click.option("--xen-syms", "xen_syms", metavar="XEN-SYMS",
                 help="-X, -g: the hypervisor's symbols and debug information (xen-syms), in place of its VMCOREINFO."),
    click.option("--xen-vmcoreinfo", "xen_vmcoreinfo", metavar="VMCOREINFO",
                 help="-X: the hypervisor's VMCOREINFO (from -g --xen-syms), in place of the dump's."),
    click.option("--xen_phys_start", "xen_phys_start", metavar="XEN_PHYS_START_ADDRESS",
                 help="-X: the machine address of the hypervisor's image, for dumps that do not say it."),
    click.option("--diskset", "diskset", multiple=True, metavar="VMCORE",
                 help="A disk of a SADUMP disk set, disk 1 first (repeated for each disk; VMCORE is then left "
                      "out)."),
    click.option("--extension", "extension", metavar="ARG", help="[not supported yet]"),
    click.argument("args", nargs=-1, metavar="VMCORE DUMPFILE"),
]

F = TypeVar("F", bound=Callable[..., Any])


def makedumpfile_options(f: F) -> F:
    """Decorate a click command with all of makedumpfile's options and its arguments."""
    for deco in reversed(OPTIONS):
        f = deco(f)
    return f


def c_atoi(text: str) -> tuple[int, bool]:
    """C's ``atoi``, as makedumpfile reads most numbers: leading blanks, a sign, the digits up
    to the first other character; no digit gives 0.  Also says whether the text was exactly a
    decimal number (when not, the user may have meant something else: worth a warning)."""
    t = text.lstrip(" \t\n\v\f\r")
    i = 1 if t[:1] in ("+", "-") else 0
    j = i
    while j < len(t) and t[j].isdigit() and t[j].isascii():
        j += 1
    value = int(t[:j]) if j > i else 0
    return value, j > i and j == len(t)


def parse_size(text: str) -> int | None:
    """makedumpfile's -L SIZE (its ``memparse``): a C number (decimal, 0x hex, leading-0 octal)
    and at most one suffix K, M, G, T, P or E in either case.  0 and anything else are invalid
    (None); -1 means no limit (returned as -1)."""
    t = text.strip()
    m = re.fullmatch(r"([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([kKmMgGtTpPeE]?)", t)
    if m is None:
        return None
    sign, digits, suffix = m.groups()
    base = 16 if digits[:2].lower() == "0x" else 8 if digits.startswith("0") and len(digits) > 1 else 10
    value = int(digits, base) << (10 * (" KMGTPE".index(suffix.upper()) if suffix else 0))
    if sign == "-":
        value = -value
    if value == -1:
        return -1
    value %= 1 << 64  # strtoull wraps a negative number
    return value or None


def parse_levels(text: str) -> list[int] | str:
    """-d DL[,DL...] as makedumpfile reads it: each comma-separated item by ``atoi`` (so "abc"
    and "0x1f" are 0), empty items skipped.  The levels, or the text to name in the error: the
    first level out of 0-31, or all of it when there are more than 32 items."""
    items = [x for x in text.split(",") if x]
    if len(items) > 32:
        return text
    levels = [c_atoi(x)[0] for x in items] or [0]
    for lv in levels:
        if not 0 <= lv <= 31:
            return str(lv)
    return levels


def inexact_levels(text: str) -> list[str]:
    """The items of -d that were not plain decimal numbers (read as makedumpfile reads them)."""
    return [x for x in text.split(",") if x and not c_atoi(x)[1]]


@dataclass
class Run:
    """What every mode needs besides its own arguments: where messages go and the options
    that change how any input is opened or any output written."""

    msg: Messages
    force: bool = False
    threads: int | None = None
    vmcoreinfo: bytes | None = None  # -i
    vmlinux: str | None = None  # -x
    config: Any = None  # --config, parsed (filter.config.Config)
    filter_hook: Any = None  # --filter-hook: erase(obj) of the file
    btf: str | None = None  # --btf: where the kernel's types are, for --config
    ignore_read_errors: bool = False  # --ignore-read-errors
    closed: Closed = Closed()  # standard descriptors closed at start

    def open_input(self, paths: Any) -> Any:
        """Open the input dump, with the -i VMCOREINFO (applied as makedumpfile does) and -x
        VMLINUX if given."""
        from ..input import open_dump

        ctx = open_dump(paths, vmcoreinfo=self.vmcoreinfo, vmlinux=self.vmlinux, merge=True)
        for a, b in ctx.attr.get("file.set.missing", ()):
            self.msg.warn(f"{ctx.name}: pfns {a:#x}-{b:#x} are in no file of the split set given: "
                          "they read as excluded")
        return ctx

    def erase_plan(self, src: Any) -> Any:
        """The objects --config names in the input ``src`` (None without --config); says what
        it found."""
        if self.config is None:
            return None
        from ..filter.erase import plan_erase

        plan = plan_erase(src, self.config, self.vmlinux, hook=self.filter_hook, btf_path=self.btf)
        for w in plan.warnings:
            self.msg.warn(w)
        return plan
