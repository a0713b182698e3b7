"""Binary protocol clients without credentials: libmemcached's memccapable -b and pylibmc with
binary=True, against mcbridge and (to prove the assertions) a real memcached 1.6.18."""

import pylibmc
import pytest

import clienttools

EXPECTED_TESTS = [
    "noop", "quit", "quitq", "set", "setq", "flush", "flushq", "add", "addq", "replace",
    "replaceq", "delete", "deleteq", "get", "getq", "getk", "getkq", "incr", "incrq", "decr",
    "decrq", "version", "append", "appendq", "prepend", "prependq", "stat",
]


def test_memccapable_binary(port):
    clienttools.run_memccapable(port, "binary", EXPECTED_TESTS)


BEHAVIORS = [
    pytest.param({}, id="default"),
    pytest.param({"tcp_nodelay": True, "cas": True}, id="nodelay-cas"),
    pytest.param({"tcp_nodelay": True, "no_block": True, "cas": True}, id="no_block"),
]


def client(port, behaviors):
    c = pylibmc.Client([f"127.0.0.1:{port}"], binary=True)
    if behaviors:
        c.behaviors = behaviors
    return c


@pytest.mark.parametrize("behaviors", BEHAVIORS)
def test_pylibmc_binary_ops(port, behaviors):
    c = client(port, behaviors)
    assert c.set("k", "v") is True
    assert c.get("k") == "v"
    assert c.set("obj", {"a": [1, 2]}) is True
    assert c.get("obj") == {"a": [1, 2]}
    assert c.set("b", b"\x00\r\nbin") is True
    assert c.get("b") == b"\x00\r\nbin"
    assert c.add("k", "other") is False
    assert c.add("new", "n") is True
    with pytest.raises(pylibmc.NotFound):  # libmemcached's binary replace on a miss
        c.replace("missing", "x")
    assert c.replace("k", "w") is True
    assert c.append("k", "Z") is True
    assert c.prepend("k", "A") is True
    assert c.get("k") == "AwZ"
    assert c.delete("k") is True
    assert c.delete("k") is False
    assert c.get("k") is None
    assert c.set("big", b"x" * 500000) is True
    assert c.get("big") == b"x" * 500000
    c.disconnect_all()


@pytest.mark.parametrize("behaviors", BEHAVIORS)
def test_pylibmc_binary_multi(port, behaviors):
    c = client(port, behaviors)
    data = {f"m{i}": f"value{i}" * (i % 7) for i in range(200)}
    assert c.set_multi(data) == []
    assert c.get_multi(list(data) + ["absent"]) == data
    assert c.delete_multi([f"m{i}" for i in range(100)]) is True
    assert sorted(c.get_multi(list(data))) == sorted(f"m{i}" for i in range(100, 200))
    c.disconnect_all()


@pytest.mark.parametrize("behaviors", BEHAVIORS)
def test_pylibmc_binary_counters_cas_touch(port, behaviors):
    c = client(port, dict(behaviors, cas=True))
    assert c.set("n", 10) is True
    assert c.incr("n", 5) == 15
    assert c.decr("n", 20) == 0
    with pytest.raises(pylibmc.NotFound):
        c.incr("absent")
    assert c.set("c", "one") is True
    value, cas = c.gets("c")
    assert value == "one"
    assert c.cas("c", "two", cas) is True
    assert c.cas("c", "three", cas) is False
    assert c.get("c") == "two"
    assert c.touch("c", 100) is True
    assert c.touch("absent", 100) is False
    c.disconnect_all()


def test_pylibmc_binary_and_text_share_items(port):
    b = pylibmc.Client([f"127.0.0.1:{port}"], binary=True)
    t = pylibmc.Client([f"127.0.0.1:{port}"], binary=False)
    assert b.set("shared", {"x": 1}) is True
    assert t.get("shared") == {"x": 1}
    assert t.set("other", 42) is True
    assert b.get("other") == 42
    assert b.incr("other", 1) == 43
    assert t.get("other") == 43
    b.disconnect_all()
    t.disconnect_all()
