#!/usr/bin/env bash
# Starts the local PostgreSQL and Redis when they are installed but not running, and creates
# the test database when it is missing. Under CI (CI=true) an unreachable PostgreSQL is an
# error: the database tests must run, not be skipped. Redis is started when present; no test
# needs it yet, so its absence is only reported.
set -euo pipefail

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
TEST_DB=${SKILLOS_TEST_DATABASE:-test}

pg_up() { pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! pg_up && command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "starting PostgreSQL"
  for version in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi

if pg_up && command -v psql >/dev/null 2>&1; then
  exists=$(psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -Atc \
    "SELECT 1 FROM pg_database WHERE datname = '$TEST_DB'" 2>/dev/null || true)
  if [[ "$exists" != "1" ]]; then
    echo "creating database $TEST_DB"
    psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -qc "CREATE DATABASE \"$TEST_DB\"" || true
  fi
fi

if ! redis_up && command -v redis-server >/dev/null 2>&1; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/skillos-redis.log || true
  for _ in $(seq 1 10); do redis_up && break; sleep 1; done
fi

if ! pg_up; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "error: PostgreSQL is not reachable on $PGHOST:$PGPORT; the database tests cannot run" >&2
    exit 1
  fi
  echo "warning: PostgreSQL is not reachable on $PGHOST:$PGPORT; the PostgreSQL tests will fail" >&2
  echo "         (set SKILLOS_TEST_POSTGRES=off to leave the PostgreSQL half of the store suite out)" >&2
fi
redis_up || echo "note: Redis is not reachable on 127.0.0.1:6379 (no test needs it yet)" >&2
