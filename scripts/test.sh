#!/usr/bin/env bash
# Builds LabManager and runs every test. Does its own set-up on a fresh machine: a throwaway
# PostgreSQL cluster and redis-server (installed from Debian's packages if missing), Azurite and the web page's
# SignalR client (npm ci), and Debian's chromium for the browser tests, all on 127.0.0.1; the tests start the
# rest (the Vultr emulator, the Server, the Durable engines) themselves. Browser screenshots: artifacts/browser/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
source scripts/lib/azurite.sh
source scripts/lib/redis.sh

if ! command -v dotnet >/dev/null 2>&1; then
  echo "test: the .NET 10 SDK (dotnet) is required" >&2
  exit 1
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# The in-process Durable engine logs every gRPC call at Information.
export Logging__LogLevel__Default=Warning

started=$(date +%s)
PG_PORT=${LABMANAGER_TEST_PG_PORT:-$(free_port 55433)}
work=$(mktemp -d /tmp/labmanager-test.XXXXXX)
log=$work/test.log
cleanup() { redis_down; azurite_down; pg_down "$work/postgres"; rm -rf "$work"; }
trap cleanup EXIT INT TERM
echo "== postgres on 127.0.0.1:$PG_PORT"
pg_up "$work/postgres" "$PG_PORT"
export LABMANAGER_TEST_POSTGRES="Host=127.0.0.1;Port=$PG_PORT;Username=postgres"
AZ_PORT=$(free_port 10100)
echo "== azurite on 127.0.0.1:$AZ_PORT-$((AZ_PORT + 2))"
azurite_up "$work/azurite" "$AZ_PORT"
export LABMANAGER_TEST_AZURITE=$AZURITE_CONNECTION
REDIS_PORT=$(free_port 6390)
echo "== redis on 127.0.0.1:$REDIS_PORT"
redis_up "$REDIS_PORT"
export LABMANAGER_TEST_REDIS=127.0.0.1:$REDIS_PORT

if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (Debian package) for the browser tests"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

echo "== build"
dotnet build LabManager.sln -nologo -v quiet -clp:ErrorsOnly

echo "== test"
set +e
dotnet test LabManager.sln --no-build -nologo -v quiet --logger "console;verbosity=normal" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One closing line for the whole run, summed over the test projects.
passed=$({ grep -oE 'Passed: +[0-9]+' "$log" || true; } | awk '{s+=$2} END {print s+0}')
failed=$({ grep -oE 'Failed: +[0-9]+' "$log" || true; } | awk '{s+=$2} END {print s+0}')
if [ "$failed" -gt 0 ]; then
  # The failures again, each with its message and the top of its stack, so the end of the output names them.
  echo "== failed tests"
  awk '/^  Failed /{n=40} /^  Passed /{n=0} n>0 {print; n--}' "$log"
fi
echo "== $(( $(date +%s) - started )) s"
echo "$passed passed, $failed failed"
exit "$status"
