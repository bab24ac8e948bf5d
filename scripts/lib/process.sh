# Stopping background processes for the run and test commands. Source this file.
# stop_pid PID [SECONDS]: SIGTERM, then SIGKILL if it is still there after SECONDS (default 10); reaps it.

stop_pid() {
  local pid=$1 seconds=${2:-10} i
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 1 $((seconds * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 0
}
