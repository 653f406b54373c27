"""One function per mode of the command line: each checks its own arguments, then calls the
layers (input, filter, output, tools) and reports as makedumpfile does.  A mode takes the
shared :class:`~pymakedumpfile.cli.options.Run` and the parsed options."""

from __future__ import annotations

import os
import re
import sys
import time

from .. import codecs
from ..core.hints import Any
from ..output.interrupt import stop_on_signals
from .messages import ML_COMMON, ML_DEBUG, PROG
from .options import Run
from .report import finish_unreadable, print_debug, print_report, print_vtop, report_unreadable
from .streams import SafeStream

Options = dict[str, Any]  # click's keyword arguments, by the names in options.OPTIONS


def gen_vmcoreinfo(run: Run, o: Options) -> None:
    """-g VMCOREINFO -x VMLINUX: the VMCOREINFO of a debug kernel image, to a file (with
    --xen-syms XEN-SYMS: the hypervisor's, for -X --xen-vmcoreinfo)."""
    if o["vmlinux"] is None and o["xen_syms"] is None:
        run.msg.fail("-g VMCOREINFO needs -x VMLINUX or --xen-syms XEN-SYMS.")
    if o["vmlinux"] is not None and o["xen_syms"] is not None:
        run.msg.fail("-g VMCOREINFO takes one of -x VMLINUX and --xen-syms XEN-SYMS.")
    if o["args"]:
        run.msg.fail("-g VMCOREINFO takes no other file.")
    if o["check_params"]:
        return
    if o["xen_syms"] is not None:
        from ..filter.xen import xen_vmcoreinfo_from_syms
        from ..output.target import check_target

        text = xen_vmcoreinfo_from_syms(o["xen_syms"])
        check_target(o["gen_vmcoreinfo"], run.force)
        with open(o["gen_vmcoreinfo"], "wb") as f:
            f.write(text)
    else:
        from ..tools.vmcoreinfo import write_vmcoreinfo

        write_vmcoreinfo(o["vmlinux"], o["gen_vmcoreinfo"])
    run.msg.say(ML_COMMON, f"\nThe vmcoreinfo is saved to {o['gen_vmcoreinfo']}.\n\n{PROG} Completed.")


def dump_dmesg(run: Run, o: Options) -> None:
    """--dump-dmesg VMCORE LOGFILE."""
    if o["dry_run"]:
        run.msg.fail("--dry-run cannot be used with --dump-dmesg.")
    if len(o["args"]) != 2:
        run.msg.fail("--dump-dmesg takes VMCORE LOGFILE.")
    vmcore, logfile = o["args"]
    if os.path.exists(logfile) and any(os.path.exists(v) and os.path.samefile(v, logfile) for v in inputs(vmcore)):
        run.msg.fail(f"{logfile}: the log file is the input file")
    from ..output.target import check_target

    check_target(logfile, run.force)  # fail before reading anything
    if o["check_params"]:
        return
    from ..tools.dmesg import write_dmesg

    with run.open_input(vmcore) as ctx:
        write_dmesg(ctx, logfile, force=run.force, partial=o["partial_dmesg"], caller_id=not o["no_caller_id"])
    run.msg.say(ML_COMMON, f"\nThe dmesg log is saved to {logfile}.\n\n{PROG} Completed.")


def mem_usage(run: Run, o: Options) -> None:
    """--mem-usage /proc/kcore: the running system's pages per category."""
    if len(o["args"]) != 1:
        run.msg.fail("--mem-usage takes one file: /proc/kcore.")
    if o["check_params"]:
        return
    from ..core.context import Context
    from ..input.kcore import open_kcore
    from ..tools.memusage import mem_usage_of

    kcore = o["args"][0]
    msg = run.msg
    with Context(open_kcore(kcore)) as ctx:
        release = ctx.attr.get("linux.vmcoreinfo.lines.OSRELEASE") or ctx.attr.get("linux.uts.release") or ""
        nums = [int(x) for x in re.findall(r"\d+", release)[:2]]
        if len(nums) == 2 and tuple(nums) < (4, 11) and not run.force:
            msg.fail(f"{kcore}: --mem-usage needs Linux 4.11 or later (p_paddr in /proc/kcore), "
                     f"this is {release}; -f to try anyway")
        u = mem_usage_of(ctx, progress=msg.progress("Excluding unnecessary pages"))
    if u.counted_twice:
        msg.say(ML_DEBUG, f"{u.counted_twice} pages are in two PT_LOADs (the kernel text): counted once "
                          f"(makedumpfile counts them twice)")
    if u.unreadable:
        msg.error(f"{kcore}: {u.unreadable} pages could not be read; counted as excluded")
    if o["as_json"]:
        import json

        SafeStream("stdout").write(json.dumps(u.as_dict(), indent=1) + "\n")
    elif msg.level & ML_COMMON:
        SafeStream("stdout").write(u.table())


def info(run: Run, o: Options) -> None:
    """--info DUMPFILE...: what a dump holds, as text or JSON on stdout."""
    if not o["args"]:
        run.msg.fail("--info takes DUMPFILE (or the files of a split dump).")
    from ..tools.info import dump_info, format_text

    with run.open_input([f for a in o["args"] for f in inputs(a)]) as ctx:
        report = dump_info(ctx)
    if o["as_json"]:
        import json

        SafeStream("stdout").write(json.dumps(report, indent=1) + "\n")
    else:
        SafeStream("stdout").write(format_text(report))


def rearrange(run: Run, o: Options) -> None:
    """-R DUMPFILE: a flattened stream on stdin back into a dump file."""
    if len(o["args"]) != 1:
        run.msg.fail("-R takes one DUMPFILE and reads the flattened stream from standard input.")
    dumpfile = o["args"][0]
    from ..output import rearrange_to

    if os.isatty(0):
        run.msg.fail("-R reads a flattened stream from standard input, which is a terminal.")
    n = rearrange_to(sys.stdin.buffer, dumpfile, force=run.force)
    run.msg.say(ML_COMMON, f"\nThe dumpfile is saved to {dumpfile} ({n} bytes).\n\n{PROG} Completed.")


def reassemble(run: Run, o: Options) -> None:
    """--reassemble DUMPFILE1 DUMPFILE2... DUMPFILE: a split set joined into one file."""
    args = o["args"]
    if len(args) < 3:
        run.msg.fail("--reassemble takes DUMPFILE1 DUMPFILE2 [...] DUMPFILE.")
    if o["check_params"]:
        return
    parts, dumpfile = list(args[:-1]), args[-1]
    from ..filter import make_write_context
    from ..output import write_dump

    with run.open_input(parts) as src:
        if src.attr.get("file.set.number", 1) < 2:
            run.msg.fail("--reassemble needs the files of a split dump")
        w = make_write_context(src, format="kdump", compression=src.attr.get("file.compression", "none"),
                               dump_level=int(src.attr.get("kdump.dump_level", 0)), refilter=False)
        res = write_dump(w, dumpfile, force=run.force, threads=run.threads, progress=run.msg.progress("Copying data"))
    unreadable = report_unreadable(run, " ".join(parts), [res, w.attr["filter.stats"]])
    if res.incomplete:
        run.msg.fail(f"{dumpfile}: the dump is incomplete: {res.reason}")
    finish_unreadable(run, dumpfile, unreadable)
    run.msg.say(ML_COMMON, f"\nThe dumpfile is saved to {dumpfile}.\n\n{PROG} Completed.")


def split(run: Run, o: Options) -> None:
    """--split VMCORE DUMPFILE1 DUMPFILE2...: one dump over several files, written in parallel."""
    if o["elf"] or o["flatten"]:
        run.msg.fail("--split cannot be combined with -E or -F.")
    args = o["args"]
    if len(args) < 3:
        run.msg.fail("--split takes VMCORE DUMPFILE1 DUMPFILE2 [...].")
    if o["check_params"]:
        return
    vmcore, dumpfiles = args[0], list(args[1:])
    from ..filter import make_write_context
    from ..output import DEFAULT_SPLITBLOCK_SIZE, SplitPlan, write_split

    msg = run.msg

    def said(plan: SplitPlan) -> None:
        if plan.smaller_blocks:
            msg.say(ML_COMMON, plan.describe())

    kb = o["splitblock_size"]
    with run.open_input(vmcore) as src:
        said_level(run, src, vmcore, o["levels"][0])
        w = make_write_context(src, format="kdump", compression=o["comp"] or "none", dump_level=o["levels"][0],
                               progress=msg.progress("Excluding unnecessary pages"), threads=run.threads,
                               xen=xen_options(o), erase=run.erase_plan(src),
                               exclude_vmemmap=o["exclude_vmemmap"])
        with stop_on_signals():
            results = write_split(w, dumpfiles, force=run.force, threads=run.threads,
                                  splitblock_size=kb * 1024 if kb else DEFAULT_SPLITBLOCK_SIZE, on_plan=said)
    unreadable = report_unreadable(run, vmcore, [*results, w.attr["filter.stats"]])
    bad = [(f, r) for f, r in zip(dumpfiles, results) if r.incomplete]
    for f, r in bad:
        msg.error(f"{f}: the dump is incomplete: {r.reason}{kept(f, r.path)}")
    if bad:
        sys.exit(1)
    finish_unreadable(run, ", ".join(dumpfiles), unreadable)
    msg.say(ML_COMMON, f"\nThe dumpfiles are saved to {', '.join(dumpfiles)}.\n\n{PROG} Completed.")


def flatten(run: Run, o: Options) -> None:
    """-F VMCORE: the dump as a flattened stream on stdout."""
    if len(o["args"]) != 1:
        run.msg.fail("-F takes VMCORE only: the dump goes to standard output.")
    if run.closed.stdout:
        run.msg.fail("-F: standard output is closed: there is nowhere to write the dump")
    if o["check_params"]:
        return
    _convert(run, o["args"][0], None, o, vtop=None, force=False)


def convert(run: Run, o: Options) -> None:
    """VMCORE DUMPFILE (the main mode), or --vtop VADDR VMCORE alone."""
    msg = run.msg
    args = o["args"]
    vtop = None
    if o["vtop"] is not None:
        try:
            vtop = int(o["vtop"], 0)
        except ValueError:
            msg.fail(f"--vtop {o['vtop']}: not an address")
        if len(args) == 1:
            with run.open_input(args[0]) as ctx:
                print_vtop(run, ctx, vtop)
            return
    if len(args) != 2:
        msg.fail("Commandline parameter is invalid: expected VMCORE DUMPFILE.\n"
                 "Try `pymakedumpfile --help' for more information.")
    vmcore, dumpfile = args
    comp = o["comp"] or "none"
    if not codecs.is_available(comp):  # only the codec asked for is imported (crash kernel memory)
        msg.fail(f"-{codecs.CODECS[comp].option}: {comp} support is not installed")
    if os.path.exists(dumpfile) and any(os.path.exists(v) and os.path.samefile(v, dumpfile) for v in inputs(vmcore)):
        msg.fail(f"{dumpfile}: the dump file is the input file")
    if not o["dry_run"]:
        from ..output.target import check_target

        check_target(dumpfile, run.force)  # fail before reading anything
    if o["check_params"]:
        return
    if o["stream_compress"] and not o["elf"]:
        msg.fail("--stream-compress needs -E or -F (a kdump file is not written in order).")
    if o["stream_compress"] and o["limit_bytes"] is not None:
        msg.fail("--stream-compress cannot be combined with -L.")
    _convert(run, vmcore, dumpfile, o, vtop=vtop, force=run.force)


def inputs(vmcore: Any) -> list[str]:
    """The input files: VMCORE, or the disks of --diskset."""
    return list(vmcore) if isinstance(vmcore, (list, tuple)) else [vmcore]


def xen_options(o: Options) -> Any:
    """-X and its options (None without -X)."""
    if not o["exclude_xen_dom"]:
        return None
    from ..filter.xen import XenOptions

    return XenOptions(vmcoreinfo=o["xen_vmcoreinfo"], syms=o["xen_syms"], phys_start=o["xen_phys_start"])


def said_level(run: Run, src: Any, vmcore: str, level: int) -> None:
    """Refiltering a kdump file: its own dump level is OR-ed in; say so as makedumpfile does."""
    done = int(src.attr.get("kdump.dump_level", 0))
    if level | done != level:
        run.msg.say(ML_COMMON, f"dump_level is changed to {level | done}, because {vmcore} was created by "
                               f"dump_level({done}).")


def kept(dumpfile: str | None, where: str) -> str:
    """What to add when an incomplete dump did not replace the file it was to replace."""
    if dumpfile is None or not where or where == dumpfile:
        return ""
    return f"; the previous {dumpfile} is kept, the incomplete new dump is {where}"


def _convert(run: Run, vmcore: str, dumpfile: str | None, o: Options, *, vtop: int | None, force: bool) -> None:
    """VMCORE to DUMPFILE (or, with ``dumpfile`` None, a flattened stream on
    stdout).  With several levels, a dump that does not fit is made again at
    the next level, as makedumpfile's -d A,B does."""
    from ..filter import make_write_context
    from ..output import write_dump

    msg = run.msg
    levels: list[int] = o["levels"]
    t0 = time.monotonic()
    unreadable = 0
    stream = None
    if dumpfile is None:  # -F
        from ..output.flattened import stdout_binary

        stream = stdout_binary()
    src = run.open_input(vmcore)
    try:
        print_debug(run, src, sys.argv[1:])
        if vtop is not None:
            print_vtop(run, src, vtop)
        erase = run.erase_plan(src)
        for i, level in enumerate(levels):
            said_level(run, src, vmcore, level)
            w = make_write_context(
                src, format="elf" if o["elf"] else "kdump", compression=o["comp"] or "none", dump_level=level,
                progress=msg.progress("Excluding unnecessary pages"), threads=run.threads, xen=xen_options(o),
                erase=erase, exclude_vmemmap=o["exclude_vmemmap"],
            )
            if o["exclude_vmemmap"]:
                msg.say(ML_COMMON, f"Excluded {w.attr['filter.vmemmap_excluded']} unused vmemmap pages")
            for warning in w.attr["filter.stats"].warnings:
                msg.say(ML_COMMON, f"WARNING: {warning}")
            with stop_on_signals():
                res = write_dump(w, dumpfile, stream=stream, force=force or i > 0, threads=run.threads,
                                 limit=o["limit_bytes"], stream_compress=o["stream_compress"],
                                 progress=msg.progress("Copying data"), dry_run=o["dry_run"])
            unreadable = report_unreadable(run, vmcore, [res, w.attr["filter.stats"]])
            print_report(run, w, res.zero_pages, res.bytes_written, unreadable, src=src)
            if o["dry_run"]:
                msg.say(ML_COMMON, f"dry run: {w.pagemap.count()} pages, {res.bytes_written} bytes would be "
                                   f"written; nothing was.")
                return
            if not res.incomplete:
                break
            if i + 1 < len(levels) and dumpfile is not None and not res.reason.startswith("interrupted"):
                msg.say(ML_COMMON, f"The dump did not fit ({res.reason}); retrying with dump level {levels[i + 1]}.")
                os.unlink(res.path)  # our own incomplete file: its space is needed for the retry
                continue
            msg.fail(f"{dumpfile or '<stdout>'}: the dump is incomplete: {res.reason}{kept(dumpfile, res.path)}")
    finally:
        src.close()
    msg.say(ML_DEBUG, f"elapsed {time.monotonic() - t0:.2f} s")
    where = dumpfile if dumpfile is not None else "standard output"
    finish_unreadable(run, where, unreadable)
    msg.say(ML_COMMON, f"\nThe dumpfile is saved to {where}.\n\n{PROG} Completed.")
