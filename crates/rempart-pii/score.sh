#!/bin/sh
# Builds the scan example in release, runs it on the labelled dev corpus and
# prints the scorer's table. Usage (from anywhere):
#   crates/rempart-pii/score.sh [corpus.jsonl]
# SHARED points at the shared directory (default ../shared from the repo root).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
case "$SHARED" in /*) ;; *) SHARED=$ROOT/$SHARED ;; esac
CORPUS=${1:-$SHARED/pii-dev/dev.jsonl}
OUT=${TMPDIR:-/tmp}/rempart-pii-pred.$$.jsonl
cargo build --release -q -p rempart-pii --example scan --manifest-path "$ROOT/Cargo.toml"
"${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/scan" < "$CORPUS" > "$OUT"
python3 "$SHARED/pii-dev/score.py" "$CORPUS" "$OUT"
rm -f "$OUT"
