#!/usr/bin/env bash
# Runs LabManager on this machine, all on 127.0.0.1: PostgreSQL and Azurite (data kept in .local/), Redis,
# the Vultr API emulator on :5090 as its own process, and the Server on :5080 with its workflows on the
# durable Azure Storage backend (Azurite), so restarting the Server mid-lifecycle loses nothing.
# Set Vultr__ApiKey (and leave Vultr__BaseUrl alone) to use real Vultr instead. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
source scripts/lib/azurite.sh
source scripts/lib/redis.sh

PORT=${LABMANAGER_PORT:-5080}
EMULATOR_PORT=${LABMANAGER_EMULATOR_PORT:-5090}
PG_PORT=${LABMANAGER_PG_PORT:-55432}
AZ_PORT=${LABMANAGER_AZURITE_PORT:-10000}
REDIS_PORT=${LABMANAGER_REDIS_PORT:-6379}
STATE=$PWD/.local
mkdir -p "$STATE"

echo "== build"
dotnet build src/LabManager.Server -c Release -nologo -v quiet -clp:ErrorsOnly
bin=$PWD/src/LabManager.Server/bin/Release/net10.0
emulator_bin=$PWD/src/LabManager.VultrEmulator/bin/Release/net10.0

server= emulator=
stop() {
  set +e
  # The Server's durable shutdown can hang once Azurite has gone (Ctrl-C reaches every process): 10 s, then SIGKILL,
  # which loses nothing (its state is in Azurite and PostgreSQL).
  stop_pid "$server" 10
  stop_pid "$emulator" 5
  redis_down
  azurite_down
  pg_down "$STATE/postgres"
}
trap stop EXIT
trap 'exit 130' INT TERM

pg_up "$STATE/postgres" "$PG_PORT"
azurite_up "$STATE/azurite" "$AZ_PORT"
redis_up "$REDIS_PORT"
[ -f "$STATE/signing-key" ] || head -c 48 /dev/urandom | base64 -w0 > "$STATE/signing-key"
[ -f "$STATE/phone-home-key" ] || head -c 48 /dev/urandom | base64 -w0 > "$STATE/phone-home-key"

if [ -z "${Vultr__ApiKey:-}" ]; then
  dotnet "$emulator_bin/LabManager.VultrEmulator.dll" --urls "http://127.0.0.1:$EMULATOR_PORT" --Logging:LogLevel:Default=Warning &
  emulator=$!
  export Vultr__BaseUrl="http://127.0.0.1:$EMULATOR_PORT/v2" Vultr__ApiKey=local-emulator-key
fi

export ConnectionStrings__Postgres="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=labmanager"
export ConnectionStrings__Redis="127.0.0.1:$REDIS_PORT"
export Durable__Backend=AzureStorage Durable__StorageConnectionString=$AZURITE_CONNECTION
export Auth__SigningKey=$(cat "$STATE/signing-key")
export Auth__DevTokens=true
export Catalog__File=$PWD/catalog/labs.json
# Cloud-init reports each lab up here (the emulator performs it), so a lab is running as soon as it answers.
export LabSessions__PhoneHomeUrl="http://127.0.0.1:$PORT/api/labs/instances/{instanceId}/ready?key={key}"
export LabSessions__PhoneHomeKey=$(cat "$STATE/phone-home-key")
# Labs are reached through the gateway at http://<instance id>.lab.localhost:$PORT/; the emulated VMs admit the gateway (127.0.0.1) only.
export Access__Mode=Gateway Access__LabDomain=lab.localhost Access__LabPort=$PORT Access__GatewayCidrs__0=127.0.0.1/32

cat <<MSG
LabManager on http://127.0.0.1:$PORT  (open it in a browser: the web page, "Get a learner token" to sign in)
  PostgreSQL 127.0.0.1:$PG_PORT, Azurite 127.0.0.1:$AZ_PORT-$((AZ_PORT + 2)) (data in .local/), Redis 127.0.0.1:$REDIS_PORT
  Vultr: ${Vultr__BaseUrl:-https://api.vultr.com/v2}; live status: ws://127.0.0.1:$PORT/hubs/labs (SignalR)
  a token:  curl -s -X POST http://127.0.0.1:$PORT/api/dev/token -d '{}'
  the labs: curl -s http://127.0.0.1:$PORT/api/labs
MSG
dotnet "$bin/LabManager.Server.dll" --contentRoot "$bin" --urls "http://127.0.0.1:$PORT" &
server=$!
wait "$server"
