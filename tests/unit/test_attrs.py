"""The declared attribute table (pymakedumpfile/core/attrs.py): every key the package names is
declared; every declared key is set by the part of the package the table says (or is the
caller's); the readers of every format give values of the declared types; a value of the wrong
type is refused."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from gen import Page, build_elf, build_kdump, make_note, prstatus_note, split_files, vmcoreinfo_text

from pymakedumpfile import open_dump
from pymakedumpfile.core import attrs
from pymakedumpfile.core.context import Attributes
from pymakedumpfile.filter import make_write_context

PKG = Path(__file__).resolve().parents[2] / "pymakedumpfile"
NAMESPACES = ("file", "memory", "arch", "cpu", "elf", "kdump", "linux", "filter",
              "image", "lime", "xen", "s390dump", "lkcd", "sadump", "vmdump")
KEYISH = re.compile("(?:" + "|".join(NAMESPACES) + r")\.[A-Za-z0-9_.{}]+\Z|max_pfn\Z")


def _sample(key: str) -> str:
    return key.replace("{n}", "3").replace("{name}", "NAME")


def keys_named_in_source() -> dict[str, str]:
    """Attribute keys the package names as string constants or f-strings (an f-string's
    replacement fields become a pattern), with where each is."""
    found: dict[str, str] = {}
    for path in sorted(PKG.rglob("*.py")):
        if path.name == "attrs.py":
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                      and n.body and isinstance(n.body[0], ast.Expr)}
        fstring_parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
        for node in ast.walk(tree):
            if id(node) in docstrings or id(node) in fstring_parts:
                continue
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
            elif isinstance(node, ast.JoinedStr):
                text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            else:
                continue
            if KEYISH.match(text) and " " not in text:
                found.setdefault(text, f"{path.relative_to(PKG.parent)}:{node.lineno}")
    return found


def declared(key: str) -> bool:
    """A key, an f-string form of one ({} for a field), or a directory above declared keys."""
    if "{}" in key:
        pat = re.compile(re.escape(key).replace(r"\{\}", r"[^.]+") + r"\Z")
        return any(pat.match(_sample(d.key)) for d in attrs.ATTRIBUTES)
    return attrs.lookup(key) is not None or any(_sample(d.key).startswith(key + ".") for d in attrs.ATTRIBUTES)


def test_every_key_the_package_names_is_declared() -> None:
    found = keys_named_in_source()
    assert len(found) > 30  # the scan sees the keys (it would pass vacuously if it saw none)
    missing = {k: where for k, where in found.items() if not declared(k)}
    assert not missing, f"undeclared attribute keys (declare them in core/attrs.py): {missing}"


def test_the_scan_catches_an_undeclared_key() -> None:
    assert not declared("file.incomplete_output") and not declared("linux.vmcoreinfo.osrelease")
    assert declared("linux.uts") and declared("linux.vmcoreinfo.{}.{}") and declared("cpu.{}.PRSTATUS")


def test_table_is_well_formed() -> None:
    keys = [d.key for d in attrs.ATTRIBUTES]
    assert len(keys) == len(set(keys))
    for d in attrs.ATTRIBUTES:
        assert d.key.split(".")[0] in (*NAMESPACES, "max_pfn"), d.key
        assert d.set_by in ("input", "filter", "tools", "caller"), d
        assert d.meaning and d.type


# ---- what the readers and the filter set, on synthetic dumps of every format ----
PS = 4096


def _pages(n: int) -> dict[int, Page]:
    return {p: Page(bytes([p & 0xFF]) * PS, "zlib" if p % 2 else "raw") for p in range(n)}


def _all_contexts(tmp: Path) -> list[Any]:
    vmci = vmcoreinfo_text({"SYMBOL(init_uts_ns)": 0xFFFFFFFF82A12340, "OFFSET(page.flags)": 0, "SIZE(page)": 64,
                            "LENGTH(zone.free_area)": 11, "NUMBER(PG_slab)": 7})
    notes = prstatus_note(0) + make_note(b"VMCOREINFO", 0, vmci)
    build_elf(tmp / "elf", [(0, 0xFFFF888000000000, bytes(16 * PS))], notes=notes)
    build_kdump(tmp / "kdump", _pages(16), max_mapnr=16, vmcoreinfo=vmci, nr_cpus=1, dump_level=0,
                eraseinfo=b"erase x size 8\n")
    split_files([tmp / "s1", tmp / "s2"], _pages(16), max_mapnr=16, vmcoreinfo=vmci, dump_level=0)
    # memory images, with the VMCOREINFO note in memory
    from gen.lime import build_lime
    from gen.s390dump import build_s390dump
    from gen.xen import build_xc_core

    mem = bytearray(16 * PS)
    note = make_note(b"VMCOREINFO", 0, vmci)
    mem[3 * PS : 3 * PS + len(note)] = note
    build_lime(tmp / "lime", [(0, bytes(mem))], avml=True)
    build_xc_core(tmp / "xen", {p: bytes(mem[p * PS : (p + 1) * PS]) for p in range(16)})
    build_s390dump(tmp / "s390", [bytes(mem)], len(mem))
    from gen.lkcd import build_lkcd

    build_lkcd(tmp / "lkcd", [(p, bytes(mem[p * PS : (p + 1) * PS])) for p in range(16)])
    from gen.sadump import build_sadump

    build_sadump(tmp / "sadump", {p: bytes(mem[p * PS : (p + 1) * PS]) for p in range(16)}, max_mapnr=16)
    diskset = build_sadump(tmp / "diskset", {p: bytes(mem[p * PS : (p + 1) * PS]) for p in range(16)}, max_mapnr=16,
                           disks=2)
    from gen.vmdump import build_vmdump
    from gen.xen import build_xen_host

    build_vmdump(tmp / "vmdump", {p: bytes(mem[p * PS : (p + 1) * PS]) for p in range(16)}, 16 * PS)

    build_xen_host(tmp / "xenhost", ram=((0, 0x1000000),))  # a Xen host's crash dump (xen.phys_start)
    return [open_dump(tmp / "elf"), open_dump(tmp / "kdump"), open_dump([str(tmp / "s1"), str(tmp / "s2")]),
            open_dump(tmp / "lime"), open_dump(tmp / "xen"), open_dump(tmp / "s390"), open_dump(tmp / "lkcd"),
            open_dump(tmp / "sadump"), open_dump(tmp / "xenhost"), open_dump(diskset),
            open_dump(tmp / "vmdump")]


def test_readers_and_filter_set_declared_keys_of_declared_types(tmp_path: Path) -> None:
    from pymakedumpfile.filter.erase import FILL, EraseSet, Piece, Target

    seen: set[str] = set()
    for i, ctx in enumerate(_all_contexts(tmp_path)):
        with ctx:
            w = make_write_context(ctx, format="kdump", compression="zlib", dump_level=1)
            trees = [ctx.attr, w.attr]
            if i == 0:  # --config: what to erase (one byte of pfn 0)
                erase = EraseSet([Target(0, "x", 0, 1, False, 1)], [Piece(0, 0, 1, FILL, 0)], PS, [])
                trees.append(make_write_context(ctx, format="kdump", dump_level=1, erase=erase).attr)
                # -e: which vmemmap pages go is tested on the real dumps (test_vmemmap_real); here, the
                # attribute it sets, with the vmemmap walk standing aside
                import pymakedumpfile.filter.vmemmap as vm

                walk, vm.unused_vmemmap_pages = vm.unused_vmemmap_pages, lambda *_: [(0, 1)]
                try:
                    trees.append(make_write_context(ctx, format="kdump", dump_level=1, exclude_vmemmap=True).attr)
                finally:
                    vm.unused_vmemmap_pages = walk
            for tree in trees:
                for key in tree:
                    d = attrs.lookup(key)
                    assert d is not None, f"{ctx.attr['file.format']} sets undeclared {key}"
                    attrs.check(key, tree[key])
                    seen.add(d.key)
    unset = {d.key for d in attrs.ATTRIBUTES if d.set_by in ("input", "filter")} - seen
    assert not unset, f"declared, but no reader or the filter sets them: {sorted(unset)}"


@pytest.mark.parametrize(("key", "value"), [
    ("arch.page_size", "4096"), ("file.incomplete", 1), ("kdump.split", True), ("file.pagemap", b"\xff"),
    ("cpu.2.PRSTATUS", 7), ("linux.vmcoreinfo.SYMBOL.init_uts_ns", "0xffff"),
])
def test_wrong_type_is_refused(key: str, value: object) -> None:
    with pytest.raises(TypeError, match=re.escape(key)):
        Attributes()[key] = value


def test_undeclared_keys_are_the_callers_own() -> None:
    a = Attributes()
    a["my.own.key"] = object()
    assert "my.own.key" in a
