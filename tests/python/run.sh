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
#   REMPART_LLAMACPP=1
#                     also run test_llamacpp_upstream.py: llama-cpp-python's
#                     OpenAI-compatible server as an upstream. Installs
#                     requirements-llamacpp.txt into the venv (compiles
#                     llama.cpp the first time, with
#                     CMAKE_ARGS=${CMAKE_ARGS:--DGGML_NATIVE=OFF}) and, when
#                     REMPART_TEST_MODEL is unset, fetches the model as above.
#   PYTEST_PATHS      what pytest collects (default: tests/python), e.g.
#                     tests/python/test_llamacpp_upstream.py
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
if [ "${REMPART_LLAMACPP:-}" = 1 ]; then
  CMAKE_ARGS=${CMAKE_ARGS:--DGGML_NATIVE=OFF} \
    "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/python/requirements-llamacpp.txt
fi

FEATURES=${CARGO_FEATURES:-}
if [ "${REMPART_EMBEDDED:-}" = 1 ] && [ -z "$FEATURES" ]; then
  FEATURES="--features rempart/embedded"
fi
# shellcheck disable=SC2086 # CARGO_FEATURES is a list of arguments
cargo build -q -p rempart -p rempart-test --bins $FEATURES

if [ "${REMPART_EMBEDDED:-}" = 1 ] || { [ "${REMPART_LLAMACPP:-}" = 1 ] && [ -z "${REMPART_TEST_MODEL:-}" ]; }; then
  DATA=${REMPART_EMBEDDED_DATA_DIR:-$ROOT/rempart-data}
  if ! ls "$DATA"/models/*.gguf >/dev/null 2>&1; then
    bash scripts/fetch-model.sh "$DATA"
  fi
  export REMPART_EMBEDDED_DATA_DIR=$DATA
  if [ -z "${REMPART_TEST_MODEL:-}" ]; then
    REMPART_TEST_MODEL=$(ls "$DATA"/models/*.gguf | head -1)
    export REMPART_TEST_MODEL
  fi
fi
if [ "${REMPART_LLAMACPP:-}" = 1 ]; then
  # llama.cpp's OpenMP threads spin while waiting: on a shared 2-core
  # machine that makes generation crawl.
  export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
fi

# shellcheck disable=SC2086 # PYTEST_PATHS is a list of paths
exec "$VENV/bin/python" -m pytest -q ${PYTEST_PATHS:-tests/python} "$@"
