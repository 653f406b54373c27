"""The package's layers, as a test: a module may import modules of its own layer or of the
layers below, never above.  Data flows upward: formats, address translation (which needs
only VMCOREINFO), the core (context, page maps, codecs, accel), input, filtering, output, the
tools, the command line.

Imports are read from the source (ast), those inside functions too; those under
``if TYPE_CHECKING:`` are not dependencies (they never run: an annotation may name a type of a
higher layer).  KNOWN lists the upward imports the tree still has, each with where it should go;
an entry that is no longer true fails too, so the list only shrinks.  A new upward import fails
the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "pymakedumpfile"

# lowest first; a module not named here takes the layer of its package (the first match wins)
LAYERS: list[tuple[str, list[str]]] = [
    ("base", ["core.errors", "core.compat", "core.record", "core.hints", "core.vmcoreinfo", "formats",
              "accel.classify_py", "accel.lzo_py", "accel._accel"]),
    ("translate", ["translate"]),
    ("core", ["accel", "codecs", "core"]),
    ("input", ["input"]),
    ("filter", ["filter"]),
    ("output", ["output"]),
    ("tools", ["tools"]),
    ("cli", ["cli", "__main__", "__init__"]),
]

# (importer, imported): upward imports still in the tree, and where each should go
KNOWN: dict[tuple[str, str], str] = {}


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def layer_of(name: str) -> int:
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if name == p or name.startswith(p + "."):
                return i
    raise AssertionError(f"module {name!r} is in no layer: add it to LAYERS")


def imports(path: Path, root: Path) -> set[str]:
    """The package-internal modules ``path`` imports (relative to the package root)."""
    me = module_name(path, root)
    is_pkg = path.name == "__init__.py"
    here = me.split(".") if is_pkg else me.split(".")[:-1]
    out: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {id(n) for t in ast.walk(tree) if isinstance(t, ast.If) and _is_type_checking(t.test)
                   for b in t.body for n in ast.walk(b)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
            mod = [*base, *(node.module.split(".") if node.module else [])]
            if node.module is None:  # from . import a, b: modules, or names of the package
                for a in node.names:
                    sub = root.joinpath(*mod, a.name)
                    if sub.with_suffix(".py").exists() or sub.is_dir() or any(sub.parent.glob(a.name + ".*.so")):
                        out.add(".".join([*mod, a.name]))
                    else:
                        out.add(".".join(mod) or "__init__")
            else:
                out.add(".".join(mod))
    return {m for m in out if m and m != "__future__"}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def violations(root: Path) -> set[tuple[str, str]]:
    bad = set()
    for path in sorted(root.rglob("*.py")):
        me = module_name(path, root)
        for dep in imports(path, root):
            if layer_of(dep) > layer_of(me):
                bad.add((me, dep))
    return bad


def test_no_new_upward_import() -> None:
    found = violations(PKG)
    new = found - set(KNOWN)
    assert not new, f"imports against the layers {[n for n, _ in LAYERS]}: {sorted(new)}"


def test_known_upward_imports_are_still_there() -> None:
    """An entry of KNOWN that was fixed is removed from the list, so it cannot come back."""
    assert set(KNOWN) <= violations(PKG), sorted(set(KNOWN) - violations(PKG))


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    (root / "filter").mkdir(parents=True)
    (root / "output").mkdir()
    (root / "__init__.py").write_text("")
    (root / "output" / "__init__.py").write_text("")
    (root / "output" / "pages.py").write_text("from ..core.errors import X\n")
    (root / "core").mkdir()
    (root / "core" / "errors.py").write_text("")
    (root / "filter" / "__init__.py").write_text("def f():\n    from ..output.pages import g\n")
    (root / "filter" / "ok.py").write_text("from . import classify\nfrom ..core.pagemap import Bitmap\n"
                                           "if TYPE_CHECKING:\n    from ..output.pages import Typed\n")
    assert violations(root) == {("filter", "output.pages")}


@pytest.mark.parametrize(("name", "layer"), [("formats.elf", "base"), ("input.kdump", "input"), ("cli", "cli")])
def test_layer_of(name: str, layer: str) -> None:
    assert LAYERS[layer_of(name)][0] == layer
