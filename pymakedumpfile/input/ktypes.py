"""A kernel's symbols and types, for what walks kernel objects (``--config``, the gdbserver's
task view): from a kernel image with DWARF (:class:`DwarfTypes`), or from BTF with symbols
from kallsyms or an image's symbol table (:class:`BtfTypes`); :func:`kernel_types` picks the
source (docs/btf.md).

The type model is makedumpfile's: a type is followed through typedefs, qualifiers, pointers
and arrays to the type at the end of the chain, and noted as pointer, array, structure or base
type on the way (:class:`TypeInfo`).
"""

from __future__ import annotations

from typing import NamedTuple

from ..core.errors import DumpError
from ..core.hints import Any
from ..formats import btf
from .dwarf import A_BYTE_SIZE, A_DECL, T_ARRAY, T_POINTER, T_STRUCT, T_UNION

BASE, ARRAY, PTR, STRUCT, LIST_HEAD = 0x01, 0x02, 0x04, 0x08, 0x10

# the DWARF tag and attribute input/dwarf.py has no use for
_T_BASE, _A_SPECIFICATION = 0x24, 0x47


class TypeInfo(NamedTuple):
    """A type as makedumpfile sees it: ``flags`` (BASE, ARRAY, PTR, STRUCT, LIST_HEAD) met
    along the chain, the ``name`` and ``size`` of the type at its end ("void" for a pointer to
    nothing), the length of the first array met, and the DIE at the end (for members)."""

    flags: int
    name: str | None
    size: int
    length: int
    die: int | None


class DwarfTypes:
    """Symbols (.symtab) and types (DWARF) of a kernel image, indexed for ``names`` only; a
    structure met only as a declaration is looked up by name in a second pass."""

    def __init__(self, vmlinux: str, names: frozenset[str], symbols: dict[str, int] | None = None) -> None:
        from .dwarf import Dwarf
        from .vmlinux import Elf

        self.path = vmlinux
        self.elf = Elf(vmlinux)
        self.names = set(names) | {"list_head"}
        self.dw = Dwarf(self.elf, frozenset(self.names))
        # a module's symbols are where the dump's kernel loaded it, not in its debug file
        self.syms = self.elf.symbols() if symbols is None else symbols
        self.runtime_symbols = symbols is not None  # else link addresses: KASLR to be added
        self.sym_source = vmlinux

    def symbol(self, name: str) -> int | None:
        v = self.syms.get(name)
        return v or None

    def variable(self, name: str) -> TypeInfo | None:
        off = self.dw.variables.get(name)
        if off is None:
            return None
        d = self.dw.die(off)
        seen = 0
        while d.type_ref is None and isinstance(d.attrs.get(_A_SPECIFICATION), int) and seen < 4:
            d = self.dw.die(d.attrs[_A_SPECIFICATION])  # type: ignore[arg-type]
            seen += 1
        return self.describe(d.type_ref) if d.type_ref is not None else None

    def untyped(self, name: str) -> str:
        """Why symbol ``name`` has no type here."""
        return f"'{name}' has no type in the debug information of {self.path}"

    def describe(self, ref: int | None) -> TypeInfo:
        flags, length, last = 0, -1, None
        seen = 0
        while ref is not None and seen < 64:
            d = self.dw.die(ref)
            if d.tag == T_ARRAY:
                flags |= ARRAY
                if length < 0:
                    length = self.dw._array_length(d.offset) or 0
            elif d.tag == T_POINTER:
                flags |= PTR
            elif d.tag == T_STRUCT:
                flags |= STRUCT
            elif d.tag == _T_BASE:
                flags |= BASE
            last, ref = d, d.type_ref
            seen += 1
        if last is None:
            return TypeInfo(0, None, 0, 0, None)
        name = last.name or ("void" if flags == PTR else None)
        size = last.attrs.get(A_BYTE_SIZE)
        if name == "list_head":
            flags |= LIST_HEAD
        return TypeInfo(flags, name, size if isinstance(size, int) else 0, max(length, 0), last.offset)

    def _complete(self, t: TypeInfo) -> Any:
        """The DIE that lists the members of ``t`` (a declaration's definition, found by name)."""
        if t.die is None:
            return None
        d = self.dw.die(t.die)
        if d.tag not in (T_STRUCT, T_UNION):
            return None
        if A_DECL not in d.attrs:
            return d
        if t.name is None:
            return None
        return self._struct_die(t.name)

    def _struct_die(self, name: str) -> Any:
        if name not in self.names:  # index the image again, with this name too
            from .dwarf import Dwarf

            self.names.add(name)
            self.dw = Dwarf(self.elf, frozenset(self.names))
        return self.dw.struct_die(name)

    def member(self, t: TypeInfo, name: str) -> tuple[int, TypeInfo] | None:
        d = self._complete(t)
        r = self.dw._find_member(d, name) if d is not None else None
        if r is None:
            return None
        return r[0], self.describe(r[1].type_ref)

    def struct(self, name: str) -> TypeInfo | None:
        d = self._struct_die(name)
        if d is None:
            return None
        return TypeInfo(STRUCT | (LIST_HEAD if name == "list_head" else 0), name,
                        int(d.attrs.get(A_BYTE_SIZE, 0) or 0), 0, d.offset)


class BtfTypes:
    """Types from BTF (:class:`~pymakedumpfile.input.btf.Btf`) and symbols from a table given
    (kallsyms, a kernel image's .symtab, a module's table), with :class:`DwarfTypes`' methods
    and its type model: ``TypeInfo.die`` is a BTF type ID."""

    _NEXT = frozenset((btf.TYPEDEF, btf.VOLATILE, btf.CONST, btf.RESTRICT, btf.TYPE_TAG))
    _SIZED = frozenset((btf.INT, btf.STRUCT, btf.UNION, btf.ENUM, btf.ENUM64, btf.FLOAT))

    def __init__(self, types: Any, symbols: dict[str, int], path: str, ptr_size: int = 8,
                 sym_source: str | None = None, runtime_symbols: bool = True) -> None:
        self.btf, self.syms, self.path, self.ptr_size = types, symbols, path, ptr_size
        self.sym_source = sym_source or path  # where the symbols are from, for messages
        self.runtime_symbols = runtime_symbols  # False: an image's link addresses (KASLR to be added)

    def symbol(self, name: str) -> int | None:
        return self.syms.get(name) or None

    def untyped(self, name: str) -> str:
        if self.btf.global_variables():
            return f"BTF has no variable '{name}' ({self.path})"
        return (f"'{name}' has no type: the BTF of {self.path} describes only per-CPU variables (as kernels are "
                "built unless pahole's global_var is on); give -x VMLINUX with DWARF, or --btf FILE with global "
                "variables (docs/btf.md)")

    def variable(self, name: str) -> TypeInfo | None:
        tid = self.btf.variable(name)
        return None if tid is None else self.describe(tid)

    def describe(self, tid: int) -> TypeInfo:
        b = self.btf
        flags, length, last, seen = 0, -1, None, 0
        while tid and seen < 64:
            t = b[tid]
            last, nxt = tid, None
            if t.kind == btf.ARRAY:
                flags |= ARRAY
                if length < 0:
                    length = t.extra[1]
                nxt = t.extra[0]
            elif t.kind == btf.PTR:
                flags |= PTR
                nxt = t.size_or_type
            elif t.kind == btf.STRUCT or (t.kind == btf.FWD and not t.flag):  # a declared structure too
                flags |= STRUCT
            elif t.kind in (btf.INT, btf.FLOAT):
                flags |= BASE
            elif t.kind in self._NEXT:
                nxt = t.size_or_type
            tid = nxt or 0
            seen += 1
        if last is None:
            return TypeInfo(0, None, 0, 0, None)
        t = b[last]
        name = t.name or ("void" if flags == PTR else None)
        size = t.size_or_type if t.kind in self._SIZED else self.ptr_size if t.kind == btf.PTR else 0
        if name == "list_head":
            flags |= LIST_HEAD
        return TypeInfo(flags, name, size, max(length, 0), last)

    def _find(self, tid: int, name: str, depth: int = 0) -> tuple[int, int] | None:
        """(bit offset, type ID) of member ``name`` of ``tid``, looking into anonymous structure
        and union members."""
        if depth > 16:
            return None
        for mname, mtype, bit in self.btf.members(tid):
            if mname == name:
                return bit, mtype
            if not mname:
                inner = self.btf.skip(mtype)
                if self.btf[inner].kind in (btf.STRUCT, btf.UNION):
                    r = self._find(inner, name, depth + 1)
                    if r is not None:
                        return bit + r[0], r[1]
        return None

    def member(self, t: TypeInfo, name: str) -> tuple[int, TypeInfo] | None:
        if t.die is None:
            return None
        tid = t.die
        if self.btf[tid].kind == btf.FWD:  # a declaration: the structure of that name
            found = self.btf.struct(self.btf[tid].name)
            if found is None:
                return None
            tid = found
        r = self._find(tid, name)
        if r is None:
            return None
        return r[0] // 8, self.describe(r[1])

    def struct(self, name: str) -> TypeInfo | None:
        tid = self.btf.struct(name)
        if tid is None:
            return None
        return TypeInfo(STRUCT | (LIST_HEAD if name == "list_head" else 0), name,
                        self.btf[tid].size_or_type, 0, tid)


def kernel_types(ctx: Any, names: frozenset[str], vmlinux: str | None, btf_path: str | None,
                 mem: Any) -> tuple[DwarfTypes | BtfTypes, Any]:
    """The symbols and types of the kernel of dump ``ctx`` (and its Btf, if types are BTF):
    ``vmlinux``'s DWARF (indexed for ``names``) when it has DWARF and no ``btf_path`` is given;
    otherwise BTF (``btf_path``: a file, or a directory saved from /sys/kernel/btf; else the
    image's .BTF section; else the BTF in the dump's memory) with the image's .symtab, or
    without an image the kallsyms VMCOREINFO points to.

    :raises DumpError: no symbols or types can be had, or the BTF is not the dump kernel's.
    """
    import os

    from ..translate.kallsyms import has_kallsyms
    from .btf import Btf, read_btf_file
    from .vmlinux import Elf

    elf = Elf(vmlinux) if vmlinux is not None else None
    if elf is not None and btf_path is None and ".debug_info" in elf.sections:
        return DwarfTypes(vmlinux, names), None  # type: ignore[arg-type]
    vi = ctx.reader.vmcoreinfo
    if elf is not None:
        syms, where = elf.symbols(), str(vmlinux)
        if not syms:
            raise DumpError("Cannot use this kernel image: it has no symbol table", vmlinux)
    elif has_kallsyms(vi):
        syms, where = ctx.symbols, f"the kallsyms of {ctx.name}"  # read once per dump
    else:
        raise DumpError("Cannot find the kernel's symbols: the dump does not say where they are (its VMCOREINFO has "
                        "no kallsyms, Linux 6.0 and later have them): give -x VMLINUX", ctx.name)
    if btf_path is not None:
        f = os.path.join(btf_path, "vmlinux") if os.path.isdir(btf_path) else btf_path
        b = read_btf_file(f)
    elif elf is not None:
        if ".BTF" not in elf.sections:
            raise DumpError("Cannot use this kernel image: it has neither DWARF nor BTF", vmlinux)
        b = Btf(bytes(elf.section(".BTF")), vmlinux)  # type: ignore[arg-type]
    else:
        lo, hi = syms.get("__start_BTF"), syms.get("__stop_BTF")
        if not lo or not hi or not 0 < hi - lo < 1 << 28:
            raise DumpError("Cannot find the kernel's types: its symbols have no __start_BTF (a kernel without "
                            "CONFIG_DEBUG_INFO_BTF, or kallsyms without data symbols): give -x VMLINUX", ctx.name)
        try:
            blob = mem.read(lo, hi - lo)
        except DumpError as e:
            raise DumpError(f"Cannot read the kernel's BTF at {lo:#x}: {e}", ctx.name) from None
        b = Btf(blob, f"{ctx.name} (BTF at {lo:#x})")
    types = BtfTypes(b, syms, b.source, mem.ptr_size, sym_source=where, runtime_symbols=elf is None)
    check_layout(vi, types)
    return types, b


def check_layout(vi: Any, types: BtfTypes) -> None:
    """Refuse BTF that is not the dump kernel's: every SIZE(S) and OFFSET(S.M) of its
    VMCOREINFO that the BTF can answer must be what the BTF says."""
    checks = [(f"SIZE({k})", k, None, v) for k, v in vi.SIZE.items()]
    checks += [(f"OFFSET({k})", *k.split(".", 1), v) for k, v in vi.OFFSET.items() if "." in k]
    for key, struct_name, member, want in checks:
        s = types.struct(struct_name)
        if s is None:
            continue
        if member is None:
            have: int | None = s.size
        else:
            r = types.member(s, member)
            have = r[0] if r is not None else None
        if have is not None and have != want:
            raise DumpError(f"Cannot use this BTF: it is not the dump's kernel's ({key} is {have} in it, "
                            f"{want} in the dump)", types.path)


def check_kernel_image(types: DwarfTypes | BtfTypes, mem: Any, kaslr: int, vmlinux: str | None) -> None:
    """Refuse a kernel image that is not the dump's: its linux_banner must be in the dump."""
    if vmlinux is None:
        return  # the symbols are the dump's own
    from .vmlinux import Elf

    elf = types.elf if isinstance(types, DwarfTypes) else Elf(vmlinux)
    addr = types.symbol("linux_banner")
    want = elf.read_addr(addr, 64) if addr else None
    if addr is None or want is None:
        return
    try:
        have = mem.read(addr + kaslr, len(want))
    except DumpError:
        return
    if have != want:
        cut = want.split(b"\0", 1)[0].decode("ascii", "replace")[:60]
        raise DumpError(f"Cannot use this kernel image: it is not the dump's kernel ({cut!r} is not in "
                        "the dump)", vmlinux)


__all__ = ["ARRAY", "BASE", "LIST_HEAD", "PTR", "STRUCT", "BtfTypes", "DwarfTypes", "TypeInfo", "check_kernel_image",
           "check_layout", "kernel_types"]
