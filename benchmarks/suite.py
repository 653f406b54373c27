#!/usr/bin/env python3
"""The benchmark set: pymakedumpfile and makedumpfile on the same inputs, the same options,
alternating, each case on all CPUs and on one (taskset -c 0, as in a crash kernel booted with
nr_cpus=1).  Prints a Markdown table of median wall times, their ratio and peak RSS.

usage: benchmarks/suite.py VMCORE [--rounds 3] [--only NAME]... [--big GIB]... [--work DIR]
                           [--mdf-zstd MAKEDUMPFILE] [--durable [--pin-writeback]] [--ours CMD]

VMCORE is an ELF vmcore (the rig's 4 GiB guest: ~/.cache/pymakedumpfile/rig/dumps/mem4096/
vmcore.elf, made by PMD_RIG_BIG=1 tests/rig/make-dumps.sh).  The inputs of the other cases are
made from it once, by makedumpfile, in --work (default /var/tmp/pmd-suite): its -l -d 0 and
-c -d 0 files, a 4-part split and a flattened stream of -l -d 0.  --big GIB adds the ELF->kdump
case on a synthetic machine of GIB GiB (benchmarks/memory.py builds it), and up to 256 GiB the
refilter of makedumpfile's -l -d 1 file of it (made once, beside it).

Cases (makedumpfile cannot do some; then we are timed alone):
  elf->kdump        -l -d 31, -c -d 0 of VMCORE
  refilter          -l -d 31 of makedumpfile's -l -d 0 and -c -d 0 files; -E -d 0 of its -l file
  split/reassemble  --split -l -d 31 into 4; --reassemble of a 4-part -l -d 0 split
  flattened         -R of a flattened -l -d 0 stream (from standard input)
  info x100         --info of the -l -d 0 file, 100 times (start-up; makedumpfile has no --info)
  zstd              -z -d 0 of VMCORE against --mdf-zstd, a makedumpfile built with zstd (Debian's
                    bookworm build has none: benchmarks/sid-makedumpfile.sh makes sid's 1.7.8 runnable
                    here), output sizes compared, and against `zstd -1 -T2` of the whole VMCORE

--durable times each command until its output is on disk (the command, then sync): we fsync
what we write, makedumpfile leaves the writeback to the kernel, untimed without --durable.

--pin-writeback (root, with --durable): on the one-CPU rows the kernel's unbound workqueues, which
write dirty pages back, are held to CPU 0 as well (/sys/devices/virtual/workqueue/cpumask, put
back afterwards).  taskset pins the tools only, so without it makedumpfile's writeback runs on
another CPU while it is timed on one; a crash kernel booted with nr_cpus=1 has no other CPU.

--ours CMD times another installation of ours (default: this interpreter's -m pymakedumpfile;
an editable install adds the cost of its import finder, ~9 ms a run, that users do not pay).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from compare import compile_package, timed  # noqa: E402
from memory import synthetic  # noqa: E402

OURS = [sys.executable, "-m", "pymakedumpfile"]


def prepare(vmcore: Path, work: Path) -> dict[str, Path]:
    """makedumpfile's files of ``vmcore`` that the refilter, reassemble and -R cases read."""
    work.mkdir(parents=True, exist_ok=True)
    mdf = shutil.which("makedumpfile") or "makedumpfile"
    files = {"l": work / "l.d0", "c": work / "c.d0", "flat": work / "flat.l.d0"}
    parts = [work / f"split.{i}" for i in range(1, 5)]
    stamp = work / "source"
    if not stamp.exists() or stamp.read_text() != f"{vmcore} {vmcore.stat().st_mtime}":
        for f in [*files.values(), *parts]:
            f.unlink(missing_ok=True)
        q = ["--message-level", "0"]
        subprocess.run([mdf, *q, "-l", "-d", "0", str(vmcore), str(files["l"])], check=True)
        subprocess.run([mdf, *q, "-c", "-d", "0", str(vmcore), str(files["c"])], check=True)
        subprocess.run([mdf, *q, "--split", "-l", "-d", "0", str(vmcore), *map(str, parts)], check=True)
        with open(files["flat"], "wb") as f:
            subprocess.run([mdf, *q, "-F", "-l", "-d", "0", str(vmcore)], stdout=f, check=True)
        stamp.write_text(f"{vmcore} {vmcore.stat().st_mtime}")
    files.update({f"s{i}": p for i, p in enumerate(parts, 1)})
    return files


Case = tuple[str, list[str], "str | None", "str | None"]  # name, arguments, standard input, makedumpfile


def cases(vmcore: Path, f: dict[str, Path], out: Path, big: list[Path], mdf: str, mdf_zstd: str | None,
          ) -> list[Case]:
    """The cases on these inputs, writing to ``out``, with the makedumpfile that runs each (None:
    it cannot)."""
    o = str(out)
    v = str(vmcore)
    parts = [str(f[f"s{i}"]) for i in range(1, 5)]
    rows: list[Case] = [
        ("-l -d 31 (ELF)", ["-l", "-d", "31", v, o], None, mdf),
        ("-c -d 0 (ELF)", ["-c", "-d", "0", v, o], None, mdf),
        ("-z -d 0 (ELF)", ["-z", "-d", "0", v, o], None, mdf_zstd),
        ("refilter -l -d 31 of -l -d 0", ["-l", "-d", "31", str(f["l"]), o], None, mdf),
        ("refilter -l -d 31 of -c -d 0", ["-l", "-d", "31", str(f["c"]), o], None, mdf),
        ("-E -d 0 of -l -d 0", ["-E", "-d", "0", str(f["l"]), o], None, None),
        ("--split 4 -l -d 31", ["--split", "-l", "-d", "31", v] + [f"{o}.{i}" for i in range(1, 5)], None, mdf),
        ("--reassemble 4 parts", ["--reassemble", *parts, o], None, mdf),
        ("-R flattened", ["-R", o], str(f["flat"]), mdf),
    ]
    for b in big:
        rows.append((f"-l -d 31 ({b.name})", ["-l", "-d", "31", str(b), o], None, mdf))
        if b.stat().st_size > 300 << 30:
            continue  # no refilter case: makedumpfile's -l -d 1 file would hold 6 GB of descriptors per TiB
        kd = b.with_name(b.stem + ".l.d1")  # makedumpfile's -l -d 1 file of it, made once
        if not kd.exists():
            subprocess.run([mdf, "--message-level", "0", "-l", "-d", "1", str(b), str(kd)], check=True)
        rows.append((f"refilter -l -d 31 of {kd.name}", ["-l", "-d", "31", str(kd), o], None, mdf))
    return rows


WQ_MASK = Path("/sys/devices/virtual/workqueue/cpumask")


@contextlib.contextmanager
def writeback_on(cpus: str | None) -> Iterator[None]:
    """The kernel's unbound workqueues (writeback among them) held to ``cpus`` (a hex mask)
    for the duration; None leaves them alone."""
    if cpus is None:
        yield
        return
    try:
        old = WQ_MASK.read_text().strip()
        WQ_MASK.write_text(cpus)
    except OSError as e:
        sys.exit(f"--pin-writeback: cannot set {WQ_MASK}: {e.strerror} (root is needed)")
    try:
        yield
    finally:
        WQ_MASK.write_text(old)


def run(cmd: list[str], stdin: str | None) -> tuple[float, int]:
    if stdin is None:
        return timed(cmd)
    return timed(["sh", "-c", 'exec "$@" < "$0"', stdin, *cmd])


def zstd_whole(vmcore: Path, out: Path, ours: float, rounds: int, sizes: dict[str, int]) -> None:
    """`zstd -1 -T2` of the whole vmcore (the speed -z is held to), and the -z output sizes."""
    zstd = shutil.which("zstd")
    if zstd is None:
        print("| zstd -1 -T2 of the whole file | all | (zstd not installed) | | | |")
        return
    times = []
    for _ in range(rounds):
        w, _r = timed(["sh", "-c", 'exec "$0" -q -1 -T2 -c "$1" > "$2"', zstd, str(vmcore), str(out)])
        times.append(w)
    z = statistics.median(times)
    size = out.stat().st_size
    clean(out)
    print(f"| zstd -1 -T2 of the whole file (against our -z) | all | {z:.2f} s | {ours:.2f} s | {ours / z:.2f} | |")
    print(f"| -z -d 0 output bytes: makedumpfile / ours / whole-file zstd | | {sizes.get('mdf', 0):,} | "
          f"{sizes.get('ours', 0):,} | {sizes.get('ours', 0) / sizes['mdf'] if sizes.get('mdf') else 0:.4f} | "
          f"{size:,} |", flush=True)


def clean(out: Path) -> None:
    for p in out.parent.glob(out.name + "*"):
        p.unlink()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("vmcore", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", action="append", help="run the cases whose name contains this")
    ap.add_argument("--big", type=int, action="append", default=[])
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("PMD_SUITE_DIR", "/var/tmp/pmd-suite")))
    ap.add_argument("--durable", action="store_true", help="time each command and a sync after it")
    ap.add_argument("--pin-writeback", action="store_true",
                    help="with --durable: the kernel's writeback on CPU 0 too for the one-CPU rows (root)")
    ap.add_argument("--ours", type=shlex.split, default=OURS, help="the command that runs pymakedumpfile")
    ap.add_argument("--mdf-zstd", default=os.environ.get("PMD_MDF_ZSTD"),
                    help="a makedumpfile with zstd (-z) for the -z case (default: $PMD_MDF_ZSTD)")
    a = ap.parse_args()
    if a.pin_writeback and not a.durable:
        ap.error("--pin-writeback times the writeback, which only --durable does")
    compile_package()
    mdf = shutil.which("makedumpfile")
    if not mdf:
        sys.exit("makedumpfile is not installed")
    files = prepare(a.vmcore, a.work)
    out = a.work / "out"
    print(f"{a.vmcore} ({a.vmcore.stat().st_size / 2**30:.1f} GiB), {os.cpu_count()} CPUs, medians of {a.rounds}"
          + (", each command timed with a sync after it" if a.durable else "")
          + (" (one CPU: the kernel's writeback on it too)" if a.pin_writeback else ""))
    print("| case | CPUs | makedumpfile | pymakedumpfile | ratio | RSS mdf / ours |")
    print("|---|---|---:|---:|---:|---:|")
    sizes: dict[str, dict[str, int]] = {}
    for name, args, stdin, mdf_bin in cases(a.vmcore, files, out, [synthetic(g) for g in a.big], mdf, a.mdf_zstd):
        if a.only and not any(s in name for s in a.only):
            continue
        for pin in ([], ["taskset", "-c", "0"]):
            t: dict[str, list[float]] = {"mdf": [], "ours": []}
            rss: dict[str, int] = {"mdf": 0, "ours": 0}
            with writeback_on("1" if pin and a.pin_writeback else None):
                for _ in range(a.rounds):
                    for who in ("mdf", "ours") if mdf_bin else ("ours",):
                        clean(out)
                        tool = ([mdf_bin] if who == "mdf" else a.ours) + ["--message-level", "0"] + args
                        cmd = pin + (["sh", "-c", '"$@" && sync', "sh"] if a.durable else []) + tool
                        w, r = run(cmd, stdin)
                        t[who].append(w)
                        rss[who] = max(rss[who], r)
                        if out.exists():
                            sizes.setdefault(name, {})[who] = out.stat().st_size
            clean(out)
            ours = statistics.median(t["ours"])
            cpus = "1" if pin else "all"
            if mdf_bin:
                m = statistics.median(t["mdf"])
                print(f"| {name} | {cpus} | {m:.2f} s | {ours:.2f} s | {ours / m:.2f} | "
                      f"{rss['mdf'] / 1024:.0f} / {rss['ours'] / 1024:.0f} MB |", flush=True)
            else:
                print(f"| {name} | {cpus} | (cannot) | {ours:.2f} s | | - / {rss['ours'] / 1024:.0f} MB |", flush=True)
            if name.startswith("-z") and not pin:
                zstd_whole(a.vmcore, out, ours, a.rounds, sizes.get(name, {}))
    # --info in a loop: start-up and probing, 100 times
    if not a.only or any("info" in s for s in a.only):
        for pin in ([], ["taskset", "-c", "0"]):
            w, _ = timed(["sh", "-c", 'for i in $(seq 100); do "$@" >/dev/null || exit 1; done', "sh",
                          *pin, *a.ours, "--info", str(files["l"])])
            print(f"| --info x100 | {'1' if pin else 'all'} | (no --info) | {w:.2f} s | | |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
