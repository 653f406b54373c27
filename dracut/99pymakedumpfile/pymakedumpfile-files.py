"""Resolve what the 99pymakedumpfile dracut module installs (run by module-setup.sh with the
interpreter pymakedumpfile is installed for, as `PYTHON -S -E pymakedumpfile-files.py ...`).

    pymakedumpfile-files.py LIST STAGE CODECS SITE [SOURCES]

LIST    python-modules.list ('<kind> <module>' lines)
STAGE   a scratch directory: compiled .pyc files are written there
CODECS  codecs to install, space separated (zstd snappy lz4)
SITE    where the package and third-party modules go in the initramfs (/usr/lib/pymakedumpfile)
SOURCES "yes" to install .py sources next to the .pyc (tracebacks with source lines)

The directories of $PYMAKEDUMPFILE_PYTHONPATH (colon separated: module-setup.sh sets it from
pymakedumpfile_pythonpath, for a source checkout) and the interpreter's site-packages are
searched: a virtual environment's own when the interpreter is a venv's (.venv/bin/python),
as a normal start would. Prints one line per file,
'<how>\t<source>\t<destination>': how is "bin" (the interpreter), "lib" (an ELF shared
object, install with its libraries) or "file". Exit 1, with a message, when something
pymakedumpfile needs is missing.
"""
import importlib.machinery
import importlib.util
import os
import platform
import py_compile
import re
import site as site_module
import subprocess
import sys
import sysconfig


def fail(msg):
    sys.stderr.write("pymakedumpfile-files: " + msg + "\n")
    sys.exit(1)


def venv_config():
    """(prefix, settings) of the virtual environment sys.executable belongs to, or None.

    Under -S the site module does not run, so sys.prefix is the base interpreter's even for
    a venv's python: find pyvenv.cfg where site would (beside the executable or one level up,
    without resolving the executable's symlink)."""
    exe_dir = os.path.dirname(os.path.abspath(sys.executable))
    for d in (exe_dir, os.path.dirname(exe_dir)):
        cfg = os.path.join(d, "pyvenv.cfg")
        if os.path.isfile(cfg):
            settings = {}
            with open(cfg) as f:
                for line in f:
                    key, eq, value = line.partition("=")
                    if eq:
                        settings[key.strip().lower()] = value.strip()
            return d, settings
    return None


def site_dirs():
    """The site-packages directories the interpreter uses when started normally: a venv's own,
    and the base interpreter's only when there is no venv or it includes system packages."""
    base = [sysconfig.get_paths()[k] for k in ("purelib", "platlib")]
    venv = venv_config()
    if venv is None:
        return base
    prefix, settings = venv
    own = [sysconfig.get_paths(vars={"base": prefix, "platbase": prefix})[k] for k in ("purelib", "platlib")]
    if settings.get("include-system-site-packages", "false").lower() == "true":
        return own + base
    return own


# The child: arguments are the extra directories and the site directories (os.pathsep
# separated) and the module names (comma separated); it prints "name<TAB>file" for every module
# loaded from a file (its start-up included: an interpreter needs those modules to start), but
# the site machinery and the import hooks of site directories' .pth files.
CHILD = """
import importlib, os, site, sys
extra, sites, names = sys.argv[1:4]
sys.path[0:0] = [d for d in extra.split(os.pathsep) if d]
for d in sites.split(os.pathsep):
    if d:
        site.addsitedir(d)
for n in names.split(","):
    importlib.import_module(n)
for n, m in sorted(sys.modules.items()):
    origin = getattr(getattr(m, "__spec__", None), "origin", None)
    if n in ("site", "_sitebuiltins") or n.startswith(("_distutils_hack", "__editable__")):
        continue  # the site machinery (pymakedumpfile runs with -S) and the hooks .pth files load
    if origin and os.path.isfile(origin):
        print(n + "\\t" + origin)
"""


def imported_closure(names, extra, sites):
    """(name, file) of every module this interpreter loads from a file when it imports
    ``names`` (run with -S -E in a child, the same directories searched), with what it needs to
    start; the site machinery and the import hooks of .pth files are left out."""
    args = [os.pathsep.join(extra), os.pathsep.join(sites), ",".join(names)]
    p = subprocess.run([sys.executable, "-S", "-E", "-c", CHILD, *args], capture_output=True, text=True)
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or [f"exit status {p.returncode}"])[-1]
        fail(f"{sys.executable} cannot import what pymakedumpfile needs: {last}")
    return [tuple(line.split("\t", 1)) for line in p.stdout.splitlines() if "\t" in line]


def main():
    if len(sys.argv) < 5:
        fail("usage: pymakedumpfile-files.py LIST STAGE CODECS SITE [SOURCES [ARCHES]]")
    listfile, stage, codecs, site = sys.argv[1:5]
    sources = len(sys.argv) > 5 and sys.argv[5] == "yes"
    arches = sys.argv[6].split() if len(sys.argv) > 6 and sys.argv[6].strip() else [platform.machine()]
    codecs = set(codecs.split())
    paths = sysconfig.get_paths()
    extra = [p for p in os.environ.get("PYMAKEDUMPFILE_PYTHONPATH", "").split(":") if p]
    sys.path[0:0] = [os.path.abspath(p) for p in extra]
    for d in site_dirs():  # -S left site-packages out of sys.path
        if d not in sys.path:
            site_module.addsitedir(d)  # with its .pth files: an editable install's path or finder
    std = [os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib")]
    out = []
    seen = set()

    def emit(how, src, dst):
        if dst not in seen:
            seen.add(dst)
            out.append(f"{how}\t{src}\t{dst}")

    def add_source(src, dst, optimize=2):
        """A .py file: its compiled .pyc (sourceless, at the module's place), and the .py if asked.
        Compiled without docstrings and asserts (``optimize=2``; a sourceless .pyc loads whatever
        it was compiled with): they are a fifth of the modules' size in the initramfs, and
        nothing the capture runs reads them (--help's text is a string of its own)."""
        pyc = os.path.join(stage, dst.lstrip("/")) + "c"
        os.makedirs(os.path.dirname(pyc), exist_ok=True)
        py_compile.compile(src, cfile=pyc, dfile=dst, doraise=True, optimize=optimize,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        emit("file", pyc, dst + "c")
        if sources:
            emit("file", src, dst)

    def add_file(src, dst):
        if src.endswith(".py"):
            add_source(src, dst)
        elif src.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            emit("lib", src, dst)
        else:
            emit("file", src, dst)

    def find(name):
        parent, _, _ = name.rpartition(".")
        path = None
        if parent:
            pspec = find(parent)
            if pspec is None or not pspec.submodule_search_locations:
                return None
            path = list(pspec.submodule_search_locations)
        return importlib.machinery.PathFinder.find_spec(name, path)

    def destination(origin, spec_name):
        real = os.path.realpath(origin)
        for s in std:
            if real.startswith(s + os.sep) and "site-packages" not in real and "dist-packages" not in real:
                return real, real  # the standard library keeps its place: the interpreter finds it there
        # third-party: under SITE, at its path relative to its sys.path entry
        depth = spec_name.count(".") + (1 if os.path.basename(real).startswith("__init__.") else 0)
        base = real
        for _ in range(depth + 1):
            base = os.path.dirname(base)
        return real, os.path.join(site, os.path.relpath(real, base))

    # the interpreter, and the landmarks its start-up looks for (lib/pythonX.Y/os.py, lib-dynload)
    emit("bin", os.path.realpath(sys.executable), os.path.realpath(sys.executable))
    os_py = os.path.join(paths["stdlib"], "os.py")
    add_source(os.path.realpath(os_py), os.path.realpath(os_py))
    dynload = os.path.join(paths["platstdlib"], "lib-dynload")
    if os.path.isdir(dynload):
        emit("dir", os.path.realpath(dynload), os.path.realpath(dynload))

    # The list was traced on one Python version and one release of each package; others name
    # some internals differently (3.11's re imports re._parser, 3.9's sre_parse; click 8.1 has
    # no click._utils). A module this interpreter lacks is passed over unless it is a third-party
    # package itself, and what the listed modules import here is added below by importing
    # them in a child interpreter.
    missing = []
    found = ["pymakedumpfile.cli"]
    for line in open(listfile):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        kind, name = line.split()
        if kind.startswith("codec-") and kind[6:] not in codecs:
            continue
        if name in sys.builtin_module_names:
            continue
        spec = find(name)
        if spec is None or spec.origin in (None, "built-in", "frozen"):
            # a package must be there; a submodule one version of it has and another lacks need not
            top = name.split(".")[0]
            if kind != "stdlib" and top not in missing and (top == name or find(top) is None):
                missing.append(top)
            continue
        found.append(name)
        src, dst = destination(spec.origin, name)
        add_file(src, dst)
    if missing:
        fail("modules not found for {}: {}".format(sys.executable, " ".join(missing)))
    for name, origin in imported_closure(found, [os.path.abspath(p) for p in extra], site_dirs()):
        if name != "pymakedumpfile" and not name.startswith("pymakedumpfile."):
            src, dst = destination(origin, name)
            add_file(src, dst)

    # the package, whole (other options may import more of it), with its accel module, but for
    # what serves a dump to gdb or drgn afterwards, which never runs in the crash kernel (the
    # command says so there: "gdbserver is not installed here")
    not_here = {os.path.join("pymakedumpfile", "tools", f)
                for f in ("gdbserver.py", "rsp.py", "drgnprog.py", "tasks.py")}
    spec = importlib.util.find_spec("pymakedumpfile")
    if spec is None or not spec.submodule_search_locations:
        fail(f"the pymakedumpfile package is not importable by {sys.executable} (set pymakedumpfile_pythonpath)")
    pkg = os.path.realpath(list(spec.submodule_search_locations)[0])
    # of the architectures' modules, the machine's own (this initramfs is its crash kernel's;
    # pymakedumpfile_arches names others), those it imports, and x86_64's, which the filters of
    # x86-only features import; translate/_here.py tells the package which are there
    translate = importlib.import_module("pymakedumpfile.translate")
    tdir = os.path.dirname(os.path.realpath(translate.__file__))
    here = []
    for machine in arches:
        a = translate.arch_from_machine(machine) or translate.get_arch(machine)
        if a is None or a.translator is None:
            fail(f"pymakedumpfile has no architecture {machine!r} (pymakedumpfile_arches)")
        here.append(a.translator.__module__.rpartition(".")[2])
    if "x86_64" not in here:
        here.append("x86_64")
    keep, todo = set(), [*here, "xen_x86_64"]
    while todo:
        m = todo.pop()
        if m not in keep:
            keep.add(m)
            with open(os.path.join(tdir, m + ".py")) as f:
                todo += re.findall(r"^from \.(\w+) import", f.read(), re.M)
    not_here |= {os.path.join("pymakedumpfile", "translate", f) for f in os.listdir(tdir)
                 if f.endswith(".py") and f[:-3] in (*translate.ORDER, "linear32", "tablewalk") and f[:-3] not in keep}
    here_py = os.path.join(stage, "_here.py")
    with open(here_py, "w") as f:
        f.write(f"HERE = {tuple(here)!r}\n")
    add_source(here_py, os.path.join(site, "pymakedumpfile", "translate", "_here.py"))
    accel = False
    for d, dirs, files in os.walk(pkg):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        for f in sorted(files):
            src = os.path.join(d, f)
            rel = os.path.relpath(src, os.path.dirname(pkg))
            if rel in not_here:
                continue
            if f.endswith(".py"):
                add_source(src, os.path.join(site, rel))
            elif f.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)) and f.startswith("_accel."):
                if f.endswith(importlib.machinery.EXTENSION_SUFFIXES[0]):
                    emit("lib", src, os.path.join(site, rel))
                    accel = True
    if not accel:
        sys.stderr.write(f"pymakedumpfile-files: warning: no compiled _accel module for {sys.executable}: the capture "
                         "will use the pure-Python twin (much slower)\n")
    sys.stdout.write("\n".join(out) + "\n")


main()
