"""makedumpfile's ``--mem-usage``: how the pages of the *running* system
would be filtered, read from ``/proc/kcore``.

Every page is classified as for dump level 31 (zero pages found by reading
them, as for ELF output), and the counts are printed in makedumpfile's table.
One difference, on purpose: makedumpfile counts the pages of every PT_LOAD,
so the kernel-text PT_LOAD, which repeats part of a RAM PT_LOAD, is counted
twice in its "Total pages on system" and "KERN_DATA"; we count each page of
RAM once (:attr:`MemUsage.counted_twice` says how many pages that is).
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.context import Context
from ..core.record import asdict, dataclass
from ..input.kcore import open_kcore


@dataclass
class MemUsage:
    """Pages of the running system per category (makedumpfile's names)."""

    page_size: int
    total_pages: int
    zero: int
    non_pri_cache: int
    pri_cache: int
    user: int
    free: int
    hwpoison: int
    offline: int
    counted_twice: int  # pages in two PT_LOADs (makedumpfile counts them twice)
    unreadable: int = 0

    @property
    def kern_data(self) -> int:
        excluded = (self.zero + self.non_pri_cache + self.pri_cache + self.user + self.free + self.hwpoison
                    + self.offline + self.unreadable)
        return self.total_pages - excluded

    def as_dict(self) -> dict[str, int]:
        d = asdict(self)
        d["kern_data"] = self.kern_data
        d["total_bytes"] = self.total_pages * self.page_size
        return d

    def table(self) -> str:
        """The text makedumpfile prints (the same layout, tabs included)."""
        return "".join([
            "\n",
            "TYPE\t\tPAGES\t\t\tEXCLUDABLE\tDESCRIPTION\n",
            "-" * 70 + "\n",
            f"ZERO\t\t{self.zero:<16}\tyes\t\tPages filled with zero\n",
            f"NON_PRI_CACHE\t{self.non_pri_cache:<16}\tyes\t\tCache pages without private flag\n",
            f"PRI_CACHE\t{self.pri_cache:<16}\tyes\t\tCache pages with private flag\n",
            f"USER\t\t{self.user:<16}\tyes\t\tUser process pages\n",
            f"FREE\t\t{self.free:<16}\tyes\t\tFree pages\n",
            f"KERN_DATA\t{self.kern_data:<16}\tno\t\tDumpable kernel data \n",
            "\n",
            f"page size:\t\t{self.page_size:<16}\n",
            f"Total pages on system:\t{self.total_pages:<16}\n",
            f"Total size on system:\t{self.total_pages * self.page_size:<16} Byte\n",
        ])


def mem_usage_of(ctx: Context, progress: Callable[[int, int], None] | None = None) -> MemUsage:
    """Classify the memory behind ``ctx`` (a kcore context, or any dump) as
    ``--mem-usage`` does."""
    from .. import accel
    from ..core.pipeline import page_batches, read_batch
    from ..filter import make_write_context

    # level 31 as for ELF output (zero pages found by reading every page the
    # other levels keep), but a cycle at a time: memory does not grow with RAM
    w = make_write_context(ctx, format="kdump", dump_level=30, progress=progress)
    st = w.attr["filter.stats"]
    failed: list[tuple[int, int, str]] = []
    for batch in page_batches(w):
        st.zero += accel.zero_pages(read_batch(ctx.reader, batch, ctx.page_size, failed), ctx.page_size)[1]
    st.zero -= len(failed)  # unreadable pages read as zeros: counted apart
    st.unreadable.extend((p, why) for _, p, why in failed)
    ram = ctx.attr["memory.pagemap"]
    ps = ctx.page_size
    loads = ctx.attr.get("elf.loads", ())
    per_load = sum(-(-(p + m) // ps) - p // ps for p, _, m in loads)
    return MemUsage(
        page_size=ps, total_pages=ram.count(), zero=st.zero, non_pri_cache=st.cache, pri_cache=st.cache_private,
        user=st.user, free=st.free, hwpoison=st.hwpoison, offline=st.offline,
        counted_twice=max(0, per_load - ram.count()) if loads else 0, unreadable=len(st.unreadable),
    )


def mem_usage(path: str = "/proc/kcore", *, exclude: list[tuple[int, int]] | None = None,
              progress: Callable[[int, int], None] | None = None) -> MemUsage:
    """``--mem-usage`` of ``path`` (``/proc/kcore``); ``exclude``: physical
    ranges to leave out (default: the crash kernel's memory in /proc/iomem)."""
    ctx = Context(open_kcore(path, exclude=exclude))
    try:
        return mem_usage_of(ctx, progress)
    finally:
        ctx.close()


__all__ = ["MemUsage", "mem_usage", "mem_usage_of"]
