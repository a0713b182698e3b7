"""A slot in migration, set up by hand on a real cluster (CLUSTER SETSLOT IMPORTING/MIGRATING,
MIGRATE of some of its keys, the others left on the source), and every kind of request through
mcbridge while it stays open: text, meta and binary reads and writes of keys already moved (ASK
-> ASKING + the command on the target) and not yet moved, keys created during the migration,
multi-key gets whose keys in that slot are split between the two nodes (Redis answers such a
multi-key command TRYAGAIN for as long as the migration lasts: mcbridge must still answer, at
once), the Lua scripts (incr/decr, cas, append/prepend, get-and-touch) on moved keys. Then the
migration is finished (SETSLOT NODE) and every value and flag is checked bit-exact.

Every request goes to a real memcached too, and the replies must be the same bytes (CAS values
aside, which each server numbers its own way).
"""

from __future__ import annotations

import re
import struct
import time
import urllib.request

import pytest

import binproto as bp
import cluster as clusterlib
import servers

REQUEST_TIMEOUT_MS = 1000
TAG = "{m}"


@pytest.fixture(scope="module")
def rig():
    c = clusterlib.start_cluster(primaries=3, replicas=0)
    mc = m = None
    admin = servers.free_port()
    try:
        mc = servers.start_memcached()
        m = servers.start_mcbridge(c.ports[0], extra_args=[
            "--request-timeout", str(REQUEST_TIMEOUT_MS), "--admin", f"127.0.0.1:{admin}"])
        yield c, mc, m, admin
    finally:
        for p in (m, mc):
            if p is not None:
                p.stop()
        c.stop()


def metric(admin: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise KeyError(name)


class Pair:
    """The same requests to memcached and to mcbridge; replies compared byte for byte after
    CAS values are masked. Records mcbridge's slowest reply."""

    CAS_TEXT = re.compile(rb"^(VALUE \S+ \d+ \d+) \d+\r$", re.M)
    CAS_META = re.compile(rb" c\d+")

    def __init__(self, mc_port: int, mb_port: int):
        self.t = [servers.RawConn(mc_port), servers.RawConn(mb_port)]
        self.b = [bp.BinConn(mc_port), bp.BinConn(mb_port)]
        self.slowest = 0.0

    def close(self):
        for c in self.t + self.b:
            c.close()

    def _timed(self, i: int, fn):
        t0 = time.monotonic()
        out = fn()
        if i == 1:
            self.slowest = max(self.slowest, time.monotonic() - t0)
        return out

    def text_raw(self, req: bytes) -> list:
        """Sends req + mn to both; returns both replies (up to the MN), unmasked."""
        out = []
        for i, c in enumerate(self.t):
            c.send(req + b"mn\r\n")
            reply = self._timed(i, lambda c=c: c.read_until(b"MN\r\n", timeout=10))
            out.append(reply[:-4])
        return out

    def text(self, req: bytes) -> bytes:
        a, b = (self.mask(r) for r in self.text_raw(req))
        assert b == a, f"{req[:120]!r}\nmemcached: {a[:600]!r}\nmcbridge:  {b[:600]!r}"
        return b

    @classmethod
    def mask(cls, reply: bytes) -> bytes:
        reply = cls.CAS_TEXT.sub(rb"\1 <cas>\r", reply)
        return cls.CAS_META.sub(b" c<cas>", reply)

    def binary(self, req: bytes) -> list:
        out = []
        for i, c in enumerate(self.b):
            out.append(self._timed(i, lambda c=c: c.request(req, timeout=10)))
        a, b = out
        for p in a + b:
            if p.get("cas"):
                p["cas"] = "<cas>"
        assert b == a, f"{req[:120]!r}\nmemcached: {a}\nmcbridge:  {b}"
        return b


def k(name: str) -> bytes:
    return (TAG + name).encode()


def value(name: str, n: int = 0) -> bytes:
    # Bytes a text protocol value may hold (binary, CR LF inside), never the "MN\r\n" sentinel.
    return b"%s#%d\x00\xff\r\n\x01" % (name.encode(), n) + bytes(range(n % 7))


MOVED = ["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "cnt_a", "cas_a", "app_a", "del_a",
         "tch_a"]
STAY = ["b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7", "cnt_b", "cas_b", "app_b", "del_b"]
OTHER = ["x0", "x1", "x2", "x3", "x4", "x5"]  # other slots


def raw_keys(port: int, slot: int) -> set:
    return set(servers.resp(port, "CLUSTER", "GETKEYSINSLOT", slot, 1000))


def parse_values(reply: bytes) -> dict:
    """A get reply as {key: (flags, data)}."""
    out, pos = {}, 0
    while reply.startswith(b"VALUE ", pos):
        eol = reply.index(b"\r\n", pos)
        _, key, flags, n = reply[pos:eol].split()[:4]
        out[key] = (int(flags), reply[eol + 2:eol + 2 + int(n)])
        pos = eol + 2 + int(n) + 2
    assert reply[pos:] == b"END\r\n", reply[pos:pos + 100]
    return out


def test_every_request_kind_during_a_manual_migration(rig):
    c, mc, m, admin = rig
    slot = clusterlib.key_slot(TAG)
    src = c.primary_port_for_slot(slot)
    dst = next(p for p in c.primaries() if p != src)
    assert all(clusterlib.key_slot(x) != slot for x in OTHER)
    ask_before = metric(admin, 'mcbridge_redis_cluster_redirects_total{kind="ask"}')
    p = Pair(mc.port, m.port)
    try:
        # ---- before: items written by the three protocols, flags all different
        for i, name in enumerate(["a0", "a1", "a2", "a3", "b0", "b1", "b2", "b3", "cas_a",
                                  "cas_b", "app_a", "app_b", "del_a", "del_b", "tch_a"]):
            v = value(name, i)
            p.text(b"set %s %d 0 %d\r\n%s\r\n" % (k(name), 100 + i, len(v), v))
        for i, name in enumerate(["a4", "a5", "b4", "b5"]):
            v = value(name, i)
            p.text(b"ms %s %d F%d T0\r\n%s\r\n" % (k(name), len(v), 4000000000 + i, v))
        for i, name in enumerate(["a6", "a7", "b6", "b7"]):
            p.binary(bp.store(bp.SET, k(name), value(name, i), flags=0xDEAD0000 + i))
        p.text(b"set %s 5 0 3\r\n100\r\nset %s 6 0 3\r\n200\r\n" % (k("cnt_a"), k("cnt_b")))
        for name in OTHER:
            p.text(b"set %s 9 0 %d\r\n%s\r\n" % (name.encode(), len(name), name.encode()))

        # ---- the migration: open, move MOVED's keys, leave STAY's on the source
        src_id, dst_id = c.node_id(src), c.node_id(dst)
        assert servers.resp(dst, "CLUSTER", "SETSLOT", slot, "IMPORTING", src_id) == b"OK"
        assert servers.resp(src, "CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id) == b"OK"
        assert servers.resp(src, "MIGRATE", "127.0.0.1", dst, "", 0, 5000, "KEYS",
                            *[k(x) for x in MOVED]) == b"OK"
        assert raw_keys(src, slot) == {k(x) for x in STAY}
        assert raw_keys(dst, slot) == {k(x) for x in MOVED}

        everything = [k(x) for x in MOVED + STAY] + [x.encode() for x in OTHER]
        missing = [k("zz0"), k("zz1")]

        # ---- reads: single keys on either side, multi-key gets spanning both sides
        for name in ["a0", "b0", "a6", "b6"]:
            p.text(b"get %s\r\n" % k(name))
        p.text(b"get " + b" ".join(everything + missing) + b"\r\n")
        p.text(b"gets " + b" ".join([k("a1"), k("b1"), k("a2"), b"x0"]) + b"\r\n")
        p.text(b"get %s %s\r\n" % (k("a0"), k("a1")))        # both moved: ASK, then served
        p.text(b"get %s %s\r\n" % (k("b0"), k("b1")))        # both stayed
        p.text(b"get %s %s\r\n" % (missing[0], missing[1]))  # neither exists anywhere
        p.text(b"get %s %s %s\r\n" % (k("a0"), missing[0], k("b0")))
        p.text(b"gat 0 %s %s %s x1\r\n" % (k("a2"), k("b2"), missing[0]))  # get-and-touch script
        p.text(b"gats 0 %s %s\r\n" % (k("a3"), k("b3")))
        # pipelined: several multi-gets in one write
        p.text(b"".join(b"get %s %s %s\r\n" % (k(f"a{i}"), k(f"b{i}"), b"x%d" % (i % 6))
                        for i in range(8)))

        # ---- writes of moved, stayed and new keys (text)
        for i, name in enumerate(["a0", "b1", "new0"]):
            v = value(name, 50 + i)
            p.text(b"set %s %d 0 %d\r\n%s\r\n" % (k(name), 7000 + i, len(v), v))
        p.text(b"add %s 1 0 2\r\nn1\r\nadd %s 1 0 2\r\nzz\r\nadd %s 1 0 2\r\nzz\r\n"
               % (k("new1"), k("a1"), k("b2")))
        p.text(b"replace %s 2 0 2\r\nr2\r\nreplace %s 2 0 2\r\nr3\r\nreplace %s 2 0 2\r\nzz\r\n"
               % (k("a2"), k("b3"), k("new9")))
        # scripts on moved keys (and the same on stayed ones)
        p.text(b"incr %s 5\r\ndecr %s 3\r\nincr %s 7\r\nincr %s 1\r\n"
               % (k("cnt_a"), k("cnt_a"), k("cnt_b"), k("nocnt")))
        p.text(b"append %s 0 0 3\r\n+ap\r\nprepend %s 0 0 3\r\npp+\r\nappend %s 0 0 2\r\n+b\r\n"
               b"append %s 0 0 2\r\nzz\r\n" % (k("app_a"), k("app_a"), k("app_b"), k("noapp")))
        for name in ["cas_a", "cas_b"]:
            cas = [int(r.split(b"\r\n")[0].split()[4]) for r in p.text_raw(b"gets %s\r\n"
                                                                            % k(name))]
            for conn, u in zip(p.t, cas):  # the right CAS: stored; a stale one: exists
                conn.send(b"cas %s 3 0 2 %d\r\nc1\r\ncas %s 3 0 2 %d\r\nc2\r\n"
                          % (k(name), u, k(name), u))
            got = [conn.read_until(b"\r\n", 2) for conn in p.t]
            assert got[0] == got[1] == b"STORED\r\nEXISTS\r\n", got
        p.text(b"cas %s 0 0 1 1\r\nz\r\n" % k("nocas"))
        p.text(b"touch %s 0\r\ntouch %s 100\r\n" % (k("tch_a"), k("notouch")))
        p.text(b"delete %s\r\ndelete %s\r\ndelete %s\r\n" % (k("del_a"), k("del_b"), k("nodel")))

        # ---- meta
        p.text(b"mg %s v f k s\r\nmg %s v f k s\r\nmg %s v\r\n" % (k("a4"), k("b4"), missing[0]))
        v = value("a5", 77)
        p.text(b"ms %s %d F77 T0\r\n%s\r\n" % (k("a5"), len(v), v))
        p.text(b"ms %s 2 F5\r\nm2\r\nms %s 2 F6 MA\r\n+x\r\n" % (k("new2"), k("b5")))
        p.text(b"md %s\r\nmd %s q\r\nmd %s\r\n" % (k("a3"), k("b0"), missing[1]))
        p.text(b"ma %s\r\nma %s v MD D2\r\nma %s N0 J13 v\r\n" % (k("cnt_a"), k("cnt_b"),
                                                                 k("newcnt")))
        p.text(b"".join(b"mg %s v f k q\r\n" % key for key in everything + missing))
        p.text(b"mg %s c v\r\n" % k("a5"))

        # ---- binary
        p.binary(bp.pkt(bp.GETK, k("a6")) + bp.pkt(bp.GETK, k("b6")) + bp.pkt(bp.GET, missing[0]))
        p.binary(bp.store(bp.SET, k("a7"), value("a7", 90), flags=0xFEED) +
                 bp.store(bp.SET, k("new3"), value("new3", 91), flags=0xBEEF) +
                 bp.store(bp.ADD, k("b7"), b"zz"))
        p.binary(b"".join(bp.pkt(bp.GETKQ, key) for key in everything + missing))
        p.binary(bp.counter(bp.INCR, k("cnt_a"), delta=11) +
                 bp.counter(bp.DECR, k("cnt_b"), delta=1) +
                 bp.counter(bp.INCR, k("bincnt"), delta=1, initial=42, exptime=0))
        p.binary(bp.pkt(bp.APPEND, k("a6"), value=b"-bin") + bp.pkt(bp.DELETE, k("a1")) +
                 bp.touch(bp.TOUCH, k("a2"), 0) + bp.touch(bp.GAT, k("b2"), 0))

        # ---- everything read back while the slot is still open
        created = [k(x) for x in ["new0", "new1", "new2", "new3", "newcnt", "bincnt"]]
        final = everything + created + missing
        p.text(b"get " + b" ".join(final) + b"\r\n")
        # New keys were created on the target (the source did not have them).
        dst_now = raw_keys(dst, slot)
        assert set(created) <= dst_now, set(created) - dst_now
        assert raw_keys(src, slot) <= {k(x) for x in STAY}

        # ---- finish: move the rest, hand the slot over everywhere
        rest = sorted(raw_keys(src, slot))
        if rest:
            assert servers.resp(src, "MIGRATE", "127.0.0.1", dst, "", 0, 5000, "KEYS",
                                *rest) == b"OK"
        for port in c.primaries():
            assert servers.resp(port, "CLUSTER", "SETSLOT", slot, "NODE", dst_id) == b"OK"
        c.wait_ok()
        assert raw_keys(src, slot) == set()
        reply = p.text(b"get " + b" ".join(final) + b"\r\n")
        p.text(b"".join(b"mg %s v f k s q\r\n" % key for key in final))
        p.binary(b"".join(bp.pkt(bp.GETKQ, key) for key in final))
        # Bit-exact in Redis too: every item of the slot is on the new owner, as memcached
        # holds it (flags and data in the storage format), and nothing else is.
        items = parse_values(reply)
        in_slot = {key: v for key, v in items.items() if key.startswith(TAG.encode())}
        assert set(in_slot) == raw_keys(dst, slot)
        for key, (flags, data) in in_slot.items():
            raw = servers.resp(dst, "GET", key)
            assert raw[0] == 0xFB and raw[1] in (1, 2), (key, raw[:20])
            assert struct.unpack(">I", raw[2:6])[0] == flags, key
            assert raw[14 if raw[1] == 1 else 19:] == data, key
    finally:
        p.close()
    ask = metric(admin, 'mcbridge_redis_cluster_redirects_total{kind="ask"}') - ask_before
    tryagain = metric(admin, 'mcbridge_redis_cluster_retries_total{reason="tryagain"}')
    print(f"\n  ASK followed {ask:.0f}, TRYAGAIN {tryagain:.0f}; slowest mcbridge reply "
          f"{p.slowest * 1000:.1f} ms")
    assert ask > 0 and tryagain > 0  # both paths were taken
    # No reply waited for TRYAGAIN retries to run out (the bytes compared say no error came).
    assert p.slowest < REQUEST_TIMEOUT_MS / 1000
