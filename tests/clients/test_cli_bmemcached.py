"""python-binary-memcached (Debian's python3-binary-memcached, `import bmemcached`: pure-Python
binary protocol, SASL PLAIN) against mcbridge (standalone Redis and Redis Cluster) and, to
prove the assertions, a real memcached 1.6.18; with credentials against mcbridge --auth-file
and memcached -S."""

import bmemcached
import pytest
from bmemcached.exceptions import MemcachedException

import sasl_servers

# bmemcached 0.31 calls urllib's deprecated splitport()
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def client(port, **kw):
    return bmemcached.Client([f"127.0.0.1:{port}"], socket_timeout=5, **kw)


def test_bmemcached_ops(port):
    c = client(port)
    assert c.set("k", "v") is True and c.get("k") == "v"
    assert c.set("d", {"a": [1]}) is True and c.get("d") == {"a": [1]}
    assert c.set("i", 5) is True and c.get("i") == 5
    assert c.set("b", b"\x00\r\n") is True and c.get("b") == b"\x00\r\n"
    assert c.add("k", "x") is False and c.add("n1", "y") is True
    assert c.replace("nope", "x") is False and c.replace("k", "w") is True
    assert c.get("k") == "w" and c.get("nope", default="dflt") == "dflt"
    assert c.delete("k") is True and c.get("k") is None
    assert c.delete("k") is True  # bmemcached counts "not found" as deleted
    assert c.set("m1", 1) and c.set("m2", "two")
    assert c.get_multi(["m1", "m2", "nope"]) == {"m1": 1, "m2": "two"}
    assert c.delete_multi(["m1", "nope"]) is False and c.get("m1") is None
    big = b"".join(bytes([i % 251]) for i in range(300000))
    assert c.set("big", big) is True and c.get("big") == big
    c.disconnect_all()


def test_bmemcached_counters_and_cas(port):
    c = client(port)
    # incr/decr of a missing key create it with the default (0) and bmemcached's exptime
    assert c.incr("cnt", 1) == 0 and c.incr("cnt", 1) == 1 and c.get("cnt") == "1"
    assert c.decr("cnt2", 1) == 0
    assert c.set("num", 10) and c.incr("num", 5) == 15 and c.decr("num", 100) == 0
    assert c.set("nan", "abc")
    with pytest.raises(MemcachedException) as e:
        c.incr("nan", 1)
    assert e.value.code == 6  # "Non-numeric server-side value for incr or decr"
    assert c.set("c", "one")
    value, cas = c.gets("c")
    assert value == "one" and cas > 0
    assert c.cas("c", "two", cas) is True and c.cas("c", "three", cas) is False
    assert c.get("c") == "two"
    assert c.flush_all() is True and c.get("c") is None
    stats = next(iter(c.stats().values()))
    assert stats["version"] == b"1.6.18" and b"curr_connections" in map(str.encode, stats)
    c.disconnect_all()


@pytest.fixture(scope="module", params=["mcbridge", "memcached"])
def sasl_port(request):
    return request.getfixturevalue(f"sasl_{request.param}_srv").port


def test_bmemcached_sasl(sasl_port):
    user, password = next(iter(sasl_servers.USERS.items()))
    c = client(sasl_port, username=user, password=password)
    assert c.flush_all() is True  # the SASL servers are shared with other modules
    assert c.set("auth:k", "secret") is True and c.get("auth:k") == "secret"
    assert c.incr("auth:n", 3) == 0 and c.incr("auth:n", 3) == 3
    c.disconnect_all()
    bad = client(sasl_port, username=user, password="wrong-" + password)
    with pytest.raises(Exception):
        bad.set("auth:k", "overwritten")
    bad.disconnect_all()
    assert client(sasl_port, username=user, password=password).get("auth:k") == "secret"
