#!/bin/bash
# The long fuzzing run: every target under atheris (or, with ENGINE=mutate,
# the standard-library mutator), JOBS targets at a time, each until RUNS
# inputs or MAX_TIME seconds, whichever comes first.  Logs, working corpora
# and crash/timeout files go to $PMD_FUZZ_WORK/TARGET/ (default /tmp/pmd-fuzz).
#
#   RUNS=1000000 MAX_TIME=540 JOBS=2 tests/fuzz/long_run.sh [TARGET...]
#   tests/fuzz/summarize.py          # the table of docs/fuzzing.md
set -uo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-1000000}
MAX_TIME=${MAX_TIME:-540}
JOBS=${JOBS:-2}
ENGINE=${ENGINE:-atheris}
export PMD_FUZZ_WORK=${PMD_FUZZ_WORK:-/tmp/pmd-fuzz}
# pages read per input (harness.MAX_PAGES, 4096 in the tests): instrumented
# Python reads ~40 inputs/s of a real dump's head at 4096, ~1000/s at 256
export PMD_FUZZ_MAX_PAGES=${PMD_FUZZ_MAX_PAGES:-256}
PY=${PYTHON:-python3}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(vmcoreinfo pagetable elf memmap kdump flat split classify file filter)
run() {
	t=$1
	mkdir -p "$PMD_FUZZ_WORK/$t"
	log="$PMD_FUZZ_WORK/$t/$ENGINE.log"
	start=$(date +%s)
	if [ "$ENGINE" = atheris ]; then
		$PY tests/fuzz/run_atheris.py "$t" -runs="$RUNS" -max_total_time="$MAX_TIME" >"$log" 2>&1
	else
		$PY tests/fuzz/run_mutate.py "$t" --runs "$RUNS" --max-time "$MAX_TIME" >"$log" 2>&1
	fi
	rc=$?
	echo "$t rc=$rc seconds=$(( $(date +%s) - start ))" | tee -a "$PMD_FUZZ_WORK/$t/$ENGINE.log"
}
export -f run
export RUNS MAX_TIME ENGINE PY
printf '%s\n' "${TARGETS[@]}" | xargs -P "$JOBS" -I{} bash -c 'run {}'
