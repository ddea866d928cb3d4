#!/usr/bin/env bash
# rempart-ingest with the `ocr` feature: Tesseract (through leptess) for
# images and PDF pages without a text layer, poppler's pdftoppm to rasterise
# those pages. Installs the Debian packages when missing, then runs the
# crate's tests with the feature (tests/ocr.rs reads the shared datasets in
# ../shared/datasets).
#
#   scripts/test-ocr.sh [extra cargo test args]
#   scripts/test-ocr.sh --install-only   only the Debian packages
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
PKGS=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-fra tesseract-ocr-deu
      tesseract-ocr-ita tesseract-ocr-spa tesseract-ocr-nld
      libtesseract-dev libleptonica-dev clang libclang-dev poppler-utils)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || { echo "missing Debian packages: ${missing[*]}" >&2; exit 1; }
  echo "==> Installing ${missing[*]} (Debian packages)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ "${1:-}" = --install-only ]; then exit 0; fi
# Tesseract's OpenMP threads fight over a shared 2-core machine.
export OMP_THREAD_LIMIT=${OMP_THREAD_LIMIT:-1}
echo "==> rempart-ingest tests with --features ocr"
cargo test --locked -p rempart-ingest --features ocr "$@"
