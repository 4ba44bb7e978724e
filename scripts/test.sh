#!/usr/bin/env bash
# Installs everything into ./.venv and runs the whole test suite:
#   1. pytest on SQLite and PostgreSQL (unit, in-process API, end-to-end against the real
#      server process, multi-process fan-out through Redis);
#   2. schemathesis fuzzing of the running server from openapi.yaml, on SQLite and PostgreSQL.
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

say "Installing into .venv"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

ensure_postgres
ensure_redis

say "pytest on SQLite and PostgreSQL"
SUPPORT_API_TEST_DATABASE_URL="$PG_URL" SUPPORT_API_TEST_REDIS_URL="$REDIS_URL" \
  .venv/bin/python -m pytest "$@"

say "schemathesis against the real server on SQLite"
scripts/fuzz.sh

say "schemathesis against the real server on PostgreSQL"
fuzz_db="support_api_fuzz_$$"
.venv/bin/python - "$PG_URL" "$fuzz_db" create <<'PY'
import sys
from sqlalchemy import create_engine, text
engine = create_engine(sys.argv[1], isolation_level="AUTOCOMMIT")
with engine.connect() as conn:
    verb = "CREATE DATABASE" if sys.argv[3] == "create" else "DROP DATABASE IF EXISTS"
    conn.execute(text(f'{verb} "{sys.argv[2]}"' + (" WITH (FORCE)" if sys.argv[3] != "create" else "")))
PY
fuzz_url=$(.venv/bin/python -c "import sys; from sqlalchemy.engine import make_url; print(make_url(sys.argv[1]).set(database=sys.argv[2]).render_as_string(hide_password=False))" "$PG_URL" "$fuzz_db")
drop_fuzz_db() {
  .venv/bin/python - "$PG_URL" "$fuzz_db" drop <<'PY' || true
import sys
from sqlalchemy import create_engine, text
engine = create_engine(sys.argv[1], isolation_level="AUTOCOMMIT")
with engine.connect() as conn:
    conn.execute(text(f'DROP DATABASE IF EXISTS "{sys.argv[2]}" WITH (FORCE)'))
PY
}
trap drop_fuzz_db EXIT
SUPPORT_API_FUZZ_DATABASE_URL="$fuzz_url" scripts/fuzz.sh

say "All test stages passed"
