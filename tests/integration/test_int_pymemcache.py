"""pymemcache with its pickle serde through mcbridge: flags must survive the Redis round trip."""

import struct

from pymemcache import serde
from pymemcache.client.base import Client

from servers import resp

VALUES = {
    "s": "hello wörld",
    "i": 12345,
    "big_i": 2 ** 70,
    "d": {"a": [1, 2, 3], "b": {"nested": (4, 5)}, "c": None},
    "b": b"bin\r\n\x00data\r\nEND\r\n",
    "f": 1.5,
    "l": ["x", 2, 3.0],
}


def client(port, **kw):
    return Client(("127.0.0.1", port), serde=serde.pickle_serde, connect_timeout=5,
                  timeout=5, **kw)


def test_pickle_serde_round_trip(mcbridge_srv, redis_flushed):
    c = client(mcbridge_srv.port)
    assert c.set_many(VALUES, noreply=False) == []
    got = c.get_many(list(VALUES) + ["missing"])
    assert got == VALUES
    for k, v in VALUES.items():
        assert c.get(k) == v
        value, cas = c.gets(k)
        assert value == v and isinstance(cas, bytes) and int(cas) > 0
        assert type(c.get(k)) is type(v)
    # the flags pymemcache chose are what Redis holds
    _, flags_str = serde.pickle_serde.serialize("s", VALUES["s"])
    _, flags_int = serde.pickle_serde.serialize("i", VALUES["i"])
    _, flags_dict = serde.pickle_serde.serialize("d", VALUES["d"])
    _, flags_bytes = serde.pickle_serde.serialize("b", VALUES["b"])
    for key, fl in [("s", flags_str), ("i", flags_int), ("d", flags_dict), ("b", flags_bytes)]:
        raw = resp(redis_flushed.port, "GET", key)
        assert raw[:2] == b"\xfb\x01"
        assert struct.unpack(">I", raw[2:6])[0] == fl, key
    assert len({flags_str, flags_int, flags_dict, flags_bytes}) == 4
    c.close()


def test_pickle_serde_cas_flow(mcbridge_srv, redis_flushed):
    c = client(mcbridge_srv.port)
    c.set("obj", {"v": 1}, noreply=False)
    value, cas = c.gets("obj")
    assert value == {"v": 1}
    assert c.cas("obj", {"v": 2}, cas) is True
    assert c.cas("obj", {"v": 3}, cas) is False
    assert c.get("obj") == {"v": 2}
    c.close()


def test_pickle_serde_default_noreply_stays_in_sync(mcbridge_srv, redis_flushed):
    c = client(mcbridge_srv.port, default_noreply=True)
    for i in range(50):
        c.set(f"k{i}", {"i": i})
        assert c.get(f"k{i}") == {"i": i}
        c.delete(f"k{i}")
        assert c.get(f"k{i}") is None
    c.close()
