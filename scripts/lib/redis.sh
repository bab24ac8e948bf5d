# A private redis-server on 127.0.0.1 for the run and test commands (installed from Debian's packages if
# missing; nothing is saved to disk). Source this file. redis_up PORT; redis_down.

redis_up() {
  local port=$1
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "redis: installing redis-server (Debian package)" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >/dev/null 2>&1 &
  REDIS_PID=$!
  local i
  for i in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "redis: redis-server did not start on $port" >&2
  return 1
}

redis_down() {
  local pid=${REDIS_PID:-}
  REDIS_PID=
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 0
}
