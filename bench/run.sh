#!/usr/bin/env bash
# Rempart benchmark: direct-to-mock vs Rempart vs LiteLLM proxy, same run,
# same mock upstream, loopback only. See bench/README.md. ~3-5 minutes.
# Extra arguments go to bench/driver.py (e.g. --n 500 --levels 1,4,16).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

cargo build --release --quiet -p rempart --bin rempart -p rempart-test --bin mock-upstream --bin loadgen

# A venv moved from another checkout keeps its old interpreter path in the
# scripts' shebangs: rebuild it unless its litellm actually starts.
if ! bench/.venv/bin/litellm --help >/dev/null 2>&1; then
    rm -rf bench/.venv
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install --quiet 'litellm[proxy]==1.100.5'
fi

exec python3 bench/driver.py --bin-dir "$CARGO_TARGET_DIR/release" --command "bench/run.sh${*:+ $*}" "$@"
