"""Real dumps from ../shared/vmcores (made by tests/rig/make-dumps.sh).

Without them these tests skip, unless PMD_REQUIRE_REAL=1 (CI), where a
missing dump or reference tool is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from util import RIG, need, rig_release


@pytest.fixture(scope="session")
def mem512() -> Path:
    d = RIG / "dumps" / "mem512"
    need((d / "vmcore.elf").exists() and (d / "mdf-ref" / "summary.json").exists(),
         f"real dumps missing in {d}: run tests/rig/make-dumps.sh")
    return d


@pytest.fixture(scope="session")
def release(mem512: Path) -> str:
    """The kernel release the rig booted for mem512: its run record, not our reader."""
    return rig_release(mem512)


@pytest.fixture(scope="session")
def libkdumpfile() -> str:
    ok = os.path.exists("/usr/bin/python3") and os.system("/usr/bin/python3 -c 'import kdumpfile' 2>/dev/null") == 0
    need(ok, "python3-libkdumpfile (Debian) is not installed")
    return "/usr/bin/python3"


@pytest.fixture(scope="session")
def makedumpfile() -> str:
    p = shutil.which("makedumpfile")
    need(p is not None, "makedumpfile is not installed")
    return str(p)


@pytest.fixture(scope="session")
def crash() -> str:
    p = shutil.which("crash")
    need(p is not None, "crash is not installed")
    return str(p)
