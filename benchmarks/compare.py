#!/usr/bin/env python3
"""Run makedumpfile and pymakedumpfile on the same vmcore with the same
options, alternating, several rounds; print the median wall time of each,
their ratio, and peak RSS (GNU time's Maximum resident set size).  Each of
our outputs is checked: a sample of pages must read back equal to the source.

usage: benchmarks/compare.py VMCORE [--rounds 3] [--case "-l -d 31"] ... [--zstd-baseline] [--cpus 0]
       (default cases: "-l -d 31" and "-c -d 0")
VMCORE may be any dump both tools read (an ELF vmcore, a kdump file to refilter).  A case
makedumpfile refuses (it writes no ELF file from a kdump file) is timed for us alone.
--cpus LIST runs both tools under `taskset -c LIST` (a crash kernel's nr_cpus=1: --cpus 0).
--zstd-baseline also times `zstd -1 -T2` compressing the whole vmcore, the
goal for `-z -d 0`.  Needs /usr/bin/time (Debian package time).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def timed(cmd: list[str], stdout: int | None = None, may_fail: bool = False) -> tuple[float, int]:
    """Wall time and peak RSS of ``cmd``.  Dirty pages of earlier runs are
    written out first (not timed): makedumpfile and zstd leave theirs to the
    kernel, which would write them back during the next run (we fsync ours)."""
    os.sync()
    tf = tempfile.NamedTemporaryFile(delete=False)
    tf.close()
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v", "-o", tf.name, *cmd], stdout=stdout or subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    text = open(tf.name).read()
    os.unlink(tf.name)
    if p.returncode != 0 and may_fail:
        return -1.0, 0
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))  # type: ignore[union-attr]
    return wall, rss


def compile_package() -> None:
    """The package's bytecode made first, as an installed package has it (with
    PYTHONDONTWRITEBYTECODE set, every timed run would compile ~100 modules: 0.1-0.15 s)."""
    import compileall

    compileall.compile_dir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pymakedumpfile"),
                           quiet=1)


def check_sample(vmcore: str, out: str, n: int = 2000) -> int:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from pymakedumpfile import open_dump

    with open_dump(vmcore) as src, open_dump(out) as dst:
        runs = list(dst.pagemap.runs())
        pfns = [p for a, b in runs for p in range(a, b)]
        rnd = random.Random(0)
        sample = rnd.sample(pfns, min(n, len(pfns)))
        for pfn in sample:
            if hashlib.sha1(src.read_pfn(pfn)).digest() != hashlib.sha1(dst.read_pfn(pfn)).digest():
                sys.exit(f"page {pfn:#x} of {out} differs from the source")
        return len(sample)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("vmcore")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--case", action="append")
    ap.add_argument("--zstd-baseline", action="store_true")
    ap.add_argument("--outdir", default=None, help="where outputs go (default: a temp dir next to the vmcore)")
    ap.add_argument("--cpus", default=None, help="run both tools under taskset -c CPUS")
    a = ap.parse_args()
    cases = a.case or ["-l -d 31", "-c -d 0"]
    outdir = a.outdir or tempfile.mkdtemp(prefix="pmd-bench-", dir=os.path.dirname(os.path.abspath(a.vmcore)))
    compile_package()
    pin = ["taskset", "-c", a.cpus] if a.cpus else []
    ours = pin + [sys.executable, "-m", "pymakedumpfile"]
    mdf = shutil.which("makedumpfile")
    cpus = f"CPUs {a.cpus} (taskset)" if a.cpus else f"{os.cpu_count()} CPUs"
    print(f"vmcore {a.vmcore} ({os.path.getsize(a.vmcore) / 2**30:.2f} GiB), {cpus}, {a.rounds} rounds")
    print(f"{'case':<14} {'makedumpfile':>14} {'pymakedumpfile':>16} {'ratio':>7} {'mdf RSS':>9} {'our RSS':>9}")
    for case in cases:
        opts = case.split()
        tm, tp, rm, rp = [], [], [], []
        for _ in range(a.rounds):
            for who in ("mdf", "ours"):
                out = os.path.join(outdir, f"{who}.out")
                if os.path.exists(out):
                    os.unlink(out)
                if who == "mdf" and tm and tm[0] < 0:
                    continue  # makedumpfile refused this case once: it will again
                cmd = (pin + [mdf] if who == "mdf" else ours) + opts + ["--message-level", "0", a.vmcore, out]
                w, r = timed(cmd, may_fail=who == "mdf")
                (tm if who == "mdf" else tp).append(w)
                (rm if who == "mdf" else rp).append(r)
        checked = check_sample(a.vmcore, os.path.join(outdir, "ours.out"))
        mp = statistics.median(tp)
        if tm[0] < 0:
            print(f"{case:<14} {'(refuses)':>14} {mp:>14.2f} s {'':>7} {'':>9} {max(rp) / 1024:>7.1f}MB"
                  f"   ({checked} pages checked)")
            continue
        mm = statistics.median(tm)
        print(f"{case:<14} {mm:>12.2f} s {mp:>14.2f} s {mp / mm:>7.2f} "
              f"{max(rm) / 1024:>7.1f}MB {max(rp) / 1024:>7.1f}MB"
              f"   ({checked} pages checked)")
    if a.zstd_baseline and shutil.which("zstd"):
        tz, tpz = [], []
        for _ in range(a.rounds):  # alternating, each output removed before its run
            for who in ("zstd", "ours"):
                out = os.path.join(outdir, "whole.zst" if who == "zstd" else "ours.z")
                if os.path.exists(out):
                    os.unlink(out)
                if who == "zstd":
                    tz.append(timed(pin + ["zstd", "-1", "-T2", "-q", a.vmcore, "-o", out])[0])
                else:
                    tpz.append(timed(ours + ["-z", "-d", "0", "--message-level", "0", a.vmcore, out])[0])
        z, p = statistics.median(tz), statistics.median(tpz)
        print(f"{'-z -d 0':<14} {'zstd -1 -T2':>10} {z:.2f} s {p:>14.2f} s {p / z:>7.2f}")
    shutil.rmtree(outdir, ignore_errors=True)


if __name__ == "__main__":
    main()
