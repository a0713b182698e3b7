"""mcbridge_appengine.memcache interoperates with pymemcache (pickle serde) and python-memcached:
each reads what the others write, wherever the types overlap (against mcbridge and memcached)."""

import sys
import zlib
from pathlib import Path

import memcache as python_memcached
import pytest
from pymemcache import serde
from pymemcache.client.base import Client as PymemcacheClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))

from mcbridge_appengine import memcache  # noqa: E402

SHARED = {"str": "ünïcode", "empty": "", "bytes": b"\x00\r\n\xff", "int": 42, "neg": -3,
          "big": 2 ** 70, "true": True, "false": False, "float": 0.5, "none": None,
          "dict": {"a": [1, (2, 3)]}, "list": ["x", 1], "tuple": (1, "2"), "set": {3}}


@pytest.fixture
def ae(port):
    c = memcache.Client(address=f"127.0.0.1:{port}", timeout=5)
    yield c
    c.disconnect_all()


@pytest.fixture
def pym(port):
    c = PymemcacheClient(("127.0.0.1", port), serde=serde.pickle_serde, connect_timeout=5,
                         timeout=5)
    yield c
    c.close()


@pytest.fixture
def pmc(port):
    c = python_memcached.Client([f"127.0.0.1:{port}"], socket_timeout=5)
    yield c
    c.disconnect_all()


def typed(d):
    return {k: (v, type(v)) for k, v in d.items()}


def test_pymemcache_and_python_memcached_read_what_the_module_writes(ae, pym, pmc):
    assert ae.set_multi(SHARED) == []
    assert typed(pym.get_many(list(SHARED))) == typed(SHARED)
    got = {k: pmc.get(k) for k in SHARED}
    assert typed(got) == typed(SHARED)
    assert typed(pmc.get_multi(list(SHARED))) == typed(SHARED)


def test_the_module_reads_what_pymemcache_writes(ae, pym):
    assert pym.set_many(SHARED, noreply=False) == []
    assert typed(ae.get_multi(list(SHARED))) == typed(SHARED)


def test_the_module_reads_what_python_memcached_writes(ae, pmc):
    assert pmc.set_multi(SHARED) == []
    assert typed(ae.get_multi(list(SHARED))) == typed(SHARED)
    # python-memcached compresses values over min_compress_len (flag 8): read transparently
    long_text = "compress me " * 200
    assert pmc.set("z", long_text, min_compress_len=100)
    assert pmc.set("zb", {"blob": long_text}, min_compress_len=100)
    assert ae.get_multi(["z", "zb"]) == {"z": long_text, "zb": {"blob": long_text}}


def test_compressed_flag_from_any_writer(ae, port):
    raw = zlib.compress("hello".encode())
    c = PymemcacheClient(("127.0.0.1", port))
    c.set("c", raw, flags=8 | 16, noreply=False)
    c.close()
    assert ae.get("c") == "hello"


def test_counters_are_shared(ae, pym, pmc):
    assert ae.incr("n", initial_value=10) == 11
    assert pym.incr("n", 1) == 12
    assert pmc.incr("n", 1) == 13
    assert ae.get("n") == 13 and pym.get("n") == 13 and pmc.get("n") == 13
    pmc.set("m", 5)
    assert ae.offset_multi({"m": -2}) == {"m": 3}


def test_cas_ids_are_memcached_cas_ids(ae, pym):
    ae.set("k", "v1")
    assert ae.gets("k") == "v1"
    _, cas = pym.gets("k")
    assert pym.cas("k", "v2", cas) is True        # another client changed it
    assert ae.cas("k", "v3") is False
    assert ae.get("k") == "v2"


def test_deletes_and_flush_seen_by_everyone(ae, pym, pmc):
    pmc.set("d", 1)
    assert ae.delete("d") == memcache.DELETE_SUCCESSFUL
    assert pym.get("d") is None
    pym.set("e", b"x", noreply=False)
    assert ae.flush_all() is True
    assert pmc.get("e") is None
