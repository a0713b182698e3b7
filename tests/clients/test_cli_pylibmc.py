"""pylibmc (libmemcached, ASCII protocol) against mcbridge (and memcached)."""

import pylibmc
import pytest

BEHAVIORS = [
    pytest.param({}, id="default"),
    pytest.param({"tcp_nodelay": True, "cas": True}, id="nodelay-cas"),
    pytest.param({"tcp_nodelay": True, "no_block": True, "cas": True}, id="no_block"),
    pytest.param({"verify_keys": True, "cas": True}, id="verify_keys"),
]


def client(port, behaviors):
    c = pylibmc.Client([f"127.0.0.1:{port}"], binary=False)
    if behaviors:
        c.behaviors = behaviors
    return c


@pytest.mark.parametrize("behaviors", BEHAVIORS)
def test_basic_ops(port, behaviors):
    c = client(port, behaviors)
    assert c.set("k", "v") is True
    assert c.get("k") == "v"
    assert c.set("obj", {"a": [1, 2]}) is True
    assert c.get("obj") == {"a": [1, 2]}
    assert c.set("i", 5) is True
    assert c.get("i") == 5
    assert c.set("b", b"\x00\r\nbin") is True
    assert c.get("b") == b"\x00\r\nbin"
    assert c.add("k", "other") is False
    assert c.add("new", "n") is True
    assert c.replace("missing", "x") is False
    assert c.replace("k", "w") is True
    assert c.append("k", "Z") is True
    assert c.prepend("k", "A") is True
    assert c.get("k") == "AwZ"
    assert c.delete("k") is True
    assert c.delete("k") is False
    assert c.get("k") is None
    c.disconnect_all()


@pytest.mark.parametrize("behaviors", BEHAVIORS)
def test_multi(port, behaviors):
    c = client(port, behaviors)
    data = {f"m{i}": f"value{i}" * (i % 7) for i in range(100)}
    assert c.set_multi(data) == []
    assert c.get_multi(list(data) + ["absent"]) == data
    assert c.set_multi({"x": 1, "y": 2}, key_prefix="p:") == []
    assert c.get_multi(["x", "y"], key_prefix="p:") == {"x": 1, "y": 2}
    assert c.delete_multi([f"m{i}" for i in range(50)]) is True
    assert sorted(c.get_multi(list(data))) == sorted(f"m{i}" for i in range(50, 100))
    c.disconnect_all()


@pytest.mark.parametrize("behaviors", BEHAVIORS)
def test_incr_decr(port, behaviors):
    c = client(port, behaviors)
    with pytest.raises(pylibmc.NotFound):
        c.incr("n")
    c.set("n", "10")
    assert c.incr("n") == 11
    assert c.incr("n", 9) == 20
    assert c.decr("n", 5) == 15
    assert c.decr("n", 100) == 0
    c.set("w", "18446744073709551615")
    assert c.incr("w", 1) == 0
    c.disconnect_all()


def test_gets_cas(port):
    c = client(port, {"cas": True})
    c.set("c", "v1")
    v, cas = c.gets("c")
    assert v == "v1" and cas > 0
    assert c.cas("c", "v2", cas) is True
    assert c.cas("c", "v3", cas) is False
    assert c.get("c") == "v2"
    v, cas2 = c.gets("c")
    assert cas2 != cas
    c.disconnect_all()


def test_touch_flush_version(port):
    c = client(port, {})
    c.set("t", "x")
    assert c.touch("t", 100) is True
    assert c.touch("missing", 100) is False
    assert c.get("t") == "x"
    assert c.flush_all() is True
    assert c.get("t") is None
    stats = c.get_stats()
    assert stats[0][1]["version"] == b"1.6.18"
    c.disconnect_all()


def test_verify_keys_rejects_bad_key_client_side(port):
    c = client(port, {"verify_keys": True})
    assert c.set("bad key", "v") is False      # rejected by libmemcached, never sent
    assert c.set("bad\x01key", "v") is False
    assert c.set("good", "v") is True
    assert c.get("good") == "v"
    c.disconnect_all()


def test_no_block_writes_land(port):
    c = client(port, {"no_block": True, "tcp_nodelay": True})
    for i in range(200):
        c.set(f"nb{i}", i)
    # the buffered writes are flushed before the get's reply is read
    assert c.get_multi([f"nb{i}" for i in range(200)]) == {f"nb{i}": i for i in range(200)}
    c.disconnect_all()


def test_too_large(port):
    c = client(port, {})
    c.set("big", "old")
    with pytest.raises(pylibmc.TooBig):
        c.set("big", b"x" * (1024 * 1024 + 10))
    assert c.set("after", "ok") is True
    assert c.get("after") == "ok"
    c.disconnect_all()


def test_libmemcached_noreply_mode(port):
    """MEMCACHED_BEHAVIOR_NOREPLY: libmemcached appends ' noreply' to every write and reads
    no reply; any stray reply from the server would desynchronise the following gets."""
    c = client(port, {"_noreply": True})
    assert c.set("a", "1") is True
    c.add("a", "2")                                  # NOT_STORED, unseen
    c.replace("a", "3")
    c.append("a", "4")
    c.prepend("a", "0")
    assert c.get("a") == "034"
    c.set_multi({"x": 1, "y": 2})
    assert c.get_multi(["x", "y"]) == {"x": 1, "y": 2}
    c.delete("a")
    c.delete("a")                                    # NOT_FOUND, unseen
    assert c.get("a") is None
    for i in range(50):
        c.set(f"k{i}", i)
    assert c.get_multi([f"k{i}" for i in range(50)]) == {f"k{i}": i for i in range(50)}
    c.incr("k1")                                     # return value meaningless in noreply
    assert c.get("k1") == 2
    c.flush_all()
    assert c.get("x") is None
    c.disconnect_all()
