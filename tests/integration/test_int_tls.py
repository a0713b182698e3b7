"""TLS to Redis end to end (Memorystore in-transit encryption): a throw-away CA and server
certificate made with the openssl CLI, redis-server serving TLS only with requirepass,
mcbridge with rediss:// and --redis-ca-file. Everything on loopback ephemeral ports."""

import signal
import time

import pytest

import servers
from servers import RawConn

PW = "tls-pw"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    good = servers.make_tls_certs(d / "good")
    other = servers.make_tls_certs(d / "other", name="other")      # an unrelated CA
    wrong_name = servers.make_tls_certs(d / "wrongname", sans="DNS:redis.example.com",
                                        name="wrongname")
    return {"good": good, "other": other, "wrong_name": wrong_name}


class Procs(list):
    def cleanup(self):
        for p in reversed(self):
            p.kill()


@pytest.fixture
def procs():
    ps = Procs()
    try:
        yield ps
    finally:
        ps.cleanup()


def _stack(procs, server_certs, ca_file, url_host="127.0.0.1", extra=()):
    r = servers.start_redis_tls(server_certs, extra_args=["--requirepass", PW])
    procs.append(r)
    try:
        m = servers.start_mcbridge_url(
            f"rediss://:{PW}@{url_host}:{r.port}",
            extra_args=["--redis-ca-file", str(ca_file), "--request-timeout", "500",
                        *extra], threads=2, log_level="info")
    except servers.ServerStartError as e:
        pytest.fail(f"cannot start mcbridge: {e}", pytrace=False)
    procs.append(m)
    return r, m


def _wait_stored(port, timeout=5.0):
    c = RawConn(port, timeout=5)
    last = [b""]

    def attempt():
        c.send(b"set tk 7 0 5\r\nhello\r\n")
        last[0] = c.read_line(timeout=5)
        return last[0] == b"STORED\r\n"
    ok = servers.wait_for(attempt, timeout=timeout, interval=0.1)
    return c, ok, last[0]


def _redis_tls_dbsize(r, certs):
    """Check the value really went to the TLS Redis (openssl s_client is overkill: use
    redis-cli if it speaks TLS, else skip the check)."""
    import shutil
    import subprocess
    cli = shutil.which("redis-cli")
    if not cli:
        return None
    p = subprocess.run([cli, "-p", str(r.port), "--tls", "--cacert", str(certs["ca"]),
                        "-a", PW, "--no-auth-warning", "GET", "tk"],
                       capture_output=True, timeout=10)
    return p


def test_tls_round_trip(procs, certs):
    r, m = _stack(procs, certs["good"], certs["good"]["ca"])
    c, ok, last = _wait_stored(m.port)
    assert ok, f"set over TLS never STORED (last {last!r})\n{m.log_text()}"
    c.send(b"get tk\r\n")
    assert c.read_get_reply() == b"VALUE tk 7 5\r\nhello\r\nEND\r\n"
    # a bigger value crosses several TLS records both ways
    v = bytes(range(256)) * 2000        # ~500 KB
    c.send(b"set big 0 0 %d\r\n%s\r\nget big\r\n" % (len(v), v))
    assert c.read_line(timeout=10) == b"STORED\r\n"
    assert c.read_get_reply(timeout=10) == b"VALUE big 0 %d\r\n%s\r\nEND\r\n" % (len(v), v)
    # pipelined load over TLS
    n = 2000
    c.send(b"".join(b"set p%d 0 0 %d\r\n%d\r\n" % (i, len(str(i)), i) for i in range(n)))
    assert c.read_until(b"\r\n", n, timeout=20) == b"STORED\r\n" * n
    p = _redis_tls_dbsize(r, certs["good"])
    if p is not None and p.returncode == 0:
        assert p.stdout.startswith(b"\xfb\x01"), p.stdout[:40]
    log = m.log_text(20000)
    assert "TLS" in log, log                  # "redis #N ...: connected (TLS)"
    assert PW not in log
    c.close()
    m.signal(signal.SIGTERM)
    assert m.wait(10) == 0


def test_tls_localhost_name_matches_san(procs, certs):
    r, m = _stack(procs, certs["good"], certs["good"]["ca"], url_host="localhost")
    _, ok, last = _wait_stored(m.port)
    assert ok, f"{last!r}\n{m.log_text()}"


def _assert_verification_failure(m, what):
    c = RawConn(m.port, timeout=5)
    for req in [b"get tk\r\n", b"set tk 0 0 1\r\nx\r\n"]:
        t0 = time.monotonic()
        c.send(req)
        line = c.read_line(timeout=5)
        assert line.startswith(b"SERVER_ERROR "), (what, req, line)
        assert time.monotonic() - t0 < 3.0
    log = servers.wait_for(lambda: "certificate" in m.log_text(20000).lower()
                           and m.log_text(20000), 3)
    assert log, f"no certificate verification line in the log ({what}):\n{m.log_text()}"
    lines = [ln for ln in log.splitlines() if "certificate" in ln.lower()]
    assert any("verif" in ln.lower() for ln in lines), lines
    assert m.alive()
    return lines


def test_tls_wrong_ca_server_error_and_clear_log(procs, certs):
    r, m = _stack(procs, certs["good"], certs["other"]["ca"])
    lines = _assert_verification_failure(m, "wrong CA")
    # OpenSSL's reason for an unknown issuer
    assert any("unable to get local issuer certificate" in ln or
               "self-signed" in ln or "self signed" in ln for ln in lines), lines
    m.signal(signal.SIGTERM)
    assert m.wait(10) == 0


def test_tls_certificate_name_mismatch(procs, certs):
    r, m = _stack(procs, certs["wrong_name"], certs["wrong_name"]["ca"])
    lines = _assert_verification_failure(m, "name mismatch")
    assert any("mismatch" in ln.lower() or "hostname" in ln.lower() or "ip address" in ln.lower()
               for ln in lines), lines


def test_tls_server_name_option_fixes_mismatch(procs, certs):
    r, m = _stack(procs, certs["wrong_name"], certs["wrong_name"]["ca"],
                  extra=["--redis-tls-server-name", "redis.example.com"])
    _, ok, last = _wait_stored(m.port)
    assert ok, f"{last!r}\n{m.log_text()}"


def test_tls_insecure_skips_verification(procs, certs):
    r = servers.start_redis_tls(certs["good"], extra_args=["--requirepass", PW])
    procs.append(r)
    m = servers.start_mcbridge_url(f"rediss://:{PW}@127.0.0.1:{r.port}",
                                   extra_args=["--redis-tls-insecure"], threads=1)
    procs.append(m)
    _, ok, last = _wait_stored(m.port)
    assert ok, f"{last!r}\n{m.log_text()}"


def test_plain_redis_url_against_tls_port_fails_cleanly(procs, certs):
    r = servers.start_redis_tls(certs["good"], extra_args=["--requirepass", PW])
    procs.append(r)
    m = servers.start_mcbridge_url(f"redis://:{PW}@127.0.0.1:{r.port}",
                                   extra_args=["--request-timeout", "300",
                                               "--connect-timeout", "500"], threads=1)
    procs.append(m)
    c = RawConn(m.port, timeout=5)
    c.send(b"get k\r\n")
    assert c.read_line(timeout=5).startswith(b"SERVER_ERROR ")
    assert m.alive()


def test_tls_redis_restart_reconnects(procs, certs):
    r, m = _stack(procs, certs["good"], certs["good"]["ca"])
    c, ok, _ = _wait_stored(m.port)
    assert ok
    port = r.port
    r.kill()
    c.send(b"get tk\r\n")
    assert c.read_line(timeout=5).startswith(b"SERVER_ERROR")
    r2 = servers.start_redis_tls(certs["good"], extra_args=["--requirepass", PW], port=port)
    procs.append(r2)
    c2, ok, last = _wait_stored(m.port, timeout=6)
    assert ok, f"{last!r}\n{m.log_text()}"
