#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: creates .venv if needed, installs the project with its
# test extras, then runs ruff and pytest (unit, sandbox conformance, tap, target, reliability, Meltano
# end-to-end and the Airflow DAG test). Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not e2e"`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test,redis]'

.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
