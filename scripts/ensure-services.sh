#!/usr/bin/env bash
# Starts the local PostgreSQL and Redis when they are installed but not running. Under CI
# (CI=true) a database that cannot be reached is an error: the database tests must run.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! pg_up && command -v pg_ctlcluster >/dev/null 2>&1; then
  for version in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi

if ! redis_up && command -v redis-server >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/skillos-redis.log || true
  for _ in $(seq 1 10); do redis_up && break; sleep 1; done
fi

if ! pg_up; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "error: PostgreSQL is not reachable on 127.0.0.1:5432; the database tests cannot run" >&2
    exit 1
  fi
  echo "warning: PostgreSQL is not reachable on 127.0.0.1:5432; the PostgreSQL tests will fail" >&2
fi
if ! redis_up; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "error: Redis is not reachable on 127.0.0.1:6379" >&2
    exit 1
  fi
  echo "warning: Redis is not reachable on 127.0.0.1:6379" >&2
fi
