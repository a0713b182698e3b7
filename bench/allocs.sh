#!/usr/bin/env bash
# Heap allocations per request of mcbridge in steady state (issue: none on the get/set path).
#
#   bench/allocs.sh [--build-dir DIR] [--seconds S] [loadgen options...]
#
# Runs mcbridge -> redis with an LD_PRELOAD shim counting malloc/calloc/realloc (all threads),
# warms it up with one load run, then counts the allocations made during a second run on new
# connections: that count, minus what connecting costs, divided by the requests of the run.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
BUILD_DIR="$ROOT/build-bench"
SECS=4
LOAD=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --seconds) SECS="$2"; shift 2 ;;
    *) LOAD+=("$1"); shift ;;
  esac
done
LOADGEN="$BUILD_DIR/bench/mcbridge_loadgen"
MCBRIDGE="$BUILD_DIR/mcbridge"
[[ -x $LOADGEN && -x $MCBRIDGE ]] || { echo "allocs.sh: build $BUILD_DIR first (bench/run.sh builds it)" >&2; exit 1; }

# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"  # free_port, wait_port, start_scratch
start_scratch allocs

gcc -O2 -shared -fPIC -o "$TMP/malloc_count.so" "$HERE/allocs/malloc_count.c"
RD_PORT=$(free_port)
redis-server --port "$RD_PORT" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
PIDS+=($!); wait_port "$RD_PORT"
MCB_PORT=$(free_port)
LD_PRELOAD="$TMP/malloc_count.so" "$MCBRIDGE" --listen "127.0.0.1:$MCB_PORT" \
  --redis "redis://127.0.0.1:$RD_PORT" --threads 2 --log-level warn 2>"$TMP/mcbridge.err" &
MCB_PID=$!; PIDS+=("$MCB_PID"); wait_port "$MCB_PORT"

count() {  # the shim's running total
  kill -USR2 "$MCB_PID"
  for _ in $(seq 50); do
    local n; n=$(grep -c '^allocations' "$TMP/mcbridge.err" || true)
    [[ $n -ge $1 ]] && break
    sleep 0.1
  done
  grep '^allocations' "$TMP/mcbridge.err" | tail -1 | awk '{print $2}'
}
# Warm-up: prefill and a first run grow every pool and buffer to its working size.
"$LOADGEN" --server "127.0.0.1:$MCB_PORT" --duration 2 --warmup 0.5 "${LOAD[@]}" >/dev/null
sleep 0.3
a0=$(count 1)
out=$("$LOADGEN" --server "127.0.0.1:$MCB_PORT" --duration "$SECS" --warmup 0 --no-prefill "${LOAD[@]}")
sleep 0.3
a1=$(count 2)
python3 - "$a0" "$a1" "$out" <<'PY'
import json, sys
a0, a1, d = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
ops, conns = d["ops"], d["conns"]
print(f"requests {ops}, connections {conns}, allocations {a1 - a0} "
      f"({(a1 - a0) / conns:.1f} per connection, {(a1 - a0) / max(ops, 1):.5f} per request)")
PY
