"""What the command line reports after a run: makedumpfile's page report (--message-level 16),
the pages the input could not give, and the --vtop walk."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.hints import Any
from .messages import ML_COMMON, ML_DEBUG, ML_REPORT
from .options import Run


def print_vtop(run: Run, ctx: Any, vaddr: int) -> None:
    """makedumpfile's --vtop block: the walk, then VIRTUAL and PHYSICAL."""
    km = ctx.kernel_memory()
    paddr, steps = km.walk(vaddr)
    run.msg.say(ML_COMMON, f"\nTranslating virtual address {vaddr:x} to physical address.")
    fmt = km.arch.vtop_entry_format
    for s in steps if km.arch.vtop_prints_walk else ():
        shown = s.entry_addr if s.shown is None else s.shown
        run.msg.say(ML_COMMON, f"  {s.level:<3} : {shown:{fmt}} => {s.entry:{fmt}}")
    run.msg.say(ML_COMMON, f"VIRTUAL           PHYSICAL\n{vaddr:16x}  {paddr:x}\n")


def report_unreadable(run: Run, vmcore: str, results: Sequence[Any]) -> int:
    """Say which pages the input could not give (they were excluded);
    returns their number."""
    from ..core.pipeline import pfn_ranges

    bad = sorted({u for r in results for u in r.unreadable})
    if not bad:
        return 0
    ranges = pfn_ranges([p for p, _ in bad])
    shown = ", ".join(f"{a:#x}" if b == a + 1 else f"{a:#x}-{b - 1:#x}" for a, b in ranges[:8])
    more = f" and {len(ranges) - 8} more ranges" if len(ranges) > 8 else ""
    run.msg.error(f"{vmcore}: {len(bad)} pages could not be read and were excluded (pfn {shown}{more}); "
                  f"first error: {bad[0][1]}")
    for p, why in bad:
        run.msg.say(ML_DEBUG, f"unreadable pfn {p:#x}: {why}")
    return len(bad)


def finish_unreadable(run: Run, saved: str, count: int) -> None:
    """Exit 1 after a dump that lacks unreadable pages, unless asked not to."""
    if count and not run.ignore_read_errors:
        run.msg.say(ML_COMMON, f"\nThe dumpfile is saved to {saved}, without {count} unreadable pages.")
        run.msg.fail(f"{saved}: {count} pages of the input could not be read (--ignore-read-errors to accept that)")


def print_report(run: Run, w: Any, zero: int, write_bytes: int, unreadable: int = 0, src: Any = None) -> None:
    """makedumpfile's --message-level 16 report.  Refiltering a file that left pages out, the
    pages it had excluded are counted in their categories, as makedumpfile counts them (a pass
    over every page of RAM, made only for the report)."""
    if not run.msg.level & ML_REPORT:
        return
    st = w.attr["filter.stats"]
    st.zero = zero if w.attr["file.format"] == "kdump" else st.zero
    if src is not None and src.pagemap.count() < w.attr["memory.pagemap"].count():
        from ..filter import count_every_ram_page

        every = count_every_ram_page(src, int(w.attr["filter.dump_level"]))
        if every is not None:
            for k in ("cache", "cache_private", "user", "free", "hwpoison", "offline"):
                setattr(st, k, getattr(every, k))
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
    run.msg.say(ML_REPORT, "\n".join(lines))


def print_debug(run: Run, src: Any, argv: list[str]) -> None:
    """With -D (message level bit 8): what makedumpfile's debugging messages show of the input
    (version and command line, the kdump headers or the ELF loads, VMCOREINFO, phys_base,
    max_mapnr, the memory model and the mem_map ranges)."""
    if not run.msg.level & ML_DEBUG:
        return
    from .. import __version__
    from ..core import record as dataclasses
    from .messages import PROG

    say = run.msg.say
    say(ML_DEBUG, f"{PROG}: version {__version__}\ncommand line: {PROG} {' '.join(argv)}\n")
    reader = src.reader
    for title, obj in (("diskdump main header", getattr(reader, "header", None)),
                       ("kdump sub header", getattr(reader, "sub", None))):
        if obj is not None and dataclasses.is_dataclass(obj):
            say(ML_DEBUG, title)
            for f in dataclasses.fields(obj):
                v = getattr(obj, f.name)
                shown = v.decode("ascii", "replace").rstrip("\0") if isinstance(v, bytes) and len(v) < 16 else v
                if isinstance(shown, bytes):
                    continue
                say(ML_DEBUG, f"  {f.name:<17}: {shown:#x}" if isinstance(shown, int) else f"  {f.name:<17}: {shown}")
    loads = src.attr.get("elf.loads")
    if loads:
        say(ML_DEBUG, f"{'':8} {'phys_start':>16} {'phys_end':>16} {'virt_start':>16} {'virt_end':>16}")
        for i, (pa, va, size) in enumerate(loads):
            say(ML_DEBUG, f"LOAD[{i:2d}] {pa:16x} {pa + size:16x} {va:16x} {va + size:16x}")
    vi = reader.vmcoreinfo
    say(ML_DEBUG, "VMCOREINFO   :")
    for k, v in vi.lines.items():
        say(ML_DEBUG, f"  {k}={v}")
    say(ML_DEBUG, f"page_size    : {src.page_size}")
    say(ML_DEBUG, f"phys_base    : {int(src.attr.get('linux.phys_base', 0)):x}")
    say(ML_DEBUG, f"max_mapnr    : {src.max_pfn:x}")
    try:
        from ..filter.memmap import find_mem_map, memory_model

        arch = src.attr.get("arch.name", "")
        say(ML_DEBUG, f"Memory type  : {memory_model(vi, src.page_size, arch)}")
        ranges = find_mem_map(vi, src.kernel_memory(), src.max_pfn, src.page_size, arch)
    except Exception as e:  # noqa: BLE001 - debugging output only: say why and go on
        say(ML_DEBUG, f"mem_map      : not found ({e})")
        return
    say(ML_DEBUG, f"{'':12} {'mem_map':>16} {'pfn_start':>16} {'pfn_end':>16}")
    for i, r in enumerate(ranges):
        say(ML_DEBUG, f"mem_map[{i:4d}] {r.mem_map:16x} {r.pfn_start:16x} {r.pfn_end:16x}")
