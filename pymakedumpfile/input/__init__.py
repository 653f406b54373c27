"""Input contexts: open a dump file (or a split set) whatever its format.

Readers are probed in the order of :data:`READER_NAMES`, each imported when its turn comes (an
ELF vmcore loads no other reader); each reads through the transport layer (:mod:`.source`),
which unwraps flattened streams, so every format can also be read flattened.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Sequence

from ..core.context import Context
from ..core.errors import DumpError, ReleaseMismatchError, UnsupportedDumpError, UsageError
from ..core.hints import TYPE_CHECKING, Any, Protocol, Union
from ..core.vmcoreinfo import VmcoreInfo
from .base import DumpReader
from .raw import RawReader, parse_spec
from .source import Source, open_source

if TYPE_CHECKING:
    from .sadump import SadumpReader


class ReaderClass(Protocol):
    """What :data:`READERS` holds: a :class:`DumpReader` class, which tells
    whether a source is in its format and opens it."""

    def probe(self, source: Source) -> bool: ...

    def __call__(self, source: Source) -> DumpReader: ...


# (module, class) in probing order: xc_core before elf, as an xc_core file is an ELF file too
READER_NAMES: tuple[tuple[str, str], ...] = (
    ("xc_core", "XcCoreReader"), ("elf", "ElfReader"), ("kdump", "KdumpReader"), ("lime", "LimeReader"),
    ("s390dump", "S390DumpReader"), ("lkcd", "LkcdReader"), ("sadump", "SadumpReader"), ("vmdump", "VmdumpReader"),
    ("xc_save", "XcSaveReader"),
)


def _reader(module: str, name: str) -> Any:
    return getattr(importlib.import_module(f".{module}", __name__), name)


def readers() -> Iterator[ReaderClass]:
    """The reader classes in probing order, each imported when reached."""
    for module, name in READER_NAMES:
        yield _reader(module, name)


def __getattr__(name: str) -> Any:
    if name == "READERS":  # every reader class, in probing order (imports them all)
        return tuple(readers())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

KNOWN = ("ELF (a vmcore, QEMU's or makedumpfile's -E), kdump-compressed (KDUMP/DISKDUMP), flattened, "
         "LiME, AVML, Xen xc_core and save images, S390DUMP, LKCD, SADUMP, z/VM VMDUMP, and those inside a zstd or "
         "lz4 stream")

PathLike = Union[str, "os.PathLike[str]"]  # a runtime alias: typing.Union, as Python 3.9 has no X | Y of types


def open_reader(path: PathLike | int, name: str | None = None) -> DumpReader:
    """Probe ``path`` with every reader and open it with the first that accepts it; a raw
    memory image is named ``FILE@ADDRESS``."""
    spec = parse_spec(path)
    if spec is not None:
        return RawReader.open([spec])
    src: Source = open_source(path, name)
    try:
        for cls in readers():
            if cls.probe(src):
                return cls(src)
        head = src.pread(0, 8)
        if not head:
            raise UnsupportedDumpError("Cannot open: the file is empty", src.name)
        raise UnsupportedDumpError(
            f"Cannot open: not a crash dump we know (starts with {head.hex()}; looked for {KNOWN}; a raw memory "
            "image is given as FILE@ADDRESS)", src.name
        )
    except BaseException:
        src.close()
        raise


def open_dump(paths: PathLike | int | Sequence[PathLike], *, vmcoreinfo: bytes | None = None,
              vmlinux: str | None = None, merge: bool = False) -> Context:
    """Open a dump as an input :class:`~pymakedumpfile.context.Context`.

    :param paths: a file name or an open file descriptor; or several file
        names: the parts of a split dump in any order, or the disks of a SADUMP disk set (disk 1
        first, the others in any order).
    :param vmcoreinfo: VMCOREINFO text to use in place of the dump's own.
    :param merge: take ``vmcoreinfo`` as makedumpfile's ``-i`` does (:func:`merge_vmcoreinfo`):
        its symbols moved by the dump's KASLR offset, the lines it lacks from the dump's own.
    :param vmlinux: a kernel image with DWARF (``-x``): what VMCOREINFO lacks
        is taken from it (symbols moved by the dump's KERNELOFFSET); what it
        has is kept.  The image must be of the dump's kernel.
    :raises ReleaseMismatchError: ``vmcoreinfo`` or ``vmlinux`` is of another kernel release.
    """
    ctx = _open(paths)
    try:
        if vmcoreinfo is not None and merge:
            vmcoreinfo = merge_vmcoreinfo(vmcoreinfo, ctx.reader.vmcoreinfo)
        if vmlinux is not None:
            vmcoreinfo = _fill_from_vmlinux(vmcoreinfo if vmcoreinfo is not None else ctx.reader.vmcoreinfo.raw,
                                            vmlinux, ctx.attr.get("linux.uts.release"))
        if vmcoreinfo is not None:
            vi = VmcoreInfo(vmcoreinfo)
            if not vi.osrelease:
                raise UnsupportedDumpError("Cannot use this VMCOREINFO: it has no OSRELEASE line")
            release = ctx.attr.get("linux.uts.release")
            if release and release != vi.osrelease:
                raise ReleaseMismatchError(
                    f"Cannot use this VMCOREINFO: it is for {vi.osrelease}, the dump is of {release}", ctx.name)
            ctx.reader.use_vmcoreinfo(vmcoreinfo)
            ctx = Context(ctx.reader)  # attributes anew from the VMCOREINFO given
    except BaseException:
        ctx.close()
        raise
    return ctx


def merge_vmcoreinfo(given: bytes, own: VmcoreInfo) -> bytes:
    """makedumpfile's ``-i``: the VMCOREINFO of a file (as ``-g`` writes it from the kernel
    image) applied to a dump.  The image's symbols are link-time addresses: each SYMBOL is
    moved by the KASLR offset of the dump's own VMCOREINFO (its KERNELOFFSET).  A text that
    has a KERNELOFFSET line of its own (a copy of a dump's VMCOREINFO) is already moved and is
    taken as it is (makedumpfile would move it twice).  The lines the text lacks come from the
    dump's own VMCOREINFO; where both have a line, the text's wins."""
    mine = VmcoreInfo(given)
    shift = 0 if "KERNELOFFSET" in mine.lines else (own.get_int("KERNELOFFSET") or 0)
    out = []
    for line in given.split(b"\0", 1)[0].decode("ascii", "replace").splitlines():
        key, sep, value = line.partition("=")
        if shift and sep and key in (f"SYMBOL({n})" for n in mine.SYMBOL):
            line = f"{key}={(int(value, 16) + shift) % (1 << 64):x}"
        out.append(line)
    out += [f"{k}={v}" for k, v in own.lines.items() if k not in mine.lines]
    return ("\n".join(out) + "\n").encode()


def _fill_from_vmlinux(raw: bytes, vmlinux: str, release: str | None) -> bytes:
    """``raw`` with the lines it lacks from ``vmlinux``'s DWARF.  An image without DWARF (a
    stripped vmlinux, for ``--config`` through its .BTF) adds nothing to a dump that has its
    own VMCOREINFO."""
    from .dwarf import generate_vmcoreinfo
    from .vmlinux import Elf

    have = VmcoreInfo(raw)
    if have.osrelease and ".debug_info" not in Elf(vmlinux).sections:
        return raw
    gen = VmcoreInfo(generate_vmcoreinfo(vmlinux))
    want = have.osrelease or release
    if want and gen.osrelease != want:
        raise ReleaseMismatchError(f"Cannot use this kernel image: it is {gen.osrelease}, the dump is of {want}",
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


def _sadump_disk_set(paths: list[PathLike]) -> SadumpReader | None:
    """The disks of a SADUMP disk set (disk 1 first), or None when the first file is not one."""
    from .sadump import SadumpReader

    sources: list[Source] = [open_source(paths[0])]
    try:
        if not SadumpReader.probe(sources[0]):
            sources[0].close()
            return None
        sources += [open_source(p) for p in paths[1:]]
        return SadumpReader(sources[0], sources[1:])
    except BaseException:
        for s in sources:
            s.close()
        raise


def _open(paths: PathLike | int | Sequence[PathLike]) -> Context:
    if isinstance(paths, (str, os.PathLike, int)):
        return Context(open_reader(paths))
    paths = list(paths)
    if not paths:
        raise UsageError("Cannot open a dump: no file given")
    if len(paths) == 1:
        return Context(open_reader(paths[0]))
    specs = [parse_spec(p) for p in paths]
    if all(specs):
        return Context(RawReader.open(specs))  # type: ignore[arg-type]
    sadump = _sadump_disk_set(paths)
    if sadump is not None:
        return Context(sadump)
    from .kdump import KdumpReader
    from .split import SplitReader

    opened: list[DumpReader] = []
    try:
        for p in paths:
            opened.append(open_reader(p))
        kd = []
        for r in opened:
            if not isinstance(r, KdumpReader):
                raise UnsupportedDumpError("Cannot open split set: only kdump-compressed files can be split parts",
                                           r.name)
            kd.append(r)
        return Context(SplitReader(kd))
    except BaseException:
        for r in opened:
            r.close()
        raise


__all__ = ["READERS", "DumpError", "open_dump", "open_reader"]
