"""mcbridge in front of a real 6-node Redis Cluster (3 primaries, 3 replicas): keys land on the
primaries that own their slots, in the documented storage format, and mcbridge's own slot
computation agrees with Redis's on every key (zero MOVED); multi-gets over all shards come back
in order; flush_all empties every primary; metrics and /readyz speak per node."""

from __future__ import annotations

import random
import struct
import urllib.request

import pytest

import servers

PREFIX = "mc:"


@pytest.fixture(scope="module")
def stack(redis_cluster):
    admin = servers.free_port()
    m = servers.start_mcbridge(redis_cluster.ports[1], key_prefix=PREFIX,
                               extra_args=["--admin", f"127.0.0.1:{admin}"], threads=2)
    try:
        yield redis_cluster, m, admin
    finally:
        m.stop()


def metrics(admin: int) -> dict:
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def random_keys(n: int, seed: int) -> list:
    rng = random.Random(seed)
    edge = ["{}x", "{abc", "}{abc", "{a}{b}", "{a}", "}{", "{{a}}", "a{b}c", "{user1000}.x",
            "{user1000}.y", "foo", "x{}", "{", "}"]
    alphabet = "abcxyz{}:._-0123456789"
    keys = list(edge)
    while len(keys) < n:
        keys.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))))
    return list(dict.fromkeys(keys))


def test_keys_land_on_their_slot_owner_in_the_storage_format(stack):
    cluster, m, admin = stack
    keys = random_keys(3000, seed=9)
    with servers.RawConn(m.port) as c:
        batch = b"".join(b"set %s %d 0 %d noreply\r\n%s\r\n" % (
            k.encode(), i, len(k) + 1, (k + "!").encode()) for i, k in enumerate(keys))
        c.send(batch)
        assert c.request(b"version\r\n").startswith(b"VERSION")
    # Redis's own slot for each stored key, and the primary serving it.
    node_conns = {p: servers.RespConn(p) for p in cluster.primaries()}
    ask = servers.RespConn(cluster.primaries()[0])
    slots = cluster.slots_map()
    try:
        for i, k in enumerate(keys):
            slot = ask.command("CLUSTER", "KEYSLOT", PREFIX + k)
            owner = next(p for first, last, p, _ in slots if first <= slot <= last)
            raw = node_conns[owner].command("GET", PREFIX + k)
            # 0xFB, format version 1, flags (4 bytes, big-endian), CAS (8 bytes), the data.
            assert raw is not None, f"{k!r} not on its owner {owner}"
            assert raw[:2] == b"\xfb\x01"
            assert struct.unpack(">I", raw[2:6])[0] == i
            assert raw[14:] == (k + "!").encode()
    finally:
        for c in list(node_conns.values()) + [ask]:
            c.close()
    # mcbridge computed every slot as Redis does: no command was ever redirected.
    mt = metrics(admin)
    assert mt['mcbridge_redis_cluster_redirects_total{kind="moved"}'] == 0
    assert mt['mcbridge_redis_cluster_redirects_total{kind="ask"}'] == 0


def test_multi_get_over_every_shard_comes_back_in_order(stack):
    cluster, m, _ = stack
    keys = [f"k{i}" for i in range(100)]
    owners = {cluster.primary_port_for_slot(cluster.keyslot(PREFIX + k)) for k in keys}
    assert len(owners) == 3
    with servers.RawConn(m.port) as c:
        for i, k in enumerate(keys):
            if i % 3:  # every third key is a miss
                assert c.request(b"set %s 7 0 %d\r\n%s\r\n" % (
                    k.encode(), len(str(i)), str(i).encode())) == b"STORED\r\n"
        c.send(b"get " + b" ".join(k.encode() for k in keys) + b"\r\n")
        reply = c.read_get_reply()
        expected = b"".join(b"VALUE %s 7 %d\r\n%s\r\n" % (k.encode(), len(str(i)), str(i).encode())
                            for i, k in enumerate(keys) if i % 3) + b"END\r\n"
        assert reply == expected
        # gets: the same, with CAS, and gat over every shard.
        c.send(b"gat 100 " + b" ".join(k.encode() for k in keys[:12]) + b"\r\n")
        got = c.read_get_reply()
        assert got.count(b"VALUE ") == 8 and got.endswith(b"END\r\n")


def test_flush_all_empties_every_primary(stack):
    cluster, m, _ = stack
    with servers.RawConn(m.port) as c:
        for i in range(60):
            assert c.request(b"set f%d 0 0 1\r\nx\r\n" % i) == b"STORED\r\n"
        assert all(servers.resp(p, "DBSIZE") > 0 for p in cluster.primaries())
        # A key outside the prefix survives (only the prefix's keys are flushed).
        servers.resp(cluster.primary_port_for_slot(cluster.keyslot("other")), "SET", "other", "1")
        assert c.request(b"flush_all\r\n") == b"OK\r\n"
        assert c.request(b"get f1 f2 f3\r\n") == b"END\r\n"
    owner = cluster.primary_port_for_slot(cluster.keyslot("other"))
    assert servers.resp(owner, "GET", "other") == b"1"
    for p in cluster.primaries():
        cursor, keys = servers.resp(p, "SCAN", "0", "MATCH", PREFIX + "*", "COUNT", "100000")
        assert keys == [] and cursor == b"0", (p, keys[:5])
    servers.resp(owner, "DEL", "other")


def test_readyz_and_per_node_metrics(stack):
    cluster, m, admin = stack
    assert urllib.request.urlopen(f"http://127.0.0.1:{admin}/readyz", timeout=5).status == 200
    mt = metrics(admin)
    assert mt["mcbridge_redis_cluster_refreshes_total"] >= 2  # one per worker at least
    assert mt["mcbridge_redis_cluster_slot_map_age_seconds"] < 60
    for p in cluster.primaries():
        label = f'mcbridge_redis_node_up{{node="127.0.0.1:{p}",role="primary"}}'
        assert mt[label] == 1.0
        assert mt[f'mcbridge_redis_node_commands_total{{node="127.0.0.1:{p}",role="primary"}}'] > 0
