"""What the command line reports after a run: makedumpfile's page report (--message-level 16),
the pages the input could not give, and the --vtop walk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .messages import ML_COMMON, ML_DEBUG, ML_REPORT
from .options import Run


def print_vtop(run: Run, ctx: Any, vaddr: int) -> None:
    """makedumpfile's --vtop block: the walk, then VIRTUAL and PHYSICAL."""
    paddr, steps = ctx.kernel_memory().walk(vaddr)
    run.msg.say(ML_COMMON, f"\nTranslating virtual address {vaddr:x} to physical address.")
    for s in steps:
        run.msg.say(ML_COMMON, f"  {s.level:<3} : {s.entry_addr:16x} => {s.entry:16x}")
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


def print_report(run: Run, w: Any, zero: int, write_bytes: int, unreadable: int = 0) -> None:
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
    run.msg.say(ML_REPORT, "\n".join(lines))
