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


@pytest.fixture
def port(target):
    """The target's port, with the cache emptied first."""
    with servers.RawConn(target[1]) as c:
        assert c.request(b"flush_all\r\n") == b"OK\r\n"
    return target[1]
