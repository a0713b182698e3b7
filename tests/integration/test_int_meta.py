"""Meta commands against a real Redis: leases and stale-while-revalidate through two mcbridge
processes sharing one Redis (exactly one W), and the storage format across versions (version-1
items, version-2 items, foreign values written by another Redis client), read by both command
families."""

from __future__ import annotations

import struct
import threading

import pytest

import servers


@pytest.fixture(scope="module")
def stack():
    started = []
    try:
        r = servers.start_redis()
        started.append(r)
        a = servers.start_mcbridge(r.port)
        started.append(a)
        b = servers.start_mcbridge(r.port)
        started.append(b)
        yield r, a, b
    finally:
        for p in reversed(started):
            p.stop()


@pytest.fixture
def clean(stack):
    servers.resp(stack[0].port, "FLUSHALL")
    return stack


def race(ports, request: bytes):
    """Sends `request` on one connection per port at the same moment; returns the replies."""
    conns = [servers.RawConn(p) for p in ports]
    barrier = threading.Barrier(len(conns))
    replies = [b""] * len(conns)

    def run(i):
        barrier.wait()
        conns[i].send(request)
        replies[i] = conns[i].read_until(b"\r\n", 2 if b" v" in request else 1)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(conns))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    finally:
        for c in conns:
            c.close()
    return replies


def winners(replies):
    return sum(1 for r in replies if r.split(b"\r\n")[0].endswith(b" W"))


@pytest.mark.parametrize("request_line", [b"mg k v N30 t\r\n", b"mg k v\r\n", b"mg k s h\r\n"])
def test_two_proxies_one_winner_on_a_stale_item(clean, request_line):
    r, a, b = clean
    for i in range(40):
        with servers.RawConn(a.port) as c:
            assert c.request(b"set k 0 0 3\r\nold\r\n") == b"STORED\r\n"
            assert c.request(b"md k I\r\n") == b"HD\r\n"
        replies = race([a.port, b.port, a.port, b.port], request_line)
        assert winners(replies) == 1, (i, replies)
        for rep in replies:
            line = rep.split(b"\r\n")[0]
            assert b" X" in line
            assert line.endswith(b" W") or line.endswith(b" Z X"), rep


def test_two_proxies_one_winner_on_a_missing_item(clean):
    r, a, b = clean
    for i in range(40):
        servers.resp(r.port, "DEL", "k")
        replies = race([a.port, b.port, a.port, b.port], b"mg k v N30\r\n")
        assert winners(replies) == 1, (i, replies)
        assert sorted(rep.split(b"\r\n")[0] for rep in replies) == \
            [b"VA 0 W", b"VA 0 Z", b"VA 0 Z", b"VA 0 Z"]


def test_two_proxies_one_winner_on_recache(clean):
    r, a, b = clean
    for i in range(40):
        with servers.RawConn(a.port) as c:
            assert c.request(b"set k 0 20 3\r\nold\r\n") == b"STORED\r\n"
        replies = race([a.port, b.port, a.port, b.port], b"mg k v R30\r\n")
        assert winners(replies) == 1, (i, replies)


def test_a_store_or_invalidation_clears_the_win(clean):
    r, a, b = clean
    with servers.RawConn(a.port) as c, servers.RawConn(b.port) as d:
        assert c.request(b"mg k s N30\r\n") == b"HD s0 W\r\n"
        assert d.request(b"mg k s N30\r\n") == b"HD s0 Z\r\n"
        assert d.request(b"ms k 1\r\nx\r\n") == b"HD\r\n"
        assert c.request(b"mg k s N30\r\n") == b"HD s1\r\n"
        assert c.request(b"md k I\r\n") == b"HD\r\n"
        assert d.request(b"mg k s\r\n") == b"HD s1 X W\r\n"
        assert c.request(b"mg k s\r\n") == b"HD s1 Z X\r\n"
        assert c.request(b"md k I q\r\nmn\r\n", lines=1) == b"MN\r\n"
        assert c.request(b"mg k s t\r\n") == b"HD s1 t-1 X W\r\n"


def header(raw: bytes):
    assert raw[0] == 0xFB
    version = raw[1]
    flags, cas = struct.unpack(">IQ", raw[2:14])
    if version == 1:
        return version, flags, cas, None, None, raw[14:]
    assert version == 2
    state = raw[14]
    la = struct.unpack(">I", raw[15:19])[0]
    return version, flags, cas, state, la, raw[19:]


def gets(c, key: bytes):
    rep = c.request(b"gets " + key + b"\r\n", lines=3)
    head = rep.split(b"\r\n")[0].split(b" ")
    return int(head[2]), int(head[4]), rep.split(b"\r\n")[1]


def test_version1_item_read_by_meta_and_upgraded(clean):
    r, a, _ = clean
    with servers.RawConn(a.port) as c:
        assert c.request(b"set k 7 0 3\r\nabc\r\n") == b"STORED\r\n"
        raw = servers.resp(r.port, "GET", "k")
        version, flags, cas, _, _, data = header(raw)
        assert (version, flags, data) == (1, 7, b"abc")
        assert c.request(b"mg k v f c\r\n", lines=2) == b"VA 3 f7 c%d\r\nabc\r\n" % cas
        # a plain mg leaves version 1 alone; h records an access: version 2, same CAS and data
        assert servers.resp(r.port, "GET", "k") == raw
        assert c.request(b"mg k h l\r\n") == b"HD h0 l0\r\n"
        version, flags, cas2, state, la, data = header(servers.resp(r.port, "GET", "k"))
        assert (version, flags, cas2, data) == (2, 7, cas, b"abc")
        assert state == 4 and la > 0
        assert c.request(b"mg k h\r\n") == b"HD h1\r\n"
        # classic commands read version 2, and rewrite the item as version 1
        assert gets(c, b"k") == (7, cas, b"abc")
        assert c.request(b"append k 0 0 1\r\nd\r\n") == b"STORED\r\n"
        assert header(servers.resp(r.port, "GET", "k"))[0] == 1
        assert c.request(b"mg k v h\r\n", lines=2) == b"VA 4 h0\r\nabcd\r\n"


def test_version2_item_read_by_classic_commands(clean):
    r, a, _ = clean
    with servers.RawConn(a.port) as c:
        assert c.request(b"ms k 2 F3 T100\r\n10\r\n") == b"HD\r\n"
        assert c.request(b"md k I\r\n") == b"HD\r\n"
        version, flags, cas, state, _, data = header(servers.resp(r.port, "GET", "k"))
        assert (version, flags, state, data) == (2, 3, 1, b"10")
        assert 90 <= servers.resp(r.port, "TTL", "k") <= 100
        assert c.request(b"get k\r\n", lines=3) == b"VALUE k 3 2\r\n10\r\nEND\r\n"
        assert gets(c, b"k") == (3, cas, b"10")
        assert c.request(b"incr k 5\r\n") == b"15\r\n"
        assert c.request(b"mg k v f t\r\n", lines=2).startswith(b"VA 2 f3 t")
        assert c.request(b"touch k 0\r\n") == b"TOUCHED\r\n"
        assert c.request(b"cas k 1 0 1 %d\r\nz\r\n" % gets(c, b"k")[1]) == b"STORED\r\n"
        assert c.request(b"mg k v f\r\n", lines=2) == b"VA 1 f1\r\nz\r\n"
        # base64 key: state bit 8, k answers encoded
        assert c.request(b"ms Zm9v 1 b\r\nx\r\n") == b"HD\r\n"
        assert header(servers.resp(r.port, "GET", "foo"))[3] == 8
        assert c.request(b"mg foo k v\r\n", lines=2) == b"VA 1 kZm9v b\r\nx\r\n"
        assert c.request(b"get foo\r\n", lines=3) == b"VALUE foo 0 1\r\nx\r\nEND\r\n"


def test_foreign_values_read_by_both_families(clean):
    r, a, _ = clean
    servers.resp(r.port, "SET", "plain", "hello")
    servers.resp(r.port, "SET", "counter", "41")
    with servers.RawConn(a.port) as c:
        flags, cas, data = gets(c, b"plain")
        assert (flags, data) == (0, b"hello")
        assert c.request(b"mg plain v f c s\r\n", lines=2) == \
            b"VA 5 f0 c%d s5\r\nhello\r\n" % cas
        assert c.request(b"me plain\r\n").startswith(b"ME plain exp=-1 la=0 cas=%d " % cas)
        # a plain read leaves a foreign value untouched
        assert servers.resp(r.port, "GET", "plain") == b"hello"
        # meta state turns it into a version-2 item with the same CAS
        assert c.request(b"md plain I C%d\r\n" % cas) == b"HD\r\n"
        version, flags, cas2, state, _, data = header(servers.resp(r.port, "GET", "plain"))
        assert (version, flags, state, data) == (2, 0, 1, b"hello")
        assert c.request(b"mg plain v\r\n", lines=2) == b"VA 5 X W\r\nhello\r\n"
        # counters written by Redis INCR stay counters for both families
        assert c.request(b"ma counter v\r\n", lines=2) == b"VA 2\r\n42\r\n"
        # its CAS is derived from its content, the same in ma's c and in gets
        c_line = c.request(b"ma counter c MD\r\n")
        assert c_line == b"HD c%d\r\n" % gets(c, b"counter")[1]
        assert c.request(b"ma counter\r\n") == b"HD\r\n"
        assert servers.resp(r.port, "INCR", "counter") == 43
        assert c.request(b"incr counter 1\r\n") == b"44\r\n"
        assert c.request(b"mg counter v\r\n", lines=2) == b"VA 2\r\n44\r\n"


def test_quiet_multiget_pipeline(clean):
    r, a, _ = clean
    with servers.RawConn(a.port) as c:
        for i in range(0, 100, 2):
            c.send(b"ms key%d 2 F%d q\r\nv%d\r\n" % (i, i, i % 10))
        c.send(b"mn\r\n")
        assert c.read_until(b"MN\r\n") == b"MN\r\n"
        c.send(b"".join(b"mg key%d v f k q O%d\r\n" % (i, i) for i in range(100)) + b"mn\r\n")
        got = c.read_until(b"MN\r\n")
    want = b"".join(b"VA 2 f%d kkey%d O%d\r\nv%d\r\n" % (i, i, i, i % 10)
                    for i in range(0, 100, 2)) + b"MN\r\n"
    assert got == want


def test_meta_commands_use_the_key_prefix(stack):
    r = stack[0]
    servers.resp(r.port, "FLUSHALL")
    p = servers.start_mcbridge(r.port, key_prefix="app1:")
    try:
        with servers.RawConn(p.port) as c:
            assert c.request(b"ms k 2 F4\r\nhi\r\n") == b"HD\r\n"
            assert c.request(b"ms Zm9v 1 b\r\nx\r\n") == b"HD\r\n"
            assert c.request(b"mg k v f\r\n", lines=2) == b"VA 2 f4\r\nhi\r\n"
            assert c.request(b"mg k h t\r\n") == b"HD h0 t-1\r\n"
            assert c.request(b"ma n N0 J5 v\r\n", lines=2) == b"VA 1\r\n5\r\n"
            assert c.request(b"md k I\r\n") == b"HD\r\n"
            assert c.request(b"me foo\r\n").startswith(b"ME Zm9v exp=-1 ")  # stored with b
        keys = sorted(servers.resp(r.port, "KEYS", "*"))
        assert keys == [b"app1:foo", b"app1:k", b"app1:n"]
    finally:
        p.stop()
