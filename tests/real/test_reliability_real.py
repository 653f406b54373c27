"""SIGTERM or SIGINT mid-write: the dump is marked incomplete and every page
written before the signal reads back correctly (ours and crash)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from util import REPO, our_digests

from pymakedumpfile import open_dump


@pytest.mark.parametrize(("sig", "fmt"), [(signal.SIGTERM, "kdump"), (signal.SIGINT, "kdump"), (signal.SIGTERM, "elf")])
def test_signal_mid_write_leaves_consistent_incomplete_dump(sig: int, fmt: str, mem512: Path, tmp_path: Path,
                                                            crash: str, release: str) -> None:
    src = mem512 / "vmcore.elf"
    out = tmp_path / "dump"
    opts = ["-c", "-d", "0"] if fmt == "kdump" else ["-E", "-d", "0"]
    p = subprocess.Popen([sys.executable, "-m", "pymakedumpfile", *opts, "--num-threads", "1", str(src), str(out)],
                         cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wait until pages are being written, then signal
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.stat().st_size < 20 << 20):
        time.sleep(0.05)
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 1, err
    assert "interrupted by SIG" in err and "incomplete" in err and "Traceback" not in err
    with open_dump(out) as c:
        assert c.attr["file.incomplete"] is True
    full = our_digests(src)
    from test_flat_split_limit_real import our_digests_lenient

    got = our_digests_lenient(out)
    assert 0 < len(got) < len(full) - 1000  # it stopped early, with pages saved
    assert all(full[pfn] == h for pfn, h in got.items())
    r = subprocess.run([crash, "--osrelease", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == release, r.stdout + r.stderr
