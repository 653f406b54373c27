"""Debian's kdump-tools, unchanged, capturing a real panic with pymakedumpfile (issue 23, item 1).

tests/pkg/debian_guest.py makes a Debian 12 guest from Debian's archive alone: its kernel,
systemd, kdump-tools (with Debian's makedumpfile) and our .deb, kdump-tools enabled as its
documentation says, and ``/usr/bin/makedumpfile`` diverted to pymakedumpfile with
``dpkg-divert --rename`` (docs/capture.md).  The guest panics once kdump-tools has loaded the
crash kernel; in the crash kernel kdump-tools' own service runs ``kdump-config savecore``:
``makedumpfile --dump-dmesg`` and ``makedumpfile $MAKEDUMP_ARGS /proc/vmcore | compress >
/var/crash/TIMESTAMP/dump-incomplete`` with its default MAKEDUMP_ARGS (``-F -c -d 31``), then
reboots.

The diverted ``makedumpfile`` is, for the test, a wrapper: Debian's makedumpfile first runs with
the same arguments on the same /proc/vmcore into /var/crash/reference (the reference of the
same flow), then pymakedumpfile runs as kdump-tools asked.

Opt-in (PMD_SERVICE_TESTS=1; CI sets it): a few minutes of TCG.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pymakedumpfile import open_dump

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "real"))
PARTIAL = 0x9F  # makedumpfile 1.7.2 leaves out this partially-RAM page at levels 2-31

pytestmark = pytest.mark.skipif(os.environ.get("PMD_SERVICE_TESTS") != "1",
                                reason="the kdump services' guest tests are opt-in (PMD_SERVICE_TESTS=1)")


@pytest.fixture(scope="module")
def guest(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("debian-guest")
    for step in (["build", str(d), "--deb", str(deb)], ["run", str(d)]):
        p = subprocess.run([sys.executable, str(HERE / "debian_guest.py"), *step], capture_output=True, text=True,
                           timeout=3600)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return d


def saved(guest: Path) -> Path:
    stamps = [p for p in (guest / "crash" / "crash").iterdir() if p.name.isdigit()]
    assert len(stamps) == 1, stamps
    return stamps[0]


def console(guest: Path) -> str:
    return (guest / "console.log").read_text(errors="replace")


def test_kdump_tools_saved_dump_and_dmesg_with_pymakedumpfile(guest: Path) -> None:
    d = saved(guest)
    stamp = d.name
    assert (d / f"dump.{stamp}").stat().st_size > 1 << 20 and not (d / "dump-incomplete").exists()
    assert "Kernel panic - not syncing: sysrq triggered crash" in (d / f"dmesg.{stamp}").read_text(errors="replace")
    log = console(guest)
    # kdump-tools ran "makedumpfile": pymakedumpfile answered, for the log and for the dump
    assert f"running makedumpfile --dump-dmesg /proc/vmcore /var/crash/{stamp}/dmesg.{stamp}" in log
    assert "running makedumpfile -F -c -d 31 /proc/vmcore | compress" in log
    assert log.count("pymakedumpfile Completed.") == 2
    assert f"kdump-tools: saved vmcore in /var/crash/{stamp}" in log


def test_the_dump_keeps_what_makedumpfile_keeps_in_the_same_flow(guest: Path) -> None:
    d = saved(guest)
    ours, ref = d / f"dump.{d.name}", guest / "crash" / "crash" / "reference" / "dump"
    assert (guest / "crash" / "crash" / "reference" / "log").read_text().rstrip().endswith("rc=0")
    pages = []
    for f in (ours, ref):
        with open_dump(f) as ctx:
            assert ctx.attr["file.compression"] == "zlib"
            pages.append({p for a, b in ctx.pagemap.runs() for p in range(a, b)} - {PARTIAL})
    assert len(pages[0]) > 10000 and pages[0] == pages[1]


def test_crash_opens_it(guest: Path, tmp_path: Path) -> None:
    """crash reads kdump-compressed files, not flattened streams: ``makedumpfile -R`` first, as a
    kdump-tools user does; then crash with the kernel's debug vmlinux (the rig's, the same
    Debian kernel)."""
    from needs import need_tool
    from util import RIG, need

    crash, mdf = need_tool("crash"), need_tool("makedumpfile")
    d = saved(guest)
    kver = (guest / "KVER").read_text().strip()
    vmlinux = RIG / "dbg" / "usr" / "lib" / "debug" / "boot" / f"vmlinux-{kver}"
    need(vmlinux.exists(), f"no debug vmlinux of the guest's kernel {kver} in the rig ({vmlinux})")
    with open(d / f"dump.{d.name}", "rb") as f:
        p = subprocess.run([mdf, "-R", str(tmp_path / "dump")], stdin=f, capture_output=True, timeout=600)
    assert p.returncode == 0, p.stderr
    r = subprocess.run([crash, "-s", str(vmlinux), str(tmp_path / "dump")], input="sys\nlog\nquit\n",
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert kver in r.stdout and "sysrq triggered crash" in r.stdout
