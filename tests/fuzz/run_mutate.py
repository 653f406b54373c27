#!/usr/bin/env python3
"""Mutational fuzzing with nothing but the standard library (the fallback
when atheris is not installed): random mutations (``mutate.py``) of the
seeds and of earlier mutants, each input run under the harness's time limit.

    python3 tests/fuzz/run_mutate.py TARGET [--runs N] [--max-time S] [--seed K]

Every distinct failure (exception type and the innermost pymakedumpfile
frame, or a hang) is written once to ``$PMD_FUZZ_WORK/TARGET/mutate-crash-*``
with its traceback; the run goes on.  Exit status 1 if anything failed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE)]

import harness  # noqa: E402
from mutate import mutate  # noqa: E402


def signature(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "pymakedumpfile" in f.filename]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "harness"
    return f"{type(exc).__name__}@{where}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("target", choices=sorted(harness.TARGETS))
    ap.add_argument("--runs", type=int, default=100000)
    ap.add_argument("--max-time", type=float, default=0, help="stop after this many seconds (0: no limit)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=harness.TIME_LIMIT, help="seconds per input")
    args = ap.parse_args()
    name = args.target
    work = Path(os.environ.get("PMD_FUZZ_WORK", "/tmp/pmd-fuzz")) / name
    work.mkdir(parents=True, exist_ok=True)
    pool = [p.read_bytes() for p in harness.seed_files(name)]
    if not pool:
        sys.exit(f"no seeds for {name}: run tests/fuzz/make_seeds.py")
    rng = random.Random(args.seed)
    recent: list[bytes] = []
    seen: dict[str, int] = {}
    t0 = time.monotonic()
    last = t0
    done = 0
    for done in range(1, args.runs + 1):
        base = rng.choice(recent) if recent and rng.random() < 0.3 else rng.choice(pool)
        data = mutate(base, rng, pool)
        try:
            harness.run_one(name, data, args.timeout)
        except (Exception, harness.Hang) as e:  # noqa: BLE001
            sig = signature(e)
            seen[sig] = seen.get(sig, 0) + 1
            if seen[sig] == 1:
                h = hashlib.sha1(data).hexdigest()[:16]
                out = work / f"mutate-crash-{h}"
                out.write_bytes(data)
                tb = "".join(traceback.format_exception(e))
                (work / f"mutate-crash-{h}.txt").write_text(f"{sig}\n{tb}")
                print(f"#{done} NEW FAILURE {sig} -> {out}\n{tb}", file=sys.stderr, flush=True)
        else:
            if len(recent) < 256:
                recent.append(data)
            else:
                recent[rng.randrange(256)] = data
        now = time.monotonic()
        if now - last >= 10:
            last = now
            print(f"#{done} {done / (now - t0):.0f} exec/s, failures {sum(seen.values())} ({len(seen)} distinct)",
                  file=sys.stderr, flush=True)
        if args.max_time and now - t0 >= args.max_time:
            break
    el = time.monotonic() - t0
    print(f"{name}: {done} inputs in {el:.1f} s ({done / max(el, 1e-9):.0f} exec/s), "
          f"{sum(seen.values())} failures, {len(seen)} distinct: {', '.join(seen) or '-'}", flush=True)
    return 1 if seen else 0


if __name__ == "__main__":
    sys.exit(main())
