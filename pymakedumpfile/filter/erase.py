"""Erasing what a filter configuration names (``--config``): find each object in the dump,
overwrite its bytes as the pages go to the writer, and say what was erased (eraseinfo).

- :class:`DwarfTypes`: symbols and types from a kernel image with DWARF (``-x VMLINUX``).
  The type model is makedumpfile's: a type is followed through typedefs, qualifiers, pointers
  and arrays to the type at the end of the chain, and noted as pointer, array, structure or
  base type on the way (:class:`TypeInfo`).
- :func:`plan_erase`: each command of the configuration evaluated in the dump's memory: the
  ranges to overwrite, as physical pieces of pages (:class:`EraseSet`).
- :class:`ErasingReader`: the reader a write context reads its pages through; it patches the
  pieces into the pages it returns, before the writer looks for zero pages or compresses,
  and notes which pieces went out.
- :meth:`EraseSet.eraseinfo`: the lines the dump records, one per object erased, with the
  bytes that were erased in the pages written.

docs/erase.md describes the language, what each command erases and where we differ from
makedumpfile.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import NamedTuple

from ..core.errors import DumpError
from ..core.hints import Any
from ..formats.elf import Sym
from ..input.ktypes import (
    ARRAY,
    BASE,
    LIST_HEAD,
    PTR,
    STRUCT,
    BtfTypes,
    DwarfTypes,
    TypeInfo,
    check_kernel_image,
    kernel_types,
)
from .config import Config, ConfigError, Erase, Loop

FILL = 0x58  # 'X': what an erased byte becomes (a nullified pointer becomes zeros)
STRLEN_MAX = 1024  # a `char *` erases its string up to this many bytes
MAX_ITEMS = 1 << 20  # elements a loop may visit before the list is taken as broken


class Node(NamedTuple):
    """An object found in memory: where the expression's last piece is (``sym``), the address
    it stands for (``addr``: the object itself, or what a pointer points to), its type, and
    the size it erases by default."""

    sym: int
    addr: int
    t: TypeInfo
    size: int


class Target(NamedTuple):
    """One object to erase: the command it came from, its virtual address and size."""

    command: int
    text: str
    vaddr: int
    size: int
    nullify: bool
    line: int  # of the erase command in the configuration


class Evaluator:
    """Evaluates a configuration's commands in a dump's kernel memory."""

    def __init__(self, config: Config, types: DwarfTypes | BtfTypes, mem: Any, kaslr: int, text_range: tuple[int, int],
                 modules: Any = None) -> None:
        self.config, self.mem = config, mem
        self.kernel = (types, kaslr, text_range)  # a [MODULE] section has its own while it is evaluated
        self.types, self.kaslr, self.text_range = self.kernel
        self.modules = modules  # (name) -> DwarfTypes of a loaded module, None if it is not loaded
        self.ptr_size = mem.ptr_size
        self.line = 0

    def fail(self, message: str) -> ConfigError:
        return ConfigError(self.config.path, self.line, message)

    def _read_ptr(self, addr: int, what: str) -> int:
        try:
            return int(self.mem.ptr(addr))
        except DumpError as e:
            raise self.fail(f"Cannot read {what} at {addr:#x}: {e}") from None

    def _strlen(self, addr: int) -> int:
        n = 0
        while n < STRLEN_MAX:
            chunk = min(STRLEN_MAX - n, 4096 - (addr + n) % 4096)
            try:
                b = self.mem.read(addr + n, chunk)
            except DumpError:
                return n
            z = b.find(0)
            if z >= 0:
                return n + z
            n += chunk
        return STRLEN_MAX

    def _finish(self, sym: int, t: TypeInfo) -> Node:
        """The node of an object at ``sym`` of type ``t``: a pointer (not an array) stands for
        what it points to; a ``char *`` for its string; a ``void *`` has no size of its own."""
        addr, size = sym, t.size
        if t.flags & (ARRAY | PTR) == PTR:
            addr = self._read_ptr(sym, "a pointer")
            if t.name == "void":
                size = 0
            elif t.flags & BASE and t.name == "char":
                size = self._strlen(addr) if addr else 0
        return Node(sym, addr, t, size)

    def _symbol(self, name: str) -> Node:
        addr = self.types.symbol(name)
        if addr is None:
            raise self.fail(f"no symbol '{name}' in {self.types.sym_source}")
        if self.text_range[0] <= addr <= self.text_range[1]:
            addr += self.kaslr
        t = self.types.variable(name)
        if t is None or (t.name is None and t.die is None):
            raise self.fail(self.types.untyped(name))
        return self._finish(addr, t)

    def chain(self, expr: tuple[str, ...], var: tuple[str, Node] | None) -> Node | None:
        """The node of ``expr`` (None: a pointer on the way is NULL, so there is nothing)."""
        node = var[1] if var is not None and expr[0] == var[0] else self._symbol(expr[0])
        for i, piece in enumerate(expr[1:], 1):
            if node.addr == 0:
                return None
            if node.t.flags & ARRAY and node.t.flags & PTR:
                raise self.fail(f"{'.'.join(expr[:i])} is an array of pointers: use it in a 'for' loop")
            m = self.types.member(node.t, piece)
            if m is None:
                what = f"struct {node.t.name}" if node.t.name else "its type"
                raise self.fail(f"{what} ('{'.'.join(expr[:i])}') has no member '{piece}'")
            off, mt = m
            node = self._finish(node.addr + off, mt)
        return node

    def size_value(self, expr: tuple[str, ...], var: tuple[str, Node] | None) -> int | None:
        node = self.chain(expr, var)
        if node is None:
            return None
        t = node.t
        if t.flags & (ARRAY | BASE) != BASE or not 0 < t.size <= 8:
            raise self.fail(f"size {'.'.join(expr)}: not an integer")
        try:
            return int(self.mem.uint(node.addr, t.size))
        except DumpError as e:
            raise self.fail(f"Cannot read size {'.'.join(expr)} at {node.addr:#x}: {e}") from None

    def erase(self, index: int, e: Erase, var: tuple[str, Node] | None) -> Target | None:
        self.line = e.line
        node = self.chain(e.expr, var)
        if node is None:
            return None  # a NULL pointer on the way: nothing there
        t = node.t
        if e.nullify:
            if not t.flags & PTR or t.flags & ARRAY:
                raise self.fail(f"'{e.text}' is not a pointer: 'nullify' sets a pointer to NULL")
            return Target(index, e.text, node.sym, self.ptr_size, True, e.line)
        own = t.length * (self.ptr_size if t.flags & PTR else t.size) if t.flags & ARRAY else node.size
        if e.size is None:
            size = own
            if t.flags & (ARRAY | PTR) == PTR and t.name == "void":
                raise self.fail(f"'{e.text}' is a void pointer: say how much it points to ('size N' or "
                                f"'size EXPR'), or 'nullify'")
        elif isinstance(e.size, int):
            size = e.size
        else:
            v = self.size_value(e.size, var)
            self.line = e.line
            if v is None:
                return None
            size = v
        pointee = t.flags & (ARRAY | PTR) == PTR
        if e.size is not None and not pointee and size > own:
            raise self.fail(f"size {size} is past the end of '{e.text}' ({own} bytes)")
        if node.addr == 0 or size <= 0:
            return None
        return Target(index, e.text, node.addr, size, False, e.line)

    def elements(self, loop: Loop) -> Iterator[Node]:
        """The elements a ``for`` loop visits."""
        self.line = loop.line
        node = self.chain(loop.expr, None)
        if node is None:
            return
        t = node.t
        text = ".".join(loop.expr)
        if t.flags & ARRAY:
            if loop.via or loop.within:
                raise self.fail(f"{text} is an array: 'via' and 'within' are for lists")
            for i in range(t.length):
                if t.flags & PTR:
                    slot = node.addr + i * self.ptr_size
                    p = self._read_ptr(slot, f"{text}[{i}]")
                    if p == 0:
                        continue
                    size = self._strlen(p) if t.flags & BASE and t.name == "char" else t.size
                    yield Node(slot, p, t._replace(flags=t.flags & ~ARRAY), size)
                else:
                    a = node.addr + i * t.size
                    yield Node(a, a, t._replace(flags=t.flags & ~ARRAY), t.size)
            return
        if t.flags & LIST_HEAD:
            yield from self._list_head(loop, node, text)
            return
        if t.flags & STRUCT:
            if loop.within:
                raise self.fail(f"{text} is a structure, not a list_head: use 'via MEMBER'")
            yield from self._via(loop, node, text)
            return
        raise self.fail(f"{text} is not an array, a structure or a list_head: nothing to loop over")

    def _list_head(self, loop: Loop, node: Node, text: str) -> Iterator[Node]:
        if loop.within is None:
            raise self.fail(f"{text} is a list_head: say which structures it links ('within STRUCT:MEMBER')")
        nxt_off = self._member_off(self.types.struct("list_head"), "next", "list_head")
        if len(loop.expr) > 1 and loop.expr[-1] == "next" and node.t.flags & PTR:
            head = node.sym - nxt_off
        else:
            head = node.addr
        s = self.types.struct(loop.within[0])
        if s is None:
            raise self.fail(f"no structure '{loop.within[0]}' in {self.types.path}")
        m = self.types.member(s, loop.within[1])
        if m is None:
            raise self.fail(f"struct {loop.within[0]} has no member '{loop.within[1]}'")
        if m[1].name != "list_head" or m[1].flags & (PTR | ARRAY):
            raise self.fail(f"{loop.within[0]}.{loop.within[1]} is not a struct list_head")
        off = m[0]
        p = self._read_ptr(head + nxt_off, f"{text}.next")
        seen: set[int] = set()
        while p != head:
            if p == 0:
                raise self.fail(f"the list at {text} has a NULL link: it does not return to its head")
            if p in seen or len(seen) >= MAX_ITEMS:
                raise self.fail(f"the list at {text} loops without returning to its head")
            seen.add(p)
            yield Node(p - off, p - off, s, s.size)
            p = self._read_ptr(p + nxt_off, f"a link of {text}")

    def _via(self, loop: Loop, node: Node, text: str) -> Iterator[Node]:
        via = loop.via or "next"
        m = self.types.member(node.t, via)
        if m is None:
            raise self.fail(f"struct {node.t.name} has no member '{via}' to follow")
        off, mt = m
        if mt.flags & (PTR | ARRAY) != PTR or mt.name != node.t.name:
            raise self.fail(f"{node.t.name}.{via} does not point to a struct {node.t.name}")
        first = node.addr
        p, sym = first, node.sym
        t = node.t._replace(flags=node.t.flags & ~PTR)
        seen: set[int] = set()
        while p:
            if p in seen or len(seen) >= MAX_ITEMS:
                raise self.fail(f"the list from {text} via {via} loops without returning to its start")
            seen.add(p)
            yield Node(sym, p, t, t.size)
            sym = p + off
            p = self._read_ptr(sym, f"{text}.{via}")
            if p == first:
                break

    def _member_off(self, s: TypeInfo | None, member: str, struct: str) -> int:
        m = self.types.member(s, member) if s is not None else None
        if m is None:
            raise self.fail(f"no member {member} in struct {struct} in {self.types.path}")
        return m[0]

    def targets(self) -> tuple[list[Target], list[str]]:
        """Every object to erase, in the order of the commands; and the warnings."""
        out: list[Target] = []
        warnings: list[str] = []
        index = 0
        for section in self.config.sections:
            if section.name == "vmlinux":
                self.types, self.kaslr, self.text_range = self.kernel
            else:
                self.line = section.line
                mod = self.modules(section) if self.modules is not None else None
                if mod is None:  # as makedumpfile: a section of a module the machine did not load
                    warnings.append(f"{self.config.path}:{section.line}: [{section.name}] is not loaded in the "
                                    "dump: its commands are skipped")
                    continue
                self.types, self.kaslr, self.text_range = mod, 0, (1, 0)  # its symbols are load addresses
            for c in section.commands:
                if isinstance(c, Erase):
                    tg = self.erase(index, c, None)
                    if tg is not None:
                        out.append(tg)
                    index += 1
                    continue
                base = index
                index += len(c.body)
                for el in self.elements(c):
                    for k, e in enumerate(c.body):
                        tg = self.erase(base + k, e, (c.var, el))
                        if tg is not None:
                            out.append(tg)
        return out, warnings


class Piece(NamedTuple):
    pfn: int
    offset: int  # in the page
    length: int
    fill: int
    target: int  # index in EraseSet.targets


class EraseSet:
    """What to erase, as pieces of pages, and which pieces went out."""

    def __init__(self, targets: list[Target], pieces: list[Piece], page_size: int, warnings: list[str]) -> None:
        self.targets = targets
        self.page_size = page_size
        self.warnings = warnings
        self.by_pfn: dict[int, list[int]] = {}
        for i, p in enumerate(pieces):
            self.by_pfn.setdefault(p.pfn, []).append(i)
        self.pieces = pieces
        self.pfns = sorted(self.by_pfn)
        self.applied: set[int] = set()

    def __bool__(self) -> bool:
        return bool(self.targets)

    def fresh(self) -> EraseSet:
        """The same pieces with nothing applied yet (for another write)."""
        return EraseSet(self.targets, self.pieces, self.page_size, self.warnings)

    def patch(self, pfn: int, data: bytes) -> bytes:
        """``data``, the pages from ``pfn``, with the pieces that fall in them overwritten."""
        ps = self.page_size
        n = len(data) // ps
        lo = bisect.bisect_left(self.pfns, pfn)
        hi = bisect.bisect_left(self.pfns, pfn + n)
        if lo == hi:
            return data
        buf = bytearray(data)
        for q in self.pfns[lo:hi]:
            base = (q - pfn) * ps
            for i in self.by_pfn[q]:
                p = self.pieces[i]
                buf[base + p.offset : base + p.offset + p.length] = bytes((p.fill,)) * p.length
                self.applied.add(i)
        return bytes(buf)

    def eraseinfo(self, start: int = 0, end: int | None = None) -> bytes:
        """The eraseinfo lines of the pieces written from pfns [start, end): per object, in
        the order of the commands, ``erase EXPR size N`` (N: the bytes erased in the pages
        written) or ``erase EXPR nullify``."""
        return self._lines(self.applied, start, end)

    def planned(self) -> bytes:
        """The eraseinfo of a write that erases every object whole: an ELF file's note is
        sized by it before the pages are written (makedumpfile sizes it so too)."""
        return self._lines(set(range(len(self.pieces))), 0, None)

    def _lines(self, applied: set[int], start: int, end: int | None) -> bytes:
        done: dict[int, int] = {}
        for i in applied:
            p = self.pieces[i]
            if p.pfn >= start and (end is None or p.pfn < end):
                done[p.target] = done.get(p.target, 0) + p.length
        # grouped by command, commands in the order their first object was found (in a loop,
        # every object of its first erase, then of its second...), as makedumpfile lists them
        order: dict[int, int] = {}
        for t in self.targets:
            order.setdefault(t.command, len(order))
        lines = []
        for i, t in sorted(enumerate(self.targets), key=lambda it: order[it[1].command]):
            if i in done:
                lines.append(f"erase {t.text} nullify\n" if t.nullify else f"erase {t.text} size {done[i]}\n")
        return "".join(lines).encode()


class ErasingReader:
    """A dump reader whose pages come out erased (everything else is the wrapped reader's)."""

    def __init__(self, reader: Any, erase: EraseSet) -> None:
        self._reader = reader
        self._erase = erase

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)

    def read_page(self, pfn: int) -> bytes:
        return self._erase.patch(pfn, self._reader.read_page(pfn))

    def read_pages(self, pfn: int, count: int) -> bytes:
        return self._erase.patch(pfn, self._reader.read_pages(pfn, count))

    def read_pages_salvaging(self, pfn: int, count: int, failed: list[tuple[int, str]]) -> bytes:
        data = self._reader.read_pages_salvaging(pfn, count, failed)
        if not failed:
            return self._erase.patch(pfn, data)
        ps = self._erase.page_size
        bad = {p for p, _ in failed}
        out = bytearray(data)
        for i in range(count):
            if pfn + i not in bad:
                out[i * ps : (i + 1) * ps] = self._erase.patch(pfn + i, data[i * ps : (i + 1) * ps])
        return bytes(out)


class HookObject:
    """What a ``--filter-hook`` sees of an object the configuration names.

    :ivar expr: the expression as the configuration wrote it (``fs.name``; in a loop, with
        the loop's variable).
    :ivar line: its line in the configuration.
    :ivar address: kernel virtual address of the bytes to erase.
    :ivar size: how many bytes (a pointer's size for ``nullify``).
    :ivar nullify: the pointer is to be set to NULL (rather than its bytes to 'X').
    """

    def __init__(self, target: Target, mem: Any) -> None:
        self.expr, self.line, self.address = target.text, target.line, target.vaddr
        self.size, self.nullify = target.size, target.nullify
        self._mem = mem

    def read(self, size: int | None = None) -> bytes:
        """The object's bytes in the dump (its first ``size`` bytes)."""
        return bytes(self._mem.read(self.address, self.size if size is None else size))

    def string(self) -> str:
        """The object read as a C string (up to its NUL)."""
        return self.read().split(b"\0", 1)[0].decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"<{self.expr} at {self.address:#x}, {self.size} bytes>"


class FilterHook(NamedTuple):
    """A ``--filter-hook``: the ``erase(obj)`` of the file ``path``."""

    path: str
    erase: Callable[[HookObject], Any]


def load_hook(path: str) -> FilterHook:
    """The ``erase(obj)`` function of the Python file ``path``.

    :raises DumpError: the file cannot be run, or has no such function.
    """
    import runpy

    try:
        ns = runpy.run_path(path)
    except OSError as e:
        raise DumpError(f"Cannot read the filter hook: {e.strerror}", path) from None
    except Exception as e:  # the user's code: whatever it raises is one line
        raise DumpError(f"Cannot load the filter hook: {type(e).__name__}: {e}", path) from None
    fn = ns.get("erase")
    if not callable(fn):
        raise DumpError("the filter hook has no function erase(obj)", path)
    return FilterHook(path, fn)


def plan_erase(ctx: Any, config: Config, vmlinux: str | None, hook: FilterHook | None = None,
               btf_path: str | None = None) -> EraseSet:
    """The objects ``config`` names in the dump ``ctx``, as pieces of pages to overwrite.

    Symbols and types come from ``vmlinux`` (the dump's kernel image) when it has DWARF and no
    ``btf_path`` is given; otherwise types come from BTF (``btf_path``: a file, or a directory
    saved from /sys/kernel/btf; else the image's .BTF section; else the BTF in the dump's
    memory) and symbols from the image's .symtab, or without an image from the kallsyms that
    VMCOREINFO points to.  ``hook`` (a ``--filter-hook``) is asked about each object, as a
    :class:`HookObject`, and a false answer keeps it.

    :raises ConfigError: a command names what the kernel does not have, or cannot be
        evaluated in this dump.
    :raises DumpError: no symbols or types can be had, or they are not the dump's kernel's.
    """
    mem = ctx.kernel_memory()
    kaslr = ctx.reader.vmcoreinfo.get_int("KERNELOFFSET") or 0
    types, kernel_btf = kernel_types(ctx, config.names(), vmlinux, btf_path, mem)
    if isinstance(types, BtfTypes) and vmlinux is None:
        kaslr, text = 0, (1, 0)  # kallsyms addresses are where the kernel ran
    else:
        text = (types.symbol("_text") or 0, types.symbol("_end") or 0)
    check_kernel_image(types, mem, kaslr, vmlinux)
    modules = _Modules(ctx, config, vmlinux, types, mem, kaslr, btf_path, kernel_btf)
    ev = Evaluator(config, types, mem, kaslr, text, modules=modules)
    targets, warnings = ev.targets()
    if hook is not None:
        keep = []
        for t in targets:
            try:
                if hook.erase(HookObject(t, mem)):
                    keep.append(t)
            except Exception as e:  # the user's code: one line, nothing written
                raise DumpError(f"the filter hook failed on {t.text} at {t.vaddr:#x}: {type(e).__name__}: {e}",
                                hook.path) from None
        targets = keep
    # the same start twice: the larger object, named by the first command (as makedumpfile)
    first: dict[int, int] = {}
    kept: list[Target] = []
    for t in targets:
        j = first.get(t.vaddr)
        if j is None:
            first[t.vaddr] = len(kept)
            kept.append(t)
        elif t.size > kept[j].size:
            kept[j] = kept[j]._replace(size=t.size)
    ps = ctx.page_size
    pieces: list[Piece] = []
    for i, t in enumerate(kept):
        v, left = t.vaddr, t.size
        while left > 0:
            n = min(left, ps - v % ps)
            try:
                pa = mem.vtop(v)
            except DumpError as e:
                raise ConfigError(config.path, 0, f"Cannot find '{t.text}' ({v:#x}) in physical memory: {e}") from None
            pieces.append(Piece(pa // ps, pa % ps, n, 0 if t.nullify else FILL, i))
            v += n
            left -= n
    return EraseSet(kept, pieces, ps, warnings)


class _Modules:
    """The modules the dump's kernel had loaded (its ``modules`` list), with each one's symbols
    from the table the kernel kept of it, and the types of a module from its debug file: the
    ``NAME.ko`` of the kernel's debug package, found beside the image given with ``-x``
    (``.../usr/lib/debug/lib/modules/RELEASE``) or in ``/usr/lib/debug/lib/modules/RELEASE``."""

    def __init__(self, ctx: Any, config: Config, vmlinux: str | None, kernel: DwarfTypes | BtfTypes, mem: Any,
                 kaslr: int, btf_path: str | None = None, kernel_btf: Any = None) -> None:
        self.ctx, self.config, self.vmlinux = ctx, config, vmlinux
        self.kernel, self.mem, self.kaslr = kernel, mem, kaslr
        self.btf_path, self.kernel_btf = btf_path, kernel_btf
        self._loaded: dict[str, int] | None = None

    def fail(self, line: int, message: str) -> ConfigError:
        return ConfigError(self.config.path, line, message)

    def _member(self, struct: str, member: str, line: int) -> int:
        s = self.kernel.struct(struct)
        m = self.kernel.member(s, member) if s is not None else None
        if m is None:
            raise self.fail(line, f"no member {member} in struct {struct} in {self.kernel.path}: cannot list modules")
        return m[0]

    def loaded(self, line: int) -> dict[str, int]:
        """name -> address of its struct module."""
        if self._loaded is None:
            head = self.kernel.symbol("modules")
            if head is None:
                raise self.fail(line, f"no symbol 'modules' in {self.kernel.path}: cannot list modules")
            head += self.kaslr
            lst, name = self._member("module", "list", line), self._member("module", "name", line)
            ms = self.kernel.struct("module")
            nt = self.kernel.member(ms, "name") if ms is not None else None
            # char name[MODULE_NAME_LEN]: 64 less a pointer's size
            name_len = nt[1].length if nt is not None and nt[1].length else 64 - self.mem.ptr_size
            out: dict[str, int] = {}
            p = self.mem.ptr(head)
            while p != head and len(out) < 1 << 16:
                m = p - lst
                out.setdefault(self.mem.read(m + name, name_len).split(b"\0", 1)[0].decode("ascii", "replace"), m)
                p = self.mem.ptr(p)
            self._loaded = out
        return self._loaded

    def symbols(self, module: int, line: int) -> dict[str, int]:
        """The module's symbols (name -> address) from the table its kernel kept."""
        ks = self.kernel.struct("module")
        k = self.kernel.member(ks, "kallsyms") if ks is not None else None
        if k is not None:  # a struct mod_kallsyms (Linux 4.5 and later)
            base = self.mem.ptr(module + k[0])
            holder = "mod_kallsyms"
        else:
            base, holder = module, "module"
        symtab = self.mem.ptr(base + self._member(holder, "symtab", line))
        n = self.mem.u32(base + self._member(holder, "num_symtab", line))
        strtab = self.mem.ptr(base + self._member(holder, "strtab", line))
        if not 0 < n < 1 << 20:
            raise self.fail(line, f"the module's symbol table has {n} entries")
        endian, bits = ("<" if self.mem.byte_order == "little" else ">"), 8 * self.mem.ptr_size
        ent = Sym.struct(endian, bits).size
        tab = self.mem.read(symtab, n * ent)
        offs = [(s.st_name, s.st_value) for s in (Sym.unpack(tab, i * ent, endian, bits) for i in range(1, n))]
        strs = self.mem.read(strtab, max(o for o, _ in offs) + 256) if offs else b""
        out: dict[str, int] = {}
        for o, v in offs:
            nm = strs[o : strs.find(b"\0", o)].decode("ascii", "replace")
            if nm and v:
                out.setdefault(nm, v)
        return out

    def debug_file(self, name: str, line: int) -> str:
        import glob
        import os

        release = self.ctx.reader.vmcoreinfo.osrelease or self.ctx.attr.get("linux.uts.release", "")
        roots = []
        d = os.path.dirname(os.path.abspath(self.vmlinux)) if self.vmlinux is not None else ""
        if os.path.basename(d) == "boot":  # .../usr/lib/debug/boot/vmlinux-RELEASE: the -dbg package's layout
            roots.append(os.path.join(os.path.dirname(d), "lib", "modules", release))
        roots.append(os.path.join("/usr/lib/debug/lib/modules", release))
        want = {name.replace("-", "_")}
        for root in roots:
            for f in sorted(glob.glob(os.path.join(root, "**", "*.ko*"), recursive=True)):
                base = os.path.basename(f).split(".ko", 1)[0]
                if base.replace("-", "_") in want and not f.endswith((".xz", ".zst", ".gz")):
                    return f
        raise self.fail(line, f"[{name}]: no debug file {name}.ko in {' or '.join(roots)} (the kernel's -dbg "
                              "package has it)")

    def btf_file(self, name: str, line: int) -> str:
        import os

        d = self.btf_path if self.btf_path is not None and os.path.isdir(self.btf_path) else None
        f = os.path.join(d, name) if d is not None else None
        if f is None or not os.path.isfile(f):
            where = f"no file {f}" if f is not None else "--btf is not a directory"
            raise self.fail(line, f"[{name}]: no BTF for this module ({where}): give --btf DIR, a copy of "
                                  "/sys/kernel/btf with vmlinux and the module's file")
        return f

    def __call__(self, section: Any) -> DwarfTypes | BtfTypes | None:
        m = self.loaded(section.line).get(section.name)
        if m is None:
            return None
        syms = self.symbols(m, section.line)
        if isinstance(self.kernel, DwarfTypes):
            return DwarfTypes(self.debug_file(section.name, section.line), section.names(), symbols=syms)
        from ..input.btf import read_btf_file

        b = read_btf_file(self.btf_file(section.name, section.line), base=self.kernel_btf)
        return BtfTypes(b, syms, b.source, self.mem.ptr_size, sym_source=f"the symbol table of module {section.name}")


__all__ = ["EraseSet", "ErasingReader", "FILL", "plan_erase"]
