"""dracut/99pymakedumpfile/pymakedumpfile-files.py, the collector the dracut module runs as
``PYTHON -S -E``, finds a virtual environment's packages when PYTHON is the venv's interpreter
(the README installs into .venv): -S keeps the site module from setting sys.prefix to the venv,
so the collector must find pyvenv.cfg itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODDIR = REPO / "dracut" / "99pymakedumpfile"
SITE = "/usr/lib/pymakedumpfile"


def collect(python: str, tmp_path: Path, codecs: str = "zstd snappy",
            pythonpath: str = "", arches: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYMAKEDUMPFILE_PYTHONPATH": pythonpath}
    more = [] if arches is None else ["no", arches]
    return subprocess.run([python, "-S", "-E", str(MODDIR / "pymakedumpfile-files.py"),
                           str(MODDIR / "python-modules.list"), str(tmp_path / "stage"), codecs, SITE, *more],
                          capture_output=True, text=True, env=env, timeout=300)


def normal_origin(python: str, module: str) -> str:
    """Where ``module`` comes from when ``python`` starts normally (site module and all)."""
    p = subprocess.run([python, "-c", f"import os, {module} as m; print(os.path.realpath(m.__file__))"],
                       capture_output=True, text=True, check=True)
    return p.stdout.strip()


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="the tests run outside a virtual environment")
def test_venv_interpreter_finds_the_venv_packages(tmp_path: Path) -> None:
    p = collect(sys.executable, tmp_path)
    assert p.returncode == 0, p.stderr
    rows = [line.split("\t") for line in p.stdout.splitlines()]
    sources = {dst: src for _, src, dst in rows}
    # each third-party module is taken from where the venv's interpreter imports it, not from
    # the base interpreter's site-packages (which may hold other versions, or none)
    for module, dst in (("zstandard", f"{SITE}/zstandard/__init__.pyc"), ("click", f"{SITE}/click/__init__.pyc")):
        assert dst in sources, (module, sorted(sources)[:20])
    for module in ("zstandard", "click"):
        assert normal_origin(sys.executable, module).startswith(str(Path(sys.prefix).resolve()))
    assert any(dst.startswith(f"{SITE}/pymakedumpfile/") for dst in sources)
    assert rows[0][0] == "bin"


def test_missing_codec_is_one_message(tmp_path: Path) -> None:
    """A codec the interpreter lacks: one line naming the interpreter and the modules, exit 1."""
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    p = collect(str(venv / "bin" / "python"), tmp_path, pythonpath=str(REPO))
    assert p.returncode == 1
    assert p.stderr.startswith("pymakedumpfile-files: modules not found for ") and "zstandard" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_start_up_modules_are_installed(tmp_path: Path) -> None:
    """What the interpreter loads from files to start at all (3.9: encodings.latin_1 for its
    standard streams, which 3.11 does not load) is in the image, whichever Python it is."""
    p = collect(sys.executable, tmp_path)
    assert p.returncode == 0, p.stderr
    dsts = {dst for _, _, dst in (line.split("\t") for line in p.stdout.splitlines())}
    code = ("import os, sys; print('\\n'.join(os.path.realpath(m.__spec__.origin) for m in list(sys.modules.values())"
            " if getattr(getattr(m, '__spec__', None), 'origin', None) and os.path.isfile(m.__spec__.origin)))")
    started = subprocess.run([sys.executable, "-S", "-E", "-c", code], capture_output=True, text=True, check=True)
    # the standard library keeps its place in the image: a .py as its .pyc beside it, a .so as is
    needed = {f + "c" if f.endswith(".py") else f for f in started.stdout.split()}
    assert needed and not needed - dsts, sorted(needed - dsts)


def test_the_gdbserver_is_left_out(tmp_path: Path) -> None:
    """What serves a dump to gdb or drgn afterwards is not installed in the crash kernel; the rest
    of the package is (the capture may import any of it)."""
    p = collect(sys.executable, tmp_path)
    assert p.returncode == 0, p.stderr
    dsts = {dst for _, _, dst in (line.split("\t") for line in p.stdout.splitlines())}
    pkg = {d[len(SITE) + 1 :] for d in dsts if d.startswith(f"{SITE}/pymakedumpfile/")}
    assert not {f"pymakedumpfile/tools/{m}.pyc" for m in ("gdbserver", "rsp", "drgnprog", "tasks")} & pkg
    assert {"pymakedumpfile/tools/dmesg.pyc", "pymakedumpfile/translate/x86_64.pyc",
            "pymakedumpfile/cli/__init__.pyc"} <= pkg


@pytest.mark.parametrize(("arches", "modules", "registered"), [
    ("", {"x86_64", "xen_x86_64"}, ["x86_64"]),  # this machine's (the tests run on x86_64)
    ("i686", {"ia32", "linear32", "x86_64", "xen_x86_64"}, ["x86_64", "ia32"]),
    ("loongarch64 mips", {"loongarch64", "mips", "mips64", "tablewalk", "x86_64", "xen_x86_64"},
     ["x86_64", "loongarch64", "mips"]),
])
def test_only_this_machines_architecture(tmp_path: Path, arches: str, modules: set[str], registered: list[str]) -> None:
    """A crash kernel reads the dumps of its own machine: the initramfs carries that
    architecture's translation (and what it imports, and x86_64's, which filters of x86-only
    features import), the package registers just those, and a capture works with them."""
    p = collect(sys.executable, tmp_path, arches=arches)
    assert p.returncode == 0, p.stderr
    root = tmp_path / "root"
    for line in p.stdout.splitlines():
        how, src, dst = line.split("\t")
        if dst.startswith(SITE + "/") and how in ("file", "lib"):
            (root / dst[1:]).parent.mkdir(parents=True, exist_ok=True)
            (root / dst[1:]).write_bytes(Path(src).read_bytes())
    tdir = root / SITE[1:] / "pymakedumpfile" / "translate"
    arch_modules = {f.stem for f in tdir.glob("*.pyc")} - {"__init__", "base", "kallsyms", "support", "_here"}
    assert arch_modules == modules
    r = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(root / SITE[1:])!r}); "
                        "import pymakedumpfile.translate as t; print(' '.join(t.ARCHES))"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == registered


def test_an_unknown_architecture_is_one_line(tmp_path: Path) -> None:
    p = collect(sys.executable, tmp_path, arches="vax")
    assert p.returncode != 0 and "'vax'" in p.stderr and "Traceback" not in p.stderr
