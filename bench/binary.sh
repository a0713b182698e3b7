#!/usr/bin/env bash
# Binary vs text protocol (bench/README.md, "Binary protocol"): memcaslap's get/set mix (90/10,
# 100-byte values, 64 connections, 2 threads) in the text protocol and with --binary, through
# mcbridge -> redis and against memcached, interleaved over rounds. Prints one line per run and
# the medians with the binary/text ratio per target.
#   bench/binary.sh [BUILD_DIR] [ROUNDS] [SECONDS]    (default build/release 3 8)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/lib.sh
B="${1:-build/release}"
ROUNDS="${2:-3}"
SECS="${3:-8}"
command -v memcaslap >/dev/null || { echo "memcaslap (libmemcached-tools) not installed" >&2; exit 1; }
start_scratch binary
RP=$(free_port); MP=$(free_port); CP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
PIDS+=($!)
memcached -p "$CP" -l 127.0.0.1 -U 0 -t 2 -m 1024 -c 4096 -u nobody >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$RP"
"$B/mcbridge" --listen "127.0.0.1:$MP" --redis "redis://127.0.0.1:$RP" --threads 2 \
  --log-level warn &
PIDS+=($!)
wait_port "$MP"
wait_port "$CP"
for ((r = 1; r <= ROUNDS; r++)); do
  for target in "mcbridge:$MP" "memcached:$CP"; do
    name=${target%%:*}; port=${target##*:}
    for proto in text binary; do
      flag=(); [[ $proto == binary ]] && flag=(--binary)
      out=$(timeout -k 5 $((SECS + 60)) memcaslap -s "127.0.0.1:$port" -T 2 -c 64 -X 100 \
            -t "${SECS}s" "${flag[@]}" 2>&1) || true
      tps=$(echo "$out" | grep -o 'TPS: [0-9]*' | tail -n 1 | awk '{print $2}')
      echo "$name $proto round $r: ${tps:-0} TPS" | tee -a "$TMP/results"
    done
  done
done
python3 - "$TMP/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, proto, _, _, tps, _ = line.split()
    runs.setdefault((name, proto), []).append(int(tps))
for name in ("mcbridge", "memcached"):
    t = statistics.median(runs[(name, "text")])
    b = statistics.median(runs[(name, "binary")])
    print(f"{name:10s} text {t:>9.0f} TPS  binary {b:>9.0f} TPS  binary/text {b / t:.2f}")
PY
