"""Perl's memcached clients, Cache::Memcached::Fast, Cache::Memcached and AnyEvent::Memcached
(Debian's libcache-memcached-fast-perl, libcache-memcached-perl, libanyevent-memcached-perl;
text protocol, utf8 and compression off) against memcached 1.6.18 and mcbridge:
perl/clients.pl runs once against every server, and mcbridge (standalone Redis and Redis
Cluster) must give each client exactly what memcached gives it; a few cases are also checked
against fixed values."""

import json
from pathlib import Path

import pytest

import clienttools

HERE = Path(__file__).resolve().parent
KINDS = ["fast", "classic", "anyevent"]
TARGETS = ["mcbridge", "mcbridge-cluster"]


@pytest.fixture(scope="module")
def perl(all_ports):
    exe = clienttools.require("perl", "perl")
    args = [f"{name}/{kind}={kind}:{port}" for name, port in all_ports.items() for kind in KINDS]
    return clienttools.results(clienttools.run([exe, HERE / "perl" / "clients.pl"] + args))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", TARGETS)
def test_perl_same_as_memcached(perl, name, kind):
    clienttools.assert_same_results(perl, f"memcached/{kind}", f"{name}/{kind}")


def test_perl_reference_values(perl):
    """What memcached 1.6.18 answers (and so mcbridge, by the test above)."""
    fast = {k: json.loads(v) for k, v in clienttools.case_values(perl, "memcached/fast").items()}
    assert fast["get.appended"] == ">world!"
    assert fast["gets"] == ["cas", "one"] and fast["cas.ok"] == 1 and fast["cas.stale"] == ""
    assert fast["cas_multi"] == [1, "", ""]
    assert fast["get.decremented"] == "999 "  # decr in place pads with a space
    assert fast["incr.wrap"] == "2" and fast["incr.nan"] is None
    assert fast["incr.spaces"] == "13"
    assert fast["gat_multi"] == {"a1": "added", "m:6": "value-6"}
    assert fast["get.after.gat.expire"] is None
    assert fast["get.binary"] == "\0\r\n\xff END\r\n"
    assert fast["set.too.big"] is None and fast["get.after.too.big"] is None
    nw = fast["nowait.values"]
    assert fast["nowait.count"] == 49 and nw["nw:2"] == "v2" and "nw:1" not in nw
    assert nw["nw:3"] == "replaced" and nw["nw:4"] == "p+v4+a" and nw["nw:ctr"] == "14"
    assert nw["nw:6"] == "cas ok" and nw["nw:7"] == "v7" and "nw:8" not in nw
    assert "nw:10" not in nw and nw["nw:11"] == "after the large one"
    classic = {k: json.loads(v)
               for k, v in clienttools.case_values(perl, "memcached/classic").items()}
    assert len(classic["get_multi"]) == 201
    assert classic["delete.time0"] == 1 and classic["delete.time"] == ""
    assert classic["get.after.delete.time"] == "v1"
    assert classic["decr.floor"] == "0" and classic["stats.version"] == "1.6.18"
    ae = {k: json.loads(v)
          for k, v in clienttools.case_values(perl, "memcached/anyevent").items()}
    assert ae["get.001"] == ["v3v3v3"] and ae["get.100"] == ["v50"]  # ae:3, ae:50
    assert ae["get.067"] == [None]  # ae:201 was never set
    assert ae["delete"] == [1] and ae["delete.miss"] == [0] and ae["gets"][0] == ["cas", "v3v3v3"]
