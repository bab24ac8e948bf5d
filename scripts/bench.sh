#!/usr/bin/env bash
# Benchmarks (see bench/LabManager.Bench) against a throwaway PostgreSQL, redis-server and Azurite on 127.0.0.1.
# Usage: ./scripts/bench.sh api [--requests N]                                    API latency (default 1000 requests)
#        ./scripts/bench.sh lifecycle [--replicas N] …                              the lab lifecycle (see bench/LabManager.Bench/LifecycleBench.cs)
#        ./scripts/bench.sh lifecycle --fleet N [--rate R] [--engine E]           N labs live at once: memory, Vultr calls/s, reconciliation, latency
#        ./scripts/bench.sh lifecycle --start-rate R [--seconds S] [--engine E]    POST /start at R/s (default 50/s for 60 s)
#        ./scripts/bench.sh engine [--trivial N]                                   each Durable engine's trivial orchestrations/s
#        ./scripts/bench.sh lifecycle --pool N [--burst M] [--profile vultr|fast]   click → running with a warm pool of N, against Vultr-like boots
#        ./scripts/bench.sh gateway [--rate N] [--seconds S] [--mb N]              the access gateway's added latency and throughput
#        ./scripts/bench.sh chaos [--labs N] [--kills N] [--storm S] [--seed N]   the chaos run (default 40 labs, 5 kills, 90 s)
#        ./scripts/bench.sh heartbeat [--labs N] [--seconds S] [--concurrency N]   what the labs' agents cost (default 1000 labs, 30 s a phase)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
source scripts/lib/azurite.sh
source scripts/lib/redis.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 Logging__LogLevel__Default=Warning
PG_PORT=${LABMANAGER_BENCH_PG_PORT:-$(free_port 55434)}
work=$(mktemp -d /tmp/labmanager-bench.XXXXXX)
trap 'redis_down; azurite_down; pg_down "$work/postgres"; rm -rf "$work"' EXIT INT TERM
pg_up "$work/postgres" "$PG_PORT"
export LABMANAGER_BENCH_POSTGRES="Host=127.0.0.1;Port=$PG_PORT;Username=postgres"
AZ_PORT=$(free_port 10200)
azurite_up "$work/azurite" "$AZ_PORT"
export LABMANAGER_BENCH_AZURITE=$AZURITE_CONNECTION
REDIS_PORT=$(free_port 6391)
redis_up "$REDIS_PORT"
export LABMANAGER_BENCH_REDIS=127.0.0.1:$REDIS_PORT
dotnet build bench/LabManager.Bench -c Release -nologo -v quiet -clp:ErrorsOnly
dotnet run --project bench/LabManager.Bench -c Release --no-build -- "$@"
