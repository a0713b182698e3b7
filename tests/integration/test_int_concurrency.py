"""Atomicity under concurrent clients: read-modify-write commands (cas, incr/decr,
append/prepend, add) run as single Redis scripts, so racing clients never lose updates."""

import threading

import pytest

import servers
from servers import RawConn


def _run_threads(n, fn):
    errors = []

    def wrap(i):
        try:
            fn(i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
    ts = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors[:3]


def _get(port, key):
    with RawConn(port) as c:
        c.send(b"get " + key + b"\r\n")
        return c.read_get_reply()


def test_concurrent_incr_no_lost_updates(mc, mcbridge_srv):
    mc.send(b"set ctr 0 0 1\r\n0\r\n")
    assert mc.read_line() == b"STORED\r\n"

    def worker(i):
        with RawConn(mcbridge_srv.port) as c:
            c.send(b"incr ctr 1\r\n" * 200)
            c.read_until(b"\r\n", 200, timeout=30)
    _run_threads(10, worker)
    assert _get(mcbridge_srv.port, b"ctr").split(b"\r\n")[1].strip() == b"2000"


def test_concurrent_cas_exactly_one_winner_per_version(mc, mcbridge_srv):
    mc.send(b"set c 0 0 1\r\n0\r\n")
    assert mc.read_line() == b"STORED\r\n"
    wins = []

    def worker(i):
        with RawConn(mcbridge_srv.port) as c:
            done = 0
            while done < 20:
                c.send(b"gets c\r\n")
                line = c.read_get_reply().split(b"\r\n")
                cas, val = line[0].split()[4], int(line[1])
                new = b"%d" % (val + 1)
                c.send(b"cas c 0 0 %d %s\r\n%s\r\n" % (len(new), cas, new))
                r = c.read_line()
                assert r in (b"STORED\r\n", b"EXISTS\r\n"), r
                if r == b"STORED\r\n":
                    done += 1
                    wins.append(1)
    _run_threads(8, worker)
    assert len(wins) == 160
    assert _get(mcbridge_srv.port, b"c").split(b"\r\n")[1] == b"160"


def test_concurrent_append_keeps_every_byte(mc, mcbridge_srv):
    mc.send(b"set a 7 0 0\r\n\r\n")
    assert mc.read_line() == b"STORED\r\n"

    def worker(i):
        ch = bytes([65 + i])
        with RawConn(mcbridge_srv.port) as c:
            c.send((b"append a 0 0 1\r\n" + ch + b"\r\n") * 50 +
                   (b"prepend a 0 0 1\r\n" + ch.lower() + b"\r\n") * 50)
            assert c.read_until(b"\r\n", 100, timeout=30) == b"STORED\r\n" * 100
    _run_threads(8, worker)
    r = _get(mcbridge_srv.port, b"a")
    header, data = r.split(b"\r\n")[0], r.split(b"\r\n")[1]
    assert header == b"VALUE a 7 800"
    for i in range(8):
        assert data.count(bytes([65 + i])) == 50 and data.count(bytes([97 + i])) == 50


def test_concurrent_add_single_winner(mc, mcbridge_srv):
    results = []

    def worker(i):
        with RawConn(mcbridge_srv.port) as c:
            c.send(b"add once %d 0 1\r\nx\r\n" % i)
            results.append((i, c.read_line()))
    _run_threads(20, worker)
    stored = [i for i, r in results if r == b"STORED\r\n"]
    assert len(stored) == 1, results
    assert all(r in (b"STORED\r\n", b"NOT_STORED\r\n") for _, r in results)
    assert _get(mcbridge_srv.port, b"once").startswith(b"VALUE once %d 1\r\n" % stored[0])


def test_multiple_worker_threads_keep_per_connection_order():
    r = servers.start_redis()
    try:
        try:
            m = servers.start_mcbridge(r.port, threads=4)
        except servers.ServerStartError as e:
            pytest.fail(f"cannot start mcbridge: {e}", pytrace=False)
        try:
            def worker(i):
                with RawConn(m.port) as c:
                    req, exp = b"", b""
                    for j in range(200):
                        v = b"%d-%d" % (i, j)
                        req += b"set t%d 0 0 %d\r\n%s\r\nget t%d\r\n" % (i, len(v), v, i)
                        exp += b"STORED\r\nVALUE t%d 0 %d\r\n%s\r\nEND\r\n" % (i, len(v), v)
                    c.send(req)
                    assert c.read_until(b"END\r\n", 200, timeout=30) == exp
            _run_threads(16, worker)
        finally:
            m.kill()
    finally:
        r.kill()
