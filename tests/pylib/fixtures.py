"""pytest fixtures shared by the suites (imported by each suite's conftest.py).

Session-scoped servers are started once per pytest run and always stopped by the
fixture finalizer (and by servers' atexit hook if the interpreter dies)."""

from __future__ import annotations

import pytest

import servers


@pytest.fixture(scope="session")
def redis_srv():
    p = servers.start_redis()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="session")
def memcached_srv():
    p = servers.start_memcached()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="session")
def mcbridge_srv(redis_srv):
    """mcbridge in front of the session redis. Fails (not skips) if the binary is missing
    or does not start."""
    try:
        p = servers.start_mcbridge(redis_srv.port)
    except servers.ServerStartError as e:
        pytest.fail(f"cannot start mcbridge: {e}", pytrace=False)
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def redis_flushed(redis_srv):
    servers.resp(redis_srv.port, "FLUSHALL")
    return redis_srv


@pytest.fixture
def mc(mcbridge_srv, redis_flushed):
    """A raw connection to the session mcbridge, Redis emptied first."""
    c = servers.RawConn(mcbridge_srv.port)
    try:
        yield c
    finally:
        c.close()


# ---- Redis Cluster (tests/pylib/cluster.py): 3 primaries + 3 replicas, one per session

@pytest.fixture(scope="session")
def redis_cluster():
    import cluster
    c = cluster.start_cluster()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="session")
def mcbridge_cluster_srv(redis_cluster):
    """mcbridge in front of the session cluster, given one node's address (it finds the rest)."""
    try:
        p = servers.start_mcbridge(redis_cluster.ports[0])
    except servers.ServerStartError as e:
        pytest.fail(f"cannot start mcbridge: {e}", pytrace=False)
    try:
        yield p
    finally:
        p.stop()
