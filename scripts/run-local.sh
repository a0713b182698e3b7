#!/usr/bin/env bash
# Runs mcbridge on this machine, in the foreground, on 127.0.0.1:11211 (the README's "run").
#   bash scripts/run-local.sh [mcbridge options...]
# Installs the dependencies, builds the release binary, and — unless a Redis is configured
# (--redis/--redis-host/--config given, or MCBRIDGE_REDIS_URL/REDISHOST set) — starts a
# throw-away redis-server on 127.0.0.1 (port 6379 if free, else an ephemeral one; no
# persistence) and stops it again when mcbridge exits. Extra arguments go to mcbridge.
# MCBRIDGE_SKIP_DEPS=1 skips the package step, MCBRIDGE_SKIP_BUILD=1 the build.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ "${MCBRIDGE_SKIP_DEPS:-}" != 1 ]]; then
  bash scripts/install-deps.sh
fi
if [[ "${MCBRIDGE_SKIP_BUILD:-}" != 1 ]]; then
  bash scripts/build.sh release
fi
bin="$PWD/build/release/mcbridge"

redis_configured=0
[[ -n "${MCBRIDGE_REDIS_URL:-}" || -n "${REDISHOST:-}" ]] && redis_configured=1
listen_given=0
[[ -n "${MCBRIDGE_LISTEN:-}" ]] && listen_given=1
for arg in "$@"; do
  case "$arg" in
    --redis|--redis=*|--redis-host|--redis-host=*|--config|--config=*) redis_configured=1 ;;
    --listen|--listen=*) listen_given=1 ;;
  esac
done

port_in_use() {  # port_in_use PORT: something accepts connections on 127.0.0.1:PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

if ((!listen_given)) && port_in_use 11211; then
  echo "run-local: 127.0.0.1:11211 is already in use (a memcached?); stop it or pass" \
       "--listen 127.0.0.1:<port>" >&2
  exit 1
fi

redis_pid=""
mcbridge_pid=""
workdir=""
cleanup() {
  if [[ -n "$mcbridge_pid" ]] && kill -0 "$mcbridge_pid" 2>/dev/null; then
    kill -TERM "$mcbridge_pid" 2>/dev/null || true
    wait "$mcbridge_pid" 2>/dev/null || true
  fi
  if [[ -n "$redis_pid" ]]; then
    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    echo "run-local: stopped redis-server (pid $redis_pid)" >&2
  fi
  if [[ -n "$workdir" ]]; then rm -rf "$workdir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

redis_args=()
if ((!redis_configured)); then
  redis_port=6379
  if port_in_use "$redis_port"; then
    redis_port="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  fi
  workdir="$(mktemp -d "${TMPDIR:-/tmp}/mcbridge-run.XXXXXX")"
  redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$workdir" --save '' \
    --appendonly no --daemonize no --logfile "$workdir/redis.log" &
  redis_pid=$!
  for _ in $(seq 100); do
    if redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG; then break; fi
    if ! kill -0 "$redis_pid" 2>/dev/null; then
      echo "run-local: redis-server failed to start:" >&2
      cat "$workdir/redis.log" >&2
      redis_pid=""
      exit 1
    fi
    sleep 0.1
  done
  echo "run-local: started redis-server on 127.0.0.1:$redis_port (pid $redis_pid, no persistence)" >&2
  redis_args=(--redis "redis://127.0.0.1:$redis_port")
fi

echo "run-local: starting mcbridge (default listen 127.0.0.1:11211); Ctrl-C to stop" >&2
# In the background + wait, so that a TERM to this script reaches the trap (and mcbridge) at once.
"$bin" "${redis_args[@]}" "$@" &
mcbridge_pid=$!
status=0
wait "$mcbridge_pid" || status=$?
mcbridge_pid=""
exit "$status"
