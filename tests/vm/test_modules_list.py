"""dracut/99pymakedumpfile/python-modules.list covers what the CLI imports today.

Re-traces the capture paths (tests/vm/gen_modules_list.py, a few seconds) on the rig's real
/proc/vmcore copy and compares: a new import in the package (or a new --dump-dmesg) that the
list lacks would make the crash-kernel capture fail with ModuleNotFoundError. Fix: run
    python3 tests/vm/gen_modules_list.py ~/.cache/pymakedumpfile/rig/dumps/mem512/vmcore.elf
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RIG_DIR = Path(os.environ.get("RIG_DIR", Path.home() / ".cache/pymakedumpfile/rig"))
VMCORE = RIG_DIR / "dumps/mem512/vmcore.elf"
LIST = REPO / "dracut/99pymakedumpfile/python-modules.list"


def _read(p: Path) -> set[tuple[str, str]]:
    return {tuple(ln.split()) for ln in p.read_text().splitlines() if ln.strip() and not ln.startswith("#")}  # type: ignore[misc]


@pytest.mark.skipif(not VMCORE.exists(), reason=f"no rig dump {VMCORE}")
def test_list_covers_current_imports(tmp_path: Path) -> None:
    new = tmp_path / "python-modules.list"
    subprocess.run([sys.executable, str(HERE / "gen_modules_list.py"), str(VMCORE), str(new)], check=True,
                   timeout=1800)
    missing = _read(new) - _read(LIST)
    assert not missing, f"modules imported but not in {LIST.name} (regenerate it): {sorted(missing)}"
