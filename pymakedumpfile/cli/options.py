"""makedumpfile's options and arguments: their declarations, the parsing of the command line and
of the options' values, and the settings every mode shares (:class:`Run`).

The options are declared once (:data:`OPTIONS`), without click: click reads a command line from
them when it is needed (``--help``, a mistake, anything unusual), and :func:`quick_parse` reads
the plain command lines a capture runs with, without importing click (its import is a third of
the start-up). Both give the same keyword arguments (tests/unit/test_cli_parse.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ..core.hints import Any, TypeVar
from ..core.record import dataclass
from .messages import DEFAULT_MESSAGE_LEVEL, Messages
from .streams import Closed

# how an option takes its value
FLAG = "flag"  # no value: True when given
CONST = "const"  # no value: several options store their own constant under one name (-c/-l/-p/-z)
VALUE = "value"  # one value
CHOICE = "choice"  # one value out of choices
MULTI = "multi"  # one value, repeatable: a tuple of them


class Opt:
    """One of makedumpfile's options: its flag, the name its value is stored under, how it takes
    a value, and what --help says of it."""

    __slots__ = ("flag", "dest", "kind", "value", "default", "metavar", "help", "choices", "show_default")

    def __init__(self, flag: str, dest: str, kind: str, *, value: str | None = None, default: str | None = None,
                 metavar: str | None = None, help: str = "", choices: tuple[str, ...] = (),
                 show_default: bool = False) -> None:
        self.flag, self.dest, self.kind, self.value, self.default = flag, dest, kind, value, default
        self.metavar, self.help, self.choices, self.show_default = metavar, help, choices, show_default

    def unset(self) -> Any:
        """The value when the option is not given."""
        return {FLAG: False, MULTI: ()}.get(self.kind, self.default)

    def click_option(self) -> Callable[[Any], Any]:
        import click

        kw: dict[str, Any] = {"help": self.help}
        if self.kind == FLAG:
            kw["is_flag"] = True
        elif self.kind == CONST:
            kw["flag_value"] = self.value
        else:
            kw.update(default=self.default, metavar=self.metavar, show_default=self.show_default,
                      multiple=self.kind == MULTI)
            if self.kind == CHOICE:
                kw["type"] = click.Choice(list(self.choices))
        return click.option(self.flag, self.dest, **kw)


# Options makedumpfile has that later work will implement: accepted by the
# parser, refused at run time with "not supported yet".
NOT_YET = {
    "extension": "--extension",
}

OPTIONS = [
    Opt("-c", "comp", CONST, value="zlib", help="Compress each page with zlib."),
    Opt("-l", "comp", CONST, value="lzo", help="Compress each page with LZO."),
    Opt("-p", "comp", CONST, value="snappy", help="Compress each page with snappy."),
    Opt("-z", "comp", CONST, value="zstd", help="Compress each page with zstd."),
    Opt("-E", "elf", FLAG, help="Write an ELF dump instead of kdump-compressed."),
    Opt("-d", "dump_level", VALUE, default="0", metavar="DL[,DL...]",
        help="Dump level 0-31 (sum of 1 zero, 2 cache, 4 cache+private, 8 user, 16 free); a list retries with "
             "the next level."),
    Opt("-f", "force", FLAG, help="Overwrite DUMPFILE if it exists."),
    Opt("-F", "flatten", FLAG, help="Write the dump as a flattened stream to stdout (for a pipe)."),
    Opt("-R", "rearrange", FLAG, help="Rebuild DUMPFILE from a flattened stream on stdin."),
    Opt("-L", "limit", VALUE, metavar="SIZE",
        help="Stop at SIZE bytes (suffix K, M or G): the dump is marked incomplete, exit 1; with -d A,B retry "
             "at level B."),
    Opt("-x", "vmlinux", VALUE, metavar="VMLINUX",
        help="Kernel image with debug information (DWARF): what the dump's VMCOREINFO lacks is taken from it; "
             "with -g, its VMCOREINFO is written."),
    Opt("-i", "vmcoreinfo_in", VALUE, metavar="VMCOREINFO",
        help="Use this VMCOREINFO file (as makedumpfile -g writes) in place of the dump's own."),
    Opt("-g", "gen_vmcoreinfo", VALUE, metavar="VMCOREINFO",
        help="Write the VMCOREINFO of -x VMLINUX to this file, as makedumpfile -g does."),
    Opt("-b", "block_order", VALUE, metavar="ORDER",
        help="makedumpfile's write cache of 2^ORDER pages; accepted, we write in 4 MiB blocks."),
    Opt("-e", "exclude_vmemmap", FLAG, help="Leave out the vmemmap pages that describe only excluded pages (x86_64)."),
    Opt("-X", "exclude_xen_dom", FLAG,
        help="A Xen host's dump: keep only the hypervisor's and dom0's pages (dump level 0 or 1)."),
    Opt("-D", "debug", FLAG, help="Print debugging messages."),
    Opt("-v", "version", FLAG, help="Print the version and the codecs available."),
    Opt("--message-level", "message_level", VALUE, default=str(DEFAULT_MESSAGE_LEVEL), metavar="ML",
        show_default=True, help="Bits: 1 progress, 2 common, 4 error, 8 debug, 16 report."),
    Opt("--check-params", "check_params", FLAG, help="Only check the options and arguments."),
    Opt("--dry-run", "dry_run", FLAG, help="Do everything but write the dump file."),
    Opt("--num-threads", "num_threads", VALUE, metavar="THREADNUM",
        help="Threads compressing pages (default: the CPUs available)."),
    Opt("--info", "info", FLAG,
        help="[pymakedumpfile] Describe DUMPFILE (format, header, kernel, pages per category) and exit."),
    Opt("--json", "as_json", FLAG, help="[pymakedumpfile] With --info or --mem-usage: the report as JSON on stdout."),
    Opt("--stream-compress", "stream_compress", CHOICE, choices=("zstd", "lz4"),
        help="[pymakedumpfile] Compress the whole output (with -E or -F); our readers and -R read it back "
             "as it is."),
    Opt("--split", "split", FLAG,
        help="VMCORE DUMPFILE1 DUMPFILE2...: split the dump over several files, written in parallel."),
    Opt("--reassemble", "reassemble", FLAG, help="DUMPFILE1 DUMPFILE2... DUMPFILE: join a split dump into one file."),
    Opt("--splitblock-size", "splitblock_size", VALUE, metavar="KB",
        help="Granularity of --split, in KB (default 1 GiB)."),
    Opt("--cyclic-buffer", "cyclic_buffer", VALUE, metavar="KB",
        help="makedumpfile's bitmap buffer per cycle; accepted: we keep the page map a cycle (4 GiB of "
             "memory) at a time, compressed, whatever the value."),
    Opt("--work-dir", "work_dir", VALUE, metavar="DIR",
        help="makedumpfile's place for bitmap files; accepted, we keep bitmaps in memory (DIR must exist)."),
    Opt("--ignore-read-errors", "ignore_read_errors", FLAG,
        help="[pymakedumpfile] Pages VMCORE cannot give (I/O errors, corrupt or lost pages) are excluded and "
             "reported in any case; with this option that still exits 0."),
    Opt("--non-mmap", "non_mmap", FLAG, help="Read VMCORE with read(2), not mmap; we always use pread."),
    Opt("--config", "config", VALUE, metavar="FILTERCONFIGFILE",
        help="Erase what this filter configuration names (makedumpfile.conf(5)): symbols and types from "
             "-x VMLINUX, or from the dump's kallsyms and BTF (docs/erase.md)."),
    Opt("--btf", "btf", VALUE, metavar="PATH",
        help="[pymakedumpfile] With --config: the kernel's types from this BTF file (/sys/kernel/btf/vmlinux "
             "saved, or an ELF file's .BTF), or a directory saved from /sys/kernel/btf (modules too)."),
    Opt("--eppic", "eppic", VALUE, metavar="EPPICMACRO",
        help="Filter by an eppic macro. [not supported: use --filter-hook]"),
    Opt("--filter-hook", "filter_hook", VALUE, metavar="PYFILE",
        help="With --config: a Python file whose erase(obj) decides, for each object the configuration "
             "names, whether it is erased (docs/erase.md)."),
    Opt("--dump-dmesg", "dump_dmesg", FLAG,
        help="VMCORE LOGFILE: write the kernel log of VMCORE (any format we read)."),
    Opt("--partial-dmesg", "partial_dmesg", FLAG, help="With --dump-dmesg: only the log since it was last cleared."),
    Opt("--no-caller-id", "no_caller_id", FLAG,
        help="[pymakedumpfile] With --dump-dmesg: leave out the [T<pid>]/[C<cpu>] fields (as makedumpfile "
             "before 1.7.5)."),
    Opt("--mem-usage", "mem_usage", FLAG,
        help="/proc/kcore: print the pages of the running system per category, as dump level 31 would filter "
             "them (to stdout)."),
    Opt("--vtop", "vtop", VALUE, metavar="VADDR",
        help="Print the translation of a kernel virtual address (with VMCORE alone, only that)."),
    Opt("--show-stats", "show_stats", FLAG,
        help="Print the report (pages excluded per category), as --message-level bit 16."),
    Opt("--xen-syms", "xen_syms", VALUE, metavar="XEN-SYMS",
        help="-X, -g: the hypervisor's symbols and debug information (xen-syms), in place of its VMCOREINFO."),
    Opt("--xen-vmcoreinfo", "xen_vmcoreinfo", VALUE, metavar="VMCOREINFO",
        help="-X: the hypervisor's VMCOREINFO (from -g --xen-syms), in place of the dump's."),
    Opt("--xen_phys_start", "xen_phys_start", VALUE, metavar="XEN_PHYS_START_ADDRESS",
        help="-X: the machine address of the hypervisor's image, for dumps that do not say it."),
    Opt("--diskset", "diskset", MULTI, metavar="VMCORE",
        help="A disk of a SADUMP disk set, disk 1 first (repeated for each disk; VMCORE is then left "
             "out)."),
    Opt("--extension", "extension", VALUE, metavar="ARG", help="[not supported yet]"),
]

F = TypeVar("F", bound=Callable[..., Any])
BY_FLAG = {o.flag: o for o in OPTIONS}


def makedumpfile_options(f: F) -> F:
    """Decorate a click command with all of makedumpfile's options and its arguments."""
    import click

    f = click.argument("args", nargs=-1, metavar="VMCORE DUMPFILE")(f)
    for opt in reversed(OPTIONS):
        f = opt.click_option()(f)
    return f


def quick_parse(args: Sequence[str]) -> dict[str, Any] | None:
    """The keyword arguments click would give for this command line, or None when it is not one
    of the plain ones read here: options known by their flag (``-l``, ``-ld31``, ``-d 31``,
    ``--num-threads=2``, ``--num-threads 2``), each at most once but --diskset, anywhere among
    the arguments. Anything else, --help and every mistake included, is left to click."""
    o = {opt.dest: opt.unset() for opt in OPTIONS}
    given: set[str] = set()
    pos: list[str] = []
    i = 0

    def take(opt: Opt, value: Any = None) -> bool:
        """Store OPT's VALUE (an option without one: its own); False when click must decide."""
        if opt.kind in (FLAG, CONST):
            value = True if opt.kind == FLAG else opt.value
        if opt.kind == MULTI:
            o[opt.dest] += (value,)
            return True
        if opt.dest in given or (opt.kind == CHOICE and value not in opt.choices):
            return False
        given.add(opt.dest)
        o[opt.dest] = value
        return True

    while i < len(args):
        a = args[i]
        i += 1
        if a.startswith("--"):
            name, eq, value = a.partition("=")
            opt = BY_FLAG.get(name)
            if opt is None:
                return None  # --, --help, a mistake
            if opt.kind in (FLAG, CONST):
                if eq or not take(opt):
                    return None
                continue
            if not eq:
                if i == len(args):
                    return None
                value, i = args[i], i + 1
            if not take(opt, value):
                return None
        elif a.startswith("-") and len(a) > 1:
            for j in range(1, len(a)):  # -lF, -ld31, -d31, -d 31
                opt = BY_FLAG.get("-" + a[j])
                if opt is None:
                    return None  # -h, a mistake
                if opt.kind in (FLAG, CONST):
                    if not take(opt):
                        return None
                    continue
                if j + 1 < len(a):
                    value = a[j + 1 :]
                elif i < len(args):
                    value, i = args[i], i + 1
                else:
                    return None
                if not take(opt, value):
                    return None
                break
        else:
            pos.append(a)
    o["args"] = tuple(pos)
    return o


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
