"""Command line: a drop-in for makedumpfile's syntax.

This module knows options, messages and exit codes, nothing about formats:
it opens an input context, asks :mod:`pymakedumpfile.filter` for a write
context and hands it to :func:`pymakedumpfile.output.write_dump`.

Exit codes are makedumpfile's: 0 success, 1 failure.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from .. import __version__, accel, codecs
from ..core.errors import DumpError, UsageError
from ..output.interrupt import stop_on_signals

PROG = "pymakedumpfile"

# message-level bits, as makedumpfile's
ML_PROGRESS, ML_COMMON, ML_ERROR, ML_DEBUG, ML_REPORT = 1, 2, 4, 8, 16
DEFAULT_MESSAGE_LEVEL = ML_PROGRESS | ML_COMMON | ML_ERROR

# Options makedumpfile has that later work will implement: accepted by the
# parser, refused at run time with "not supported yet".
NOT_YET = {
    "config": "--config",
    "eppic": "--eppic",
    "exclude_vmemmap": "-e",
    "exclude_xen_dom": "-X",
    "xen_syms": "--xen-syms",
    "xen_vmcoreinfo": "--xen-vmcoreinfo",
    "xen_phys_start": "--xen_phys_start",
    "diskset": "--diskset",
    "extension": "--extension",
}


_VMCOREINFO: bytes | None = None  # -i
_IGNORE_READ_ERRORS = False  # --ignore-read-errors
_VMLINUX: str | None = None  # -x


def open_input(paths: Any) -> Any:
    """Open the input dump, with the -i VMCOREINFO if one was given."""
    from ..input import open_dump

    return open_dump(paths, vmcoreinfo=_VMCOREINFO, vmlinux=_VMLINUX)


class Messages:
    """makedumpfile-style messages on stderr, filtered by --message-level.
    stdout is never written: it is reserved for dump data (-F)."""

    def __init__(self, level: int) -> None:
        self.level = level
        self._last = 0.0

    def say(self, bit: int, text: str) -> None:
        if self.level & bit:
            print(text, file=sys.stderr, flush=True)

    def error(self, text: str) -> None:
        if self.level & ML_ERROR:
            print(f"{PROG}: {text}", file=sys.stderr, flush=True)

    def progress(self, what: str) -> Any:
        """A progress callback ``(done, total)``: a tqdm bar when stderr is a
        terminal, makedumpfile-style percentage lines (at most one a second)
        otherwise, nothing without message-level bit 1."""
        if not self.level & ML_PROGRESS:
            return None
        if sys.stderr.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                pass  # no bar: the percentage lines below
            else:
                bar: list[Any] = []

                def tick(done: int, total: int) -> None:
                    if not bar:
                        import shutil

                        cols = shutil.get_terminal_size((80, 24)).columns or 80  # a 0x0 pty: still draw
                        bar.append(tqdm(total=total, desc=what, unit="page", unit_scale=True, file=sys.stderr,
                                        leave=False, ncols=cols))
                    b = bar[0]
                    b.total = total
                    b.update(done - b.n)
                    if done >= total:
                        b.close()

                return tick

        def cb(done: int, total: int) -> None:
            now = time.monotonic()
            if done < total and now - self._last < 1.0:
                return
            self._last = now
            pct = 100.0 * done / total if total else 100.0
            print(f"{what:<50}: [{pct:5.1f} %]", file=sys.stderr, flush=True)

        return cb


def _version_text() -> str:
    av = codecs.available()
    lines = [f"{PROG}: version {__version__} (accel: {accel.BACKEND})"]
    for name in ("lzo", "snappy", "zstd"):
        lines.append(f"{name}\t{'enabled' if av[name] else 'disabled'}")
    return "\n".join(lines) + "\n"


def _fail(msg: Messages, text: str) -> NoReturn:
    msg.error(text)
    msg.say(ML_ERROR, f"\n{PROG} Failed.")
    sys.exit(1)


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.command(context_settings=CONTEXT_SETTINGS, no_args_is_help=False)
@click.option("-c", "comp", flag_value="zlib", help="Compress each page with zlib.")
@click.option("-l", "comp", flag_value="lzo", help="Compress each page with LZO.")
@click.option("-p", "comp", flag_value="snappy", help="Compress each page with snappy.")
@click.option("-z", "comp", flag_value="zstd", help="Compress each page with zstd.")
@click.option("-E", "elf", is_flag=True, help="Write an ELF dump instead of kdump-compressed.")
@click.option("-d", "dump_level", default="0", metavar="DL[,DL...]",
              help="Dump level 0-31 (sum of 1 zero, 2 cache, 4 cache+private, 8 user, 16 free); a list retries with "
                   "the next level.")
@click.option("-f", "force", is_flag=True, help="Overwrite DUMPFILE if it exists.")
@click.option("-F", "flatten", is_flag=True, help="Write the dump as a flattened stream to stdout (for a pipe).")
@click.option("-R", "rearrange", is_flag=True, help="Rebuild DUMPFILE from a flattened stream on stdin.")
@click.option("-L", "limit", metavar="SIZE",
              help="Stop at SIZE bytes (suffix K, M or G): the dump is marked incomplete, exit 1; with -d A,B retry "
                   "at level B.")
@click.option("-x", "vmlinux", metavar="VMLINUX",
              help="Kernel image with debug information (DWARF): what the dump's VMCOREINFO lacks is taken from it; "
                   "with -g, its VMCOREINFO is written.")
@click.option("-i", "vmcoreinfo_in", metavar="VMCOREINFO",
              help="Use this VMCOREINFO file (as makedumpfile -g writes) in place of the dump's own.")
@click.option("-g", "gen_vmcoreinfo", metavar="VMCOREINFO",
              help="Write the VMCOREINFO of -x VMLINUX to this file, as makedumpfile -g does.")
@click.option("-b", "block_order", type=click.IntRange(0, 20), metavar="ORDER",
              help="makedumpfile's write cache of 2^ORDER pages; accepted, we write in 4 MiB blocks.")
@click.option("-e", "exclude_vmemmap", is_flag=True, help="Exclude unused vmemmap. [not supported yet]")
@click.option("-X", "exclude_xen_dom", is_flag=True, help="Exclude Xen domain user pages. [not supported yet]")
@click.option("-D", "debug", is_flag=True, help="Print debugging messages.")
@click.option("-v", "version", is_flag=True, help="Print the version and the codecs available.")
@click.option("--message-level", "message_level", type=click.IntRange(0, 31), default=DEFAULT_MESSAGE_LEVEL,
              show_default=True, help="Bits: 1 progress, 2 common, 4 error, 8 debug, 16 report.")
@click.option("--check-params", "check_params", is_flag=True, help="Only check the options and arguments.")
@click.option("--dry-run", "dry_run", is_flag=True, help="Do everything but write the dump file.")
@click.option("--num-threads", "num_threads", type=click.IntRange(1, 1024),
              help="Threads compressing pages (default: the CPUs available).")
@click.option("--info", "info", is_flag=True,
              help="Describe DUMPFILE (format, header, kernel, pages per category) and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --info or --mem-usage: the report as JSON on stdout.")
@click.option("--stream-compress", "stream_compress", type=click.Choice(["zstd", "lz4"]),
              help="Compress the whole output (with -E or -F); our readers and -R read it back as it is.")
@click.option("--split", "split", is_flag=True,
              help="VMCORE DUMPFILE1 DUMPFILE2...: split the dump over several files, written in parallel.")
@click.option("--reassemble", "reassemble", is_flag=True,
              help="DUMPFILE1 DUMPFILE2... DUMPFILE: join a split dump into one file.")
@click.option("--splitblock-size", "splitblock_size", type=click.IntRange(1), metavar="KB",
              help="Granularity of --split, in KB (default 1 GiB).")
@click.option("--cyclic-buffer", "cyclic_buffer", type=click.IntRange(1), metavar="KB",
              help="makedumpfile's bitmap buffer per cycle; accepted, our bitmaps are one bit per page in memory.")
@click.option("--work-dir", "work_dir", metavar="DIR",
              help="makedumpfile's place for bitmap files; accepted, we keep bitmaps in memory (DIR must exist).")
@click.option("--ignore-read-errors", "ignore_read_errors", is_flag=True,
              help="Pages VMCORE cannot give (I/O errors, corrupt or lost pages) are excluded and reported in any "
                   "case; with this option that still exits 0.")
@click.option("--non-mmap", "non_mmap", is_flag=True, help="Read VMCORE with read(2), not mmap; we always use pread.")
@click.option("--config", "config", help="Filter config file. [not supported yet]")
@click.option("--eppic", "eppic", help="[not supported yet]")
@click.option("--dump-dmesg", "dump_dmesg", is_flag=True,
              help="VMCORE LOGFILE: write the kernel log of VMCORE (any format we read).")
@click.option("--partial-dmesg", "partial_dmesg", is_flag=True,
              help="With --dump-dmesg: only the log since it was last cleared.")
@click.option("--no-caller-id", "no_caller_id", is_flag=True,
              help="With --dump-dmesg: leave out the [T<pid>]/[C<cpu>] fields (as makedumpfile before 1.7.5).")
@click.option("--mem-usage", "mem_usage", is_flag=True,
              help="/proc/kcore: print the pages of the running system per category, as dump level 31 would filter "
                   "them (to stdout).")
@click.option("--vtop", "vtop", metavar="VADDR",
              help="Print the translation of a kernel virtual address (with VMCORE alone, only that).")
@click.option("--show-stats", "show_stats", is_flag=True,
              help="Print the report (pages excluded per category), as --message-level bit 16.")
@click.option("--xen-syms", "xen_syms", help="[not supported yet]")
@click.option("--xen-vmcoreinfo", "xen_vmcoreinfo", help="[not supported yet]")
@click.option("--xen_phys_start", "xen_phys_start", help="[not supported yet]")
@click.option("--diskset", "diskset", multiple=True, help="[not supported yet]")
@click.option("--extension", "extension", help="[not supported yet]")
@click.argument("args", nargs=-1, metavar="VMCORE DUMPFILE")
def command(**o: Any) -> None:
    """Make a small dumpfile of kdump (makedumpfile-compatible).

    \b
    pymakedumpfile [-c|-l|-p|-z|-E] [-d DL] [-f] VMCORE DUMPFILE
    """
    msg = Messages(o["message_level"] | (ML_DEBUG if o["debug"] else 0) | (ML_REPORT if o["show_stats"] else 0))
    if o["version"]:
        sys.stderr.write(_version_text())
        return
    for key, opt in NOT_YET.items():
        v = o.get(key)
        if v not in (None, False, (), 0):
            _fail(msg, f"{opt}: not supported yet")
    if o["work_dir"] is not None and not os.path.isdir(o["work_dir"]):
        _fail(msg, f"--work-dir {o['work_dir']}: not a directory")
    global _VMCOREINFO, _IGNORE_READ_ERRORS, _VMLINUX
    _IGNORE_READ_ERRORS = o["ignore_read_errors"]
    if o["gen_vmcoreinfo"] is not None:
        if o["vmlinux"] is None:
            _fail(msg, "-g VMCOREINFO needs -x VMLINUX.")
        if o["args"]:
            _fail(msg, "-g VMCOREINFO -x VMLINUX takes no other file.")
        if not o["check_params"]:
            from ..input.dwarf import generate_vmcoreinfo
            from ..output.target import check_target, write_file

            check_target(o["gen_vmcoreinfo"], o["force"])
            write_file(o["gen_vmcoreinfo"], generate_vmcoreinfo(o["vmlinux"]), force=o["force"])
            msg.say(ML_COMMON, f"\nThe vmcoreinfo is saved to {o['gen_vmcoreinfo']}.\n\n{PROG} Completed.")
        return
    if o["vmlinux"] is not None:
        _VMLINUX = o["vmlinux"]
    if o["vmcoreinfo_in"] is not None:
        try:
            with open(o["vmcoreinfo_in"], "rb") as f:
                _VMCOREINFO = f.read(1 << 20)
        except OSError as e:
            _fail(msg, f"{o['vmcoreinfo_in']}: Cannot read the VMCOREINFO file: {e.strerror}")
    limit = None
    if o["limit"] is not None:
        limit = parse_size(o["limit"])
        if limit is None:
            _fail(msg, f"-L {o['limit']}: not a size (a number with an optional K, M or G)")
    try:
        levels = [int(x) for x in o["dump_level"].split(",")]
    except ValueError:
        _fail(msg, f"Dump_level({o['dump_level']}) is invalid.")
    for lv in levels:
        if not 0 <= lv <= 31:
            _fail(msg, f"Dump_level({lv}) is invalid.")
    # a list (-d 11,31) names levels to retry with when the output does not
    # fit (-L, a full disk); until then the first level is the one used
    if o["elf"] and o["comp"]:
        _fail(msg, "-E cannot be combined with -c, -l, -p or -z (ELF pages are not compressed).")
    args: Sequence[str] = o["args"]
    if o["partial_dmesg"] and not o["dump_dmesg"]:
        _fail(msg, "--partial-dmesg needs --dump-dmesg.")
    if o["dump_dmesg"]:
        if o["dry_run"]:
            _fail(msg, "--dry-run cannot be used with --dump-dmesg.")
        if len(args) != 2:
            _fail(msg, "--dump-dmesg takes VMCORE LOGFILE.")
        vmcore, logfile = args
        if os.path.exists(logfile) and os.path.exists(vmcore) and os.path.samefile(vmcore, logfile):
            _fail(msg, f"{logfile}: the log file is the input file")
        from ..output.target import check_target

        check_target(logfile, o["force"])  # fail before reading anything
        if not o["check_params"]:
            run_dmesg(msg, vmcore, logfile, force=o["force"], partial=o["partial_dmesg"],
                      caller_id=not o["no_caller_id"])
        return
    if o["mem_usage"]:
        if len(args) != 1:
            _fail(msg, "--mem-usage takes one file: /proc/kcore.")
        if not o["check_params"]:
            run_mem_usage(msg, args[0], o["force"], o["as_json"])
        return
    if o["info"]:
        if not args:
            _fail(msg, "--info takes DUMPFILE (or the files of a split dump).")
        from ..tools.info import dump_info, format_text

        with open_input(list(args)) as ctx:
            report = dump_info(ctx)
        if o["as_json"]:
            import json

            sys.stdout.write(json.dumps(report, indent=1) + "\n")
        else:
            sys.stdout.write(format_text(report))
        return
    if o["rearrange"]:
        if len(args) != 1:
            _fail(msg, "-R takes one DUMPFILE and reads the flattened stream from standard input.")
        run_rearrange(msg, args[0], o["force"])
        return
    if o["reassemble"]:
        if len(args) < 3:
            _fail(msg, "--reassemble takes DUMPFILE1 DUMPFILE2 [...] DUMPFILE.")
        if not o["check_params"]:
            run_reassemble(msg, list(args[:-1]), args[-1], o["force"], o["num_threads"])
        return
    if o["split"]:
        if o["elf"] or o["flatten"]:
            _fail(msg, "--split cannot be combined with -E or -F.")
        if len(args) < 3:
            _fail(msg, "--split takes VMCORE DUMPFILE1 DUMPFILE2 [...].")
        comp = o["comp"] or "none"
        if not o["check_params"]:
            run_split(msg, args[0], list(args[1:]), comp=comp, dump_level=levels[0], force=o["force"],
                      threads=o["num_threads"], splitblock_kb=o["splitblock_size"])
        return
    if o["flatten"]:
        if len(args) != 1:
            _fail(msg, "-F takes VMCORE only: the dump goes to standard output.")
        comp = o["comp"] or "none"
        if not o["check_params"]:
            run_convert(msg, args[0], None, comp=comp, elf=o["elf"], levels=levels, force=False,
                        dry_run=o["dry_run"], threads=o["num_threads"], vtop=None, limit=limit,
                        stream_compress=o["stream_compress"])
        return
    vtop = None
    if o["vtop"] is not None:
        try:
            vtop = int(o["vtop"], 0)
        except ValueError:
            _fail(msg, f"--vtop {o['vtop']}: not an address")
        if len(args) == 1:
            run_vtop(msg, args[0], vtop)
            return
    if len(args) != 2:
        _fail(msg, "Commandline parameter is invalid: expected VMCORE DUMPFILE.\n"
                   "Try `pymakedumpfile --help' for more information.")
    vmcore, dumpfile = args
    comp = o["comp"] or "none"
    if not codecs.is_available(comp):  # only the codec asked for is imported (crash kernel memory)
        _fail(msg, f"-{codecs.CODECS[comp].option}: {comp} support is not installed")
    if os.path.exists(dumpfile) and os.path.exists(vmcore) and os.path.samefile(vmcore, dumpfile):
        _fail(msg, f"{dumpfile}: the dump file is the input file")
    if not o["dry_run"]:
        from ..output.target import check_target

        check_target(dumpfile, o["force"])  # fail before reading anything
    if o["check_params"]:
        return
    if o["stream_compress"] and not o["elf"]:
        _fail(msg, "--stream-compress needs -E or -F (a kdump file is not written in order).")
    if o["stream_compress"] and limit is not None:
        _fail(msg, "--stream-compress cannot be combined with -L.")
    run_convert(msg, vmcore, dumpfile, comp=comp, elf=o["elf"], levels=levels, force=o["force"],
                dry_run=o["dry_run"], threads=o["num_threads"], vtop=vtop, limit=limit,
                stream_compress=o["stream_compress"])


def parse_size(text: str) -> int | None:
    """makedumpfile's -L SIZE: bytes, or with a K, M or G suffix."""
    t = text.strip()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:].upper(), 1)
    if mult != 1:
        t = t[:-1]
    if not t.isdigit() or int(t) == 0:
        return None
    return int(t) * mult


def run_dmesg(msg: Messages, vmcore: str, logfile: str, *, force: bool, partial: bool, caller_id: bool) -> None:
    from ..tools.dmesg import write_dmesg

    with open_input(vmcore) as ctx:
        write_dmesg(ctx, logfile, force=force, partial=partial, caller_id=caller_id)
    msg.say(ML_COMMON, f"\nThe dmesg log is saved to {logfile}.\n\n{PROG} Completed.")


def run_mem_usage(msg: Messages, kcore: str, force: bool, as_json: bool) -> None:
    from ..core.context import Context
    from ..input.kcore import open_kcore
    from ..tools.memusage import mem_usage_of

    with Context(open_kcore(kcore)) as ctx:
        release = ctx.attr.get("linux.vmcoreinfo.osrelease") or ctx.attr.get("linux.uts.release") or ""
        nums = [int(x) for x in re.findall(r"\d+", release)[:2]]
        if len(nums) == 2 and tuple(nums) < (4, 11) and not force:
            _fail(msg, f"{kcore}: --mem-usage needs Linux 4.11 or later (p_paddr in /proc/kcore), "
                       f"this is {release}; -f to try anyway")
        u = mem_usage_of(ctx, progress=msg.progress("Excluding unnecessary pages"))
    if u.counted_twice:
        msg.say(ML_DEBUG, f"{u.counted_twice} pages are in two PT_LOADs (the kernel text): counted once "
                          f"(makedumpfile counts them twice)")
    if u.unreadable:
        msg.error(f"{kcore}: {u.unreadable} pages could not be read; counted as excluded")
    if as_json:
        import json

        sys.stdout.write(json.dumps(u.as_dict(), indent=1) + "\n")
    elif msg.level & ML_COMMON:
        sys.stdout.write(u.table())
    sys.stdout.flush()


def run_rearrange(msg: Messages, dumpfile: str, force: bool) -> None:
    from ..output import rearrange_to

    if os.isatty(0):
        _fail(msg, "-R reads a flattened stream from standard input, which is a terminal.")
    n = rearrange_to(sys.stdin.buffer, dumpfile, force=force)
    msg.say(ML_COMMON, f"\nThe dumpfile is saved to {dumpfile} ({n} bytes).\n\n{PROG} Completed.")


def run_split(msg: Messages, vmcore: str, dumpfiles: list[str], *, comp: str, dump_level: int, force: bool,
              threads: int | None, splitblock_kb: int | None) -> None:
    from ..filter import make_write_context
    from ..output import DEFAULT_SPLITBLOCK_SIZE, SplitPlan, write_split

    def said(plan: SplitPlan) -> None:
        if plan.smaller_blocks:
            msg.say(ML_COMMON, plan.describe())

    with open_input(vmcore) as src:
        w = make_write_context(src, format="kdump", compression=comp, dump_level=dump_level,
                               progress=msg.progress("Excluding unnecessary pages"), threads=threads)
        with stop_on_signals():
            results = write_split(w, dumpfiles, force=force, threads=threads,
                                  splitblock_size=splitblock_kb * 1024 if splitblock_kb else DEFAULT_SPLITBLOCK_SIZE,
                                  on_plan=said)
    unreadable = report_unreadable(msg, vmcore, [*results, w.attr["filter.stats"]])
    bad = [(f, r) for f, r in zip(dumpfiles, results) if r.incomplete]
    for f, r in bad:
        msg.error(f"{f}: the dump is incomplete: {r.reason}")
    if bad:
        sys.exit(1)
    finish_unreadable(msg, ", ".join(dumpfiles), unreadable)
    msg.say(ML_COMMON, f"\nThe dumpfiles are saved to {', '.join(dumpfiles)}.\n\n{PROG} Completed.")


def run_reassemble(msg: Messages, parts: list[str], dumpfile: str, force: bool, threads: int | None) -> None:
    from ..filter import make_write_context
    from ..input import open_dump
    from ..output import write_dump

    with open_dump(parts) as src:
        if src.attr.get("file.set.number", 1) < 2:
            _fail(msg, "--reassemble needs the files of a split dump")
        w = make_write_context(src, format="kdump", compression=src.attr.get("file.compression", "none"),
                               dump_level=int(src.attr.get("kdump.dump_level", 0)))
        res = write_dump(w, dumpfile, force=force, threads=threads, progress=msg.progress("Copying data"))
    unreadable = report_unreadable(msg, " ".join(parts), [res, w.attr["filter.stats"]])
    if res.incomplete:
        _fail(msg, f"{dumpfile}: the dump is incomplete: {res.reason}")
    finish_unreadable(msg, dumpfile, unreadable)
    msg.say(ML_COMMON, f"\nThe dumpfile is saved to {dumpfile}.\n\n{PROG} Completed.")


def print_vtop(msg: Messages, ctx: Any, vaddr: int) -> None:
    """makedumpfile's --vtop block: the walk, then VIRTUAL and PHYSICAL."""
    paddr, steps = ctx.kernel_memory().walk(vaddr)
    msg.say(ML_COMMON, f"\nTranslating virtual address {vaddr:x} to physical address.")
    for s in steps:
        msg.say(ML_COMMON, f"  {s.level:<3} : {s.entry_addr:16x} => {s.entry:16x}")
    msg.say(ML_COMMON, f"VIRTUAL           PHYSICAL\n{vaddr:16x}  {paddr:x}\n")


def run_vtop(msg: Messages, vmcore: str, vaddr: int) -> None:

    with open_input(vmcore) as ctx:
        print_vtop(msg, ctx, vaddr)


def report_unreadable(msg: Messages, vmcore: str, results: Sequence[Any]) -> int:
    """Say which pages the input could not give (they were excluded);
    returns their number."""
    from ..core.pipeline import pfn_ranges

    bad = sorted({u for r in results for u in r.unreadable})
    if not bad:
        return 0
    ranges = pfn_ranges([p for p, _ in bad])
    shown = ", ".join(f"{a:#x}" if b == a + 1 else f"{a:#x}-{b - 1:#x}" for a, b in ranges[:8])
    more = f" and {len(ranges) - 8} more ranges" if len(ranges) > 8 else ""
    msg.error(f"{vmcore}: {len(bad)} pages could not be read and were excluded (pfn {shown}{more}); "
              f"first error: {bad[0][1]}")
    for p, why in bad:
        msg.say(ML_DEBUG, f"unreadable pfn {p:#x}: {why}")
    return len(bad)


def finish_unreadable(msg: Messages, saved: str, count: int) -> None:
    """Exit 1 after a dump that lacks unreadable pages, unless asked not to."""
    if count and not _IGNORE_READ_ERRORS:
        msg.say(ML_COMMON, f"\nThe dumpfile is saved to {saved}, without {count} unreadable pages.")
        _fail(msg, f"{saved}: {count} pages of the input could not be read (--ignore-read-errors to accept that)")


def print_report(msg: Messages, w: Any, zero: int, write_bytes: int, unreadable: int = 0) -> None:
    """makedumpfile's --message-level 16 report."""
    st = w.attr["filter.stats"]
    st.zero = zero if w.attr["file.format"] == "kdump" else st.zero
    total = w.max_pfn
    original = w.attr["memory.pagemap"].count()
    excluded = st.excluded
    lines = [
        "",
        f"Original pages  : 0x{original:016x}",
        f"  Excluded pages   : 0x{excluded:016x}",
        f"    Pages filled with zero  : 0x{st.zero:016x}",
        f"    Non-private cache pages : 0x{st.cache:016x}",
        f"    Private cache pages     : 0x{st.cache_private:016x}",
        f"    User process data pages : 0x{st.user:016x}",
        f"    Free pages              : 0x{st.free:016x}",
        f"    Hwpoison pages          : 0x{st.hwpoison:016x}",
        f"    Offline pages           : 0x{st.offline:016x}",
    ]
    if unreadable:
        excluded += unreadable
        lines[2] = f"  Excluded pages   : 0x{excluded:016x}"
        lines.append(f"    Unreadable pages        : 0x{unreadable:016x}")
    lines += [
        f"  Remaining pages  : 0x{original - excluded:016x}",
    ]
    if original:
        lines.append(f"  (The number of pages is reduced to {(original - excluded) * 100 // original}%.)")
    lines += [
        f"Memory Hole     : 0x{total - original:016x}",
        "-" * 50,
        f"Total pages     : 0x{total:016x}",
        f"Write bytes     : {write_bytes}",
        "",
    ]
    msg.say(ML_REPORT, "\n".join(lines))


def run_convert(msg: Messages, vmcore: str, dumpfile: str | None, *, comp: str, elf: bool, levels: list[int],
                force: bool, dry_run: bool, threads: int | None, vtop: int | None = None,
                limit: int | None = None, stream_compress: str | None = None) -> None:
    """VMCORE to DUMPFILE (or, with ``dumpfile`` None, a flattened stream on
    stdout).  With several levels, a dump that does not fit is made again at
    the next level, as makedumpfile's -d A,B does."""
    from ..filter import make_write_context
    from ..output import write_dump
    from ..output.flattened import stdout_binary

    t0 = time.monotonic()
    unreadable = 0
    stream = stdout_binary() if dumpfile is None else None
    src = open_input(vmcore)
    try:
        if vtop is not None:
            print_vtop(msg, src, vtop)
        for i, level in enumerate(levels):
            w = make_write_context(
                src, format="elf" if elf else "kdump", compression=comp, dump_level=level,
                progress=msg.progress("Excluding unnecessary pages"), threads=threads,
            )
            for warning in w.attr["filter.stats"].warnings:
                msg.say(ML_COMMON, f"WARNING: {warning}")
            if dry_run:
                msg.say(ML_COMMON, f"dry run: {w.pagemap.count()} pages would be written; nothing was.")
                return
            with stop_on_signals():
                res = write_dump(w, dumpfile, stream=stream, force=force or i > 0, threads=threads, limit=limit,
                                 stream_compress=stream_compress, progress=msg.progress("Copying data"))
            unreadable = report_unreadable(msg, vmcore, [res, w.attr["filter.stats"]])
            print_report(msg, w, res.zero_pages, res.bytes_written, unreadable)
            if not res.incomplete:
                break
            if i + 1 < len(levels) and dumpfile is not None and not res.reason.startswith("interrupted"):
                msg.say(ML_COMMON, f"The dump did not fit ({res.reason}); retrying with dump level {levels[i + 1]}.")
                os.unlink(dumpfile)  # our own incomplete file: its space is needed for the retry
                continue
            _fail(msg, f"{dumpfile or '<stdout>'}: the dump is incomplete: {res.reason}")
    finally:
        src.close()
    msg.say(ML_DEBUG, f"elapsed {time.monotonic() - t0:.2f} s")
    where = dumpfile if dumpfile is not None else "standard output"
    finish_unreadable(msg, where, unreadable)
    msg.say(ML_COMMON, f"\nThe dumpfile is saved to {where}.\n\n{PROG} Completed.")


# click 8.2+ raises this for a bare command line; older releases (Python 3.9's) have no such class
_NO_ARGS_IS_HELP: type[Exception] | tuple[()] = getattr(click.exceptions, "NoArgsIsHelpError", ())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code. Errors are one line, no traceback."""
    try:
        command.main(args=list(argv) if argv is not None else None, prog_name=PROG, standalone_mode=False)
    except _NO_ARGS_IS_HELP as e:
        print(e.format_message() if hasattr(e, "format_message") else str(e), file=sys.stderr)
        return 1
    except click.UsageError as e:
        print(f"{PROG}: {e.format_message()}\nTry `{PROG} --help' for more information.", file=sys.stderr)
        return 1
    except click.exceptions.Abort:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 1
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    except DumpError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        print(f"\n{PROG} Failed.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"{PROG}: out of memory", file=sys.stderr)
        return 1
    return 0


def entry() -> None:
    from .. import accel

    accel.tune_malloc()  # before any worker thread: flat memory over long runs
    sys.exit(main())


if __name__ == "__main__":
    entry()


__all__ = ["UsageError", "main"]
