#!/usr/bin/env bash
# The official `openai` Python SDK (PyPI) against real `rempart serve`
# processes: builds the binaries, prepares a venv, runs pytest.
#
#   bash tests/python/run.sh [PYTEST ARGS...]
#
# Environment:
#   VENV              virtualenv to create or reuse (default: .venv at the repo root)
#   CARGO_FEATURES    extra `cargo build` arguments, e.g. "--features rempart/embedded"
#   CARGO_TARGET_DIR  as for cargo; binaries are taken from its debug/ directory
#   REMPART_BIN, MOCK_BIN
#                     run these binaries instead of the freshly built ones
#   REMPART_EMBEDDED=1
#                     also run the chat/streaming/models tests against
#                     `rempart serve` on embedded defaults. Builds with the
#                     `embedded` feature when CARGO_FEATURES is empty, and
#                     fetches the model with scripts/fetch-model.sh into
#                     ${REMPART_EMBEDDED_DATA_DIR:-rempart-data} when absent.
#                     Unset: those tests skip.
#
# Exit status: pytest's (non-zero when a test fails).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r tests/python/requirements.txt

FEATURES=${CARGO_FEATURES:-}
if [ "${REMPART_EMBEDDED:-}" = 1 ] && [ -z "$FEATURES" ]; then
  FEATURES="--features rempart/embedded"
fi
# shellcheck disable=SC2086 # CARGO_FEATURES is a list of arguments
cargo build -q -p rempart -p rempart-test --bins $FEATURES

if [ "${REMPART_EMBEDDED:-}" = 1 ]; then
  DATA=${REMPART_EMBEDDED_DATA_DIR:-$ROOT/rempart-data}
  if ! ls "$DATA"/models/*.gguf >/dev/null 2>&1; then
    bash scripts/fetch-model.sh "$DATA"
  fi
  export REMPART_EMBEDDED_DATA_DIR=$DATA
fi

exec "$VENV/bin/python" -m pytest -q tests/python "$@"
