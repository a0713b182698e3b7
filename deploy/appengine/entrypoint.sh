#!/bin/bash
# A tiny supervisor for an App Engine flexible custom runtime: runs mcbridge and the app in one
# container, forwards SIGTERM to both, and exits (so that App Engine replaces the instance) as
# soon as either of them dies. Usage (the image's ENTRYPOINT):
#   entrypoint.sh <app command...>      e.g. entrypoint.sh gunicorn -b :8080 main:app
# mcbridge reads REDISHOST/REDISPORT and MCBRIDGE_* from app.yaml's env_variables.
set -u

/usr/local/bin/mcbridge --listen 127.0.0.1:11211 --admin 127.0.0.1:9100 &
mcbridge_pid=$!

# Start the app once mcbridge listens (at most ~10 s), so its first cache calls succeed.
for _ in $(seq 100); do
  if (exec 3<>/dev/tcp/127.0.0.1/11211) 2>/dev/null; then break; fi
  if ! kill -0 "$mcbridge_pid" 2>/dev/null; then
    wait "$mcbridge_pid"
    exit $?
  fi
  sleep 0.1
done

"$@" &
app_pid=$!

stop() {
  kill -TERM "$app_pid" 2>/dev/null
  wait "$app_pid"
  # The app is gone: let mcbridge answer what is still in flight (--drain-timeout), then stop.
  kill -TERM "$mcbridge_pid" 2>/dev/null
  wait "$mcbridge_pid"
  exit 0
}
trap stop TERM INT

wait -n "$app_pid" "$mcbridge_pid"
status=$?
kill -TERM "$app_pid" "$mcbridge_pid" 2>/dev/null
wait
exit "$status"
