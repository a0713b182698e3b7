"""pymemcache 3.5.2 against mcbridge (and memcached, to prove the assertions)."""

import time

import pytest
from pymemcache import serde
from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheClientError, MemcacheServerError

from servers import raw_get


def client(port, **kw):
    kw.setdefault("connect_timeout", 5)
    kw.setdefault("timeout", 5)
    return Client(("127.0.0.1", port), **kw)


def test_pickle_serde_types(port):
    c = client(port, serde=serde.pickle_serde)
    values = {"str": "ünïcode", "int": -42, "bigint": 2 ** 80, "dict": {"a": [1, {"b": 2}]},
              "bytes": b"\x00\r\n\xff", "float": 3.25, "tuple": (1, "2"), "empty": "",
              "list": [None, True]}
    assert c.set_many(values, noreply=False) == []
    got = c.get_many(list(values) + ["nope"])
    assert got == values
    for k, v in values.items():
        assert c.get(k) == v
        assert type(c.get(k, default="sentinel")) is type(v)
    # flags chosen by the serde are visible on the wire
    assert raw_get(port, b"int").startswith(b"VALUE int 2 3\r\n-42\r\n")
    _, str_flags = serde.pickle_serde.serialize("str", values["str"])
    _, dict_flags = serde.pickle_serde.serialize("dict", values["dict"])
    assert str_flags != dict_flags
    assert raw_get(port, b"str").startswith(b"VALUE str %d 9\r\n" % str_flags)
    assert raw_get(port, b"dict").startswith(b"VALUE dict %d " % dict_flags)
    c.close()


def test_gets_cas(port):
    c = client(port)
    assert c.set("k", b"v1", noreply=False) is True
    v, cas = c.gets("k")
    assert v == b"v1" and cas.isdigit()
    v2, cas2 = c.gets("k")
    assert cas2 == cas
    assert c.cas("k", b"v2", cas) is True
    assert c.cas("k", b"v3", cas) is False          # EXISTS
    assert c.get("k") == b"v2"
    assert c.cas("missing", b"x", cas) is None      # NOT_FOUND
    _, cas3 = c.gets("k")
    assert cas3 != cas
    c.touch("k", 100, noreply=False)
    assert c.gets("k")[1] == cas3                   # touch keeps CAS
    assert c.gets("missing") == (None, None)
    many = c.gets_many(["k", "missing"])
    assert many == {"k": (b"v2", cas3)}
    c.close()


def test_incr_decr(port):
    c = client(port)
    assert c.incr("n", 1) is None
    assert c.decr("n", 1) is None
    c.set("n", "10", noreply=False)
    assert c.incr("n", 5) == 15
    assert c.decr("n", 3) == 12
    assert c.decr("n", 1000) == 0                   # floor at 0
    assert c.incr("n", 0) == 0
    c.set("w", "18446744073709551615", noreply=False)
    assert c.incr("w", 1) == 0                      # wraps at 2^64
    c.set("w", "18446744073709551615", noreply=False)
    assert c.incr("w", 2) == 1
    c.set("s", "abc", noreply=False)
    with pytest.raises(MemcacheClientError, match="non-numeric"):
        c.incr("s", 1)
    assert c.incr("n", 7, noreply=True) is None
    assert int(c.get("n")) == 7
    c.close()


def test_add_replace_append_prepend(port):
    c = client(port)
    assert c.add("k", b"a", noreply=False) is True
    assert c.add("k", b"b", noreply=False) is False
    assert c.replace("k", b"c", noreply=False) is True
    assert c.replace("missing", b"c", noreply=False) is False
    assert c.append("k", b"Z", noreply=False) is True
    assert c.prepend("k", b"A", noreply=False) is True
    assert c.append("missing", b"Z", noreply=False) is False
    assert c.prepend("missing", b"Z", noreply=False) is False
    assert c.get("k") == b"AcZ"
    assert c.delete("k", noreply=False) is True
    assert c.delete("k", noreply=False) is False
    c.close()


def test_touch_and_ttl_expiry(port):
    c = client(port)
    c.set("short", b"x", expire=2, noreply=False)
    c.set("kept", b"y", expire=2, noreply=False)
    c.set("forever", b"z", noreply=False)
    assert c.touch("kept", 100, noreply=False) is True
    assert c.touch("missing", 100, noreply=False) is False
    assert c.get("short") == b"x"
    time.sleep(3.1)
    assert c.get("short") is None
    assert c.get_many(["short", "kept", "forever"]) == {"kept": b"y", "forever": b"z"}
    assert c.add("short", b"again", noreply=False) is True
    c.close()


def test_default_noreply_stream_in_sync(port):
    c = client(port, default_noreply=True, serde=serde.pickle_serde)
    for i in range(100):
        c.set(f"k{i}", {"i": i})
        c.add(f"k{i}", "not stored")                 # NOT_STORED, silently
        c.replace(f"missing{i}", "x")                # NOT_STORED, silently
        c.append(f"k{i}", b"")                        # STORED
        c.touch(f"k{i}", 1000)
        c.touch(f"missing{i}", 1000)                 # NOT_FOUND, silently
        assert c.get(f"k{i}") == {"i": i}
        c.delete(f"k{i}")
        c.delete(f"k{i}")                            # NOT_FOUND, silently
        assert c.get(f"k{i}") is None
        if i % 10 == 0:
            assert c.version() == b"1.6.18"
    c.close()


def test_delete_many_and_flush_all(port):
    c = client(port)
    c.set_many({f"d{i}": b"x" for i in range(20)}, noreply=False)
    assert c.delete_many([f"d{i}" for i in range(10)], noreply=False) is True
    assert sorted(c.get_many([f"d{i}" for i in range(20)])) == sorted(f"d{i}" for i in range(10, 20))
    assert c.flush_all() is True                     # default noreply -> flush_all 0 noreply
    assert c.get_many([f"d{i}" for i in range(20)]) == {}
    c.set("a", b"1", noreply=False)
    assert c.flush_all(noreply=False) is True
    assert c.get("a") is None
    c.close()


def test_large_value_and_too_large(port):
    c = client(port)
    value = bytes(range(256)) * 4000                  # 1,024,000 bytes
    assert c.set("big", value, noreply=False) is True
    assert c.get("big") == value
    with pytest.raises(MemcacheServerError, match="object too large for cache"):
        c.set("big", b"x" * (1024 * 1024 + 1), noreply=False)
    assert c.get("big") is None                      # a failed set removes the old item
    assert c.set("after", b"ok", noreply=False) is True
    assert c.get("after") == b"ok"
    c.close()


def test_version_and_stats(port):
    c = client(port)
    assert c.version() == b"1.6.18"
    c.set("s", b"1", noreply=False)
    c.get("s")
    c.get("nope")
    stats = c.stats()
    assert stats[b"version"] == b"1.6.18"
    assert isinstance(stats[b"pid"], int) and isinstance(stats[b"curr_connections"], int)
    assert stats[b"get_hits"] >= 1 and stats[b"get_misses"] >= 1
    assert stats[b"cmd_get"] >= 2 and stats[b"cmd_set"] >= 1
    c.close()
