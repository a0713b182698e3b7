#!/usr/bin/env bash
# CPU per request of mcbridge and of the redis-server behind it, for one load; several builds of
# mcbridge are run in turn (interleaved over rounds), so an A/B of a change is one command.
#
#   bench/cpu_per_request.sh [--rounds N] [--seconds S] [--tls] BIN [BIN...] [-- loadgen options...]
#   bench/cpu_per_request.sh /tmp/old/mcbridge build-bench/mcbridge -- --value-size 512000 \
#       --keys 200 --conns 8
#
# CPU time is read from /proc/PID/stat (user + system) around a closed-loop loadgen run on a
# fresh redis-server and mcbridge (--threads 2) each time; a first short run warms them up.
# On a shared machine, CPU per request moves less than throughput does. --tls: Redis serves
# TLS only (a throw-away CA and certificate made with openssl), mcbridge connects with rediss://.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
LOADGEN="${LOADGEN:-$ROOT/build-bench/bench/mcbridge_loadgen}"
ROUNDS=3
SECS=4
TLS=0
BINS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --seconds) SECS="$2"; shift 2 ;;
    --tls) TLS=1; shift ;;
    --) shift; break ;;
    *) BINS+=("$1"); shift ;;
  esac
done
LOAD=("$@")
[[ ${#BINS[@]} -gt 0 ]] || { echo "usage: bench/cpu_per_request.sh BIN [BIN...] [-- loadgen options]" >&2; exit 2; }
[[ -x $LOADGEN ]] || { echo "cpu_per_request.sh: no $LOADGEN (bench/run.sh builds it)" >&2; exit 1; }

# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"  # free_port, wait_port, start_scratch
start_scratch cpu
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
if [[ $TLS == 1 ]]; then
  (
    cd "$TMP"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
      -subj /CN=bench-ca
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost
    printf 'subjectAltName=IP:127.0.0.1\n' >ext.cnf
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
      -days 2 -extfile ext.cnf
  ) >/dev/null 2>&1
fi

for ((round = 1; round <= ROUNDS; round++)); do
  for bin in "${BINS[@]}"; do
    rp=$(free_port)
    if [[ $TLS == 1 ]]; then
      redis-server --port 0 --tls-port "$rp" --bind 127.0.0.1 --save '' --appendonly no \
        --tls-cert-file "$TMP/server.crt" --tls-key-file "$TMP/server.key" \
        --tls-ca-cert-file "$TMP/ca.crt" --tls-auth-clients no >/dev/null 2>&1 &
      redis_args=(--redis "rediss://127.0.0.1:$rp" --redis-ca-file "$TMP/ca.crt")
    else
      redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
      redis_args=(--redis "redis://127.0.0.1:$rp")
    fi
    rpid=$!; PIDS=("$rpid"); wait_port "$rp"
    mp=$(free_port)
    "$bin" --listen "127.0.0.1:$mp" "${redis_args[@]}" --threads 2 --log-level warn &
    mpid=$!; PIDS+=("$mpid"); wait_port "$mp"
    "$LOADGEN" --server "127.0.0.1:$mp" --duration 1 --warmup 0 "${LOAD[@]}" >/dev/null
    m0=$(ticks "$mpid"); r0=$(ticks "$rpid")
    out=$("$LOADGEN" --server "127.0.0.1:$mp" --duration "$SECS" --warmup 0 --no-prefill "${LOAD[@]}")
    m1=$(ticks "$mpid"); r1=$(ticks "$rpid")
    python3 - "$bin" "$round" "$m0" "$m1" "$r0" "$r1" "$(getconf CLK_TCK)" "$out" <<'PY'
import json, sys
bin_, rnd, m0, m1, r0, r1, hz, out = sys.argv[1:]
d = json.loads(out)
ops = max(d["ops"], 1)
us = lambda a, b: (float(b) - float(a)) * 1e6 / float(hz) / ops
print(f"round {rnd} {bin_}: {d['ops_per_sec']:.0f} ops/s, mcbridge {us(m0, m1):.2f} us/request, "
      f"redis {us(r0, r1):.2f} us/request, p99 {d['lat_us']['p99']} us, errors {d['errors']}")
PY
    kill "$mpid" "$rpid" 2>/dev/null || true
    wait "$mpid" "$rpid" 2>/dev/null || true
  done
done
