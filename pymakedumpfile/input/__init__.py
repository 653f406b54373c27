"""Input contexts: open a dump file (or a split set) whatever its format.

Readers are probed in the order of :data:`READERS`; each reads through the
transport layer (:mod:`.source`), which unwraps flattened streams, so every
format can also be read flattened.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol, Union

from ..core.context import Context
from ..core.errors import DumpError, UnsupportedDumpError, UsageError
from .base import DumpReader
from .elf import ElfReader
from .kdump import KdumpReader
from .source import Source, open_source
from .split import SplitReader


class ReaderClass(Protocol):
    """What :data:`READERS` holds: a :class:`DumpReader` class, which tells
    whether a source is in its format and opens it."""

    def probe(self, source: Source) -> bool: ...

    def __call__(self, source: Source) -> DumpReader: ...


READERS: tuple[ReaderClass, ...] = (ElfReader, KdumpReader)

PathLike = Union[str, "os.PathLike[str]"]  # a runtime alias: typing.Union, as Python 3.9 has no X | Y of types


def open_reader(path: PathLike | int, name: str | None = None) -> DumpReader:
    """Probe ``path`` with every reader and open it with the first that accepts it."""
    src: Source = open_source(path, name)
    try:
        for cls in READERS:
            if cls.probe(src):
                return cls(src)
        head = src.pread(0, 8)
        if not head:
            raise UnsupportedDumpError("Cannot open: the file is empty", src.name)
        raise UnsupportedDumpError(
            f"Cannot open: not a crash dump we know (starts with {head.hex()})", src.name
        )
    except BaseException:
        src.close()
        raise


def open_dump(paths: PathLike | int | Sequence[PathLike], *, vmcoreinfo: bytes | None = None,
              vmlinux: str | None = None) -> Context:
    """Open a dump as an input :class:`~pymakedumpfile.context.Context`.

    :param paths: a file name or an open file descriptor; or several file
        names, the parts of a split dump in any order.
    :param vmcoreinfo: VMCOREINFO text to use in place of the dump's own
        (makedumpfile's ``-i``).
    :param vmlinux: a kernel image with DWARF (``-x``): what VMCOREINFO lacks
        is taken from it (symbols moved by the dump's KERNELOFFSET); what it
        has is kept.  The image must be of the dump's kernel.
    """
    ctx = _open(paths)
    if vmlinux is not None:
        try:
            vmcoreinfo = _fill_from_vmlinux(vmcoreinfo if vmcoreinfo is not None else ctx.reader.vmcoreinfo.raw,
                                            vmlinux, ctx.attr.get("linux.uts.release"))
        except BaseException:
            ctx.close()
            raise
    if vmcoreinfo is not None:
        from ..core.vmcoreinfo import VmcoreInfo

        vi = VmcoreInfo(vmcoreinfo)
        if not vi.osrelease:
            ctx.close()
            raise UnsupportedDumpError("Cannot use this VMCOREINFO: it has no OSRELEASE line")
        release = ctx.attr.get("linux.uts.release")
        if release and release != vi.osrelease:
            ctx.close()
            raise UnsupportedDumpError(
                f"Cannot use this VMCOREINFO: it is for {vi.osrelease}, the dump is of {release}", ctx.name
            )
        ctx.reader.use_vmcoreinfo(vmcoreinfo)
        ctx = Context(ctx.reader)  # attributes anew from the VMCOREINFO given
    return ctx


def _fill_from_vmlinux(raw: bytes, vmlinux: str, release: str | None) -> bytes:
    from ..core.vmcoreinfo import VmcoreInfo
    from .dwarf import generate_vmcoreinfo

    have = VmcoreInfo(raw)
    gen = VmcoreInfo(generate_vmcoreinfo(vmlinux))
    want = have.osrelease or release
    if want and gen.osrelease != want:
        raise UnsupportedDumpError(f"Cannot use this kernel image: it is {gen.osrelease}, the dump is of {want}",
                                   vmlinux)
    shift = int(have.lines.get("KERNELOFFSET", "0"), 16)
    extra = []
    for key, value in gen.lines.items():
        if key in have.lines:
            continue
        if key.startswith("SYMBOL(") and shift:
            value = f"{int(value, 16) + shift:x}"
        extra.append(f"{key}={value}\n")
    text = raw if raw.endswith(b"\n") or not raw else raw + b"\n"
    return text + "".join(extra).encode()


def _open(paths: PathLike | int | Sequence[PathLike]) -> Context:
    if isinstance(paths, (str, os.PathLike, int)):
        return Context(open_reader(paths))
    paths = list(paths)
    if not paths:
        raise UsageError("Cannot open a dump: no file given")
    if len(paths) == 1:
        return Context(open_reader(paths[0]))
    readers: list[DumpReader] = []
    try:
        for p in paths:
            readers.append(open_reader(p))
        kd = []
        for r in readers:
            if not isinstance(r, KdumpReader):
                raise UnsupportedDumpError("Cannot open split set: only kdump-compressed files can be split parts",
                                           r.name)
            kd.append(r)
        return Context(SplitReader(kd))
    except BaseException:
        for r in readers:
            r.close()
        raise


__all__ = ["READERS", "DumpError", "open_dump", "open_reader"]
