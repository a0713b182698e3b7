#!/usr/bin/env bash
# Side-by-side benchmark: memcached direct, twemproxy (nutcracker) -> memcached, and
# mcbridge -> redis, under the same load, interleaved over several rounds (bench/README.md).
#
#   bench/run.sh                      # every workload, 3 rounds of 8 s
#   bench/run.sh --quick              # every workload, 1 short round (smoke test)
#   bench/run.sh --workloads mix,latency --rounds 5 --duration 10
#   bench/run.sh --targets mcbridge,mcbridge-cluster --workloads mix,mget10,mget100
#                                     # one Redis vs a local 3-primary Redis Cluster
#
# All servers listen on 127.0.0.1 ephemeral ports and are killed on exit, whatever happens.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"

ALL_WORKLOADS="mix,memcaslap,mget10,mget100,val10k,val500k,conns1000,latency,rss"
WORKLOADS="$ALL_WORKLOADS"
ROUNDS=3
DURATION=8
WARMUP=1
QUICK=0
BUILD_DIR="$ROOT/build-bench"
BUILD=1
MCB_THREADS=2
MC_THREADS=2
LG_THREADS=2
IDLE_CONNS=10000
OUT=""
LATENCY_RATE=0
TARGETS="memcached,twemproxy,mcbridge"

usage() {
  cat <<EOF
usage: bench/run.sh [options]
  --workloads LIST   comma-separated subset of: $ALL_WORKLOADS (default: all)
  --targets LIST     subset of memcached,twemproxy,mcbridge,mcbridge-cluster (default: the
                     first three; mcbridge-cluster is mcbridge in front of a local Redis
                     Cluster of 3 primaries, started only when asked for)
  --rounds N         rounds per workload, targets interleaved in each round (default: $ROUNDS)
  --duration S       measured seconds per run (default: $DURATION)
  --warmup S         unmeasured seconds before each run (default: $WARMUP)
  --quick            1 round of 2 s, 2000 idle connections: a smoke test of everything
  --build-dir DIR    where mcbridge and mcbridge_loadgen are built (default: build-bench)
  --no-build         do not (re)build
  --mcbridge-threads N   mcbridge --threads (default: $MCB_THREADS, as memcached -t 2)
  --idle-conns N     idle connections for the rss workload (default: $IDLE_CONNS)
  --latency-rate R   open-loop rate of the latency workload (default: half the mcbridge peak
                     measured by the mix workload, or by a probe run)
  --out FILE         also keep the raw JSON lines here (default: a temp file, printed)
EOF
  exit 2
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --workloads) WORKLOADS="$2"; shift 2 ;;
    --targets) TARGETS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --mcbridge-threads) MCB_THREADS="$2"; shift 2 ;;
    --idle-conns) IDLE_CONNS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --latency-rate) LATENCY_RATE="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown option $1" >&2; usage ;;
  esac
done
if [[ $QUICK == 1 ]]; then
  ROUNDS=1; DURATION=2; WARMUP=0.5
  [[ $IDLE_CONNS -gt 2000 ]] && IDLE_CONNS=2000
fi
for w in ${WORKLOADS//,/ }; do
  [[ ",$ALL_WORKLOADS," == *",$w,"* ]] || { echo "run.sh: unknown workload $w" >&2; exit 2; }
done
has_workload() { [[ ",$WORKLOADS," == *",$1,"* ]]; }
has_target() { [[ ",$TARGETS," == *",$1,"* ]]; }

for tool in memcached nutcracker redis-server python3; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not installed" >&2; exit 1; }
done

if [[ $BUILD == 1 ]]; then
  echo "# building mcbridge and mcbridge_loadgen in $BUILD_DIR (Release, -j2)" >&2
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DMCBRIDGE_TESTS=OFF >/dev/null
  cmake --build "$BUILD_DIR" -j2 --target mcbridge mcbridge_loadgen >/dev/null
fi
MCBRIDGE="$BUILD_DIR/mcbridge"
LOADGEN="$BUILD_DIR/bench/mcbridge_loadgen"
[[ -x $MCBRIDGE && -x $LOADGEN ]] || { echo "run.sh: $MCBRIDGE or $LOADGEN missing" >&2; exit 1; }

# 10,000 idle connections need as many descriptors in mcbridge and in the load generator.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TMP="$(mktemp -d /tmp/mcbridge-bench.XXXXXX)"
RESULTS="${OUT:-$TMP/results.jsonl}"
: >"$RESULTS"
PIDS=()
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [[ -z $OUT ]]; then
    cp "$RESULTS" "/tmp/mcbridge-bench-last.jsonl" 2>/dev/null || true
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_port() {  # port, name, pid
  for _ in $(seq 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || { echo "run.sh: $2 exited at start (log: $TMP/$2.log)" >&2; cat "$TMP/$2.log" >&2 || true; return 1; }
    sleep 0.1
  done
  echo "run.sh: $2 not listening on $1" >&2
  return 1
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

log() { echo "# $*" >&2; }

# --- servers -------------------------------------------------------------------------------
RUN_AS=()
[[ $(id -u) == 0 ]] && RUN_AS=(-u nobody)

start_memcached() {
  MC_PORT=$(free_port)
  # -c: memcached's default limit of 1024 connections would refuse part of the 1,000-connection
  # workload (it keeps some for itself); it does not change the data path.
  memcached -p "$MC_PORT" -l 127.0.0.1 -U 0 -t "$MC_THREADS" -m 1024 -c 4096 "${RUN_AS[@]}" \
    >"$TMP/memcached.log" 2>&1 &
  MC_PID=$!; PIDS+=("$MC_PID")
  wait_port "$MC_PORT" memcached "$MC_PID"
}
start_twemproxy() {
  TW_PORT=$(free_port); TW_STATS=$(free_port)
  cat >"$TMP/nutcracker.yml" <<EOF
bench:
  listen: 127.0.0.1:$TW_PORT
  hash: fnv1a_64
  distribution: ketama
  auto_eject_hosts: false
  timeout: 2000
  servers:
   - 127.0.0.1:$MC_PORT:1
EOF
  nutcracker -c "$TMP/nutcracker.yml" -s "$TW_STATS" -a 127.0.0.1 -o "$TMP/nutcracker.log" \
    -p "$TMP/nutcracker.pid" >"$TMP/nutcracker.out" 2>&1 &
  TW_PID=$!; PIDS+=("$TW_PID")
  wait_port "$TW_PORT" nutcracker "$TW_PID"
}
start_redis() {
  RD_PORT=$(free_port)
  redis-server --port "$RD_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --logfile "$TMP/redis.log" >/dev/null 2>&1 &
  RD_PID=$!; PIDS+=("$RD_PID")
  wait_port "$RD_PORT" redis "$RD_PID"
}
# A Redis Cluster of 3 primaries (no replicas), for the mcbridge-cluster target.
start_cluster() {
  command -v redis-cli >/dev/null || { echo "run.sh: redis-cli not installed" >&2; exit 1; }
  CL_PORTS=()
  local i port
  for i in 1 2 3; do
    port=$(free_port)
    mkdir -p "$TMP/cluster$i"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --cluster-enabled yes --cluster-config-file "$TMP/cluster$i/nodes.conf" \
      --cluster-port "$(free_port)" --dir "$TMP/cluster$i" \
      --logfile "$TMP/cluster$i/redis.log" >/dev/null 2>&1 &
    PIDS+=("$!")
    wait_port "$port" "cluster$i" "$!"
    CL_PORTS+=("$port")
  done
  redis-cli --cluster create "${CL_PORTS[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes \
    >"$TMP/cluster-create.log" 2>&1
  for _ in $(seq 200); do
    local ok=0
    for port in "${CL_PORTS[@]}"; do
      redis-cli -p "$port" cluster info | grep -q 'cluster_state:ok' && ok=$((ok + 1))
    done
    [[ $ok == 3 ]] && return 0
    sleep 0.1
  done
  echo "run.sh: the cluster did not reach cluster_state:ok" >&2
  return 1
}
# start_mcbridge VAR_PORT VAR_PID [REDIS_PORT]
start_mcbridge() {
  local mport; mport=$(free_port)
  # --max-connections: the rss workload holds 10,000 idle clients (default limit 4096).
  "$MCBRIDGE" --listen "127.0.0.1:$mport" --redis "redis://127.0.0.1:${3:-$RD_PORT}" \
    --threads "$MCB_THREADS" --log-level warn --max-connections 20000 \
    >>"$TMP/mcbridge.log" 2>&1 &
  local mpid=$!; PIDS+=("$mpid")
  wait_port "$mport" mcbridge "$mpid"
  printf -v "$1" '%s' "$mport"; printf -v "$2" '%s' "$mpid"
}

start_memcached
start_twemproxy
start_redis
MCB_PORT=""; MCB_PID=""
start_mcbridge MCB_PORT MCB_PID
log "memcached 127.0.0.1:$MC_PORT (pid $MC_PID), twemproxy 127.0.0.1:$TW_PORT (pid $TW_PID)," \
    "redis 127.0.0.1:$RD_PORT (pid $RD_PID), mcbridge 127.0.0.1:$MCB_PORT (pid $MCB_PID)"
MCBC_PORT=""; MCBC_PID=""
if has_target mcbridge-cluster; then
  start_cluster
  start_mcbridge MCBC_PORT MCBC_PID "${CL_PORTS[0]}"
  log "redis cluster 127.0.0.1:${CL_PORTS[*]}, mcbridge-cluster 127.0.0.1:$MCBC_PORT (pid $MCBC_PID)"
fi

port_of() {
  case "$1" in
    memcached) echo "$MC_PORT" ;;
    twemproxy) echo "$TW_PORT" ;;
    mcbridge) echo "$MCB_PORT" ;;
    mcbridge-cluster) echo "$MCBC_PORT" ;;
  esac
}

# Machine and settings, first line of the results.
python3 - "$RESULTS" <<EOF
import json, os, platform, subprocess, sys
def ver(cmd):
    try: return subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout.strip().splitlines()[0]
    except Exception: return "?"
info = {"kind": "machine", "nproc": os.cpu_count(), "kernel": platform.release(),
        "loadavg_start": os.getloadavg()[0], "rounds": $ROUNDS, "duration_s": $DURATION,
        "warmup_s": $WARMUP, "quick": $QUICK, "mcbridge_threads": $MCB_THREADS,
        "memcached_threads": $MC_THREADS, "loadgen_threads": $LG_THREADS,
        "memcached": ver(["memcached", "-V"]), "redis": ver(["redis-server", "--version"]),
        "nutcracker": "0.5.0",
        "cpu": next((l.split(":",1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")}
open(sys.argv[1], "a").write(json.dumps(info) + "\n")
EOF

# --- running loads -------------------------------------------------------------------------
# record WORKLOAD TARGET ROUND JSON: tags one result line and keeps it.
record() {
  python3 -c '
import json, sys
w, t, r, line = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
try:
    d = json.loads(line)
except Exception:
    d = {"errors": 1, "error_samples": [line[:200]], "failed": True}
d.update({"kind": "run", "workload": w, "target": t, "round": r,
          "loadavg": round(__import__("os").getloadavg()[0], 2)})
print(json.dumps(d))' "$1" "$2" "$3" "$4" >>"$RESULTS"
}

# loadgen WORKLOAD TARGET ROUND ARGS...: one load generator run, bounded in time.
loadgen() {
  local w=$1 t=$2 r=$3; shift 3
  local port; port=$(port_of "$t")
  local out limit
  limit=$(python3 -c "print(int($DURATION + $WARMUP + 150))")
  out=$(timeout -k 5 "$limit" "$LOADGEN" --server "127.0.0.1:$port" --threads "$LG_THREADS" \
        --duration "$DURATION" --warmup "$WARMUP" --label "$w/$t" "$@" 2>>"$TMP/loadgen.err" | tail -n 1) || true
  [[ -n $out ]] || out='{"failed":true,"errors":1,"error_samples":["loadgen produced no output (timeout or crash)"]}'
  record "$w" "$t" "$r" "$out"
  python3 -c '
import json, sys
d = json.loads(sys.argv[1]); l = d.get("lat_us", {})
print("#   %-10s %-10s round %s: %10.0f ops/s %12.0f keys/s  p50 %7.1f us  p99 %8.1f us  errors %s%s" % (
    sys.argv[2], sys.argv[3], sys.argv[4], d.get("ops_per_sec", 0), d.get("keys_per_sec", 0),
    l.get("p50", 0), l.get("p99", 0), d.get("errors", "?"),
    ("  " + "; ".join(d.get("error_samples", [])[:2])) if d.get("errors") else ""))' \
    "$(tail -n 1 "$RESULTS")" "$w" "$t" "$r" >&2
}

# The order of targets rotates each round, so none always runs first (warm caches, load drift).
targets_for_round() {
  local -a ts; IFS=, read -r -a ts <<<"$TARGETS"
  local n=${#ts[@]} i
  for ((i = 0; i < n; i++)); do echo "${ts[$(((i + $1) % n))]}"; done
}

run_workload() {  # WORKLOAD ARGS...
  local w=$1; shift
  log "workload $w: mcbridge_loadgen $* (x $ROUNDS rounds)"
  local r t
  for ((r = 1; r <= ROUNDS; r++)); do
    for t in $(targets_for_round "$r"); do loadgen "$w" "$t" "$r" "$@"; done
  done
}

run_memcaslap() {
  command -v memcaslap >/dev/null || { log "memcaslap not installed: skipped"; return; }
  log "workload memcaslap: memcaslap -s 127.0.0.1:PORT -T 2 -c 64 -X 100 -t ${DURATION%.*}s (x $ROUNDS rounds)"
  local secs=${DURATION%.*}; [[ $secs -lt 1 ]] && secs=1
  local r t port out tps
  for ((r = 1; r <= ROUNDS; r++)); do
    for t in $(targets_for_round "$r"); do
      port=$(port_of "$t")
      out=$(timeout -k 5 $((secs + 60)) memcaslap -s "127.0.0.1:$port" -T 2 -c 64 -X 100 \
            -t "${secs}s" 2>&1) || true
      echo "$out" >"$TMP/memcaslap-$t-$r.txt"
      # Final summary line: "Run time: 10.0s Ops: 1040000 TPS: 104000 Net_rate: 11.9M/s"
      tps=$(echo "$out" | grep -o 'TPS: [0-9]*' | tail -n 1 | awk '{print $2}')
      record memcaslap "$t" "$r" "{\"ops_per_sec\":${tps:-0},\"keys_per_sec\":${tps:-0},\"errors\":$([[ -n $tps ]] && echo 0 || echo 1),\"error_samples\":$([[ -n $tps ]] && echo '[]' || echo '["no TPS in memcaslap output"]')}"
      log "  memcaslap  $t round $r: ${tps:-?} TPS"
    done
  done
}

median_mcbridge_mix() {
  python3 - "$RESULTS" <<'EOF'
import json, statistics, sys
v = [d["ops_per_sec"] for d in map(json.loads, open(sys.argv[1]))
     if d.get("kind") == "run" and d.get("workload") == "mix" and d.get("target") == "mcbridge"
     and d.get("ops_per_sec")]
print(int(statistics.median(v)) if v else 0)
EOF
}

run_latency() {
  local peak
  if [[ $LATENCY_RATE != 0 ]]; then peak=$((LATENCY_RATE * 2)); else peak=$(median_mcbridge_mix); fi
  if [[ $peak == 0 ]]; then
    log "latency: measuring mcbridge peak first (closed loop, 90/10, 64 conns)"
    local probe
    probe=$(timeout -k 5 120 "$LOADGEN" --server "127.0.0.1:$MCB_PORT" --threads "$LG_THREADS" \
            --conns 64 --ratio 90:10 --value-size 100 --duration "$DURATION" --warmup "$WARMUP" | tail -n 1) || true
    peak=$(python3 -c 'import json,sys; print(int(json.loads(sys.argv[1]).get("ops_per_sec",0)))' "${probe:-{\}}" 2>/dev/null || echo 0)
  fi
  [[ $peak -gt 0 ]] || { log "latency: no mcbridge peak measured: skipped"; return; }
  local rate=$((peak / 2))
  log "latency: open loop at $rate ops/s (half of mcbridge peak $peak)"
  local r t
  for ((r = 1; r <= ROUNDS; r++)); do
    for t in $(targets_for_round "$r"); do
      loadgen latency "$t" "$r" --conns 64 --ratio 90:10 --value-size 100 --rate "$rate"
    done
  done
}

run_rss() {
  has_target mcbridge || return 0
  # A fresh mcbridge: the one under load has grown its buffers.
  local port pid
  start_mcbridge port pid
  sleep 1
  local idle; idle=$(rss_kb "$pid")
  log "rss: fresh mcbridge (pid $pid) idle VmRSS ${idle} kB; opening $IDLE_CONNS idle connections"
  rm -f "$TMP/idle.ready"
  "$LOADGEN" --server "127.0.0.1:$port" --idle-conns "$IDLE_CONNS" --hold 120 \
    --ready-file "$TMP/idle.ready" --connect-timeout 60 --label rss/mcbridge >"$TMP/idle.out" 2>&1 &
  local lg=$!
  for _ in $(seq 900); do [[ -f $TMP/idle.ready ]] && break; kill -0 "$lg" 2>/dev/null || break; sleep 0.1; done
  sleep 1
  local loaded; loaded=$(rss_kb "$pid")
  local ready; ready=$(cat "$TMP/idle.ready" 2>/dev/null || echo '{}')
  kill "$lg" 2>/dev/null || true
  wait "$lg" 2>/dev/null || true
  sleep 1
  local after; after=$(rss_kb "$pid" 2>/dev/null || echo 0)
  python3 - "$RESULTS" "$idle" "$loaded" "$after" "$IDLE_CONNS" "$ready" <<'EOF'
import json, sys
res, idle, loaded, after, n, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4] or 0), int(sys.argv[5]), sys.argv[6]
try: r = json.loads(ready)
except Exception: r = {}
est = r.get("established", 0)
d = {"kind": "rss", "workload": "rss", "target": "mcbridge", "idle_kb": idle, "loaded_kb": loaded,
     "after_close_kb": after, "idle_conns": n, "established": est,
     "per_conn_bytes": (loaded - idle) * 1024.0 / est if est else None, "idle_client": r}
open(res, "a").write(json.dumps(d) + "\n")
print("#   rss: idle %d kB, with %d/%d idle connections %d kB (%.0f bytes/conn), after they close %d kB" % (
    idle, est, n, loaded, d["per_conn_bytes"] or 0, after), file=sys.stderr)
EOF
  kill "$pid" 2>/dev/null || true
}

# --- workloads -----------------------------------------------------------------------------
has_workload mix && run_workload mix --conns 64 --ratio 90:10 --value-size 100 --keys 10000
has_workload memcaslap && run_memcaslap
has_workload mget10 && run_workload mget10 --conns 32 --ratio 100:0 --multiget 10 --value-size 100 --keys 10000
has_workload mget100 && run_workload mget100 --conns 32 --ratio 100:0 --multiget 100 --value-size 100 --keys 10000
has_workload val10k && run_workload val10k --conns 32 --ratio 90:10 --value-size 10240 --keys 2000
has_workload val500k && run_workload val500k --conns 8 --ratio 90:10 --value-size 512000 --keys 200
has_workload conns1000 && run_workload conns1000 --conns 1000 --ratio 90:10 --value-size 100 --keys 10000
has_workload latency && run_latency
has_workload rss && run_rss

python3 - "$RESULTS" "$(uptime)" <<'EOF'
import json, os, sys
open(sys.argv[1], "a").write(json.dumps({"kind": "end", "loadavg_end": os.getloadavg()[0]}) + "\n")
EOF
python3 "$HERE/summarize.py" "$RESULTS"
if [[ -n $OUT ]]; then log "raw results: $OUT"; else log "raw results: /tmp/mcbridge-bench-last.jsonl"; fi
