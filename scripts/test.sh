#!/usr/bin/env bash
# Builds LabManager and runs every test. Does its own set-up on a fresh machine: everything the
# tests need (the Vultr emulator, the in-process Durable engine) is started by the tests on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v dotnet >/dev/null 2>&1; then
  echo "test: the .NET 10 SDK (dotnet) is required" >&2
  exit 1
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# The in-process Durable engine logs every gRPC call at Information.
export Logging__LogLevel__Default=Warning

started=$(date +%s)
echo "== build"
dotnet build LabManager.sln -nologo -v quiet -clp:ErrorsOnly

echo "== test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test LabManager.sln --no-build -nologo -v quiet 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One closing line for the whole run, summed over the test projects.
passed=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
echo "== $(( $(date +%s) - started )) s"
echo "$passed passed, $failed failed"
exit "$status"
