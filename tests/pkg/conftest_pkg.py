"""What the Debian package tests share (tests/pkg/conftest.py makes the fixtures of it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("PMD_CACHE", Path.home() / ".cache" / "pymakedumpfile"))


def build_deb(work: Path) -> Path:
    """The .deb, built by dpkg-buildpackage from a copy of the tracked files (it writes beside
    the tree)."""
    src = work / "pymakedumpfile"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True,
                           text=True).stdout.split("\0")
    for f in filter(None, files):
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, src / f)
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(work), "LC_ALL": "C.UTF-8"}
    p = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env, capture_output=True, text=True,
                       timeout=1800)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    debs = sorted(work.glob("pymakedumpfile_*.deb"))
    assert len(debs) == 1, debs
    return debs[0]
