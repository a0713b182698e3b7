"""The admin endpoint probed the way operators and Kubernetes do: with curl.

/healthz says the process lives, /readyz follows Redis (wrong AUTH, a stalled Redis), and
/metrics is Prometheus text whose counters move with the traffic."""
from __future__ import annotations

import re
import shutil
import signal
import subprocess

import pytest

import servers
from servers import RawConn

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")


@pytest.fixture
def procs():
    started = []
    yield started
    for p in started:
        p.signal(signal.SIGCONT)
    for p in reversed(started):
        p.kill()


def curl(port: int, path: str) -> tuple[int, str]:
    out = subprocess.run(
        ["curl", "-s", "-m", "3", "-o", "-", "-w", "\n%{http_code}", f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, timeout=10)
    body, _, code = out.stdout.rpartition("\n")
    return int(code or 0), body


def start(procs, redis_url: str, extra=()):
    admin = servers.free_port()
    m = servers.start_mcbridge_url(redis_url, extra_args=["--admin", f"127.0.0.1:{admin}",
                                                          "--request-timeout", "300", *extra])
    procs.append(m)
    assert servers.wait_for(lambda: servers.port_accepts(admin), 5), m.log_text()
    return m, admin


def metric(body: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name + (("{" + labels + "}") if labels else "")) + r" (\S+)"
    m = re.search(r"^" + pattern + r"$", body, re.M)
    assert m, f"{name}{labels} missing from /metrics"
    return float(m.group(1))


def test_metrics_count_requests_hits_and_redis_latency(procs):
    r = servers.start_redis()
    procs.append(r)
    m, admin = start(procs, f"redis://127.0.0.1:{r.port}")
    assert servers.wait_for(lambda: curl(admin, "/readyz")[0] == 200, 5), m.log_text()
    code, before = curl(admin, "/metrics")
    assert code == 200
    c = RawConn(m.port)
    assert c.request(b"set k 0 0 1\r\nx\r\n") == b"STORED\r\n"
    assert c.request(b"get k\r\n", lines=3) == b"VALUE k 0 1\r\nx\r\nEND\r\n"
    assert c.request(b"get nope\r\n") == b"END\r\n"
    c.close()
    code, after = curl(admin, "/metrics")
    assert code == 200
    assert "# TYPE mcbridge_requests_total counter" in after
    assert metric(after, "mcbridge_requests_total", 'command="get"') - \
        metric(before, "mcbridge_requests_total", 'command="get"') == 2
    assert metric(after, "mcbridge_requests_total", 'command="set"') - \
        metric(before, "mcbridge_requests_total", 'command="set"') == 1
    assert metric(after, "mcbridge_get_hits_total") - metric(before, "mcbridge_get_hits_total") == 1
    assert metric(after, "mcbridge_get_misses_total") - \
        metric(before, "mcbridge_get_misses_total") == 1
    assert metric(after, "mcbridge_backend_up") == 1
    # The histogram is cumulative and ends at +Inf == _count.
    buckets = [float(v) for v in re.findall(
        r'^mcbridge_redis_latency_seconds_bucket\{le="[^"]+"\} (\S+)$', after, re.M)]
    assert buckets == sorted(buckets) and len(buckets) >= 2
    assert buckets[-1] == metric(after, "mcbridge_redis_latency_seconds_count") > 0
    assert curl(admin, "/healthz") == (200, "ok\n")


def test_wrong_password_keeps_readiness_false(procs):
    r = servers.start_redis(extra_args=["--requirepass", "right"])
    procs.append(r)
    m, admin = start(procs, f"redis://:wrong@127.0.0.1:{r.port}")
    assert servers.wait_for(lambda: "AUTH failed" in m.log_text(), 5), m.log_text()
    for _ in range(3):
        assert curl(admin, "/readyz")[0] == 503
    assert curl(admin, "/healthz")[0] == 200
    assert "wrong" not in m.log_text()  # the password itself is never logged
    code, body = curl(admin, "/metrics")
    assert code == 200 and metric(body, "mcbridge_backend_up") == 0


def test_password_from_environment_variable(procs, monkeypatch):
    r = servers.start_redis(extra_args=["--requirepass", "s3cret"])
    procs.append(r)
    monkeypatch.setenv("MCBRIDGE_REDIS_PASSWORD", "s3cret")
    m, admin = start(procs, f"redis://127.0.0.1:{r.port}")
    assert servers.wait_for(lambda: curl(admin, "/readyz")[0] == 200, 5), m.log_text()
    c = RawConn(m.port)
    assert c.request(b"set k 0 0 1\r\nx\r\n") == b"STORED\r\n"
    c.close()


def test_stalled_redis_turns_readiness_off_without_traffic(procs):
    r = servers.start_redis()
    procs.append(r)
    m, admin = start(procs, f"redis://127.0.0.1:{r.port}")
    assert servers.wait_for(lambda: curl(admin, "/readyz")[0] == 200, 5), m.log_text()
    r.signal(signal.SIGSTOP)
    # The once-a-second health PING times out (300 ms): not ready within a few seconds.
    assert servers.wait_for(lambda: curl(admin, "/readyz")[0] == 503, 5)
    r.signal(signal.SIGCONT)
    assert servers.wait_for(lambda: curl(admin, "/readyz")[0] == 200, 5)
