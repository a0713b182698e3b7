#!/usr/bin/env bash
# Small gets beside large multi-gets (bench/README.md, "Small requests beside large reads"):
# 8 connections do 20-key gets of 100 KB values as fast as they can (closed loop) while 4 others
# do single gets of 100 B values open loop at 400/s; prints the bulk throughput and the small
# gets' latency (us). Targets: memcached, and each mcbridge binary given (e.g. before/after),
# each with its own Redis, `--threads 2`; ROUNDS rounds, targets interleaved.
#   bench/small_beside_bulk.sh [ROUNDS] MCBRIDGE_BIN...   (loadgen from build/release/bench)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/lib.sh
ROUNDS="${1:-3}"
shift || true
LG="${LOADGEN:-build/release/bench/mcbridge_loadgen}"
start_scratch small-bulk

run_one() {  # run_one LABEL PORT
  "$LG" --server "127.0.0.1:$2" --conns 8 --threads 1 --ratio 100:0 --multiget 20 \
    --value-size 100000 --keys 200 --duration 9 --warmup 1 --label "$1 bulk" >"$TMP/bulk" 2>/dev/null &
  local bulk=$!
  sleep 3
  "$LG" --server "127.0.0.1:$2" --conns 4 --threads 1 --rate 400 --ratio 100:0 --value-size 100 \
    --keys 1000 --duration 5 --warmup 0.5 --label "$1 small" 2>/dev/null | tail -1 >"$TMP/small"
  wait "$bulk"
  /usr/bin/python3 - "$1" "$TMP/bulk" "$TMP/small" <<'PY'
import json, sys
b = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
s = json.loads(open(sys.argv[3]).read())
lat = s["lat_us"]
print(json.dumps({"target": sys.argv[1], "bulk_ops_s": b["ops_per_sec"],
                  "bulk_errors": b["errors"], "small_p50_us": lat["p50"],
                  "small_p99_us": lat["p99"], "small_max_us": lat["max"],
                  "small_errors": s["errors"]}))
PY
}

CP=$(free_port)
memcached -p "$CP" -l 127.0.0.1 -U 0 -t 2 -m 1024 -u nobody >/dev/null 2>&1 &
PIDS+=("$!")
wait_port "$CP"
ports=()
bins=("$@")
for bin in "${bins[@]}"; do
  rp=$(free_port)
  redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
  PIDS+=("$!")
  wait_port "$rp"
  mp=$(free_port)
  "$bin" --listen "127.0.0.1:$mp" --redis "redis://127.0.0.1:$rp" --threads 2 --log-level warn &
  PIDS+=("$!")
  wait_port "$mp"
  ports+=("$mp")
done
for round in $(seq "$ROUNDS"); do
  run_one memcached "$CP"
  for i in "${!ports[@]}"; do run_one "mcbridge $(basename "$(dirname "${bins[$i]}")")/$((i + 1))" "${ports[$i]}"; done
done
