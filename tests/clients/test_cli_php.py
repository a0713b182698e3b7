"""PHP's two memcached extensions against memcached 1.6.18 and mcbridge:

* php/memcache.php: the older pecl memcache extension (Debian's php-memcache, class Memcache;
  installed beside php-memcached without conflict), memcache.protocol=ascii (plus its session
  handler) and =binary, and without credentials against memcached -S and mcbridge --auth-file
  (php-memcache 4.0.5 has setSaslAuthData but never authenticates: both must refuse it alike);
* php/memcached.php: php-memcached (libmemcached) in text mode, binary mode, and text with
  buffered noreply writes (test_cli_sasl.py covers it with SASL). Not binary with buffered
  writes: through memcached itself the reads right after them see none of them, or only some,
  from run to run.

Each runs once against every server.
mcbridge (standalone Redis and Redis Cluster) must give the client exactly what memcached gives
it; a few cases are also checked against fixed values."""

import json
from pathlib import Path

import pytest

import clienttools

HERE = Path(__file__).resolve().parent
TARGETS = ["mcbridge", "mcbridge-cluster"]
MEMCACHED_KINDS = ["text", "binary", "buffered"]


@pytest.fixture(scope="module")
def php(all_ports, sasl_memcached_srv, sasl_mcbridge_srv):
    exe = clienttools.require("php", "php-cli php-memcache")
    args = [f"{name}/{kind}={kind}:{port}" for name, port in all_ports.items()
            for kind in ("ascii", "binary")]
    for name, srv in [("memcached", sasl_memcached_srv), ("mcbridge", sasl_mcbridge_srv)]:
        args.append(f"{name}/noauth=noauth:{srv.port}")
    res = clienttools.results(clienttools.run([exe, HERE / "php" / "memcache.php"] + args))
    args = [f"{name}/memcached-{kind}={kind}:{port}" for name, port in all_ports.items()
            for kind in MEMCACHED_KINDS]
    res.update(clienttools.results(clienttools.run([exe, HERE / "php" / "memcached.php"] + args)))
    return res


@pytest.mark.parametrize("kind", ["ascii", "binary"])
@pytest.mark.parametrize("name", TARGETS)
def test_php_memcache_same_as_memcached(php, name, kind):
    clienttools.assert_same_results(php, f"memcached/{kind}", f"{name}/{kind}")


@pytest.mark.parametrize("kind", MEMCACHED_KINDS)
@pytest.mark.parametrize("name", TARGETS)
def test_php_memcached_same_as_memcached(php, name, kind):
    clienttools.assert_same_results(php, f"memcached/memcached-{kind}", f"{name}/memcached-{kind}")


def test_php_memcache_unauthenticated_same_as_memcached(php):
    clienttools.assert_same_results(php, "memcached/noauth", "mcbridge/noauth")


def values(php, label):
    return {k: json.loads(v) for k, v in clienttools.case_values(php, label).items()}


def test_php_memcache_reference_values(php):
    """What memcached 1.6.18 answers (and so mcbridge, by the tests above)."""
    for kind in ("ascii", "binary"):
        res = values(php, f"memcached/{kind}")
        assert res["get.appended"] == ">world!"
        assert res["get.flags"] == ["flagged", 0x10000]
        assert res["get.array"] == {"a": [1, 2], "b": None}
        assert res["get.binary"] == "000d0a454e440d0aff"
        assert res["cas.ok"] is True and res["cas.stale"] is False
        assert res["get.cas"] == "two"
        assert len(res["get.multi"]) == 100
        assert res["get.decremented"] == "999 "  # decr in place pads with a space
        assert res["get.near.limit"]["len"] == 1047552
        assert res["set.too.big"] is False and res["get.after.too.big"] is False
        assert res["version"] == "1.6.18"
    ascii_ = values(php, "memcached/ascii")
    assert ascii_["session.read.again"] == {"count": 2, "name": "visitor"}
    binary = values(php, "memcached/binary")
    assert binary["incr.default"] == 100 and binary["incr.default.again"] == 105
    noauth = values(php, "memcached/noauth")
    assert noauth["noauth.set"] is False and noauth["noauth.get"] is False


def test_php_memcached_reference_values(php):
    """What memcached 1.6.18 answers (and so mcbridge): values and libmemcached result codes."""
    text = values(php, "memcached/memcached-text")
    binary = values(php, "memcached/memcached-binary")
    for res in (text, binary):
        assert res["get.appended"] == [">world!", 0]
        assert res["cas.ok"] == [True, 0] and res["cas.stale"] == [False, 12]  # DATA_EXISTS
        assert res["get.decremented"] == ["999 ", 0]  # decr in place pads with a space
        assert res["fetchAll"] == [[["m:4", "v4v4v4v4"], ["m:5", "v5v5v5v5v5"]], 0]
        assert res["set.too.big"] == [False, 37]  # E2BIG
    # getAllKeys: libmemcached sends "stats cachedump <class> 0" for every class (text only)
    assert text["getAllKeys.is_array"] == [True, 0]
    assert binary["getAllKeys.is_array"][0] is False
    assert binary["incr.initial.again"] == [42, 0]
    buffered = values(php, "memcached/memcached-buffered")
    assert buffered["after.noreply"] == [{"b:1": "value 1", "b:199": "value 199",
                                          "b:2": "replaced", "b:3": "value 3+appended",
                                          "b:counter": "8"}, 0]
