#!/usr/bin/env python3
"""The figures of a long run (long_run.sh) as a Markdown table:
inputs, duration, exec/s, coverage, corpus, crashes and timeouts per target.

    python3 tests/fuzz/summarize.py [WORK_DIR]     # default $PMD_FUZZ_WORK or /tmp/pmd-fuzz
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path


def atheris_figures(log: str) -> dict[str, str]:
    f: dict[str, str] = {}
    m = re.search(r"Done (\d+) runs in (\d+) second", log)
    status = re.findall(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/(\S+).*?exec/s: (\d+)", log, re.M)
    if m:
        f["inputs"], f["seconds"] = m.group(1), m.group(2)
    elif status:
        f["inputs"] = status[-1][0]
    m = re.search(r"stat::number_of_executed_units: (\d+)", log)
    if m:
        f["inputs"] = m.group(1)
    m = re.search(r"stat::average_exec_per_sec:\s+(\d+)", log)
    if m:
        f["exec/s"] = m.group(1)
    if status:
        f["cov"], f["ft"], f["corpus"] = status[-1][1], status[-1][2], f"{status[-1][3]} ({status[-1][4]})"
    m = re.search(r"rc=(\d+) seconds=(\d+)", log)
    if m:
        f["rc"], f["wall"] = m.group(1), m.group(2)
    return f


def mutate_figures(log: str) -> dict[str, str]:
    f: dict[str, str] = {}
    m = re.search(r": (\d+) inputs in ([\d.]+) s \((\d+) exec/s\), (\d+) failures", log)
    if m:
        f["inputs"], f["seconds"], f["exec/s"], f["failures"] = m.groups()
    m = re.search(r"rc=(\d+) seconds=(\d+)", log)
    if m:
        f["rc"], f["wall"] = m.group(1), m.group(2)
    return f


def main() -> int:
    work = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PMD_FUZZ_WORK", "/tmp/pmd-fuzz"))
    rows = []
    for d in sorted(p for p in work.iterdir() if p.is_dir()):
        for engine, parse in (("atheris", atheris_figures), ("mutate", mutate_figures)):
            log = d / f"{engine}.log"
            if not log.exists():
                continue
            f = parse(log.read_text(errors="replace"))
            crashes = len(list(d.glob("crash-*"))) + len(list(d.glob("mutate-crash-*[!t]")))
            hangs = len(list(d.glob("timeout-*"))) + len(list(d.glob("slow-unit-*")))
            ooms = len(list(d.glob("oom-*")))
            secs = f.get("wall", f.get("seconds", "?"))
            rows.append((d.name, engine, f.get("inputs", "?"), secs, f.get("exec/s", "?"),
                         f.get("cov", "-"), f.get("corpus", "-"), str(crashes), str(hangs), str(ooms)))
    print("| target | engine | inputs | seconds | exec/s | cov | corpus | crashes | timeouts | OOM |")
    print("|---|---|---:|---:|---:|---:|---|---:|---:|---:|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
