# Shell helpers shared by the bench scripts (sourced, not run).

# Prints a free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits up to 30 s for something to listen on 127.0.0.1:PORT.
wait_port() {
  for _ in $(seq 300); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$(basename "$0"): nothing listening on $1" >&2
  return 1
}

# Makes $TMP (removed on exit) and kills every pid in PIDS on exit, whatever happens.
# Usage: start_scratch NAME, then PIDS+=("$pid") for each server started.
start_scratch() {
  TMP="$(mktemp -d "/tmp/mcbridge-$1.XXXXXX")"
  PIDS=()
  trap _bench_cleanup EXIT
}
_bench_cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
