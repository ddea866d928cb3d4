#!/usr/bin/env bash
# The pgvector benchmark: N synthetic 384-dimensional vectors in the store's
# vector index, recall@k against the exact filtered answer and latency at
# 100/50/10/1 % selectivity, iterative scan on and off. See
# bench/store/pgvector.md.
#
#   bench/store/vectors.sh                   # N = 100,000, dev profile
#   PROFILE=release bench/store/vectors.sh   # release build of the client
#   bench/store/vectors.sh --n 20000 --queries 50
#
# Output: the markdown report on stdout, also written to
# bench/store/results-pgvector-<N>.md; progress on stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Our own pointer file, so we never stop someone else's server.
export PGDIR_FILE=${PGDIR_FILE:-/tmp/rempart-pg.vbench.current}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
PROFILE=${PROFILE:-dev}

N=100000
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [ "${args[$i]}" = "--n" ] && N=${args[$((i + 1))]}
done

cargo build --profile "$PROFILE" --locked -p rempart-store --example vector_bench
DIR=debug; [ "$PROFILE" = dev ] || DIR=$PROFILE

eval "$(scripts/pg.sh start)"
trap 'REMPART_TEST_PG_DIR=$REMPART_TEST_PG_DIR scripts/pg.sh stop >/dev/null' EXIT

OUT=bench/store/results-pgvector-$N.md
{
  echo "<!-- $(date -u +%FT%TZ) $(uname -srm), $(nproc) cores, git $(git rev-parse --short HEAD), client profile $PROFILE -->"
  "$CARGO_TARGET_DIR/$DIR/examples/vector_bench" "$@"
} | tee "$OUT"
