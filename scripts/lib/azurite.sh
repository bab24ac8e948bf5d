# Azurite (the Azure Storage emulator, from npm) for the run and test commands. Source this file.
# azurite_up DIR PORT: installs it with `npm ci` if needed, starts blob/queue/table on 127.0.0.1:PORT..PORT+2
# with its data in DIR, waits until it answers, and sets AZURITE_PID and AZURITE_CONNECTION.
# azurite_down: stops it.
source "$(dirname "${BASH_SOURCE[0]}")/process.sh"

azurite_up() {
  local dir=$1 port=$2
  if [ ! -x node_modules/.bin/azurite ]; then
    echo "azurite: npm ci" >&2
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
  fi
  mkdir -p "$dir"
  node_modules/.bin/azurite --silent --location "$dir" --skipApiVersionCheck --loose \
    --blobHost 127.0.0.1 --blobPort "$port" --queueHost 127.0.0.1 --queuePort $((port + 1)) \
    --tableHost 127.0.0.1 --tablePort $((port + 2)) >"$dir/azurite.log" 2>&1 &
  AZURITE_PID=$!
  local i
  for i in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$((port + 2))") 2>/dev/null && break
    sleep 0.1
  done
  local key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
  AZURITE_CONNECTION="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$port/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$((port + 1))/devstoreaccount1;TableEndpoint=http://127.0.0.1:$((port + 2))/devstoreaccount1;"
}

# Azurite does not always exit on SIGTERM: give it 3 s, then kill it.
azurite_down() {
  local pid=${AZURITE_PID:-}
  AZURITE_PID=
  stop_pid "$pid" 3
}
