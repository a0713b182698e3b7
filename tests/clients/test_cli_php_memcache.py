"""PHP's older pecl memcache extension (Debian's php-memcache, class Memcache; installed beside
php-memcached without conflict) against memcached 1.6.18 and mcbridge: php/memcache.php runs
once against every server with memcache.protocol=ascii (plus its session handler) and =binary,
and without credentials against memcached -S and mcbridge --auth-file (php-memcache 4.0.5 has
setSaslAuthData but never authenticates: both servers must refuse it alike).
mcbridge (standalone Redis and Redis Cluster) must give the client exactly what memcached gives
it; a few cases are also checked against fixed values."""

import json
from pathlib import Path

import pytest

import clienttools

HERE = Path(__file__).resolve().parent
TARGETS = ["mcbridge", "mcbridge-cluster"]


@pytest.fixture(scope="module")
def php(all_ports, sasl_memcached_srv, sasl_mcbridge_srv):
    exe = clienttools.require("php", "php-cli php-memcache")
    args = [f"{name}/{kind}={kind}:{port}" for name, port in all_ports.items()
            for kind in ("ascii", "binary")]
    for name, srv in [("memcached", sasl_memcached_srv), ("mcbridge", sasl_mcbridge_srv)]:
        args.append(f"{name}/noauth=noauth:{srv.port}")
    out = clienttools.run([exe, HERE / "php" / "memcache.php"] + args)
    return clienttools.results(out)


@pytest.mark.parametrize("kind", ["ascii", "binary"])
@pytest.mark.parametrize("name", TARGETS)
def test_php_memcache_same_as_memcached(php, name, kind):
    clienttools.assert_same_results(php, f"memcached/{kind}", f"{name}/{kind}")


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
