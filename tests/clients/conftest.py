import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pylib"))

from fixtures import *  # noqa: E402,F401,F403

import pytest  # noqa: E402

import servers  # noqa: E402


@pytest.fixture(scope="session", params=["mcbridge", "mcbridge-cluster", "memcached"])
def target(request):
    """(name, port): every client test runs against mcbridge (in front of one Redis, and in
    front of a 3-primary Redis Cluster) and, to prove the assertions themselves, against a
    real memcached 1.6.18."""
    if request.param == "mcbridge":
        p = request.getfixturevalue("mcbridge_srv")
    elif request.param == "mcbridge-cluster":
        p = request.getfixturevalue("mcbridge_cluster_srv")
    else:
        p = request.getfixturevalue("memcached_srv")
    return request.param, p.port


@pytest.fixture(scope="session")
def all_ports(memcached_srv, mcbridge_srv, mcbridge_cluster_srv):
    """{name: port} of every target at once, for the drivers that run once per module against
    all of them (Java, Perl, PHP, Go): memcached first, the reference."""
    return {"memcached": memcached_srv.port, "mcbridge": mcbridge_srv.port,
            "mcbridge-cluster": mcbridge_cluster_srv.port}


@pytest.fixture
def port(target):
    """The target's port, with the cache emptied first."""
    with servers.RawConn(target[1]) as c:
        assert c.request(b"flush_all\r\n") == b"OK\r\n"
    return target[1]


# ---- servers that require credentials (tests/pylib/sasl_servers.py), one of each per session

@pytest.fixture(scope="session")
def sasl_auth_dir():
    import sasl_servers
    d = sasl_servers.AuthDir(sasl_servers.USERS)
    try:
        yield d
    finally:
        d.cleanup()


@pytest.fixture(scope="session")
def sasl_memcached_srv(sasl_auth_dir):
    """memcached 1.6.18 -S (SASL PLAIN against a sasldb holding sasl_servers.USERS)."""
    import sasl_servers
    p = sasl_servers.start_memcached_sasl(sasl_auth_dir)
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="session")
def sasl_mcbridge_srv(sasl_auth_dir):
    """mcbridge --auth-file with the same users, in front of a Redis of its own."""
    import sasl_servers
    r = servers.start_redis()
    try:
        p = sasl_servers.start_mcbridge_auth(r.port, sasl_auth_dir)
        try:
            yield p
        finally:
            p.stop()
    finally:
        r.stop()
