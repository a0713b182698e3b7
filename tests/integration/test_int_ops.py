"""Operating mcbridge as a production sidecar: graceful shutdown with requests in flight,
--max-connections, bounded memory under abusive clients, signals and start-up errors.

Every test runs its own redis-server + mcbridge on loopback ephemeral ports, killed by the
fixture finalizer whatever happens; every socket read has a timeout."""

import os
import signal
import socket
import subprocess
import threading
import time

import pytest

import servers
from servers import RawConn

VERSION_LINE = b"VERSION 1.6.18\r\n"


class Procs:
    def __init__(self):
        self.all = []

    def add(self, p):
        self.all.append(p)
        return p

    def cleanup(self):
        for p in self.all:
            p.signal(signal.SIGCONT)
        for p in reversed(self.all):
            p.kill()


@pytest.fixture
def procs():
    ps = Procs()
    try:
        yield ps
    finally:
        ps.cleanup()


def _pair(procs, mc_args=(), redis_args=None, threads=2, log_level="info"):
    r = procs.add(servers.start_redis(extra_args=redis_args))
    try:
        m = procs.add(servers.start_mcbridge_url(f"redis://127.0.0.1:{r.port}",
                                                 extra_args=list(mc_args), threads=threads,
                                                 log_level=log_level))
    except servers.ServerStartError as e:
        pytest.fail(f"cannot start mcbridge: {e}", pytrace=False)
    return r, m


def _read_replies_until_eof(c: RawConn, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (or `timeout`)."""
    buf = bytearray(c.pending)
    c.pending = b""
    deadline = time.monotonic() + timeout
    while not c.closed and time.monotonic() < deadline:
        chunk = c._recv(deadline - time.monotonic())
        if chunk:
            buf += chunk
    return bytes(buf)


# --------------------------------------------------------------------------- graceful shutdown

def test_sigterm_drains_in_flight_requests_then_exits_zero(procs):
    """Redis stalled (SIGSTOP) so that requests are pending in mcbridge; SIGTERM; Redis
    resumes before the drain timeout: every pending request gets its real reply, then the
    connection is closed and mcbridge exits 0."""
    r, m = _pair(procs, ["--request-timeout", "3000", "--drain-timeout", "4000"])
    c = RawConn(m.port, timeout=10)
    n = 200
    c.send(b"".join(b"set d%d 0 0 %d\r\n%d\r\n" % (i, len(str(i)), i) for i in range(n)))
    assert c.read_until(b"\r\n", n, timeout=10) == b"STORED\r\n" * n
    r.signal(signal.SIGSTOP)
    c.send(b"".join(b"get d%d\r\n" % i for i in range(n)))
    time.sleep(0.3)                           # mcbridge has read and forwarded them
    t_term = time.monotonic()
    m.signal(signal.SIGTERM)
    time.sleep(0.5)
    assert m.alive(), "mcbridge exited with requests in flight:\n" + m.log_text()
    # a new connection is not served any more while draining
    with pytest.raises(OSError):
        late = RawConn(m.port, timeout=1)
        late.send(b"version\r\n")
        if not late.read_idle(idle=0.3, cap=1.0):
            raise ConnectionError("not served")
        raise AssertionError("a new connection was served while draining")
    r.signal(signal.SIGCONT)
    got = _read_replies_until_eof(c, timeout=6)
    expected = b"".join(b"VALUE d%d 0 %d\r\n%d\r\nEND\r\n" % (i, len(str(i)), i)
                        for i in range(n))
    assert got == expected, (len(got), len(expected), got[-200:])
    assert c.closed in ("EOF", "RST"), "connection not closed after the drain"
    rc = m.wait(6)
    took = time.monotonic() - t_term
    assert rc == 0, f"exit status {rc}\n{m.log_text()}"
    assert took < 4.0 + 2.0, took


def test_sigterm_with_redis_stalled_past_drain_timeout(procs):
    """Redis stays stopped: pending requests are answered SERVER_ERROR (request timeout
    shorter than the drain timeout), then close, exit 0 within drain timeout + margin."""
    r, m = _pair(procs, ["--request-timeout", "300", "--drain-timeout", "1500"])
    c = RawConn(m.port, timeout=10)
    r.signal(signal.SIGSTOP)
    n = 50
    c.send(b"".join(b"get s%d\r\n" % i for i in range(n)))
    time.sleep(0.05)
    t_term = time.monotonic()
    m.signal(signal.SIGTERM)
    got = _read_replies_until_eof(c, timeout=5)
    lines = got.split(b"\r\n")
    assert got.endswith(b"\r\n") and len(lines) - 1 == n, got[:300]
    assert all(ln.startswith(b"SERVER_ERROR ") for ln in lines[:-1]), got[:300]
    rc = m.wait(5)
    assert rc == 0, f"exit status {rc}\n{m.log_text()}"
    assert time.monotonic() - t_term < 1.5 + 2.0


def test_sigterm_drain_timeout_shorter_than_request_timeout(procs):
    """Redis stopped, --drain-timeout (500 ms) shorter than --request-timeout (5 s): at the
    drain deadline every pending request is answered SERVER_ERROR before the connection is
    closed (a client must never be left guessing whether a request was served), and
    mcbridge exits 0 well before the request timeout."""
    r, m = _pair(procs, ["--request-timeout", "5000", "--drain-timeout", "500"])
    c = RawConn(m.port, timeout=10)
    c.send(b"set x 0 0 1\r\n1\r\n")
    assert c.read_line() == b"STORED\r\n"
    r.signal(signal.SIGSTOP)
    n = 20
    c.send(b"".join(b"get s%d\r\n" % i for i in range(n)))
    time.sleep(0.2)
    t_term = time.monotonic()
    m.signal(signal.SIGTERM)
    rc = m.wait(4)
    took = time.monotonic() - t_term
    got = _read_replies_until_eof(c, timeout=2)
    assert rc == 0, f"exit status {rc} ({took:.2f}s)\n{m.log_text()}"
    assert took < 0.5 + 2.0, took
    lines = got.split(b"\r\n")
    assert len(lines) - 1 == n and all(ln.startswith(b"SERVER_ERROR ") for ln in lines[:-1]), \
        f"after the drain deadline the client got {got[:200]!r} ({len(got)} bytes) for {n} " \
        f"pending gets, then {c.closed}"


def test_sigterm_during_big_pipelined_batch(procs):
    """SIGTERM while a large pipelined batch is being processed: the client receives a
    well-formed prefix of the expected replies (never a torn reply), then EOF; exit 0."""
    r, m = _pair(procs, ["--drain-timeout", "3000"])
    c = RawConn(m.port, timeout=20)
    n = 20000
    batch = b"".join(b"set b%d 0 0 %d\r\n%d\r\nget b%d\r\n" % (i, len(str(i)), i, i)
                     for i in range(n))
    sender = threading.Thread(target=lambda: _send_ignoring_errors(c.sock, batch), daemon=True)
    sender.start()
    time.sleep(0.15)
    m.signal(signal.SIGTERM)
    got = _read_replies_until_eof(c, timeout=8)
    sender.join(5)
    expected = b"".join(b"STORED\r\nVALUE b%d 0 %d\r\n%d\r\nEND\r\n" % (i, len(str(i)), i)
                        for i in range(n))
    assert expected.startswith(got), f"torn/wrong reply at byte {_diff_at(got, expected)}"
    assert c.closed, "connection not closed"
    rc = m.wait(6)
    assert rc == 0, f"exit status {rc}\n{m.log_text()}"


def _send_ignoring_errors(sock, data):
    try:
        sock.sendall(data)
    except OSError:
        pass


def _diff_at(a: bytes, b: bytes) -> int:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_exit_zero_under_load(procs, sig):
    r, m = _pair(procs)
    with servers.ClientLoad(m.port, threads=2) as load:
        time.sleep(0.5)
        m.signal(sig)
        rc = m.wait(8)
    assert rc == 0, f"exit status {rc} on {sig!r}\n{m.log_text()}"
    assert servers.ClientLoad.outcomes(load.records).get("ok", 0) > 10
    assert not [rec for rec in load.records if rec[4] in ("bad", "stale", "timeout")]
    assert not servers.port_accepts(m.port)


# --------------------------------------------------------------------------- max connections

def test_max_connections_rejects_the_next_one_and_counts_it(procs):
    limit = 5
    r, m = _pair(procs, ["--max-connections", str(limit)])
    # connections closed by the client (the start-up probe's) count until mcbridge has seen
    # the close: wait, over the first connection, until it is the only one counted
    first = RawConn(m.port)

    def only_me():
        raw = first.request(b"stats\r\n", lines=1)
        raw += first.read_until(b"END\r\n", timeout=5)
        return b"STAT curr_connections 1\r\n" in raw
    assert servers.wait_for(only_me, 5, 0.05)
    conns = [first] + [RawConn(m.port) for _ in range(limit - 1)]
    for c in conns:
        assert c.request(b"version\r\n") == VERSION_LINE
    extra = RawConn(m.port)
    got = _read_replies_until_eof(extra, timeout=3)
    assert got == b"ERROR Too many open connections\r\n", got
    assert extra.closed in ("EOF", "RST")
    extra.close()
    # the accepted ones are unaffected
    for c in conns:
        assert c.request(b"set k 0 0 1\r\nx\r\n") == b"STORED\r\n"
    # one closes: a new one fits again, and stats shows the rejection
    conns.pop().close()
    time.sleep(0.2)
    again = RawConn(m.port)
    st_raw = again.request(b"stats\r\n", lines=1)
    st_raw += again.read_until(b"END\r\n", timeout=5)
    stats = dict(ln.split(" ", 2)[1:] for ln in st_raw.decode().split("\r\n")
                 if ln.startswith("STAT "))
    assert stats["rejected_connections"] == "1", stats.get("rejected_connections")
    assert stats["max_connections"] == str(limit)
    assert int(stats["curr_connections"]) == limit
    for c in conns + [again]:
        c.close()
    assert m.alive()


# --------------------------------------------------------------------------- memory bound

RSS_GROWTH_LIMIT_KB = 200 * 1024


def _responsive(port: int) -> float:
    t0 = time.monotonic()
    with RawConn(port, timeout=3) as c:
        c.send(b"set alive 0 0 2\r\nok\r\nget alive\r\n")
        assert c.read_until(b"END\r\n", timeout=3) == \
            b"STORED\r\nVALUE alive 0 2\r\nok\r\nEND\r\n"
    return time.monotonic() - t0


def test_pipelined_gets_without_reading_replies_bounded_memory(procs):
    r, m = _pair(procs)
    big = b"z" * 4000
    with RawConn(m.port, timeout=10) as c:
        c.send(b"set big 0 0 %d\r\n%s\r\n" % (len(big), big))
        assert c.read_line() == b"STORED\r\n"
    base = servers.vm_rss_kb(m.pid)
    hog = socket.create_connection(("127.0.0.1", m.port), timeout=5)
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    n, sent, peak = 200_000, 0, base
    chunk = b"get big\r\n" * 1000
    hog.settimeout(0.5)
    deadline = time.monotonic() + 30
    while sent < n and time.monotonic() < deadline:
        try:
            sent += hog.send(chunk) // len(b"get big\r\n")
        except socket.timeout:
            # mcbridge stopped reading (backpressure): the right answer to a non-reader
            break
        peak = max(peak, servers.vm_rss_kb(m.pid))
    for _ in range(10):
        peak = max(peak, servers.vm_rss_kb(m.pid))
        time.sleep(0.1)
    assert m.alive(), m.log_text()
    took = _responsive(m.port)
    print(f"unread gets: sent {sent}, RSS {base // 1024} -> peak {peak // 1024} MB, "
          f"other client served in {took:.3f}s")
    assert took < 2.0, f"another client waited {took:.2f}s"
    assert peak - base < RSS_GROWTH_LIMIT_KB, \
        f"RSS grew {(peak - base) // 1024} MB after {sent} unread gets of 4 KB"
    hog.close()
    time.sleep(0.3)
    assert _responsive(m.port) < 2.0


@pytest.mark.parametrize("newlines", [False, True], ids=["no-newlines", "with-newlines"])
def test_100mb_garbage_stream_bounded_memory(procs, newlines):
    r, m = _pair(procs)
    base = servers.vm_rss_kb(m.pid)
    rng_block = os.urandom(1 << 20)
    if newlines:
        block = rng_block.replace(b"\n", b"x")
        block = b"\r\n".join(block[i:i + 100] for i in range(0, len(block), 100))
    else:
        block = rng_block.replace(b"\n", b"x")
    peak, sent, outcome = base, 0, "sent all"
    g = socket.create_connection(("127.0.0.1", m.port), timeout=5)
    g.settimeout(2.0)

    def drain_replies():
        try:
            while g.recv(1 << 20):
                pass
        except OSError:
            pass
    reader = threading.Thread(target=drain_replies, daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    try:
        while sent < 100 * (1 << 20) and time.monotonic() < deadline:
            g.sendall(block)
            sent += len(block)
            peak = max(peak, servers.vm_rss_kb(m.pid))
    except socket.timeout:
        outcome = "mcbridge stopped reading"
    except OSError as e:
        outcome = f"closed by mcbridge ({e!r})"
    assert m.alive(), m.log_text()
    took = _responsive(m.port)
    peak = max(peak, servers.vm_rss_kb(m.pid))
    g.close()
    reader.join(5)
    print(f"garbage newlines={newlines}: sent {sent >> 20} MB, {outcome}, RSS {base // 1024} -> "
          f"peak {peak // 1024} MB, other client served in {took:.3f}s")
    assert peak - base < RSS_GROWTH_LIMIT_KB, \
        f"RSS grew {(peak - base) // 1024} MB ({sent >> 20} MB of garbage, {outcome})"
    assert took < 2.0, f"another client waited {took:.2f}s"
    assert m.alive()
    assert m.stop() == 0


# --------------------------------------------------------------------------- start-up errors

@pytest.mark.parametrize("args,needle", [
    (["--listen", "127.0.0.1:99999"], "--listen"),
    (["--listen", "nonsense"], "--listen"),
    (["--redis", "http://127.0.0.1:6379"], "--redis"),
    (["--redis", "redis://127.0.0.1:notaport"], "--redis"),
    (["--redis-password-file", "/nonexistent/redis-auth"], "--redis-password-file"),
])
def test_config_error_exits_nonzero_with_one_clear_line(args, needle):
    p = servers.run_mcbridge(["--listen", f"127.0.0.1:{servers.free_port()}"] + args, timeout=10)
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode != 0, (p.returncode, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("mcbridge: ") and needle in lines[0], lines[0]
    assert p.stdout == b""


def test_unreadable_password_file_exits_nonzero(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    f = tmp_path / "auth"
    f.write_text("pw")
    os.chmod(f, 0)
    p = servers.run_mcbridge(["--redis-password-file", str(f)], timeout=10)
    err = p.stderr.decode()
    assert p.returncode != 0 and len(err.strip().splitlines()) == 1, err
    assert str(f) in err


def test_password_file_is_a_directory_exits_nonzero(tmp_path):
    """A directory passes access(R_OK) (e.g. a Kubernetes Secret mounted at the path
    meant for its key): must still be a one-line start-up error, not a running daemon
    that AUTHs with an empty password."""
    try:
        p = servers.run_mcbridge(["--listen", f"127.0.0.1:{servers.free_port()}",
                                  "--redis-password-file", str(tmp_path)], timeout=5)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"mcbridge started and kept running with a directory as password file "
                    f"(stderr: {(e.stderr or b'').decode()!r})", pytrace=False)
    err = p.stderr.decode()
    assert p.returncode != 0, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(tmp_path) in lines[0], err


def test_listen_port_in_use_exits_nonzero(procs):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        p = servers.run_mcbridge(["--listen", f"127.0.0.1:{port}"], timeout=10)
    err = p.stderr.decode()
    assert p.returncode != 0, err
    assert str(port) in err and len([ln for ln in err.splitlines() if "mcbridge" in ln]) >= 1


# --------------------------------------------------------------------------- admin endpoint

def _http_get(port: int, path: str, timeout: float = 3.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        s.settimeout(timeout)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def test_admin_probes_follow_redis(procs):
    """/healthz: the process is alive (200 even with Redis down, so Kubernetes does not
    restart the sidecar for a Memorystore failover); /readyz: 200 with Redis, non-200
    without; /metrics is Prometheus text. These are the paths deploy/ probes use."""
    admin = servers.free_port()
    r, m = _pair(procs, ["--admin", f"127.0.0.1:{admin}", "--request-timeout", "300"])
    assert servers.wait_for(lambda: servers.port_accepts(admin), 5), m.log_text()
    assert servers.wait_for(lambda: _http_get(admin, "/readyz")[0] == 200, 5)
    assert _http_get(admin, "/healthz")[0] == 200
    code, body = _http_get(admin, "/metrics")
    assert code == 200 and b"# TYPE" in body
    r.kill()
    assert servers.wait_for(lambda: _http_get(admin, "/readyz")[0] != 200, 5), \
        "/readyz still 200 five seconds after Redis died"
    assert _http_get(admin, "/healthz")[0] == 200
    r2 = procs.add(servers.start_redis(port=r.port))
    assert servers.wait_for(lambda: _http_get(admin, "/readyz")[0] == 200, 5), r2
    m.signal(signal.SIGTERM)
    assert m.wait(10) == 0
