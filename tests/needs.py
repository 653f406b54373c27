"""What a test needs from the machine (reference tools and libraries, a C compiler, the real
dumps) and what happens when it is missing: the test is skipped, or, with PMD_REQUIRE_REAL=1 (as
in CI), it fails, so CI cannot pass without the references its tests compare against."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache

import pytest

REQUIRE = os.environ.get("PMD_REQUIRE_REAL") == "1"
SYS_PYTHON = "/usr/bin/python3"  # Debian's, which has python3-libkdumpfile
SBIN = ":/usr/sbin:/sbin"


def need(ok: bool, why: str) -> None:
    """Skip unless ``ok``; with PMD_REQUIRE_REAL=1 (CI) fail instead."""
    import pytest

    if not ok:
        if REQUIRE:
            pytest.fail(f"{why} (PMD_REQUIRE_REAL=1)")
        pytest.skip(why)


def need_native(ok: bool, why: str) -> None:
    """Skip unless ``ok`` (a kernel of the compiled accel module); with
    PYMAKEDUMPFILE_FORCE_NATIVE=1 (as in CI, where the module must have built whole) fail."""
    import pytest

    if not ok:
        if os.environ.get("PYMAKEDUMPFILE_FORCE_NATIVE") == "1":
            pytest.fail(f"{why} (PYMAKEDUMPFILE_FORCE_NATIVE=1)")
        pytest.skip(why)


def need_tool(name: str) -> str:
    """The path of the program ``name`` (on PATH, or in /usr/sbin, /sbin)."""
    p = shutil.which(name, path=os.environ.get("PATH", "") + SBIN)
    need(p is not None, f"{name} is not installed")
    return str(p)


def need_cc() -> str:
    """A C compiler (cc or gcc)."""
    p = shutil.which("cc") or shutil.which("gcc")
    need(p is not None, "no C compiler (cc or gcc)")
    return str(p)


@cache
def have_libkdumpfile() -> bool:
    if not os.path.exists(SYS_PYTHON):
        return False
    return subprocess.run([SYS_PYTHON, "-c", "import kdumpfile"], capture_output=True, timeout=60).returncode == 0


def need_libkdumpfile() -> str:
    """Debian's /usr/bin/python3 with python3-libkdumpfile."""
    need(have_libkdumpfile(), "libkdumpfile's python module (python3-libkdumpfile for /usr/bin/python3) is missing")
    return SYS_PYTHON


# The command line's behaviour (streams, option values, -f, -i) is the same whichever backend
# runs the pages; tests of it convert real-size files, which the pure-Python twin takes minutes
# over. They run once, in the native run, and are skipped in the twin's run (run-tests.sh).
cli_only = pytest.mark.skipif(os.environ.get("PYMAKEDUMPFILE_ACCEL") == "python",
                              reason="command-line behaviour: tested in the native run; the twin run tests the pages")
