#!/usr/bin/env bash
# Ingestion throughput and accuracy (see README.md here). Release builds;
# numbers are printed, not asserted.
#
#   bench/ingest/run.sh            text-layer PDFs, then OCR (installs
#                                  Tesseract/poppler via scripts/test-ocr.sh's
#                                  package list when missing)
#   bench/ingest/run.sh --no-ocr   text-layer PDFs only
#   LANGS=eng bench/ingest/run.sh  OCR languages (default eng+fra+deu)
set -euo pipefail
cd "$(dirname "$0")/../.."
OCR=1
for a in "$@"; do
  case "$a" in
    --no-ocr) OCR=0 ;;
    *) echo "usage: bench/ingest/run.sh [--no-ocr]" >&2; exit 2 ;;
  esac
done
LANGS=${LANGS:-eng+fra+deu}
ROUNDS=${ROUNDS:-5}
OCR_LIMIT=${OCR_LIMIT:-100}
SCANNED_LIMIT=${SCANNED_LIMIT:-20}
# One Tesseract thread: on a shared 2-core machine its OpenMP threads only
# add contention; report per-core throughput.
export OMP_THREAD_LIMIT=${OMP_THREAD_LIMIT:-1}
echo "machine: $(nproc) cores, $(uname -m); $(date -u +%F)"
if [ "$OCR" = 0 ]; then
  cargo run --locked --release -q -p rempart-ingest --example ingest_bench -- --rounds "$ROUNDS"
  exit
fi
# The OCR test step's package list, installed when missing.
bash scripts/test-ocr.sh --install-only
echo "tesseract: $(tesseract --version 2>&1 | head -1)"
cargo run --locked --release -q -p rempart-ingest --features ocr --example ingest_bench -- \
  --rounds "$ROUNDS" --ocr-limit "$OCR_LIMIT" --scanned-limit "$SCANNED_LIMIT" --langs "$LANGS"
