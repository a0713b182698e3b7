"""--auth-file with text clients: memcached -Y's ASCII authentication, compared byte for byte
with a real memcached 1.6.18 started with -Y on the same file, plus what only mcbridge does
(SIGHUP reload, counters, a real client).

memcached 1.6.18 answers only the last of several unauthenticated requests that arrive in one
read (each reply overwrites the previous one); mcbridge answers every request. So the
differential cases send each request in its own segment and wait for its reply."""

import os
import shutil
import signal
import socket
import stat
import tempfile
import time

import pytest

import servers
from servers import RawConn

CREDENTIALS = b"alice:secret\nbob:pw:with:colons\r\n"


@pytest.fixture(scope="module")
def auth_dir():
    # memcached drops to user nobody when started as root: the file must be world-readable.
    d = tempfile.mkdtemp(prefix="mcbridge-auth-")
    os.chmod(d, 0o755)
    path = os.path.join(d, "auth")
    with open(path, "wb") as f:
        f.write(CREDENTIALS)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def servers_pair(auth_dir):
    path = os.path.join(auth_dir, "auth")
    mc = servers.start_memcached(["-Y", path])
    redis = servers.start_redis()
    try:
        bridge = servers.start_mcbridge(redis.port, extra_args=["--auth-file", path])
    except Exception:
        mc.stop()
        redis.stop()
        raise
    try:
        yield mc, bridge, redis, path
    finally:
        bridge.stop()
        redis.stop()
        mc.stop()


def exchange(port, segments, idle=0.15):
    """Sends each segment, reading the replies after each; returns (replies, closed)."""
    c = RawConn(port)
    try:
        out = b""
        for seg in segments:
            c.send(seg)
            out += c.read_idle(idle=idle, cap=2.0)
            if c.closed:
                break
        return out, c.closed is not None
    finally:
        c.close()


CASES = [
    ("get before auth", [b"get a\r\n"]),
    ("each command before auth", [b"version\r\n", b"stats\r\n", b"quit\r\n", b"flush_all\r\n",
                                  b"delete a\r\n", b"incr a 1\r\n", b"mn\r\n"]),
    ("good credentials then get", [b"set k 0 0 12\r\nalice secret\r\n", b"get k\r\n"]),
    ("good credentials in one segment with the next request",
     [b"set k 0 0 12\r\nalice secret\r\nget k\r\nversion\r\n"]),
    ("password with colons", [b"set x 1 2 18\r\nbob pw:with:colons\r\n", b"version\r\n"]),
    ("wrong password", [b"set k 0 0 9\r\nalice bad\r\n", b"get k\r\n"]),
    ("wrong user case", [b"set k 0 0 12\r\nALICE secret\r\n", b"version\r\n"]),
    ("one token", [b"set k 0 0 5\r\nalice\r\n", b"get k\r\n"]),
    ("empty data", [b"set k 0 0 0\r\n\r\n", b"version\r\n"]),
    ("tab is not a separator", [b"set k 0 0 12\r\nalice\tsecret\r\n", b"version\r\n"]),
    ("NUL cuts the data", [b"set k 0 0 4\r\nx\x00y\x00\r\n", b"x y\x00"]),
    ("bad termination", [b"set k 0 0 12\r\nalice secretxx", b"version\r\n"]),
    ("bare LF framing", [b"set k 0 0 7\nbob pw2\n", b"x", b"get k\r\n"]),
    ("extra tokens are ignored", [b"set k 0 0 18\r\nalice secret extra\r\n", b"version\r\n"]),
    ("double space", [b"set k 0 0 13\r\nalice  secret\r\n", b"version\r\n"]),
    ("key flags exptime are not checked", [b"set k b c 12\r\nalice secret\r\n", b"version\r\n"]),
    ("noreply is not honoured", [b"set k 0 0 9 noreply\r\nalice bad\r\n"]),
    ("bad size", [b"set k 0 0 x\r\n", b"set k 0 0 -1\r\n", b"set k 0\r\n", b"set\r\n"]),
    ("other verb", [b"sets k 0 0 12\r\n", b"alice secret\r\n", b"add k 0 0 12\r\n"]),
    ("short lines", [b"x\n", b"\r\n", b"\n\n"]),
    ("split handshake", [b"set k 0 0 12\r\n", b"alice ", b"secret\r", b"\n", b"get k\r\n"]),
    ("authenticated twice", [b"set k 0 0 12\r\nalice secret\r\n",
                             b"set k 0 0 12\r\nalice secret\r\n", b"get k\r\n"]),
    ("long line without newline closes", [b"a" * 3000]),
]


@pytest.mark.parametrize("name,segments", CASES, ids=[c[0] for c in CASES])
def test_ascii_auth_matches_memcached(servers_pair, name, segments):
    mc, bridge, redis, _ = servers_pair
    servers.resp(redis.port, "FLUSHALL")
    exchange(mc.port, [b"set k 0 0 12\r\nalice secret\r\n", b"delete k\r\n"])
    want = exchange(mc.port, segments)
    got = exchange(bridge.port, segments)
    assert got == want


def test_unauthenticated_client_cannot_read_or_write(servers_pair):
    _, bridge, redis, _ = servers_pair
    servers.resp(redis.port, "FLUSHALL")
    c = RawConn(bridge.port)
    try:
        assert c.request(b"set k 0 0 1\r\nv\r\n") == b"CLIENT_ERROR bad authentication token format\r\n"
        assert c.request(b"get k\r\n") == b"CLIENT_ERROR unauthenticated\r\n"
    finally:
        c.close()
    assert servers.resp(redis.port, "DBSIZE") in (0, b"0", ":0")


def test_pymemcache_with_credentials(servers_pair):
    from pymemcache.client.base import Client
    _, bridge, redis, _ = servers_pair
    servers.resp(redis.port, "FLUSHALL")
    client = Client(("127.0.0.1", bridge.port), connect_timeout=5, timeout=5)
    try:
        # pymemcache has no auth API: the handshake is a plain set, as memcached documents.
        assert client.set("ignored", b"alice secret", noreply=False) is True
        assert client.set("greeting", b"hello", expire=60) is True
        assert client.get("greeting") == b"hello"
    finally:
        client.close()


def stat_value(port, name):
    c = RawConn(port)
    try:
        c.request(b"set k 0 0 12\r\nalice secret\r\n")
        c.send(b"stats\r\n")
        text = c.read_until(b"END\r\n").decode()
    finally:
        c.close()
    for line in text.split("\r\n"):
        parts = line.split(" ")
        if len(parts) == 3 and parts[1] == name:
            return int(parts[2])
    raise AssertionError(f"no stat {name}")


def test_failures_are_counted_and_not_logged(servers_pair):
    _, bridge, _, _ = servers_pair
    before_cmds = stat_value(bridge.port, "auth_cmds")
    before_errors = stat_value(bridge.port, "auth_errors")
    for _ in range(3):
        exchange(bridge.port, [b"set k 0 0 17\r\nalice wrongsecret\r\n"])
    # Each stat_value authenticates once more.
    assert stat_value(bridge.port, "auth_cmds") == before_cmds + 5
    assert stat_value(bridge.port, "auth_errors") == before_errors + 3
    log = bridge.log_text(100000)
    assert "authentication failed" in log
    assert "wrongsecret" not in log and "secret" not in log.replace("authentication", "")


def test_sighup_rereads_the_file(auth_dir):
    path = os.path.join(auth_dir, "reload")
    with open(path, "w") as f:
        f.write("old:one\n")
    with servers.mcbridge_stack(extra_args=["--auth-file", path], log_level="info") as (_, m):
        assert exchange(m.port, [b"set k 0 0 7\r\nold one\r\n"])[0] == b"STORED\r\n"
        with open(path, "w") as f:
            f.write("new:two\n")
        m.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "re-read --auth-file" not in m.log_text(100000) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert exchange(m.port, [b"set k 0 0 7\r\nnew two\r\n"])[0] == b"STORED\r\n"
        assert exchange(m.port, [b"set k 0 0 7\r\nold one\r\n"])[0] == \
            b"CLIENT_ERROR authentication failure\r\n"
        # A broken file keeps the credentials in use.
        with open(path, "w") as f:
            f.write("no colon here\n")
        m.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "keeping the credentials" not in m.log_text(100000) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        assert "keeping the credentials" in m.log_text(100000)
        assert exchange(m.port, [b"set k 0 0 7\r\nnew two\r\n"])[0] == b"STORED\r\n"


def test_bad_auth_file_fails_at_start(auth_dir):
    path = os.path.join(auth_dir, "bad")
    with open(path, "w") as f:
        f.write("nocolon\n")
    binary = str(servers.mcbridge_binary())
    import subprocess
    p = subprocess.run([binary, "--listen", "127.0.0.1:1", "--auth-file", path],
                       capture_output=True, timeout=10)
    assert p.returncode == 2
    assert b"--auth-file" in p.stderr and b"not user:password" in p.stderr


# --------------------------------------------------------------------------- binary SASL

@pytest.fixture(scope="module")
def sasl_pair(auth_dir):
    """memcached -S with a Cyrus sasldb holding alice/secret (mech_list plain), and mcbridge
    with --auth-file holding the same credentials."""
    import subprocess
    conf = os.path.join(auth_dir, "sasl")
    os.makedirs(conf, exist_ok=True)
    os.chmod(conf, 0o755)
    db = os.path.join(conf, "sasldb2")
    subprocess.run(["saslpasswd2", "-p", "-f", db, "-a", "memcached", "-c", "alice"],
                   input=b"secret", check=True)
    os.chmod(db, 0o644)
    with open(os.path.join(conf, "memcached.conf"), "w") as f:
        f.write(f"mech_list: plain\nsasldb_path: {db}\n")
    old = os.environ.get("SASL_CONF_PATH")
    os.environ["SASL_CONF_PATH"] = conf
    try:
        mc = servers.start_memcached(["-S"])
    finally:
        if old is None:
            del os.environ["SASL_CONF_PATH"]
        else:
            os.environ["SASL_CONF_PATH"] = old
    redis = servers.start_redis()
    path = os.path.join(auth_dir, "auth")
    try:
        bridge = servers.start_mcbridge(redis.port, extra_args=["--auth-file", path])
    except Exception:
        mc.stop()
        redis.stop()
        raise
    try:
        yield mc, bridge
    finally:
        bridge.stop()
        redis.stop()
        mc.stop()


def sasl_run(port, steps):
    from binproto import BinConn, sentinel
    out = []
    with BinConn(port) as c:
        for step in steps:
            c.send(step + sentinel())
            pkts, ending = c.read_until_sentinel(timeout=1.5)
            out.append(([(p.get("op"), p.get("status"), p.get("key"), p.get("value"),
                          p.get("opaque")) for p in pkts], ending))
            if ending != "sentinel":
                break
    return out


def _sasl_cases():
    from binproto import (GET, NOOP, SASL_AUTH, SASL_LIST, SASL_STEP, SET, VERSION, pkt,
                          store)
    good = pkt(SASL_AUTH, b"PLAIN", value=b"\0alice\0secret", opaque=5)
    return {
        "list mechs and version before auth": [pkt(SASL_LIST, opaque=1), pkt(VERSION, opaque=2)],
        "get before auth closes": [pkt(GET, b"k", opaque=3)],
        "noop before auth closes": [pkt(NOOP, opaque=3)],
        "auth without authzid": [good, store(SET, b"k", b"v", opaque=6), pkt(GET, b"k")],
        "auth with authzid (libmemcached)": [
            pkt(SASL_AUTH, b"PLAIN", value=b"alice\0alice\0secret"), pkt(GET, b"nokey")],
        "authzid of another user": [pkt(SASL_AUTH, b"PLAIN", value=b"bob\0alice\0secret"),
                                    pkt(VERSION), pkt(GET, b"k")],
        "wrong password keeps the connection": [
            pkt(SASL_AUTH, b"PLAIN", value=b"\0alice\0bad", opaque=9), pkt(VERSION),
            pkt(GET, b"k")],
        "malformed PLAIN": [pkt(SASL_AUTH, b"PLAIN", value=b"\0alice"), pkt(VERSION),
                            pkt(SASL_AUTH, b"PLAIN", value=b"\0alice\0secret\0"), pkt(VERSION)],
        "empty PLAIN asks to continue, step completes": [
            pkt(SASL_AUTH, b"PLAIN", opaque=1),
            pkt(SASL_STEP, b"PLAIN", value=b"\0alice\0secret", opaque=2), pkt(GET, b"k")],
        "step without auth": [pkt(SASL_STEP, b"PLAIN", value=b"\0alice\0secret"), pkt(VERSION)],
        "unknown mechanism": [pkt(SASL_AUTH, b"CRAM-MD5", value=b"x"), pkt(VERSION)],
        "mechanism over 32 bytes": [pkt(SASL_AUTH, b"M" * 33, value=b"xy"), pkt(VERSION)],
        "re-auth with a bad password de-authenticates": [
            good, pkt(SASL_AUTH, b"PLAIN", value=b"\0alice\0bad"), pkt(GET, b"k")],
        "list mechs de-authenticates": [good, pkt(SASL_LIST), pkt(GET, b"k")],
        "pipelined auth and get": [good + pkt(GET, b"k", opaque=4)],
        "largest SASL data": [pkt(SASL_AUTH, b"PLAIN", value=b"\0alice\0" + b"x" * 524217),
                              pkt(VERSION)],
        "SASL data too large for an item": [
            pkt(SASL_AUTH, b"PLAIN", value=b"\0alice\0" + b"x" * 524218, opaque=3),
            pkt(VERSION)],
    }


SASL_CASES = _sasl_cases()


@pytest.mark.parametrize("name", list(SASL_CASES))
def test_sasl_matches_memcached(sasl_pair, name):
    mc, bridge = sasl_pair
    want = sasl_run(mc.port, SASL_CASES[name])
    got = sasl_run(bridge.port, SASL_CASES[name])
    assert got == want


def test_sasl_and_ascii_auth_share_the_file(sasl_pair):
    """With --auth-file, mcbridge takes both: SASL PLAIN over binary and ASCII auth over text
    (memcached needs -S or -Y and cannot take both)."""
    from binproto import BinConn, GET, SASL_AUTH, SET, pkt, store
    _, bridge = sasl_pair
    with BinConn(bridge.port) as b:
        [ok] = b.request(pkt(SASL_AUTH, b"PLAIN", value=b"\0bob\0pw:with:colons"))
        assert (ok["status"], ok["value"]) == (0, b"Authenticated")
        [stored] = b.request(store(SET, b"shared", b"v", flags=3))
        assert stored["status"] == 0
    c = RawConn(bridge.port)
    try:
        assert c.request(b"set x 0 0 12\r\nalice secret\r\n") == b"STORED\r\n"
        c.send(b"gets shared\r\n")
        assert c.read_get_reply() == b"VALUE shared 3 1 %d\r\nv\r\nEND\r\n" % stored["cas"]
    finally:
        c.close()
