"""Go's gomemcache (Debian's golang-github-bradfitz-gomemcache-dev, text protocol) against
memcached 1.6.18 and mcbridge: go/gomc.go is built offline in GOPATH mode (Debian's Go
packages under /usr/share/gocode) into a temporary directory, and runs once against every
server; mcbridge (standalone Redis and Redis Cluster) must give the client exactly what
memcached gives it. A few cases are also checked against fixed values."""

import os
from pathlib import Path

import pytest

import clienttools

HERE = Path(__file__).resolve().parent
GOPATH = "/usr/share/gocode"
TARGETS = ["mcbridge", "mcbridge-cluster"]


@pytest.fixture(scope="module")
def gomc(all_ports):
    go = clienttools.require("go", "golang-go")
    assert Path(GOPATH, "src/github.com/bradfitz/gomemcache/memcache").is_dir(), \
        "gomemcache is missing (Debian package golang-github-bradfitz-gomemcache-dev)"
    build = clienttools.BuildDir("mcbridge-go-")
    try:
        env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOFLAGS="",
                   GOCACHE=str(build.path / "cache"), GOPROXY="off", CGO_ENABLED="0")
        exe = build.path / "gomc"
        clienttools.run([go, "build", "-o", exe, HERE / "go" / "gomc.go"], env=env)
        out = clienttools.run([exe] + [f"{name}={port}" for name, port in all_ports.items()])
        yield clienttools.results(out)
    finally:
        build.cleanup()


@pytest.mark.parametrize("name", TARGETS)
def test_gomemcache_same_as_memcached(gomc, name):
    clienttools.assert_same_results(gomc, "memcached", name)


def test_gomemcache_reference_values(gomc):
    """What memcached 1.6.18 answers (and so mcbridge, by the test above)."""
    res = clienttools.case_values(gomc, "memcached")
    assert res["get.flags.4294967295"] == 'item(f:4294967295, flags 4294967295, "v")'
    assert res["cas.ok"] == "nil"
    assert res["cas.stale"] == 'error "memcache: compare-and-swap conflict"'
    assert res["getmulti.count"] == "225"
    assert res["get.decremented"] == 'item(n, flags 0, "999 ")'  # decr in place pads
    assert res["incr.wrap"] == "1" and res["incr.padded"] == "8"
    assert res["incr.neg"] == \
        'error "memcache: client error: cannot increment or decrement non-numeric value"'
    assert res["get.binary"] == r'item(b, flags 0, "\x00\r\nEND\r\n\xff")'
    assert "SERVER_ERROR object too large for cache" in res["set.too.big"]
    assert res["get.after.too.big"] == 'error "memcache: cache miss"'
    assert res["conc.problems"] == "map[]" and res["conc.ctr"] == 'item(conc:ctr, flags 0, "960")'
