#!/usr/bin/env python3
"""-g VMCOREINFO -x VMLINUX against makedumpfile: runs ``makedumpfile -g OUT
-x VMLINUX`` and ours (``python -m pymakedumpfile -g OUT -x VMLINUX``, from
this checkout) alternately for N rounds on one kernel image, and prints the
wall time and peak RSS (GNU time) of each run, their medians and our ratio
to makedumpfile's.  The goal (the -x issue): at most 150 MB peak RSS, and
no slower than makedumpfile (the unit index of pymakedumpfile/input/dwarf.py).

usage: benchmarks/vmlinux.py [--rounds N] [--makedumpfile PATH] [VMLINUX]
Default VMLINUX: the rig's Debian -dbg image (tests/rig/make-dumps.sh fetches
it; tests/real/test_dwarf_real.py finds it the same way).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from compare import timed  # noqa: E402

RIG = Path(os.environ.get("PMD_RIG_DIR", Path.home() / ".cache/pymakedumpfile/rig"))


def default_vmlinux() -> str | None:
    kpkg = RIG / "kernel" / "KPKG"
    if not kpkg.exists():
        return None
    v = RIG / "dbg/usr/lib/debug/boot" / f"vmlinux-{kpkg.read_text().strip().removeprefix('linux-image-')}"
    return str(v) if v.exists() else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("vmlinux", nargs="?", default=default_vmlinux())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--makedumpfile", default=shutil.which("makedumpfile", path=os.environ.get("PATH", "")
                                                           + ":/usr/sbin:/sbin"))
    a = ap.parse_args()
    if not a.vmlinux:
        sys.exit("no VMLINUX given and none in the rig")
    if not a.makedumpfile:
        sys.exit("makedumpfile not found")
    os.environ["PYTHONPATH"] = str(REPO) + (os.pathsep + os.environ["PYTHONPATH"]
                                            if os.environ.get("PYTHONPATH") else "")
    runs: dict[str, list[tuple[float, int]]] = {"makedumpfile": [], "pymakedumpfile": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "vmcoreinfo")
        cmds = {"makedumpfile": [a.makedumpfile, "-g", out, "-x", a.vmlinux],
                "pymakedumpfile": [sys.executable, "-m", "pymakedumpfile", "-g", out, "-x", a.vmlinux]}
        print(f"{a.vmlinux} ({os.path.getsize(a.vmlinux) >> 20} MiB), {a.rounds} rounds")
        for r in range(a.rounds):
            for who, cmd in cmds.items():
                if os.path.exists(out):
                    os.unlink(out)
                wall, rss = timed(cmd)
                runs[who].append((wall, rss))
                print(f"  round {r + 1} {who:15} {wall:7.2f} s {rss / 1024:8.1f} MB", flush=True)
    med = {who: (statistics.median(w for w, _ in v), statistics.median(m for _, m in v)) for who, v in runs.items()}
    for who, (wall, rss) in med.items():
        print(f"median {who:15} {wall:7.2f} s {rss / 1024:8.1f} MB")
    (mw, mr), (pw, pr) = med["makedumpfile"], med["pymakedumpfile"]
    print(f"ours / makedumpfile: time {pw / mw:.2f}x, peak RSS {pr / mr:.2f}x")


if __name__ == "__main__":
    main()
