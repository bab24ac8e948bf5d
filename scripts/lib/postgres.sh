# Throwaway PostgreSQL clusters for the run and test commands. Source this file.
# pg_up DIR PORT: creates the cluster in DIR on first use and starts it on 127.0.0.1:PORT (trust auth, user postgres).
# pg_down DIR: stops it.

pg_bin() {
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$found" ]; then
    echo "postgres: installing PostgreSQL (Debian package)" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    found=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  echo "$found"
}

# initdb refuses to run as root: the cluster belongs to an unprivileged user.
pg_as() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    # The cluster's folder, and its parent so the postgres user can reach it; nothing else (other services' files live beside it).
    chown postgres "$PG_DIR_ROOT" && chown -R postgres "$PG_DIR"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_up() {
  local dir=$1 port=$2 bin
  bin=$(pg_bin)
  PG_DIR_ROOT=$(dirname "$dir") PG_DIR=$dir
  mkdir -p "$dir"
  if [ ! -f "$dir/PG_VERSION" ]; then
    pg_as "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  pg_as "$bin/pg_ctl" -D "$dir" -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" \
    -l "$dir/server.log" -w -t 60 start >/dev/null
}

pg_down() {
  local dir=$1 bin
  bin=$(pg_bin)
  PG_DIR_ROOT=$(dirname "$dir") PG_DIR=$dir
  [ -f "$dir/postmaster.pid" ] && pg_as "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true
}

# free_port START: the first port from START on that nothing on 127.0.0.1 answers.
free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}
