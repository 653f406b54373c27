"""Write contexts to files.  One writer per output format; the CLI holds no
format knowledge and calls :func:`write_dump`."""

from __future__ import annotations

from collections.abc import Callable

from ..context import Context
from ..errors import UsageError
from .elf import write_elf
from .kdump import WriteResult, write_kdump
from .target import Target

WRITERS: dict[str, Callable[..., WriteResult]] = {"kdump": write_kdump, "elf": write_elf}


def write_dump(
    ctx: Context,
    path: str,
    *,
    force: bool = False,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> WriteResult:
    """Write the write context ``ctx`` to ``path`` in its ``file.format``.

    The file is created with mode 0600 and never through a symlink; an
    existing file is replaced (atomically, once the new one is complete) only
    with ``force``.
    """
    fmt = ctx.attr["file.format"]
    writer = WRITERS.get(fmt)
    if writer is None:
        raise UsageError(f"Cannot write format {fmt!r}: we write {', '.join(WRITERS)}")
    target = Target(path, force=force)
    ok = False
    try:
        res = writer(ctx, target, threads=threads, progress=progress)
        target.finish()
        ok = True
        return res
    finally:
        if not ok:
            target.remove()


__all__ = ["WRITERS", "Target", "WriteResult", "write_dump"]
