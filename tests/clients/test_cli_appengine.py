"""mcbridge_appengine.memcache (clients/python): App Engine's Memcache API, each function and
method with the results, types and exceptions App Engine documents. Runs against mcbridge and,
to prove the assertions, against a real memcached 1.6.18 (the `target` fixture)."""

import datetime
import decimal
import hashlib
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from servers import raw_get, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))

from mcbridge_appengine import memcache, namespace_manager  # noqa: E402


@pytest.fixture
def client(port):
    c = memcache.Client(address=f"127.0.0.1:{port}", timeout=5)
    yield c
    c.disconnect_all()


@pytest.fixture
def mod(port):
    """The module-level functions, pointed at the target; the default client restored after."""
    saved = memcache._CLIENT
    c = memcache.Client(address=f"127.0.0.1:{port}", timeout=5)
    memcache.setup_client(c)
    namespace_manager.set_namespace(None)
    yield memcache
    namespace_manager.set_namespace(None)
    c.disconnect_all()
    memcache.setup_client(saved)


# --------------------------------------------------------------------------- values and types

VALUES = {
    "str": "ünïcode ✓", "empty-str": "", "bytes": b"\x00\r\n\xff", "empty-bytes": b"",
    "int": 42, "negative": -7, "zero": 0, "bigint": 2 ** 100, "true": True, "false": False,
    "float": 2.5, "dict": {"a": [1, {"b": (2, 3)}]}, "list": [1, "two", None], "tuple": (1, 2),
    "set": {1, 2}, "none": None, "datetime": datetime.datetime(2026, 1, 2, 3, 4, 5),
    "decimal": decimal.Decimal("1.10"), "frozenset": frozenset("ab"),
}


def test_values_come_back_as_the_same_type(mod):
    for k, v in VALUES.items():
        assert mod.set(k, v) is True, k
    for k, v in VALUES.items():
        got = mod.get(k)
        assert got == v and type(got) is type(v), (k, got)
    got = mod.get_multi(list(VALUES))
    assert {k: (v, type(v)) for k, v in got.items()} == \
        {k: (v, type(v)) for k, v in VALUES.items()}


def test_value_flags_on_the_wire(mod, port):
    """The encoding documented in _codec: python-memcached's / pymemcache's flags."""
    mod.set("b", b"xy")
    mod.set("s", "é")
    mod.set("i", 12)
    mod.set("t", True)
    mod.set("d", {"k": 1})
    assert raw_get(port, b"b") == b"VALUE b 0 2\r\nxy\r\nEND\r\n"
    assert raw_get(port, b"s") == b"VALUE s 16 2\r\n\xc3\xa9\r\nEND\r\n"
    assert raw_get(port, b"i") == b"VALUE i 2 2\r\n12\r\nEND\r\n"
    assert raw_get(port, b"t").startswith(b"VALUE t 1 ")
    assert raw_get(port, b"d").startswith(b"VALUE d 1 ")


def test_value_size_limit(mod):
    assert memcache.MAX_VALUE_SIZE == 10 ** 6 and memcache.MAX_KEY_SIZE == 250
    assert mod.set("max", b"x" * 10 ** 6) is True
    assert mod.get("max") == b"x" * 10 ** 6
    with pytest.raises(ValueError):
        mod.set("big", b"x" * (10 ** 6 + 1))
    with pytest.raises(ValueError):
        mod.set_multi({"ok": 1, "big": "y" * (10 ** 6 + 1)})
    assert mod.get_multi(["ok", "big"]) == {}  # validated before anything was sent


# --------------------------------------------------------------------------- set family

def test_set_add_replace_results(mod):
    assert mod.get("k") is None
    assert mod.replace("k", 1) is False
    assert mod.add("k", 1) is True
    assert mod.add("k", 2) is False
    assert mod.get("k") == 1
    assert mod.replace("k", 3) is True
    assert mod.set("k", 4) is True
    assert mod.get("k") == 4


def test_multi_set_calls_return_the_keys_not_stored(mod):
    assert mod.set_multi({"a": 1, "b": 2}) == []
    assert mod.add_multi({"a": 9, "c": 3}) == ["a"]
    assert mod.replace_multi({"b": 20, "d": 4}) == ["d"]
    assert mod.get_multi(["a", "b", "c", "d"]) == {"a": 1, "b": 20, "c": 3}
    assert mod.set_multi({}) == [] and mod.get_multi([]) == {}


def test_key_prefix_is_on_the_wire_not_in_results(mod, port):
    assert mod.set_multi({"x": "1", "y": "2"}, key_prefix="p:") == []
    assert raw_get(port, b"p:x") == b"VALUE p:x 16 1\r\n1\r\nEND\r\n"
    assert mod.get_multi(["x", "y", "z"], key_prefix="p:") == {"x": "1", "y": "2"}
    assert mod.get("x") is None and mod.get("p:x") == "1"
    assert mod.add_multi({"x": 0, "z": 0}, key_prefix="p:") == ["x"]
    assert mod.offset_multi({"z": 5}, key_prefix="p:") == {"z": 5}
    assert mod.delete_multi(["x", "y"], key_prefix="p:") is True
    assert mod.get_multi(["x", "y", "z"], key_prefix="p:") == {"z": 5}


def test_time_relative_absolute_and_rounded_up(mod):
    # memcached's clock ticks once a second: a TTL of n s lives between n-1 and n seconds
    assert mod.set("rel", 1, time=2) is True
    assert mod.set("abs", 1, time=time.time() + 3) is True
    assert mod.set("frac", 1, time=1.2) is True        # rounds up to 2 s
    assert mod.set("month", 1, time=30 * 24 * 3600) is True
    assert mod.set_multi({"m1": 1}, time=2) == []
    keys = ["rel", "abs", "frac", "month", "m1"]
    assert mod.get_multi(keys) == {"rel": 1, "abs": 1, "frac": 1, "month": 1, "m1": 1}
    assert wait_for(lambda: mod.get_multi(keys) == {"month": 1}, 6, 0.1)
    with pytest.raises(TypeError):
        mod.set("k", 1, time="10")
    with pytest.raises(ValueError):
        mod.set("k", 1, time=-1)
    with pytest.raises(TypeError):
        mod.set_multi({"k": 1}, time=None)


# --------------------------------------------------------------------------- keys

def test_bad_keys_raise_type_error(mod):
    for bad in (None, 1, 1.5, ["a"], object()):
        with pytest.raises(TypeError):
            mod.get(bad)
        with pytest.raises(TypeError):
            mod.set(bad, 1)
        with pytest.raises(TypeError):
            mod.delete(bad)
    with pytest.raises(TypeError):
        mod.get_multi(["a", None])
    with pytest.raises(TypeError):
        mod.get_multi(["a"], key_prefix=5)


def test_tuple_keys_ignore_the_hash(mod):
    assert mod.set((123, "tk"), "v") is True
    assert mod.get("tk") == "v" and mod.get((9, "tk")) == "v"
    assert mod.get_multi([(1, "tk"), "nope"]) == {"tk": "v"}
    assert mod.set_multi({(1, "t1"): 1, (2, "t2"): 2}) == []
    assert mod.get_multi(["t1", "t2"]) == {"t1": 1, "t2": 2}
    assert mod.incr((5, "t1")) == 2
    assert mod.delete((3, "tk")) == memcache.DELETE_SUCCESSFUL


def test_long_keys_are_hashed_like_app_engine(mod, port):
    long_key = "L" * 251
    assert mod.set(long_key, "long") is True
    digest = hashlib.sha1(long_key.encode()).hexdigest().encode()
    assert raw_get(port, digest) == b"VALUE %s 16 4\r\nlong\r\nEND\r\n" % digest
    assert mod.get(long_key) == "long"
    assert mod.get_multi([long_key]) == {long_key: "long"}
    exact = "E" * 250                                   # 250 bytes: not hashed
    assert mod.set(exact, 1) is True and raw_get(port, exact.encode()).startswith(b"VALUE E")
    # key_prefix counts: prefix + key over 250 bytes is hashed too
    assert mod.set_multi({"k" * 248: 1}, key_prefix="pre") == []
    digest2 = hashlib.sha1(b"pre" + b"k" * 248).hexdigest().encode()
    assert raw_get(port, digest2).startswith(b"VALUE %s 2 1" % digest2)
    assert mod.get_multi(["k" * 248], key_prefix="pre") == {"k" * 248: 1}


def test_keys_memcached_cannot_carry(mod):
    """Spaces, line breaks, UTF-8 and empty keys are fine App Engine keys."""
    keys = ["with space", "line\r\nbreak", "ünï", "", "~tilde", b"\x00\xff", "tab\tx"]
    for i, k in enumerate(keys):
        assert mod.set(k, i) is True, k
    assert mod.get_multi(keys) == {k: i for i, k in enumerate(keys)}
    assert mod.get("with") is None and mod.get("space") is None
    assert mod.delete("with space") == memcache.DELETE_SUCCESSFUL
    assert mod.get("with space") is None


def test_str_and_bytes_keys_are_the_same_key(mod):
    assert mod.set("same", 1) and mod.get(b"same") == 1


# --------------------------------------------------------------------------- namespaces

def test_namespaces_isolate(mod, port):
    assert mod.set("k", "default") is True
    assert mod.set("k", "one", namespace="ns1") is True
    namespace_manager.set_namespace("ns2")
    assert namespace_manager.get_namespace() == "ns2"
    assert mod.get("k") is None
    assert mod.set("k", "two") is True
    assert mod.get("k") == "two"
    assert mod.get("k", namespace="ns1") == "one"
    assert mod.get("k", namespace="") == "default"
    assert mod.get_multi(["k"], namespace="ns1") == {"k": "one"}
    assert mod.incr("n", initial_value=0) == 1
    namespace_manager.set_namespace(None)
    assert namespace_manager.get_namespace() == ""
    assert mod.get("k") == "default" and mod.get("n") is None
    assert mod.delete("k", namespace="ns1") == memcache.DELETE_SUCCESSFUL
    assert mod.get("k", namespace="ns2") == "two"
    assert mod.get("k", namespace="ns1") is None
    # what memcached sees: the documented wire form
    assert raw_get(port, b"~ns2:k") == b"VALUE ~ns2:k 16 3\r\ntwo\r\nEND\r\n"
    # a default-namespace key that looks like a namespaced one does not collide
    assert mod.set("~ns2:k", "not ns2") is True
    assert mod.get("k", namespace="ns2") == "two"


def test_namespace_validation_and_threads(mod):
    for bad in ("with space", "x" * 101, "slash/", 5):
        with pytest.raises(namespace_manager.BadValueError):
            namespace_manager.set_namespace(bad)
        with pytest.raises(ValueError):
            mod.get("k", namespace=bad)
    namespace_manager.set_namespace("main-ns")
    seen = []
    t = threading.Thread(target=lambda: seen.append(namespace_manager.get_namespace()))
    t.start()
    t.join()
    assert seen == [""] and namespace_manager.get_namespace() == "main-ns"


# --------------------------------------------------------------------------- delete

def test_delete_results(mod):
    assert mod.delete("nope") == memcache.DELETE_ITEM_MISSING == 1
    mod.set("d", 1)
    assert mod.delete("d") == memcache.DELETE_SUCCESSFUL == 2
    assert mod.get("d") is None
    mod.set_multi({"d1": 1, "d2": 2})
    assert mod.delete_multi(["d1", "d2", "d3"]) is True
    assert mod.get_multi(["d1", "d2"]) == {}
    with pytest.raises(TypeError):
        mod.delete("d", seconds="1")
    with pytest.raises(ValueError):
        mod.delete("d", seconds=-1)


def test_delete_with_seconds_locks_add_not_set(mod):
    mod.set("locked", 1)
    assert mod.delete("locked", seconds=2) == memcache.DELETE_SUCCESSFUL
    assert mod.get("locked") is None
    assert mod.add("locked", 2) is False          # locked for add
    assert mod.get_multi(["locked"]) == {}
    assert mod.set("locked", 3) is True           # set always works
    assert mod.get("locked") == 3
    assert mod.delete("never-there", seconds=2) == memcache.DELETE_ITEM_MISSING
    assert mod.add("never-there", 1) is True      # nothing was deleted: no lock


# --------------------------------------------------------------------------- incr / decr

def test_incr_decr(mod):
    assert mod.incr("c") is None                  # missing, no initial_value: not created
    assert mod.get("c") is None
    assert mod.incr("c", initial_value=10) == 11
    assert mod.incr("c", 5) == 16
    assert mod.decr("c", 6) == 10
    assert mod.decr("c", 100) == 0                # floored at zero
    assert mod.decr("d", 3, initial_value=10) == 7
    assert mod.decr("e", 30, initial_value=10) == 0
    assert mod.get("c") == 0 and type(mod.get("d")) is int
    mod.set("s", "41")                            # a str counter stays a str
    assert mod.incr("s") == 42 and mod.get("s") == "42"
    mod.set("i", 41)
    assert mod.incr("i") == 42 and mod.get("i") == 42


def test_incr_is_unsigned_64_bit(mod):
    top = 2 ** 64 - 1
    assert mod.set("w", top) is True
    assert mod.incr("w") == 0                     # wraps around
    assert mod.incr("w2", 2, initial_value=top) == 1
    assert mod.incr("big", top, initial_value=0) == top
    mod.set("neg", -5)
    assert mod.incr("neg") is None                # not an unsigned integer
    mod.set("text", "abc")
    assert mod.incr("text") is None
    mod.set("pickled", {"a": 1})
    assert mod.decr("pickled") is None


def test_incr_argument_errors(mod):
    with pytest.raises(TypeError):
        mod.incr("k", "1")
    with pytest.raises(TypeError):
        mod.incr("k", 1.0)
    with pytest.raises(ValueError):
        mod.incr("k", -1)
    with pytest.raises(ValueError):
        mod.decr("k", -1)
    with pytest.raises(TypeError):
        mod.incr("k", initial_value="0")
    with pytest.raises(ValueError):
        mod.incr("k", initial_value=-1)
    with pytest.raises(TypeError):
        mod.offset_multi({"k": "1"})


def test_incr_of_a_list_of_keys_is_offset_multi(mod):
    mod.set("a", 1)
    assert mod.incr(["a", "b"], 2) == {"a": 3, "b": None}
    assert mod.decr(["a", "b"], 1, initial_value=5) == {"a": 2, "b": 4}


def test_offset_multi(mod):
    mod.set_multi({"p": 10, "q": 10, "txt": "x"})
    assert mod.offset_multi({"p": 5, "q": -3, "r": 1, "txt": 1}) == \
        {"p": 15, "q": 7, "r": None, "txt": None}
    assert mod.offset_multi({"p": -100, "r": 2, "s": -2}, initial_value=10) == \
        {"p": 0, "r": 12, "s": 8}
    assert mod.get_multi(["p", "r", "s"]) == {"p": 0, "r": 12, "s": 8}
    assert mod.offset_multi({}) == {}
    with pytest.raises(ValueError):
        mod.offset_multi({"p": 1}, initial_value=-1)


# --------------------------------------------------------------------------- Client: CAS

def test_gets_cas_cas_reset(client):
    assert client.cas("k", 1) is False            # never fetched with gets
    client.set("k", 1)
    assert client.gets("k") == 1
    assert client.cas("k", 2) is True
    assert client.cas("k", 3) is False            # the id changed with the first cas
    assert client.get("k") == 2
    assert client.get("k", for_cas=True) == 2
    client.cas_reset()
    assert client.cas("k", 4) is False
    assert client.get_multi(["k", "x"], for_cas=True) == {"k": 2}
    client.delete("k")
    assert client.cas("k", 5) is False            # gone: NOT_STORED
    assert client.get("k") is None


def test_cas_multi_and_its_statuses(client):
    client.set_multi({"a": 1, "b": 1, "c": 1})
    assert client.get_multi(["a", "b", "c"], for_cas=True) == {"a": 1, "b": 1, "c": 1}
    other = memcache.Client(address=client._config_args["address"])
    other.set("b", 99)
    assert client.cas_multi({"a": 2, "b": 2, "never": 2}) == ["b", "never"]
    assert client.get_multi(["a", "b"]) == {"a": 2, "b": 99}
    client.gets("c")
    other.set("c", 5)
    statuses = client.cas_multi_async({"c": 3, "zz": 1}).get_result()
    assert statuses == {"c": memcache.EXISTS, "zz": memcache.NOT_STORED}
    other.disconnect_all()


def test_cas_race_between_two_clients_exactly_one_wins(client):
    client.set("race", 0)
    addr = client._config_args["address"]
    c1, c2 = memcache.Client(address=addr), memcache.Client(address=addr)
    assert c1.gets("race") == 0 and c2.gets("race") == 0
    results = [c1.cas("race", 1), c2.cas("race", 2)]
    assert sorted(results) == [False, True]
    assert client.get("race") == (1 if results[0] else 2)


def test_cas_loops_in_threads_lose_no_update(client):
    addr = client._config_args["address"]
    client.set("counter", 0)

    def worker():
        c = memcache.Client(address=addr)
        for _ in range(25):
            while True:
                v = c.gets("counter")
                if c.cas("counter", v + 1):
                    break
        c.disconnect_all()
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert client.get("counter") == 100


# --------------------------------------------------------------------------- async, stats, flush

def test_async_variants_return_completed_rpcs(client):
    r = client.set_multi_async({"a": 1, "b": "2"})
    assert r.get_result() == {"a": memcache.STORED, "b": memcache.STORED}
    assert client.add_multi_async({"a": 0, "c": 3}).get_result() == \
        {"a": memcache.NOT_STORED, "c": memcache.STORED}
    assert client.replace_multi_async({"z": 0}).get_result() == {"z": memcache.NOT_STORED}
    assert client.get_multi_async(["a", "b", "z"]).get_result() == {"a": 1, "b": "2"}
    assert client.incr_async("a", 4).get_result() == 5
    assert client.decr_async("a").get_result() == 4
    assert client.offset_multi_async({"a": 1, "q": 1}).get_result() == {"a": 5, "q": None}
    assert client.delete_multi_async(["a", "q"]).get_result() == \
        [memcache.DELETE_SUCCESSFUL, memcache.DELETE_ITEM_MISSING]
    stats = client.get_stats_async().get_result()
    assert set(stats) == {"hits", "misses", "byte_hits", "items", "bytes", "oldest_item_age"}
    assert client.flush_all_async().get_result() is True
    calls = []
    rpc = memcache.create_rpc(callback=lambda: calls.append(1))
    assert client.get_multi_async(["b"], rpc=rpc) is rpc
    assert rpc.get_result() == {} and calls == [1]


def test_get_stats_and_flush_all(mod):
    mod.set("h", 1)
    before = mod.get_stats()
    assert all(type(v) is int for v in before.values())
    mod.get("h")
    mod.get("missing")
    after = mod.get_stats()
    assert after["hits"] == before["hits"] + 1
    assert after["misses"] == before["misses"] + 1
    assert mod.flush_all() is True
    assert mod.get("h") is None


def test_module_functions_match_app_engine(mod):
    for name in ("get", "get_multi", "set", "set_multi", "add", "add_multi", "replace",
                 "replace_multi", "delete", "delete_multi", "incr", "decr", "offset_multi",
                 "flush_all", "get_stats", "set_servers", "disconnect_all",
                 "forget_dead_hosts", "debuglog", "setup_client", "create_rpc", "Client"):
        assert callable(getattr(memcache, name)), name
    # as on App Engine, the CAS calls keep state and are only on Client objects
    for name in ("gets", "cas", "cas_multi"):
        assert not hasattr(memcache, name)
    assert (memcache.DELETE_NETWORK_FAILURE, memcache.DELETE_ITEM_MISSING,
            memcache.DELETE_SUCCESSFUL) == (0, 1, 2)
    assert (memcache.STORED, memcache.NOT_STORED, memcache.ERROR, memcache.EXISTS) == \
        (1, 2, 3, 4)


# --------------------------------------------------------------------------- Client options

class Tagged(object):
    def __init__(self, name):
        self.name = name


def test_pickle_protocol_and_persistent_ids(port):
    registry = {"t1": Tagged("one")}
    c = memcache.Client(address=f"127.0.0.1:{port}", pickleProtocol=0,
                        pid=lambda obj: obj.name if isinstance(obj, Tagged) else None,
                        pload=lambda pid: Tagged(pid + "-loaded"))
    assert c.set("p", [1.5, "x"]) is True
    assert raw_get(port, b"p").split(b"\r\n")[1].startswith(b"(lp0")  # protocol 0 on the wire
    assert c.get("p") == [1.5, "x"]
    assert c.set("obj", {"ref": registry["t1"]}) is True
    assert c.get("obj")["ref"].name == "one-loaded"   # stored by id, loaded by pload


def test_a_forked_child_gets_its_own_connections(client):
    assert client.set("f", "parent") is True          # the pool now holds a connection
    parents = list(client._backend._idle)
    assert parents
    pid = os.fork()
    if pid == 0:  # the child: must not write on the parent's socket
        ok = client.set("f", "child") and client.get("f") == "child"
        ok = ok and not any(c in parents for c in client._backend._idle)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert client.get("f") == "child"                 # the parent's connection is intact
    assert client.set("f", "parent again") and client.get("f") == "parent again"
