"""The Debian package (debian/): ``dpkg-buildpackage -us -uc -b`` builds it from the tracked files,
lintian has nothing to say about it, and it installs into a clean Debian 12 chroot with
``apt install ./pymakedumpfile_*.deb``, which pulls only Debian's packages (the chroot's only
source is Debian's archive), where the command runs with the compiled accel module and converts
the sample dump.

Opt-in: PMD_DEB_TESTS=1 (CI sets it; run-tests.sh then installs debhelper, dh-python,
pybuild-plugin-pyproject, lintian and debootstrap).  The chroot is made once with debootstrap
and kept in ~/.cache/pymakedumpfile/chroot-bookworm; each run installs into a copy of it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest_pkg import CACHE, REPO

SAMPLE = "vmcore-6.1.0-56-amd64-c-d31.kdump"

pytestmark = pytest.mark.skipif(os.environ.get("PMD_DEB_TESTS") != "1",
                                reason="the Debian package tests are opt-in (PMD_DEB_TESTS=1)")


def sh(*argv: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, **kw)  # type: ignore[call-overload]


def test_the_package_holds_the_command_library_and_dracut_module(deb: Path) -> None:
    names = sh("dpkg-deb", "-c", str(deb), check=True).stdout
    assert "./usr/bin/pymakedumpfile" in names
    assert "/usr/lib/dracut/modules.d/99pymakedumpfile/module-setup.sh" in names
    assert "/usr/share/man/man8/pymakedumpfile.8.gz" in names
    assert any("/dist-packages/pymakedumpfile/accel/_accel." in n for n in names.splitlines())
    deps = sh("dpkg-deb", "-f", str(deb), "Depends", check=True).stdout
    for d in ("python3-click", "python3-zstandard", "python3-lz4", "python3-snappy", "python3-tqdm"):
        assert d in deps
    assert "libdeflate" not in deps  # linked in statically


def test_lintian_is_clean(deb: Path) -> None:
    p = sh("lintian", "--fail-on", "warning", str(deb), timeout=600)
    assert p.returncode == 0 and not p.stdout.strip(), p.stdout + p.stderr


@pytest.fixture(scope="module")
def chroot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of a minimal Debian 12 made by debootstrap (kept in the cache)."""
    base = CACHE / "chroot-bookworm"
    if not (base / "usr" / "bin" / "apt-get").exists():
        shutil.rmtree(base, ignore_errors=True)
        p = sh("debootstrap", "--variant=minbase", "bookworm", str(base), "http://deb.debian.org/debian",
               timeout=1800)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    root = tmp_path_factory.mktemp("chroot") / "root"
    subprocess.run(["cp", "-a", str(base), str(root)], check=True)
    return root


def test_it_installs_from_debian_alone_and_runs(deb: Path, chroot: Path) -> None:
    sources = (chroot / "etc" / "apt" / "sources.list").read_text()
    assert all("deb.debian.org/debian" in ln for ln in sources.splitlines() if ln.startswith("deb"))
    shutil.copy(deb, chroot / "tmp" / deb.name)
    shutil.copy(REPO / "samples" / SAMPLE, chroot / "tmp" / SAMPLE)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8"}

    def inside(*argv: str) -> subprocess.CompletedProcess[str]:
        return sh("chroot", str(chroot), *argv, env=env, timeout=1800)

    p = inside("apt-get", "update", "-qq")
    assert p.returncode == 0, p.stderr
    p = inside("apt-get", "install", "-y", "--no-install-recommends", f"/tmp/{deb.name}")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    p = inside("pymakedumpfile", "-v")
    assert p.returncode == 0 and "pymakedumpfile" in p.stdout + p.stderr, p.stdout + p.stderr
    p = inside("pymakedumpfile", "-f", "-l", "-d", "1", f"/tmp/{SAMPLE}", "/tmp/out")
    assert p.returncode == 0, p.stderr
    p = inside("python3", "-I", "-c", "import pymakedumpfile as p, pymakedumpfile.accel as a; "
               "c = p.open_dump('/tmp/out'); print(c.attr['file.compression'], a.BACKEND)")
    assert p.returncode == 0 and p.stdout.split() == ["lzo", "native"], p.stdout + p.stderr
    # Debian's codec packages (python3-snappy 0.5, python3-zstandard 0.20): written and read back
    for opt, name in (("-p", "snappy"), ("-z", "zstd")):
        p = inside("pymakedumpfile", "-f", opt, "-d", "31", f"/tmp/{SAMPLE}", f"/tmp/out{opt}")
        assert p.returncode == 0, p.stderr
        p = inside("pymakedumpfile", "-f", "-E", f"/tmp/out{opt}", f"/tmp/out{opt}.elf")
        assert p.returncode == 0, p.stderr
        p = inside("python3", "-I", "-c", f"import pymakedumpfile as p; print(p.open_dump('/tmp/out{opt}')"
                   ".attr['file.compression'])")
        assert p.stdout.split() == [name], p.stdout + p.stderr
