#!/usr/bin/env bash
# Installs everything into ./.venv and runs the whole test suite:
#   1. pytest on SQLite and PostgreSQL: unit, in-process API, end-to-end against the real server
#      process, multi-process fan-out through Redis, two processes and a push worker behind the
#      real nginx (kill -9 and rolling restart), clients generated from openapi.yaml (Python with
#      openapi-python-client; TypeScript with openapi-typescript + tsc; redocly lint), and the
#      console and demo app in headless Chromium (npm playwright-core, axe-core);
#   2. schemathesis fuzzing of the running server from openapi.yaml, on SQLite and PostgreSQL.
# Debian's nginx and chromium and the npm packages (tests/codegen, tests/browser, from their lock
# files) are installed when missing.
# Every stage runs even when an earlier one failed, leaves a JUnit XML report in $RESULTS, and the
# last line printed is the plain total over all of them (`N passed, N failed, N skipped`), which
# is what CI reads; the exit status is non-zero when anything failed.
# PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) must be reachable; when they are not,
# this script starts them with the machine's own commands, or fails loudly. Nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
PG_URL=${SUPPORT_API_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
REDIS_URL=${SUPPORT_API_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}

say() { printf '\n== %s\n' "$*"; }
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() {  # host port seconds
  for _ in $(seq 1 "$3"); do port_open "$1" "$2" && return 0; sleep 1; done
  return 1
}

ensure_postgres() {
  port_open 127.0.0.1 5432 && return 0
  say "PostgreSQL is not up on 127.0.0.1:5432: starting it"
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  wait_for 127.0.0.1 5432 30 || {
    echo "FATAL: PostgreSQL is required on 127.0.0.1:5432 (trust auth) for the PostgreSQL test run." >&2
    echo "       Start it (e.g. 'pg_ctlcluster --skip-systemctl-redirect <version> main start') or set" >&2
    echo "       SUPPORT_API_TEST_DATABASE_URL to a reachable server." >&2
    exit 1
  }
}

ensure_redis() {
  port_open 127.0.0.1 6379 && return 0
  say "Redis is not up on 127.0.0.1:6379: starting it"
  if command -v redis-server >/dev/null; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
  wait_for 127.0.0.1 6379 15 || {
    echo "FATAL: Redis is required on 127.0.0.1:6379 for the multi-process tests." >&2
    echo "       Start it: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no" >&2
    exit 1
  }
}

# The multi-process test behind a real load balancer (tests/e2e/test_nginx_cluster.py) runs
# Debian's nginx in the foreground from a temp directory; install it when it is missing.
ensure_nginx() {
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] && return 0
  say "nginx is missing: installing Debian's package"
  if command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y nginx >/dev/null \
      || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx >/dev/null; } || true
  fi
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || {
    echo "FATAL: nginx is required for tests/e2e/test_nginx_cluster.py: apt-get install -y nginx" >&2
    exit 1
  }
}

say "Installing into .venv"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# Issue 14: the TypeScript contract checks (tests/test_codegen_ts.py) run the npm packages
# pinned in tests/codegen/package-lock.json.
ensure_node() {
  command -v npm >/dev/null || {
    echo "FATAL: node and npm are required for tests/test_codegen_ts.py (e.g. apt-get install nodejs npm)." >&2
    exit 1
  }
  say "Installing tests/codegen npm packages"
  (cd tests/codegen && npm ci --no-audit --no-fund --loglevel=error)
}

ensure_postgres
ensure_redis
ensure_nginx
ensure_node

# Console and demo app tests (issue 11): Debian's chromium driven by npm playwright-core
# (tests/browser/package-lock.json; the same lock pins the vendored socket.io-client and Chart.js).
ensure_browser() {
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  if [ ! -x /usr/bin/chromium ]; then
    say "Installing Debian's chromium for the browser tests"
    $sudo apt-get install -y chromium || { $sudo apt-get update && $sudo apt-get install -y chromium; } || {
      echo "FATAL: the console tests need /usr/bin/chromium: apt-get install -y chromium" >&2; exit 1; }
  fi
  command -v npm >/dev/null || $sudo apt-get install -y nodejs npm || {
    echo "FATAL: the console tests need node and npm: apt-get install -y nodejs npm" >&2; exit 1; }
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) || {
    echo "FATAL: npm ci in tests/browser failed" >&2; exit 1; }
}
ensure_browser

RESULTS=$(mktemp -d "${TMPDIR:-/tmp}/support-api-results.XXXXXX")
export SUPPORT_API_TEST_RESULTS="$RESULTS"
FAILED_STAGES=()

# stage NAME COMMAND...: runs one stage; its reports are $RESULTS/NAME*.xml. A failure is
# remembered and the next stage still runs, so one red stage never hides the others' results.
stage() {
  local name=$1; shift
  say "$name"
  "$@" || { echo "stage $name exited with status $?"; FAILED_STAGES+=("$name"); }
}

run_pytest() {
  SUPPORT_API_TEST_DATABASE_URL="$PG_URL" SUPPORT_API_TEST_REDIS_URL="$REDIS_URL" \
    .venv/bin/python -m pytest --junitxml="$RESULTS/pytest.xml" "$@"
}

fuzz_db="support_api_fuzz_$$"
pg_database() {  # create|drop
  .venv/bin/python - "$PG_URL" "$fuzz_db" "$1" <<'PY'
import sys
from sqlalchemy import create_engine, text
engine = create_engine(sys.argv[1], isolation_level="AUTOCOMMIT")
with engine.connect() as conn:
    if sys.argv[3] == "create":
        conn.execute(text(f'CREATE DATABASE "{sys.argv[2]}"'))
    else:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{sys.argv[2]}" WITH (FORCE)'))
PY
}
trap 'pg_database drop >/dev/null 2>&1 || true' EXIT

fuzz_sqlite() { FUZZ_REPORT_DIR="$RESULTS" FUZZ_LABEL=fuzz-sqlite scripts/fuzz.sh; }
fuzz_postgres() {
  pg_database create || return 1
  local url
  url=$(.venv/bin/python -c "import sys; from sqlalchemy.engine import make_url; print(make_url(sys.argv[1]).set(database=sys.argv[2]).render_as_string(hide_password=False))" "$PG_URL" "$fuzz_db")
  SUPPORT_API_FUZZ_DATABASE_URL="$url" FUZZ_REPORT_DIR="$RESULTS" FUZZ_LABEL=fuzz-postgresql scripts/fuzz.sh
}

stage pytest run_pytest "$@"
stage fuzz-sqlite fuzz_sqlite
stage fuzz-postgresql fuzz_postgres

say "Total over every stage (reports in $RESULTS)"
.venv/bin/python scripts/tally.py "$RESULTS" "${FAILED_STAGES[@]}"
