#!/usr/bin/env bash
# Runs LabManager on this machine: a local PostgreSQL cluster (under .local/), the Server on
# http://127.0.0.1:5080 with the embedded Vultr emulator, migrations and the lab catalog.
# Set Vultr__ApiKey to use real Vultr instead of the emulator. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh

PORT=${LABMANAGER_PORT:-5080}
PG_PORT=${LABMANAGER_PG_PORT:-55432}
STATE=$PWD/.local
mkdir -p "$STATE"

echo "== build"
dotnet build src/LabManager.Server -c Release -nologo -v quiet -clp:ErrorsOnly
pg_up "$STATE/postgres" "$PG_PORT"
server=
stop() {
  set +e
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  pg_down "$STATE/postgres"
}
trap stop EXIT
trap 'exit 130' INT TERM
[ -f "$STATE/signing-key" ] || head -c 48 /dev/urandom | base64 -w0 > "$STATE/signing-key"

export ConnectionStrings__Postgres="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=labmanager"
export Auth__SigningKey=$(cat "$STATE/signing-key")
export Auth__DevTokens=true
export Catalog__File=$PWD/catalog/labs.json

cat <<MSG
LabManager on http://127.0.0.1:$PORT  (PostgreSQL on 127.0.0.1:$PG_PORT, data in .local/)
  a token:  curl -s -X POST http://127.0.0.1:$PORT/api/dev/token -d '{}'
  the labs: curl -s http://127.0.0.1:$PORT/api/labs
MSG
bin=$PWD/src/LabManager.Server/bin/Release/net10.0
dotnet "$bin/LabManager.Server.dll" --contentRoot "$bin" --urls "http://127.0.0.1:$PORT" &
server=$!
wait "$server"
