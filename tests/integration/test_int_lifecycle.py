"""Process-level behaviour: backend failure, shutdown, start-up options. Each test runs its
own redis + mcbridge pair, so killing them does not disturb other tests."""

import signal
import socket
import struct
import time

import pytest

import servers
from servers import RawConn, resp


def _start_pair(redis_args=None, **kw):
    r = servers.start_redis(extra_args=redis_args)
    try:
        m = servers.start_mcbridge(r.port, **kw)
    except servers.ServerStartError as e:
        r.stop()
        pytest.fail(f"cannot start mcbridge: {e}", pytrace=False)
    return r, m


@pytest.fixture
def pair(request):
    r, m = _start_pair()
    try:
        yield r, m
    finally:
        m.kill()
        r.kill()


def _timed_line(c: RawConn, data: bytes, limit: float = 2.5):
    t0 = time.monotonic()
    c.send(data)
    line = c.read_line(timeout=limit + 3)
    return line, time.monotonic() - t0


def test_redis_down_answers_server_error_promptly(pair):
    r, m = pair
    c = RawConn(m.port)
    c.send(b"set k 0 0 1\r\nx\r\n")
    assert c.read_line() == b"STORED\r\n"
    r.kill()
    for req in [b"get k\r\n", b"set k 0 0 1\r\ny\r\n", b"incr k 1\r\n", b"delete k\r\n",
                b"gets k j\r\n", b"touch k 10\r\n", b"append k 0 0 1\r\nz\r\n"]:
        line, took = _timed_line(c, req)
        assert line.startswith(b"SERVER_ERROR"), (req, line)
        assert took < 2.5, (req, took)
    # the connection is still usable and in sync; version does not need Redis
    assert c.request(b"version\r\n") == b"VERSION 1.6.18\r\n"
    # a brand-new client connection is served too
    c2 = RawConn(m.port)
    line, took = _timed_line(c2, b"get k\r\n")
    assert line.startswith(b"SERVER_ERROR") and took < 2.5
    # noreply commands stay silent even on backend failure
    c2.send(b"set k 0 0 1 noreply\r\nx\r\nversion\r\n")
    assert c2.read_line(timeout=5) == b"VERSION 1.6.18\r\n"
    c.close()
    c2.close()
    assert m.alive(), "mcbridge died when Redis went away:\n" + m.log_text()


def test_pipelined_requests_during_outage_all_answered(pair):
    r, m = pair
    c = RawConn(m.port)
    r.kill()
    t0 = time.monotonic()
    c.send(b"get a\r\nget b\r\nset c 0 0 1\r\nx\r\nversion\r\n")
    out = c.read_until(b"\r\n", 4, timeout=8)
    lines = out.split(b"\r\n")[:4]
    assert all(ln.startswith(b"SERVER_ERROR") for ln in lines[:3]), out
    assert lines[3] == b"VERSION 1.6.18"
    assert time.monotonic() - t0 < 5


def test_reconnects_after_redis_restart(pair):
    r, m = pair
    port = r.port
    c = RawConn(m.port)
    r.kill()
    line, _ = _timed_line(c, b"get k\r\n")
    assert line.startswith(b"SERVER_ERROR")
    r2 = servers.start_redis(port=port)
    try:
        deadline = time.monotonic() + 10
        last = None
        while time.monotonic() < deadline:
            last = c.request(b"set k 0 0 1\r\nx\r\n", timeout=5)
            if last == b"STORED\r\n":
                break
            time.sleep(0.2)
        assert last == b"STORED\r\n", last
        c.send(b"get k\r\n")
        assert c.read_get_reply() == b"VALUE k 0 1\r\nx\r\nEND\r\n"
    finally:
        r2.kill()


def test_sigterm_exits_zero(pair):
    r, m = pair
    idle = RawConn(m.port)          # an idle client must not block shutdown
    busy = RawConn(m.port)
    busy.send(b"set k 0 0 1\r\nx\r\n")
    assert busy.read_line() == b"STORED\r\n"
    m.signal(signal.SIGTERM)
    rc = m.wait(15)
    assert rc == 0, f"exit status {rc}\n{m.log_text()}"
    idle.close()
    busy.close()
    # the listening port is closed
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", m.port), timeout=1).close()


def test_sigterm_exits_zero_with_redis_down(pair):
    r, m = pair
    r.kill()
    c = RawConn(m.port)
    c.send(b"get k\r\n")
    c.read_line(timeout=5)
    m.signal(signal.SIGTERM)
    assert m.wait(15) == 0


def test_key_prefix_namespaces_redis_keys():
    r, m = _start_pair(key_prefix="app1:")
    try:
        c = RawConn(m.port)
        c.send(b"set k 3 0 2\r\nhi\r\n")
        assert c.read_line() == b"STORED\r\n"
        raw = resp(r.port, "GET", "app1:k")
        assert raw is not None and raw[:2] == b"\xfb\x01" and raw[14:] == b"hi"
        assert struct.unpack(">I", raw[2:6])[0] == 3
        assert resp(r.port, "EXISTS", "k") == 0
        # a key outside the namespace is invisible and survives flush_all
        resp(r.port, "SET", "other", "zz")
        resp(r.port, "SET", "k", "unprefixed")
        c.send(b"get other\r\n")
        assert c.read_get_reply() == b"END\r\n"
        c.send(b"set k2 0 0 1\r\nx\r\n")
        assert c.read_line() == b"STORED\r\n"
        assert c.request(b"flush_all\r\n") == b"OK\r\n"
        c.send(b"get k k2\r\n")
        assert c.read_get_reply() == b"END\r\n"
        assert resp(r.port, "GET", "other") == b"zz"
        assert resp(r.port, "GET", "k") == b"unprefixed"
        assert resp(r.port, "EXISTS", "app1:k", "app1:k2") == 0
    finally:
        m.kill()
        r.kill()


def test_flush_all_deny():
    r, m = _start_pair(extra_args=["--flush-all", "deny"])
    try:
        c = RawConn(m.port)
        c.send(b"set k 0 0 1\r\nx\r\n")
        assert c.read_line() == b"STORED\r\n"
        assert c.request(b"flush_all\r\n") == b"CLIENT_ERROR flush_all not allowed\r\n"
        c.send(b"flush_all noreply\r\nget k\r\n")
        assert c.read_get_reply() == b"VALUE k 0 1\r\nx\r\nEND\r\n"
        assert resp(r.port, "EXISTS", "k") == 1
    finally:
        m.kill()
        r.kill()


def test_item_size_max_option():
    limit = 64 * 1024
    r, m = _start_pair(extra_args=["--item-size-max", str(limit)])
    try:
        c = RawConn(m.port)
        ok = b"y" * (limit // 2)
        c.send(b"set k 0 0 %d\r\n" % len(ok) + ok + b"\r\n")
        assert c.read_line() == b"STORED\r\n"
        big = b"x" * (limit + 1)
        c.send(b"set k 0 0 %d\r\n" % len(big) + big + b"\r\nversion\r\n")
        assert c.read_until(b"\r\n", 2, timeout=5) == \
            b"SERVER_ERROR object too large for cache\r\nVERSION 1.6.18\r\n"
        c.send(b"get k\r\n")
        assert c.read_get_reply() == b"END\r\n"
        # above the default-limit too, still swallowed
        big = b"x" * (1024 * 1024 + 10)
        c.send(b"add k 0 0 %d\r\n" % len(big) + big + b"\r\nversion\r\n")
        assert c.read_until(b"\r\n", 2, timeout=10) == \
            b"SERVER_ERROR object too large for cache\r\nVERSION 1.6.18\r\n"
    finally:
        m.kill()
        r.kill()


def test_many_concurrent_clients(pair):
    r, m = pair
    conns = [RawConn(m.port) for _ in range(50)]
    for i, c in enumerate(conns):
        c.send(b"set c%d %d 0 1\r\nx\r\nget c%d\r\n" % (i, i, i))
    for i, c in enumerate(conns):
        assert c.read_until(b"END\r\n") == b"STORED\r\nVALUE c%d %d 1\r\nx\r\nEND\r\n" % (i, i)
        c.close()


@pytest.fixture
def debug_pair():
    r, m = _start_pair(redis_args=["--enable-debug-command", "yes"])
    try:
        yield r, m
    finally:
        m.kill()
        r.kill()


def test_redis_stall_times_out_and_stream_stays_in_sync(debug_pair):
    """Redis blocked (DEBUG SLEEP) longer than the request timeout: mcbridge answers
    SERVER_ERROR within a bounded time, and the late Redis replies must not be handed to
    later requests (every later reply matches its own request)."""
    r, m = debug_pair
    c = RawConn(m.port)
    c.send(b"set a 0 0 1\r\nA\r\nset b 0 0 1\r\nB\r\n")
    assert c.read_until(b"\r\n", 2) == b"STORED\r\nSTORED\r\n"
    import threading
    slept = []

    def stall():
        t1 = time.monotonic()
        assert resp(r.port, "DEBUG", "SLEEP", "2.5") == b"OK"
        slept.append(time.monotonic() - t1)
    t = threading.Thread(target=stall)
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    c.send(b"get a\r\n")
    line = c.read_line(timeout=6)
    took = time.monotonic() - t0
    # default request timeout is 1 s: a 2.5 s stall must not be waited out
    assert line.startswith(b"SERVER_ERROR"), (line, took)
    assert took < 2.0, took
    t.join()
    assert slept and slept[0] >= 2.0, "Redis did not stall; the test proved nothing"
    time.sleep(0.5)
    for _ in range(3):
        c.send(b"get b\r\nget a\r\nget nokey\r\n")
        assert c.read_until(b"END\r\n", 3, timeout=5) == \
            b"VALUE b 0 1\r\nB\r\nEND\r\nVALUE a 0 1\r\nA\r\nEND\r\nEND\r\n"


def test_client_abort_mid_request_does_not_hurt(pair):
    r, m = pair
    for partial in [b"set k 0 0 10\r\nabc", b"set k 0 0", b"get " + b"k " * 2000,
                    b"get a b c\r\n" * 1000]:
        c = RawConn(m.port)
        c.send(partial)
        c.close()
    # replies pending while the client goes away
    c = RawConn(m.port)
    c.send(b"set big 0 0 500000\r\n" + b"x" * 500000 + b"\r\n")
    assert c.read_line(timeout=10) == b"STORED\r\n"
    c.send(b"get big big big big big big big big\r\n" * 20)
    c.close()
    time.sleep(0.5)
    assert m.alive(), m.log_text()
    c = RawConn(m.port)
    c.send(b"get k\r\nversion\r\n")
    assert c.read_until(b"VERSION 1.6.18\r\n") == b"END\r\nVERSION 1.6.18\r\n"


def test_garbage_input_keeps_server_alive(pair):
    import random
    r, m = pair
    rng = random.Random(7)
    for i in range(30):
        c = RawConn(m.port)
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
        try:
            c.send(junk)
            c.read_idle(idle=0.05, cap=0.5)
        except OSError:
            pass
        c.close()
    assert m.alive(), m.log_text()
    assert servers.version_ok(m.port) == b"VERSION 1.6.18\r\n"


def test_large_multiget_reply_and_slow_reader(pair):
    """~9 MB of reply for one multi-get, read slowly: backpressure, no loss, no reordering."""
    r, m = pair
    c = RawConn(m.port)
    vals = {}
    for i in range(10):
        v = bytes([65 + i]) * (900 * 1024)
        vals[i] = v
        c.send(b"set big%d %d 0 %d\r\n" % (i, i, len(v)) + v + b"\r\n")
    assert c.read_until(b"\r\n", 10, timeout=20) == b"STORED\r\n" * 10
    keys = b" ".join(b"big%d" % i for i in range(10))
    c.send(b"get " + keys + b"\r\nget big3\r\n" + b"set after 0 0 1\r\nz\r\nget after\r\n")
    time.sleep(1.0)                       # let mcbridge hit a full socket buffer
    expected = b"".join(b"VALUE big%d %d %d\r\n" % (i, i, len(vals[i])) + vals[i] + b"\r\n"
                        for i in range(10)) + b"END\r\n"
    got = c.read_get_reply(timeout=30)
    assert got == expected
    assert c.read_get_reply(timeout=10) == b"VALUE big3 3 %d\r\n" % len(vals[3]) + vals[3] + b"\r\nEND\r\n"
    assert c.read_line() == b"STORED\r\n"
    assert c.read_get_reply() == b"VALUE after 0 1\r\nz\r\nEND\r\n"


def test_pipelined_large_writes_without_reading(pair):
    """The client writes ~20 MB of sets before reading any reply."""
    r, m = pair
    c = RawConn(m.port, timeout=30)
    v = b"q" * (1000 * 1000)
    c.send((b"set w 0 0 %d\r\n" % len(v) + v + b"\r\n") * 20 + b"get w\r\n")
    assert c.read_until(b"\r\n", 20, timeout=30) == b"STORED\r\n" * 20
    assert c.read_get_reply(timeout=20) == b"VALUE w 0 %d\r\n" % len(v) + v + b"\r\nEND\r\n"


def test_ten_thousand_pipelined_commands(pair):
    r, m = pair
    c = RawConn(m.port, timeout=30)
    n = 10000
    c.send(b"".join(b"set p%d 0 0 %d\r\n%d\r\nget p%d\r\n" % (i, len(str(i)), i, i)
                    for i in range(n)))
    got = c.read_until(b"END\r\n", n, timeout=60)
    assert got == b"".join(b"STORED\r\nVALUE p%d 0 %d\r\n%d\r\nEND\r\n" % (i, len(str(i)), i)
                           for i in range(n))


def test_key_prefix_with_glob_characters():
    """flush_all with a prefix must delete exactly the prefix's keys, even when the prefix
    contains Redis glob metacharacters (SCAN MATCH patterns must be escaped)."""
    prefix = "p[x]*?\\:"
    r, m = _start_pair(key_prefix=prefix)
    try:
        c = RawConn(m.port)
        c.send(b"set k 0 0 1\r\nx\r\nset j 0 0 1\r\ny\r\n")
        assert c.read_until(b"\r\n", 2) == b"STORED\r\nSTORED\r\n"
        assert resp(r.port, "EXISTS", prefix + "k") == 1
        # keys an unescaped pattern "p[x]*?\\:*" would also match
        for foreign in ["px:a", "pxyz:b", "px\\:c", "p[x]*?:d"]:
            resp(r.port, "SET", foreign, "keep")
        assert c.request(b"flush_all\r\n") == b"OK\r\n"
        c.send(b"get k j\r\n")
        assert c.read_get_reply() == b"END\r\n"
        assert resp(r.port, "EXISTS", prefix + "k", prefix + "j") == 0
        for foreign in ["px:a", "pxyz:b", "px\\:c", "p[x]*?:d"]:
            assert resp(r.port, "GET", foreign) == b"keep", foreign
    finally:
        m.kill()
        r.kill()
