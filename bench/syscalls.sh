#!/usr/bin/env bash
# Syscalls and CPU per request under the 90/10 load (100 B, 64 connections), for memcached,
# twemproxy -> memcached and mcbridge -> redis (bench/README.md). On loopback most of a
# server's CPU is spent in the kernel, so syscalls per request explain most throughput gaps.
#
#   bench/syscalls.sh [--build-dir DIR] [--seconds S]
#
# Counts come from the syscalls:sys_enter_* tracepoints (perf stat -p) over S seconds in the
# middle of a closed-loop run, divided by the requests completed in that window.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
BUILD_DIR="$ROOT/build-bench"
SECS=4
CONNS=64
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --seconds) SECS="$2"; shift 2 ;;
    --conns) CONNS="$2"; shift 2 ;;
    *) echo "usage: bench/syscalls.sh [--build-dir DIR] [--seconds S] [--conns N]" >&2; exit 2 ;;
  esac
done
LOADGEN="$BUILD_DIR/bench/mcbridge_loadgen"
MCBRIDGE="$BUILD_DIR/mcbridge"
[[ -x $LOADGEN && -x $MCBRIDGE ]] || { echo "syscalls.sh: build $BUILD_DIR first (bench/run.sh builds it)" >&2; exit 1; }
perf stat -e syscalls:sys_enter_read -- true >/dev/null 2>&1 || { echo "syscalls.sh: perf tracepoints unavailable" >&2; exit 1; }

TMP="$(mktemp -d /tmp/mcbridge-sys.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"  # free_port, wait_port
RUN_AS=(); [[ $(id -u) == 0 ]] && RUN_AS=(-u nobody)

MC_PORT=$(free_port)
memcached -p "$MC_PORT" -l 127.0.0.1 -U 0 -t 2 -m 1024 -c 4096 "${RUN_AS[@]}" >/dev/null 2>&1 &
MC_PID=$!; PIDS+=("$MC_PID"); wait_port "$MC_PORT"
TW_PORT=$(free_port); TW_STATS=$(free_port)
cat >"$TMP/tw.yml" <<EOF
bench:
  listen: 127.0.0.1:$TW_PORT
  hash: fnv1a_64
  distribution: ketama
  auto_eject_hosts: false
  timeout: 2000
  servers:
   - 127.0.0.1:$MC_PORT:1
EOF
nutcracker -c "$TMP/tw.yml" -s "$TW_STATS" -a 127.0.0.1 -o "$TMP/tw.log" -p "$TMP/tw.pid" >/dev/null 2>&1 &
TW_PID=$!; PIDS+=("$TW_PID"); wait_port "$TW_PORT"
RD_PORT=$(free_port)
redis-server --port "$RD_PORT" --bind 127.0.0.1 --save '' --appendonly no --logfile "$TMP/redis.log" &
RD_PID=$!; PIDS+=("$RD_PID"); wait_port "$RD_PORT"
MCB_PORT=$(free_port)
"$MCBRIDGE" --listen "127.0.0.1:$MCB_PORT" --redis "redis://127.0.0.1:$RD_PORT" --threads 2 \
  --log-level warn >"$TMP/mcb.log" 2>&1 &
MCB_PID=$!; PIDS+=("$MCB_PID"); wait_port "$MCB_PORT"

EVENTS="syscalls:sys_enter_read,syscalls:sys_enter_recvfrom,syscalls:sys_enter_recvmsg,syscalls:sys_enter_readv,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_epoll_ctl,task-clock"

measure() {  # name port pid[,pid...]
  local name=$1 port=$2 pids=$3
  local total=$((SECS + 3))
  timeout 120 "$LOADGEN" --server "127.0.0.1:$port" --conns "$CONNS" --ratio 90:10 --value-size 100 \
    --keys 10000 --warmup 1 --duration "$total" >"$TMP/$name.json" &
  local lg=$!
  # wait for the prefill to end and the warm-up to pass
  sleep 2.5
  perf stat -x, -e "$EVENTS" -p "$pids" -- sleep "$SECS" 2>"$TMP/$name.perf" || true
  wait "$lg" || true
  python3 - "$name" "$TMP/$name.json" "$TMP/$name.perf" "$SECS" <<'EOF'
import json, sys
name, jf, pf, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
d = json.loads(open(jf).read().strip().splitlines()[-1])
ops = d["ops_per_sec"] * secs
c = {}
for line in open(pf):
    parts = line.strip().split(",")
    if len(parts) < 3 or not parts[0].replace(".", "").isdigit():
        continue
    c[parts[2].replace("syscalls:sys_enter_", "")] = float(parts[0])
reads = sum(c.get(k, 0) for k in ("read", "recvfrom", "recvmsg", "readv"))
writes = sum(c.get(k, 0) for k in ("write", "writev", "sendmsg", "sendto"))
polls = c.get("epoll_wait", 0) + c.get("epoll_pwait", 0)
ctl = c.get("epoll_ctl", 0)
cpu_ms = c.get("task-clock", 0)
print("| %s | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f |" % (
    name, d["ops_per_sec"], reads / ops, writes / ops, polls / ops, ctl / ops,
    (reads + writes + polls + ctl) / ops, cpu_ms * 1000.0 / ops))
EOF
}
echo "90/10 get/set, 100 B, $CONNS conns, closed loop; per request, server-side processes only"
echo
echo "| target (processes) | ops/s | reads | writes | epoll_wait | epoll_ctl | syscalls | CPU us |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
measure "memcached" "$MC_PORT" "$MC_PID"
measure "twemproxy + memcached" "$TW_PORT" "$TW_PID,$MC_PID"
measure "twemproxy only" "$TW_PORT" "$TW_PID"
measure "mcbridge + redis" "$MCB_PORT" "$MCB_PID,$RD_PID"
measure "mcbridge only" "$MCB_PORT" "$MCB_PID"
measure "redis (behind mcbridge)" "$MCB_PORT" "$RD_PID"
