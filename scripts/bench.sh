#!/usr/bin/env bash
# Measures API latency (see bench/LabManager.Bench) against a throwaway PostgreSQL and redis-server on 127.0.0.1.
# Usage: ./scripts/bench.sh [--requests N]   (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
source scripts/lib/redis.sh
PG_PORT=${LABMANAGER_BENCH_PG_PORT:-$(free_port 55434)}
work=$(mktemp -d /tmp/labmanager-bench.XXXXXX)
trap 'redis_down; pg_down "$work/postgres"; rm -rf "$work"' EXIT INT TERM
pg_up "$work/postgres" "$PG_PORT"
export LABMANAGER_BENCH_POSTGRES="Host=127.0.0.1;Port=$PG_PORT;Username=postgres"
REDIS_PORT=$(free_port 6391)
redis_up "$REDIS_PORT"
export LABMANAGER_BENCH_REDIS=127.0.0.1:$REDIS_PORT
dotnet run --project bench/LabManager.Bench -c Release -- "$@"
