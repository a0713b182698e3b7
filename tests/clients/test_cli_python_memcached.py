"""python-memcached (`import memcache`) against mcbridge (and memcached)."""

import memcache
import pytest

from servers import raw_get


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


def client(port, **kw):
    return memcache.Client([f"127.0.0.1:{port}"], socket_timeout=5, **kw)


def raw_value_line(port, key: bytes) -> bytes:
    return raw_get(port, key).split(b"\r\n")[0]


@pytest.fixture
def mc(port):
    c = client(port)
    yield c
    c.disconnect_all()


def test_pickled_objects_and_flags(mc, port):
    values = {"d": {"a": 1, "b": [1, 2]}, "p": Point(1, 2), "s": "text", "b": b"\x00\r\nbytes",
              "i": 42, "big": 2 ** 64 + 5, "neg": -7, "l": [1, "x", None]}
    for k, v in values.items():
        assert mc.set(k, v) is True, k
    for k, v in values.items():
        got = mc.get(k)
        assert got == v and type(got) is type(v), k
    # python-memcached's flag bits survive unchanged: int -> 2 (INTEGER), str -> 16 (TEXT),
    # pickled -> 1; bytes -> 0
    assert raw_value_line(port, b"i") == b"VALUE i 2 2"
    assert raw_value_line(port, b"s").startswith(b"VALUE s 16 ")
    assert raw_value_line(port, b"d").startswith(b"VALUE d 1 ")
    assert raw_value_line(port, b"b") == b"VALUE b 0 8"


def test_set_multi_get_multi_with_prefix(mc):
    data = {f"k{i}": {"v": i} for i in range(50)}
    assert mc.set_multi(data, key_prefix="pfx:") == []
    got = mc.get_multi(list(data) + ["absent"], key_prefix="pfx:")
    assert got == data
    assert mc.get("pfx:k7") == {"v": 7}
    assert mc.get("k7") is None
    assert mc.delete_multi([f"k{i}" for i in range(25)], key_prefix="pfx:") == 1
    assert sorted(mc.get_multi(list(data), key_prefix="pfx:")) == sorted(f"k{i}" for i in range(25, 50))


def test_gets_cas(port):
    a = client(port, cache_cas=True)
    b = client(port, cache_cas=True)
    try:
        assert a.set("c", "v1") is True
        assert a.gets("c") == "v1"
        assert a.cas("c", "v2") is True
        assert a.get("c") == "v2"
        assert a.gets("c") == "v2"
        assert b.set("c", "other") is True          # someone else changes it
        assert a.cas("c", "v3") is False            # EXISTS
        assert a.get("c") == "other"
        assert b.gets("c") == "other"
        assert b.delete("c") == 1
        assert b.cas("c", "v4") is False            # NOT_FOUND
    finally:
        a.disconnect_all()
        b.disconnect_all()


def test_incr_decr(mc):
    assert mc.incr("n") is None
    assert mc.set("n", 10) is True
    assert mc.incr("n") == 11
    assert mc.incr("n", 9) == 20
    assert mc.decr("n", 5) == 15
    assert mc.decr("n", 100) == 0
    assert mc.get("n") == 0
    assert mc.set("w", "18446744073709551615") is True
    assert mc.incr("w") == 0
    assert mc.decr("missing") is None


def test_add_replace_append_prepend_delete_touch(mc):
    assert mc.add("k", "a") is True
    assert mc.add("k", "b") is False
    assert mc.replace("k", "c") is True
    assert mc.replace("missing", "c") is False
    assert mc.append("k", "Z") is True
    assert mc.prepend("k", "A") is True
    assert mc.get("k") == "AcZ"
    assert mc.touch("k", 100) == 1
    assert mc.touch("missing", 100) == 0
    assert mc.delete("k") == 1
    assert mc.delete("k") == 1                      # python-memcached: NOT_FOUND is success too
    assert mc.get("k") is None


def test_flush_all_and_stats(mc):
    mc.set("a", 1)
    mc.flush_all()
    assert mc.get("a") is None
    (server, stats), = mc.get_stats()
    assert stats["version"] == "1.6.18"
    assert int(stats["curr_connections"]) >= 1


def test_long_value_limit(mc):
    ok = "x" * (1000 * 1000)
    assert mc.set("big", ok) is True
    assert mc.get("big") == ok
