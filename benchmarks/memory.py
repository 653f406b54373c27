#!/usr/bin/env python3
"""Peak memory across dump sizes: pymakedumpfile (and makedumpfile, with
--mdf) on each VMCORE with the same options; prints peak RSS (GNU time) and
wall time per case, and for each option set the spread of our peak RSS
around its median.  The goal (issue 7): at most 64 MB everywhere, and the
same within 10 % whatever the size of the dump.

usage: benchmarks/memory.py [--big GIB] [--case "-l -d 31"]... [--mdf] [VMCORE...]
  --big GIB   add a synthetic machine of GIB GiB (tests/gen/big.py: a sparse ELF
              with a realistic mem_map), made once in ~/.cache/pymakedumpfile/synthetic
Default VMCOREs: the rig's mem512 and mem4096 vmcore.elf when present.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from compare import timed  # noqa: E402

RIG = Path(os.environ.get("PMD_RIG_DIR", Path.home() / ".cache/pymakedumpfile/rig")) / "dumps"
SYNTH = Path(os.environ.get("PMD_SYNTH_DIR", Path.home() / ".cache/pymakedumpfile/synthetic"))
GOAL_MB = 64
SPREAD = 0.10


def synthetic(gib: int) -> Path:
    """The synthetic machine of ``gib`` GiB, built on first use."""
    path = SYNTH / f"big{gib}.elf"
    if not path.exists():
        sys.path.insert(0, str(REPO / "tests"))
        from gen.big import build_big_elf

        SYNTH.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        build_big_elf(tmp, gib)
        tmp.rename(path)
    return path


def measure(vmcores: list[Path], cases: list[str], mdf: bool, outdir: Path) -> list[dict[str, object]]:
    rows = []
    for case in cases:
        for v in vmcores:
            out = outdir / "out"
            wall, rss = timed([sys.executable, "-m", "pymakedumpfile", *case.split(), "-f", "--message-level", "0",
                               str(v), str(out)])
            row: dict[str, object] = {"case": case, "vmcore": str(v), "size": v.stat().st_size, "ours_rss_kb": rss,
                                      "ours_s": round(wall, 2)}
            out.unlink()
            if mdf:
                wall, rss = timed(["makedumpfile", *case.split(), "-f", "--message-level", "0", str(v), str(out)])
                row.update(mdf_rss_kb=rss, mdf_s=round(wall, 2))
                out.unlink()
            rows.append(row)
            print(row, flush=True)
    return rows


def verdict(rows: list[dict[str, object]]) -> list[str]:
    """The goals not met, one line each (empty: all met)."""
    bad = []
    for case in sorted({str(r["case"]) for r in rows}):
        rss = [int(r["ours_rss_kb"]) for r in rows if r["case"] == case]  # type: ignore[call-overload]
        med = statistics.median(rss)
        for r in rows:
            if r["case"] != case:
                continue
            kb = int(r["ours_rss_kb"])  # type: ignore[call-overload]
            if kb > GOAL_MB * 1000:
                bad.append(f"{case} {r['vmcore']}: {kb} KB > {GOAL_MB} MB")
            if abs(kb - med) > SPREAD * med:
                bad.append(f"{case} {r['vmcore']}: {kb} KB is more than {SPREAD:.0%} from the median {med:.0f} KB")
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("vmcores", nargs="*", type=Path)
    ap.add_argument("--big", type=int, action="append", default=[])
    ap.add_argument("--case", action="append")
    ap.add_argument("--mdf", action="store_true", help="also run makedumpfile")
    a = ap.parse_args()
    vmcores = a.vmcores or [p for p in (RIG / "mem512/vmcore.elf", RIG / "mem4096/vmcore.elf") if p.exists()]
    vmcores += [synthetic(g) for g in a.big]
    with tempfile.TemporaryDirectory(prefix="pmd-mem-", dir=os.environ.get("TMPDIR", "/var/tmp")) as td:
        rows = measure(vmcores, a.case or ["-l -d 31", "-c -d 31", "-z -d 31"], a.mdf, Path(td))
    bad = verdict(rows)
    print("\n".join(bad) if bad else f"goal met: every peak RSS <= {GOAL_MB} MB and within {SPREAD:.0%} of its median")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
