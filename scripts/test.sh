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
# constraints.txt: the versions the suite last passed with (scripts/freeze_constraints.py writes it).
.venv/bin/python -m pip install --quiet -c constraints.txt -e '.[test,redis]'

# The Redis quota backend is tested against a real redis-server on loopback. Install it where we may
# (root with apt, as on CI); elsewhere that one test is skipped and pytest says so.
if ! command -v redis-server >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null 2>&1 \
    || echo "note: could not install redis-server; the Redis quota test will be skipped"
fi
# The deployment test (two Meltano workers sharing one Postgres system database) starts a Postgres of its
# own in a temporary folder and stops it; it needs the server binaries. Installed like redis-server; the
# cluster apt may start is stopped again (the test never uses it).
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
  && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null 2>&1; then
    (service postgresql stop || pg_ctlcluster --force "$(ls /usr/lib/postgresql | tail -1)" main stop) >/dev/null 2>&1 || true
  else
    echo "note: could not install postgresql; the shared-state deployment test will be skipped"
  fi
fi
redis_dir=""
cleanup() { if [ -n "$redis_dir" ]; then redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$redis_dir"; fi; }
trap cleanup EXIT
if command -v redis-server >/dev/null 2>&1 && [ -z "${DINERO_TEST_REDIS_URL:-}" ]; then
  redis_dir=$(mktemp -d)
  redis_port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$redis_dir" --daemonize yes \
    --pidfile "$redis_dir/redis.pid" >/dev/null
  export DINERO_TEST_REDIS_URL="redis://127.0.0.1:$redis_port/0"
fi

.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
