#!/bin/bash
# Static checks, run by run-tests.sh (and so by CI) before the tests; each one fails the run.
#   ruff      lint and import order, zero findings (pyproject.toml [tool.ruff])
#   mypy      the package, checked against Python 3.9's rules (pyproject.toml [tool.mypy])
#   vermin    no standard-library feature newer than Python 3.9 (RHEL 9's crash kernel runs 3.9)
#   sizes     no tracked file over 1 MiB but the shipped sample dump
# PY: the interpreter with the test extras installed (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
echo "static checks: ruff"
"$PY" -m ruff check --no-cache .
echo "static checks: mypy (Python 3.9 rules)"
"$PY" -m mypy --no-incremental --cache-dir=/dev/null
echo "static checks: vermin (Python 3.9)"
"$(dirname "$PY")/vermin" --target=3.9- --no-tips --violations --quiet pymakedumpfile dracut/99pymakedumpfile/pymakedumpfile-files.py
echo "static checks: file sizes"
big=$(git ls-files -z | xargs -0 -r stat -c '%s %n' 2> /dev/null | awk '$1 > 1048576 && $2 !~ /^samples\// {print $2 " (" $1 " bytes)"}')
if [ -n "$big" ]; then
	echo "files over 1 MiB (keep generated and fetched data out of git):" >&2
	echo "$big" >&2
	exit 1
fi
echo "static checks: passed"
