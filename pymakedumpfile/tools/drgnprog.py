"""drgn on a dump read by pymakedumpfile: :func:`drgn_program` gives a ``drgn.Program`` whose
memory is the dump's physical memory as our readers give it, so drgn debugs any format we read
(kdump-compressed, flattened, split sets, the memory images), not only those it opens itself.
drgn is not a dependency: it is imported when this is called.
"""

from __future__ import annotations

from ..core.errors import DumpError, UnsupportedDumpError
from ..core.hints import Any

# our architecture names -> drgn's
_ARCHES = {"x86_64": "X86_64", "aarch64": "AARCH64", "s390x": "S390X", "ppc64": "PPC64"}


def drgn_program(ctx: Any, vmlinux: str | None = None) -> Any:
    """A ``drgn.Program`` for the open dump ``ctx``: a custom Linux kernel target with the
    dump's VMCOREINFO and its physical memory (a page the dump lacks is a ``drgn.FaultError``),
    and the debug information of ``vmlinux`` when given (else drgn's default search).

    :raises UnsupportedDumpError: drgn is not installed, or does not know the architecture.
    """
    try:
        import drgn
    except ImportError:
        raise UnsupportedDumpError("drgn is not installed (pip install drgn)", ctx.name) from None
    arch = ctx.attr.get("arch.name", "")
    a = getattr(drgn.Architecture, _ARCHES.get(arch, ""), None)
    if a is None:
        raise UnsupportedDumpError(f"drgn: no platform for the architecture '{arch}'", ctx.name)
    flags = drgn.PlatformFlags.IS_64_BIT if ctx.attr.get("arch.ptr_size", 8) == 8 else drgn.PlatformFlags(0)
    if (ctx.attr.get("arch.byte_order") or "little") == "little":
        flags |= drgn.PlatformFlags.IS_LITTLE_ENDIAN
    prog = drgn.Program(drgn.Platform(a, flags))
    reader = ctx.reader

    def read(address: int, count: int, offset: int, physical: bool) -> bytes:
        try:
            return reader.read_phys(address, count)
        except DumpError as e:
            raise drgn.FaultError(str(e), address) from None

    prog.add_memory_segment(0, ctx.max_pfn * ctx.page_size, read, physical=True)
    prog.set_linux_kernel_custom(bytes(reader.vmcoreinfo.raw), False)
    if vmlinux is not None:
        prog.load_debug_info([vmlinux])
    else:
        prog.load_default_debug_info()
    return prog


__all__ = ["drgn_program"]
