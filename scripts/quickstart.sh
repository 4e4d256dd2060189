#!/usr/bin/env bash
# Quick start, on a fresh machine with only Python 3.10+:
#   1. fetches uv (pinned) and creates .venv with it (if absent), then -- at the same time -- installs
#      this project with the sandbox into .venv (`uv pip install -c constraints.txt -e '.[sandbox]'`, the
#      tested versions) and builds Meltano's own virtualenv (scripts/toolenv.py); QUICKSTART_INSTALLER=pip
#      (or a failed uv install) does both with pip instead,
#   2. installs the project's Meltano plugins (Meltano installs with uv, from the cache step 1 filled)
#      while the offline Dinero sandbox (demo organizations) starts on a free port,
#   3. runs the main jobs end to end through Meltano, in the dev environment:
#        dinero-to-duckdb  tap-dinero  -> target-duckdb  (every stream of organization 100000 into
#                          output/warehouse.duckdb; QUICKSTART_LOADER=jsonl: dinero-to-local, JSONL files)
#        sales-to-dinero   sample_config/sales.csv -> target-dinero (daily-sales manual vouchers)
#   4. loads the same sales a second time (--full-refresh): the second load creates nothing,
#   5. prints SQL answers from the DuckDB file (revenue per month, top customers, trial balance) and a
#      summary (vouchers created, requests the sandbox answered), then stops the sandbox. Exits non-zero
#      when any step fails (the last lines of the log are shown). Each step's time is printed and kept
#      in output/quickstart/timings.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

PYTHON="${PYTHON:-python3}"
WORK="$ROOT/output/quickstart"
OUT="$ROOT/output/dinero"
LOG="$WORK/quickstart.log"
mkdir -p "$WORK"
: >"$LOG"
started=$(date +%s)

step() { printf '==> [%3ss] %s\n' "$(($(date +%s) - started))" "$*"; }
fail() {
  printf '\nquickstart FAILED: %s\n--- last lines of %s ---\n' "$1" "$LOG" >&2
  tail -n 40 "$LOG" >&2 || true
  exit 1
}

TIMINGS="$WORK/timings.txt"
: >"$TIMINGS"
# timed LABEL CMD...: runs CMD, appends "<seconds> LABEL" to the timings file (where the minutes go).
now_ms() { local t="${EPOCHREALTIME:-$(date +%s).000000}"; t="${t/[.,]/}"; echo $((10#$t / 1000)); }
timed() {
  local label=$1 t0 ms rc=0
  shift
  t0=$(now_ms)
  "$@" || rc=$?
  ms=$(($(now_ms) - t0))
  printf '%4d.%d s  %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$label" >>"$TIMINGS"
  return "$rc"
}

# uv (from the package index, pinned) installs in parallel and keeps one cache that Meltano's plugin
# installs (Meltano installs plugins with uv) reuse; pip stays the fallback.
UV_REQUIREMENT="uv==0.13.9"
# Compile .pyc files at install time, as pip does; Meltano's own plugin installs (uv) inherit it. Without
# it, wherever PYTHONDONTWRITEBYTECODE is set (containers, CI) every start of Meltano and of each plugin
# compiles its modules again: tens of seconds over the quick start's runs.
export UV_COMPILE_BYTECODE=1
INSTALLER="${QUICKSTART_INSTALLER:-uv}"
case "$INSTALLER" in uv | pip) ;; *) fail "QUICKSTART_INSTALLER must be uv or pip (got $INSTALLER)" ;; esac

# The plugins of the two jobs (the airflow utility is not needed here).
LOADER="${QUICKSTART_LOADER:-duckdb}"
case "$LOADER" in
  duckdb) JOB=dinero-to-duckdb; LOADER_PLUGIN=target-duckdb ;;
  jsonl) JOB=dinero-to-local; LOADER_PLUGIN=target-jsonl ;;
  *) fail "QUICKSTART_LOADER must be duckdb or jsonl (got $LOADER)" ;;
esac

step "Python environments: .venv (this project, the sandbox) and Meltano's own, in parallel ($INSTALLER)"
# uv first, into a folder of its own with the system's pip when there is one, so that uv creates .venv
# (with pip seeded into it, in a second rather than ensurepip's 5-15 s); otherwise .venv comes from
# `python -m venv` and uv is installed into it.
UV=""
if [ "$INSTALLER" = uv ]; then
  if [ "$("$WORK/uv/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" = "${UV_REQUIREMENT#uv==}" ] ||
    timed "pip install --target output/quickstart/uv $UV_REQUIREMENT" "$PYTHON" -m pip install --quiet \
      --disable-pip-version-check --upgrade --target "$WORK/uv" "$UV_REQUIREMENT" >>"$LOG" 2>&1; then
    UV="$WORK/uv/bin/uv"
  fi
  if [ -n "$UV" ] && [ ! -x .venv/bin/python ] &&
    ! timed "uv venv --seed .venv" "$UV" venv --quiet --seed --no-python-downloads \
      --python "$("$PYTHON" -c 'import sys; print(sys.executable)')" .venv >>"$LOG" 2>&1; then
    rm -rf .venv
  fi
fi
if [ ! -x .venv/bin/python ]; then
  timed "python -m venv .venv" "$PYTHON" -m venv .venv >>"$LOG" 2>&1 || fail "could not create .venv with $PYTHON"
fi
if [ "$INSTALLER" = uv ] && [ -z "$UV" ]; then
  if timed "pip install $UV_REQUIREMENT (into .venv)" .venv/bin/python -m pip install --quiet \
    --disable-pip-version-check "$UV_REQUIREMENT" >>"$LOG" 2>&1; then
    UV="$ROOT/.venv/bin/uv"
  else
    echo "    uv could not be installed; installing with pip instead"
  fi
fi
install_project() {
  if [ -n "$UV" ] && "$UV" pip install --quiet --python .venv/bin/python -c constraints.txt -e '.[sandbox]'; then
    return 0
  fi
  [ -n "$UV" ] && echo "uv pip install failed; trying pip" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip &&
    .venv/bin/python -m pip install --quiet -c constraints.txt -e '.[sandbox]'
}
# The two environments are independent: build them at the same time (each logs to a file of its own).
timed "install this project into .venv (-c constraints.txt -e '.[sandbox]')" install_project \
  >"$WORK/install-project.log" 2>&1 &
PROJECT_PID=$!
timed "Meltano's virtualenv (scripts/toolenv.py)" env DINERO_UV="$UV" .venv/bin/python scripts/toolenv.py meltano \
  >"$WORK/meltano-bin-dir" 2>"$WORK/install-meltano.log" &
MELTANO_PID=$!
project_ok=0 meltano_ok=0
wait "$PROJECT_PID" || project_ok=$?
wait "$MELTANO_PID" || meltano_ok=$?
cat "$WORK/install-project.log" "$WORK/install-meltano.log" >>"$LOG"
[ "$project_ok" = 0 ] || fail "installing this project into .venv (-c constraints.txt -e '.[sandbox]')"
[ "$meltano_ok" = 0 ] || fail "installing Meltano (scripts/toolenv.py meltano)"
MELTANO="$(cat "$WORK/meltano-bin-dir")/meltano"
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false MELTANO_CLI_DISABLE_VERSION_CHECK=true NO_COLOR=1

# Dinero's quota is 100 requests per 60 s per organization. The demo keeps the 100 requests but shortens
# the window (QUICKSTART_QUOTA_WINDOW, default 3 s) so the ~400 requests of a full sync take seconds, not
# minutes; the plugins pace themselves to the same quota, so the sandbox never has to answer 429.
# QUICKSTART_QUOTA_WINDOW=60 shows the real pace.
WINDOW="${QUICKSTART_QUOTA_WINDOW:-3}"
step "Meltano plugins (tap-dinero tap-pos-sales $LOADER_PLUGIN target-dinero), while the Dinero sandbox starts"
PORT="$(.venv/bin/python scripts/quickstart_summary.py free-port)"
SANDBOX="http://127.0.0.1:$PORT"
.venv/bin/dinero-sandbox --port "$PORT" --seed-size demo --quota 100 --window "$WINDOW" >"$WORK/sandbox.log" 2>&1 &
SANDBOX_PID=$!
stop_sandbox() { kill "$SANDBOX_PID" 2>/dev/null && wait "$SANDBOX_PID" 2>/dev/null || true; }
trap stop_sandbox EXIT
timed "meltano install tap-dinero tap-pos-sales $LOADER_PLUGIN target-dinero" \
  "$MELTANO" install tap-dinero tap-pos-sales "$LOADER_PLUGIN" target-dinero >>"$LOG" 2>&1 || fail "meltano install"
timed "Dinero sandbox ready" .venv/bin/python scripts/quickstart_summary.py wait "$SANDBOX/_sandbox/stats" 60 ||
  { cat "$WORK/sandbox.log" >>"$LOG"; fail "the sandbox did not start on port $PORT"; }
echo "    sandbox (demo seed, quota 100 requests per ${WINDOW} s) listening on $SANDBOX (pid $SANDBOX_PID)"

# The dev environment points at port 8765; Meltano's per-setting variables win over meltano.yml.
export TAP_DINERO_API_URL="$SANDBOX" TAP_DINERO_TOKEN_URL="$SANDBOX/dineroapi/oauth/token"
export TARGET_DINERO_API_URL="$SANDBOX" TARGET_DINERO_TOKEN_URL="$SANDBOX/dineroapi/oauth/token"
# One quota store for tap and target (they share each organization's quota), private to this run.
export TAP_DINERO_QUOTA_BACKEND="$WORK/quota" TARGET_DINERO_QUOTA_BACKEND="$WORK/quota"
export TAP_DINERO_QUOTA_REQUESTS=100 TAP_DINERO_QUOTA_WINDOW_SECONDS="$WINDOW"
export TARGET_DINERO_QUOTA_REQUESTS=100 TARGET_DINERO_QUOTA_WINDOW_SECONDS="$WINDOW"
DUCKDB="$ROOT/output/warehouse.duckdb"
rm -rf "$OUT" "$DUCKDB" "$WORK/quota" "$ROOT/output/rejects"
# A fresh sandbox holds no voucher of an earlier quick start: start the target's journal afresh too.
export TARGET_DINERO_LEDGER_FILE="$WORK/target-dinero-journal.jsonl"
rm -f "$TARGET_DINERO_LEDGER_FILE"

step "meltano --environment=dev run --full-refresh $JOB sales-to-dinero"
timed "meltano run $JOB sales-to-dinero" \
  "$MELTANO" --environment=dev run --full-refresh "$JOB" sales-to-dinero >"$WORK/run1.log" 2>&1 ||
  { cat "$WORK/run1.log" >>"$LOG"; fail "meltano run"; }
cat "$WORK/run1.log" >>"$LOG"

step "meltano --environment=dev run --full-refresh sales-to-dinero   (the same sales again)"
timed "meltano run sales-to-dinero (again)" \
  "$MELTANO" --environment=dev run --full-refresh sales-to-dinero >"$WORK/run2.log" 2>&1 ||
  { cat "$WORK/run2.log" >>"$LOG"; fail "second meltano run"; }
cat "$WORK/run2.log" >>"$LOG"

if [ "$LOADER" = duckdb ]; then
  step "SQL on $DUCKDB"
  timed "SQL answers" .meltano/loaders/target-duckdb/venv/bin/python scripts/quickstart_sql.py "$DUCKDB" ||
    fail "SQL answers"
fi

step "Summary"
.venv/bin/python scripts/quickstart_summary.py summary "$SANDBOX" "$OUT" 100000 "$ROOT/sample_config/sales.csv" ||
  fail "summary"
.venv/bin/python scripts/quickstart_summary.py second-load "$WORK/run1.log" "$WORK/run2.log" ||
  fail "the second load of the same sales created objects"
echo "Meltano log: $LOG"
[ "$LOADER" = duckdb ] && echo "Query it yourself: .meltano/loaders/target-duckdb/venv/bin/python -c \"import duckdb; print(duckdb.connect('$DUCKDB').sql('SELECT * FROM dinero.invoices LIMIT 5'))\""
echo "Where the time went:"
sed 's/^/  /' "$TIMINGS"
echo "Done in $(($(date +%s) - started)) s. Next: bash scripts/test.sh (the whole test suite)."
