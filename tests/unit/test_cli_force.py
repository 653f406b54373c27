"""-f as makedumpfile has it (issue 15, point 7): a file the user cannot write is refused, a
device (/dev/null, a dump partition) is written in place, the replaced file's mode and owner
are kept.  Where it is safe we still replace a regular file only once the new dump is complete
(tests/unit/test_writers.py, tests/real/test_reliability_real.py).  Compared with makedumpfile."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from needs import cli_only, need_tool

pytestmark = cli_only
REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "vmcore-6.1.0-56-amd64-c-d31.kdump"


def tools() -> list[tuple[str, list[str]]]:
    return [("ours", [sys.executable, "-m", "pymakedumpfile"]), ("theirs", [need_tool("makedumpfile")])]


def test_dev_null_with_f_is_written_in_place() -> None:
    for name, cmd in tools():
        p = subprocess.run([*cmd, "-f", "-l", "-d", "31", str(SAMPLE), "/dev/null"], capture_output=True, text=True,
                           cwd=REPO, timeout=300)
        assert p.returncode == 0, (name, p.stdout + p.stderr)
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
        q = subprocess.run([*cmd, "-l", "-d", "31", str(SAMPLE), "/dev/null"], capture_output=True, text=True,
                           cwd=REPO, timeout=300)
        assert q.returncode == 1, name  # without -f an existing file, a device too, is refused


@pytest.mark.skipif(os.geteuid() != 0, reason="giving the old file to another owner needs root")
def test_mode_and_owner_of_the_replaced_file_are_kept(tmp_path: Path) -> None:
    nobody = 65534
    for name, cmd in tools():
        out = tmp_path / name
        out.write_bytes(b"old")
        os.chmod(out, 0o640)
        os.chown(out, nobody, nobody)
        p = subprocess.run([*cmd, "-f", "-l", "-d", "31", str(SAMPLE), str(out)], capture_output=True, text=True,
                           cwd=REPO, timeout=300)
        assert p.returncode == 0, (name, p.stdout + p.stderr)
        st = out.stat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, nobody, nobody), name
        assert st.st_size > 1 << 20


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None, reason="runs the tools as nobody")
def test_read_only_file_is_refused_for_a_user(tmp_path: Path) -> None:
    """As user nobody, -f over a mode-0444 file of nobody's: both refuse and the file stays."""
    os.chmod(tmp_path, 0o777)
    src = tmp_path / "vmcore"
    shutil.copy(SAMPLE, src)
    os.chmod(src, 0o644)
    code = REPO / "pymakedumpfile"
    for name, cmd in tools():
        out = tmp_path / name
        out.write_bytes(b"read-only")
        os.chown(out, 65534, 65534)
        os.chmod(out, 0o444)
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(code.parent), "HOME": "/tmp"}
        p = subprocess.run(["runuser", "-u", "nobody", "--", *cmd, "-f", "-l", "-d", "31", str(src), str(out)],
                           capture_output=True, text=True, cwd="/", timeout=300, env=env)
        if name == "ours" and "No module named" in p.stderr:
            pytest.skip(f"the package is not readable by nobody here: {p.stderr.strip()}")
        assert p.returncode == 1, (name, p.stdout + p.stderr)
        assert out.read_bytes() == b"read-only", name
        if name == "ours":
            assert "Permission denied" in p.stderr and "Traceback" not in p.stderr
        assert sorted(x.name for x in tmp_path.iterdir() if x.name.startswith((".", name))) == [name]
