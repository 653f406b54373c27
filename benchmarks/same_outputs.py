#!/usr/bin/env python3
"""Check that a change of the code changed no output byte: run the CLI of an earlier commit and
of the working tree on the same dump, for every output kind, and compare the files.

    python3 benchmarks/same_outputs.py REV VMCORE [--work DIR]

REV is checked out with `git worktree` into a scratch folder and its accel module compiled in
place (with the interpreter running this script); the working tree's own must be built already
(`pip install -e .`).  Cases: -l/-c/-z/-p/-E at -d 0, 1 and 31, no compression at -d 31, -F
(kdump and ELF), --split into 2 parts, --dump-dmesg.  Prints one line a case and exits 1 when
any output differs.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CASES: list[tuple[str, list[str]]] = [
    *[(f"{c}-d{d}", [f"-{c}", "-d", str(d)]) for c in "lczpE" for d in (0, 1, 31)],
    ("none-d31", ["-d", "31"]),
    ("flat-l-d31", ["-F", "-l", "-d", "31"]),
    ("flat-E-d31", ["-F", "-E", "-d", "31"]),
    ("split2-l-d31", ["--split", "-l", "-d", "31", "--splitblock-size", "65536"]),
    ("dmesg", ["--dump-dmesg"]),
]


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run(tree: Path, name: str, opts: list[str], vmcore: str, out: Path) -> str:
    """Run one case with the package of ``tree``; the digest of what it wrote."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, "-m", "pymakedumpfile", "--message-level", "0", *opts, vmcore]
    if "--split" in opts:
        parts = [out.with_name(f"{out.name}.{i}") for i in (1, 2)]
        subprocess.run([*cmd, *map(str, parts)], env=env, check=True, cwd=tree)
        return "+".join(digest(p) for p in parts)
    if "-F" in opts:
        with open(out, "wb") as f:
            subprocess.run(cmd, env=env, check=True, stdout=f, cwd=tree)
        return digest(out)
    subprocess.run([*cmd, str(out)], env=env, check=True, cwd=tree)
    return digest(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rev")
    ap.add_argument("vmcore")
    ap.add_argument("--work", help="scratch folder (default: a temporary one)")
    a = ap.parse_args()
    work = Path(a.work or tempfile.mkdtemp(prefix="same-outputs-"))
    old = work / "old"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-f", str(old), a.rev], check=True,
                   capture_output=True)
    try:
        subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=old, check=True,
                       capture_output=True)
        bad = 0
        for name, opts in CASES:
            was = run(old, name, opts, a.vmcore, work / f"old-{name}")
            now = run(REPO, name, opts, a.vmcore, work / f"new-{name}")
            same = was == now
            bad += not same
            print(f"{name:14} {'same' if same else 'DIFFERENT'} {now[:16]}", flush=True)
            for p in work.glob("*-" + name + "*"):
                p.unlink()
        print(f"{len(CASES) - bad} of {len(CASES)} outputs byte-identical to {a.rev}'s")
        return 1 if bad else 0
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)], capture_output=True)
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
