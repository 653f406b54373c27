#!/usr/bin/env python3
"""Coverage-guided fuzzing of one target with atheris (libFuzzer for Python).

    pip install atheris          # prebuilt wheels for CPython 3.8-3.11 on x86_64 Linux
    python3 tests/fuzz/run_atheris.py TARGET [libFuzzer options] [-runs=N]

TARGET is one of the names in ``harness.TARGETS``.  The working corpus goes
to ``$PMD_FUZZ_WORK/TARGET/corpus`` (default ``/tmp/pmd-fuzz``), crashes and
timeouts to ``$PMD_FUZZ_WORK/TARGET/`` (``crash-*``, ``timeout-*``); the
committed seeds and regressions are read-only extra corpus directories.
Defaults added unless given: ``-timeout=10`` (an input running longer is a
hang: libFuzzer reports it and stops), ``-rss_limit_mb=2048``,
``-max_len=262144``, ``-print_final_stats=1``.

Run a crash file again without the fuzzer: ``python3 tests/fuzz/harness.py TARGET FILE``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE)]

import atheris  # noqa: E402

with atheris.instrument_imports(include=["pymakedumpfile"]):
    import pymakedumpfile  # noqa: F401
    import pymakedumpfile.core.pipeline  # noqa: F401
    import pymakedumpfile.filter  # noqa: F401
    import pymakedumpfile.filter.freelist  # noqa: F401
    import pymakedumpfile.filter.memmap  # noqa: F401
    import pymakedumpfile.input  # noqa: F401
    import pymakedumpfile.input.dwarf  # noqa: F401
    import pymakedumpfile.input.kcore  # noqa: F401
    import pymakedumpfile.tools.memusage  # noqa: F401
    import pymakedumpfile.translate.x86_64  # noqa: F401

import harness  # noqa: E402


def main() -> None:
    # libFuzzer runs this script again for -minimize_crash, -merge, -jobs: with
    # its own arguments only, so the target name travels in the environment
    args = sys.argv[1:]
    if args and args[0] in harness.TARGETS:
        os.environ["PMD_FUZZ_TARGET"] = args.pop(0)
    name = os.environ.get("PMD_FUZZ_TARGET", "")
    if name not in harness.TARGETS:
        sys.exit(f"usage: {sys.argv[0]} TARGET [libFuzzer options]; TARGET in {', '.join(harness.TARGETS)}")

    def target(data: bytes) -> None:
        harness.call(name, data)  # known, reported issues pass unless PMD_FUZZ_STRICT=1
    work = Path(os.environ.get("PMD_FUZZ_WORK", "/tmp/pmd-fuzz")) / name
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    opts = args
    given = {o.split("=", 1)[0] for o in opts if o.startswith("-")}
    for k, v in (("-timeout", "10"), ("-rss_limit_mb", "2048"), ("-max_len", "262144"),
                 ("-print_final_stats", "1"), ("-artifact_prefix", f"{work}/")):
        if k not in given:
            opts.append(f"{k}={v}")
    dirs = [str(corpus)] + [str(d / name) for d in (harness.SEEDS, harness.REGRESSIONS) if (d / name).is_dir()]
    if not any(not o.startswith("-") for o in opts) and "-minimize_crash=1" not in opts:
        opts += dirs
    argv = [sys.argv[0]] + opts
    print(f"fuzzing {name}: {' '.join(argv[1:])}", file=sys.stderr, flush=True)
    atheris.Setup(argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
