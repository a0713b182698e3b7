#!/usr/bin/env bash
# Profiles mcbridge under the 90/10 get/set load (100 B values, 64 connections), bench/README.md.
#
#   bench/profile.sh                     # RelWithDebInfo build in build-prof, perf, 10 s
#   bench/profile.sh --tool callgrind    # valgrind instead (slow: a short run)
#
# perf uses the cpu-clock software event, so it also works where hardware counters are not
# exposed (VMs: `perf stat -e instructions` says <not supported>). Output: the top symbols by
# self time, the top by inclusive time, and the perf.data / callgrind.out path.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
BUILD_DIR="$ROOT/build-prof"
TOOL=perf
DURATION=10
THREADS=2
CONNS=64
KEEP=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tool) TOOL="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --conns) CONNS="$2"; shift 2 ;;
    --keep) KEEP="$2"; shift 2 ;;
    *) echo "usage: bench/profile.sh [--tool perf|callgrind] [--duration S] [--build-dir DIR] [--threads N] [--conns N] [--keep DIR]" >&2; exit 2 ;;
  esac
done

echo "# building mcbridge (RelWithDebInfo, frame pointers) and the load generator in $BUILD_DIR" >&2
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMCBRIDGE_TESTS=OFF -DMCBRIDGE_BENCH=ON \
  -DCMAKE_CXX_FLAGS="-fno-omit-frame-pointer" -DCMAKE_C_FLAGS="-fno-omit-frame-pointer" >/dev/null
cmake --build "$BUILD_DIR" -j2 --target mcbridge mcbridge_loadgen >/dev/null

TMP="$(mktemp -d /tmp/mcbridge-prof.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [[ -n $KEEP ]]; then mkdir -p "$KEEP"; cp -r "$TMP"/. "$KEEP"/; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"  # free_port, wait_port

RD_PORT=$(free_port)
redis-server --port "$RD_PORT" --bind 127.0.0.1 --save '' --appendonly no --logfile "$TMP/redis.log" &
PIDS+=($!)
wait_port "$RD_PORT"
MCB_PORT=$(free_port)
MCB=("$BUILD_DIR/mcbridge" --listen "127.0.0.1:$MCB_PORT" --redis "redis://127.0.0.1:$RD_PORT"
     --threads "$THREADS" --log-level warn)
LG=("$BUILD_DIR/bench/mcbridge_loadgen" --server "127.0.0.1:$MCB_PORT" --conns "$CONNS"
    --ratio 90:10 --value-size 100 --keys 10000 --warmup 1)

if [[ $TOOL == perf ]]; then
  "${MCB[@]}" >"$TMP/mcbridge.log" 2>&1 &
  MCB_PID=$!; PIDS+=("$MCB_PID")
  wait_port "$MCB_PORT"
  # prefill first, then record only the measured load
  timeout 120 "${LG[@]}" --duration 1 >/dev/null
  timeout $((DURATION + 60)) "${LG[@]}" --no-prefill --duration "$DURATION" >"$TMP/loadgen.json" &
  LGPID=$!
  sleep 1
  timeout $((DURATION + 30)) perf record -e cpu-clock -F 4999 -g -p "$MCB_PID" -o "$TMP/perf.data" \
    -- sleep "$((DURATION - 1))" 2>"$TMP/perf.err" || cat "$TMP/perf.err" >&2
  wait "$LGPID" || true
  echo "# load: $(cat "$TMP/loadgen.json")"
  echo "# top symbols, self time (perf report --no-children)"
  perf report -i "$TMP/perf.data" --no-children --sort symbol --stdio -g none --percent-limit 0.7 \
    2>/dev/null | grep -v '^#' | grep -v '^$' | head -45
  echo "# top symbols, inclusive time (perf report --children)"
  perf report -i "$TMP/perf.data" --children --sort symbol --stdio -g none --percent-limit 3 \
    2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
  echo "# by shared object"
  perf report -i "$TMP/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null \
    | grep -v '^#' | grep -v '^$' | head -12
else
  # callgrind slows mcbridge ~50x: a short, moderate load, and the full run still bounded.
  valgrind --tool=callgrind --callgrind-out-file="$TMP/callgrind.out" "${MCB[@]}" \
    >"$TMP/mcbridge.log" 2>&1 &
  MCB_PID=$!; PIDS+=("$MCB_PID")
  wait_port "$MCB_PORT"
  timeout $((DURATION + 120)) "${LG[@]}" --keys 2000 --duration "$DURATION" >"$TMP/loadgen.json" || true
  echo "# load: $(cat "$TMP/loadgen.json")"
  kill -INT "$MCB_PID"
  for _ in $(seq 100); do kill -0 "$MCB_PID" 2>/dev/null || break; sleep 0.1; done
  callgrind_annotate --inclusive=no "$TMP/callgrind.out" 2>/dev/null | head -60
fi
[[ -n $KEEP ]] && echo "# profile data kept in $KEEP"
