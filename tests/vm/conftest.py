"""tests/vm: the crash-kernel end-to-end tests (opt-in: PMD_VM_TESTS=1; the ``vm`` mark is declared in
pyproject.toml, as vmtest.py makes it when this file is loaded)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vmtest import REPO  # noqa: E402


@pytest.fixture(scope="session")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = os.environ.get("PMD_VM_OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        return Path(out)
    return tmp_path_factory.mktemp("vm")


@pytest.fixture(scope="session")
def installed_python(work: Path) -> str:
    """The interpreter of a virtual environment the package is installed into as the README
    installs it (``python3 -m venv .venv && .venv/bin/pip install .``: not editable, no source
    tree on any path): the dracut module must find everything through that interpreter alone.
    PYMAKEDUMPFILE_PYTHON names another interpreter to use instead."""
    if os.environ.get("PYMAKEDUMPFILE_PYTHON"):
        return os.environ["PYMAKEDUMPFILE_PYTHON"]
    venv = work / "venv"
    if not (venv / "bin/python").exists():
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin/pip"), "install", "-q", str(REPO)], check=True,
                       env={**os.environ, "PYMAKEDUMPFILE_REQUIRE_ACCEL": "1"})
    return str(venv / "bin/python")
