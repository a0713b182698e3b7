#!/usr/bin/env bash
# Meta commands vs classic gets (bench/README.md, "Meta commands"): `get <key>` vs `mg <key> v f k`,
# and a 100-key `get` vs Dalli's get_multi (100 quiet `mg <key> v f k q` and `mn`), through
# mcbridge -> redis and against memcached, 3 rounds x 8 s. Prints one JSON line per run.
#   bench/meta.sh [BUILD_DIR]      (default build/release; needs mcbridge and mcbridge_loadgen)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
B="${1:-build/release}"
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RP=$(free_port); MP=$(free_port); CP=$(free_port)
redis-server --port $RP --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 & rpid=$!
memcached -p $CP -l 127.0.0.1 -U 0 -t 2 -m 1024 -c 4096 -u nobody >/dev/null 2>&1 & cpid=$!
sleep 0.5
$B/mcbridge --listen 127.0.0.1:$MP --redis redis://127.0.0.1:$RP --threads 2 --log-level warn & mpid=$!
trap 'kill $mpid $rpid $cpid 2>/dev/null || true' EXIT
sleep 1
for round in 1 2 3; do
for target in mcbridge:$MP memcached:$CP; do
  name=${target%%:*}; port=${target##*:}
  for m in "" "--meta"; do
    $B/bench/mcbridge_loadgen --server 127.0.0.1:$port --conns 64 --threads 2 --ratio 100:0 --value-size 100 --keys 10000 --duration 8 --warmup 1 $m --label "$name get1 ${m:-classic}"
    $B/bench/mcbridge_loadgen --server 127.0.0.1:$port --conns 16 --threads 2 --ratio 100:0 --value-size 100 --keys 10000 --multiget 100 --duration 8 --warmup 1 --no-prefill $m --label "$name get100 ${m:-classic}"
  done
done
done
