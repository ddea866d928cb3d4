#!/usr/bin/env bash
# The secure-store benchmark (issue 5): N data subjects in a throw-away
# PostgreSQL, blind-index lookups vs a plaintext indexed baseline in the
# same database. See bench/store/README.md.
#
#   bench/store/run.sh                 # N = 1,000,000
#   bench/store/run.sh --n 100000      # any option of the example (see its doc comment)
#
# Output: the markdown report on stdout, also written to
# bench/store/results-<N>.md; progress on stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Our own pointer file, so we never stop someone else's server.
export PGDIR_FILE=${PGDIR_FILE:-/tmp/rempart-pg.bench.current}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}

N=1000000
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [ "${args[$i]}" = "--n" ] && N=${args[$((i + 1))]}
done

cargo build --release --locked -p rempart-store --example store_bench

eval "$(scripts/pg.sh start)"
trap 'REMPART_TEST_PG_DIR=$REMPART_TEST_PG_DIR scripts/pg.sh stop >/dev/null' EXIT
echo "PostgreSQL $(cat "$REMPART_TEST_PG_DIR/port" 2>/dev/null) in $REMPART_TEST_PG_DIR" >&2

OUT=bench/store/results-$N.md
{
  echo "<!-- $(date -u +%FT%TZ) $(uname -srm), $(nproc) cores, $("$REMPART_TEST_PG_BIN/postgres" --version) -->"
  "$CARGO_TARGET_DIR/release/examples/store_bench" "$@"
} | tee "$OUT"
