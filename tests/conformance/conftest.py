import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pylib"))

from fixtures import *  # noqa: E402,F401,F403

import os  # noqa: E402

import pytest  # noqa: E402

import servers  # noqa: E402
from harness import Target  # noqa: E402


@pytest.fixture(scope="session")
def targets():
    """(reference, sut): a real memcached 1.6.18, and mcbridge (behind its own redis) or,
    with CONFORMANCE_TARGET=memcached, a second memcached to prove the harness itself."""
    started = []
    try:
        ref = servers.start_memcached()
        started.append(ref)
        kind = os.environ.get("CONFORMANCE_TARGET", "mcbridge")
        if kind == "memcached":
            sut = servers.start_memcached()
            started.append(sut)
            name = "memcached2"
        else:
            r = servers.start_redis()
            started.append(r)
            try:
                sut = servers.start_mcbridge(r.port)
            except servers.ServerStartError as e:
                pytest.fail(f"cannot start mcbridge: {e}", pytrace=False)
            started.append(sut)
            name = "mcbridge"
        yield (Target("memcached", ref.port, idle=0.01),
               Target(name, sut.port, idle=0.01, wait_cap=3.0))
    finally:
        for p in reversed(started):
            p.stop()
