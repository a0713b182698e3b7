import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pylib"))

from fixtures import *  # noqa: E402,F401,F403

import os  # noqa: E402

import pytest  # noqa: E402

import servers  # noqa: E402
from harness import Target  # noqa: E402


@pytest.fixture(scope="session", params=["redis", "cluster"])
def targets(request):
    """(reference, sut): a real memcached 1.6.18, and mcbridge (behind its own redis, and a
    second time behind a 3-primary Redis Cluster) or, with CONFORMANCE_TARGET=memcached, a
    second memcached to prove the harness itself."""
    kind = os.environ.get("CONFORMANCE_TARGET", "mcbridge")
    if kind == "memcached" and request.param == "cluster":
        pytest.skip("the harness check runs once")
    started = []
    cluster_nodes = None
    try:
        ref = servers.start_memcached()
        started.append(ref)
        if kind == "memcached":
            sut = servers.start_memcached()
            started.append(sut)
            name = "memcached2"
        else:
            if request.param == "cluster":
                import cluster
                cluster_nodes = cluster.start_cluster()
                redis_port = cluster_nodes.ports[0]
            else:
                r = servers.start_redis()
                started.append(r)
                redis_port = r.port
            try:
                sut = servers.start_mcbridge(redis_port)
            except servers.ServerStartError as e:
                pytest.fail(f"cannot start mcbridge: {e}", pytrace=False)
            started.append(sut)
            name = "mcbridge" if request.param == "redis" else "mcbridge-cluster"
        yield (Target("memcached", ref.port, idle=0.01),
               Target(name, sut.port, idle=0.01, wait_cap=3.0))
    finally:
        for p in reversed(started):
            p.stop()
        if cluster_nodes is not None:
            cluster_nodes.stop()
