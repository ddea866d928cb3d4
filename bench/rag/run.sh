#!/usr/bin/env bash
# Retrieval quality, permission suite and speed of rempart-rag's BM25.
# Reads the BEIR-layout data sets at run time from DATASETS_DIR (default:
# ../shared/datasets next to the repository, or $REMPART_DATASETS); nothing
# is copied into the repository. See bench/rag/README.md. ~1 minute.
# Usage: bench/rag/run.sh [DATASETS_DIR] [--skip-100k]
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
data="${REMPART_DATASETS:-$PWD/../shared/datasets}"
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then data="$1"; shift; fi
if [ ! -f "$data/beir-scifact/corpus.jsonl" ]; then
    echo "bench/rag/run.sh: no beir-scifact/corpus.jsonl under $data (pass DATASETS_DIR or set REMPART_DATASETS)" >&2
    exit 2
fi
cargo build --release --quiet -p rempart-rag --example rag_bench
exec "$CARGO_TARGET_DIR/release/examples/rag_bench" "$data" "$@"
