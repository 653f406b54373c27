"""Real dumps from ../shared/vmcores (made by tests/rig/make-dumps.sh).

Without them these tests skip, unless PMD_REQUIRE_REAL=1 (CI), where a
missing dump or reference tool is a failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from needs import need_libkdumpfile, need_tool
from util import RIG, need, rig_release


@pytest.fixture(scope="session")
def mem512() -> Path:
    d = RIG / "dumps" / "mem512"
    need((d / "vmcore.elf").exists() and (d / "mdf-ref" / "summary.json").exists(),
         f"real dumps missing in {d}: run tests/rig/make-dumps.sh")
    return d


@pytest.fixture(scope="session")
def vmlinux() -> Path:
    """The rig kernel's vmlinux with DWARF (from its linux-image-*-dbg package)."""
    kpkg = (RIG / "kernel" / "KPKG").read_text().strip() if (RIG / "kernel" / "KPKG").exists() else ""
    v = RIG / "dbg/usr/lib/debug/boot" / f"vmlinux-{kpkg.removeprefix('linux-image-')}"
    need(bool(kpkg) and v.exists(), f"no debug vmlinux {v} (tests/rig/make-dumps.sh fetches it)")
    return v


@pytest.fixture(scope="session")
def release(mem512: Path) -> str:
    """The kernel release the rig booted for mem512: its run record, not our reader."""
    return rig_release(mem512)


@pytest.fixture(scope="session")
def libkdumpfile() -> str:
    return need_libkdumpfile()


@pytest.fixture(scope="session")
def makedumpfile() -> str:
    return need_tool("makedumpfile")


@pytest.fixture(scope="session")
def crash() -> str:
    return need_tool("crash")
