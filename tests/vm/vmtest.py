"""What the tests/vm end-to-end tests share: paths, marks, and the image and guest steps."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from needs import need, need_tool

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RIG_DIR = Path(os.environ.get("RIG_DIR", Path.home() / ".cache/pymakedumpfile/rig"))
OPT_IN = os.environ.get("PMD_VM_TESTS") == "1"
PARTIAL_PFN = 0x9F  # the page the PT_LOAD ending at 0x9fc00 covers in part (tests/real/test_core_real.py)
# the first test of a file builds its images and boots, crashes and captures the guest (minutes under TCG)
VM_MARKS = [pytest.mark.vm, pytest.mark.timeout(3600),
            pytest.mark.skipif(not OPT_IN, reason="VM end-to-end test: set PMD_VM_TESTS=1 (takes minutes)")]


def need_vm_tools() -> None:
    """What the VM tests need once asked for: missing, a skip, or a failure in CI (PMD_REQUIRE_REAL=1)."""
    for tool in ("qemu-system-x86_64", "dracut", "debugfs", "mkfs.ext4"):
        need_tool(tool)
    need((RIG_DIR / "kernel/lib/modules").is_dir() and bool(list((RIG_DIR / "kernel/boot").glob("vmlinuz-*"))),
         f"no rig kernel in {RIG_DIR}/kernel (tests/rig/make-dumps.sh makes it)")


def build_images(out: Path, python: str, work: Path, **env: str) -> Path:
    """tests/vm/build.sh into OUT (reused with PMD_VM_REUSE=1 when already built)."""
    if os.environ.get("PMD_VM_REUSE") == "1" and (out / "sizes.json").exists():
        return out
    base = {k: v for k, v in os.environ.items() if k != "PYMAKEDUMPFILE_PYTHONPATH"}
    subprocess.run([str(HERE / "build.sh"), str(out)], check=True,
                   env={**base, **env, "RIG_DIR": str(RIG_DIR), "PYMAKEDUMPFILE_PYTHON": python}, cwd=work)
    return out


def run_guest(images: Path, run: Path, mem: int, crash: int, *extra: str) -> Path:
    """tests/vm/vmrun.py: boot, crash, capture (reused with PMD_VM_REUSE=1 when already run)."""
    if os.environ.get("PMD_VM_REUSE") == "1" and (run / "run.json").exists():
        return run
    subprocess.run([sys.executable, str(HERE / "vmrun.py"), str(images), str(run), "--mem", str(mem),
                    "--crash", str(crash), *extra], check=True, env={**os.environ, "RIG_DIR": str(RIG_DIR)})
    return run
