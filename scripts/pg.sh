#!/usr/bin/env bash
# A throw-away PostgreSQL server for tests, from Debian's `postgresql` package.
#
#   eval "$(scripts/pg.sh start)"   initdb in a temp dir, start on a free port on
#                                   127.0.0.1 (trust auth, local only), wait until
#                                   ready, print `export REMPART_TEST_PG_URL=...`
#                                   and `export REMPART_TEST_PG_DIR=...`
#   scripts/pg.sh stop              stop it and delete its directory
#   scripts/pg.sh dump DBNAME       pg_dump of one database to stdout
#
# `stop` and `dump` read REMPART_TEST_PG_DIR (or take the directory from
# $PGDIR_FILE, default /tmp/rempart-pg.current). As root, the server runs as
# the `postgres` user (initdb refuses root).
set -euo pipefail

CURRENT=${PGDIR_FILE:-/tmp/rempart-pg.current}

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
    echo "pg.sh: no PostgreSQL server found in /usr/lib/postgresql/*/bin (apt-get install postgresql)" >&2
    exit 2
  fi
  echo "$d"
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

pgdir() {
  if [ -n "${REMPART_TEST_PG_DIR:-}" ]; then echo "$REMPART_TEST_PG_DIR";
  elif [ -f "$CURRENT" ]; then cat "$CURRENT";
  else echo "pg.sh: no running server (REMPART_TEST_PG_DIR unset, $CURRENT missing)" >&2; exit 2; fi
}

case "${1:-}" in
  start)
    BIN=$(bindir)
    DIR=$(mktemp -d /tmp/rempart-pg.XXXXXX)
    chmod 755 "$DIR"
    mkdir "$DIR/data" "$DIR/run"
    [ "$(id -u)" = 0 ] && chown -R postgres "$DIR/data" "$DIR/run"
    PORT=$(free_port)
    as_pg "$BIN/initdb" -D "$DIR/data" -U postgres -A trust --no-instructions -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
      || { cat "$DIR/initdb.log" >&2; exit 1; }
    # Trust auth, TCP on loopback only; the socket stays in our own directory.
    cat > "$DIR/data/pg_hba.conf" <<HBA
local all all trust
host  all all 127.0.0.1/32 trust
HBA
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/data/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR/run -c fsync=off -c max_connections=200" start >/dev/null \
      || { cat "$DIR/data/server.log" >&2; exit 1; }
    for _ in $(seq 1 60); do
      "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" && break
      sleep 0.5
    done
    "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" || { echo "pg.sh: server did not become ready" >&2; exit 1; }
    echo "$DIR" > "$CURRENT"
    echo "$PORT" > "$DIR/port"
    echo "export REMPART_TEST_PG_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
    echo "export REMPART_TEST_PG_DIR=$DIR"
    ;;
  stop)
    BIN=$(bindir)
    DIR=$(pgdir)
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null || true
    rm -rf "$DIR"
    [ "$(cat "$CURRENT" 2>/dev/null)" = "$DIR" ] && rm -f "$CURRENT"
    echo "stopped"
    ;;
  dump)
    BIN=$(bindir)
    DIR=$(pgdir)
    DB=${2:?usage: scripts/pg.sh dump DBNAME}
    "$BIN/pg_dump" -h 127.0.0.1 -p "$(cat "$DIR/port")" -U postgres "$DB"
    ;;
  *)
    echo "usage: scripts/pg.sh start|stop|dump DBNAME" >&2
    exit 2
    ;;
esac
