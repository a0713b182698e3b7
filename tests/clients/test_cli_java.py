"""Java spymemcached (Debian's libspymemcached-java) against memcached 1.6.18 and mcbridge:
java/SpyClient.java, compiled into a temporary directory, runs once (one JVM) against every
server: text protocol, binary protocol (both also with queued gets merged into multi-gets),
binary + SASL PLAIN (memcached -S vs mcbridge
--auth-file) and SASL with a wrong password. mcbridge (standalone Redis and Redis Cluster) must
give the client exactly what memcached gives it, case by case; a few cases are also checked
against fixed values so that agreement on a wrong answer cannot pass."""

from pathlib import Path

import pytest

import clienttools
import sasl_servers

HERE = Path(__file__).resolve().parent
JARS = ["/usr/share/java/spymemcached.jar"]
TARGETS = ["mcbridge", "mcbridge-cluster"]
KINDS = ["text", "binary", "text-opt", "binary-opt"]


@pytest.fixture(scope="module")
def spy(memcached_srv, mcbridge_srv, mcbridge_cluster_srv, sasl_memcached_srv,
        sasl_mcbridge_srv):
    """{label: [(case, value)]} for labels <server>/<kind>."""
    javac = clienttools.require("javac", "default-jdk-headless")
    java = clienttools.require("java", "default-jdk-headless")
    for jar in JARS:
        assert Path(jar).is_file(), f"{jar} is missing (Debian package libspymemcached-java)"
    build = clienttools.BuildDir("mcbridge-java-")
    try:
        cp = ":".join(JARS)
        clienttools.run([javac, "-nowarn", "-d", build.path, "-cp", cp,
                         HERE / "java" / "SpyClient.java"])
        user, password = next(iter(sasl_servers.USERS.items()))
        args = []
        for name, plain, sasl in [("memcached", memcached_srv, sasl_memcached_srv),
                                  ("mcbridge", mcbridge_srv, sasl_mcbridge_srv),
                                  ("mcbridge-cluster", mcbridge_cluster_srv, None)]:
            args += [f"{name}/{kind}={kind}:{plain.port}" for kind in KINDS]
            if sasl:
                args += [f"{name}/sasl=sasl:{sasl.port}:{user}:{password}",
                         f"{name}/saslbad=saslbad:{sasl.port}:{user}:{password}"]
        out = clienttools.run([java, "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp",
                               f"{build.path}:{cp}", "SpyClient"] + args, timeout=300)
        yield clienttools.results(out)
    finally:
        build.cleanup()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", TARGETS)
def test_spymemcached_same_as_memcached(spy, name, kind):
    clienttools.assert_same_results(spy, f"memcached/{kind}", f"{name}/{kind}")


@pytest.mark.parametrize("kind", ["sasl", "saslbad"])
def test_spymemcached_sasl_same_as_memcached(spy, kind):
    clienttools.assert_same_results(spy, f"memcached/{kind}", f"mcbridge/{kind}")


def test_spymemcached_reference_values(spy):
    """What memcached 1.6.18 answers (and so mcbridge, by the tests above)."""
    text = clienttools.case_values(spy, "memcached/text")
    binary = clienttools.case_values(spy, "memcached/binary")
    for res in (text, binary):
        assert res["get.appended"] == "'>world!'"
        assert res["incr.wrap"] == "Long 1"
        assert res["get.decremented"] == "'99 '"  # decr in place pads with a space
        assert res["cas.ok"] == "CASResponse OK" and res["cas.stale"] == "CASResponse EXISTS"
        assert res["getBulk.count"] == "Integer 266"
        assert res["get.object"] == "{a: Integer 1, b: Integer 2}"
        assert res["get.near.limit"].startswith("bytes(1047552, ")
        assert res["get.after.too.big"] == "null"
        assert res["versions"] == "TreeSet [1.6.18]"
    assert text["add.exists"] == "'false NOT_STORED'"
    assert text["set.too.big"].endswith("SERVER_ERROR object too large for cache")
    assert binary["add.exists"] == "'false Data exists for key.'"
    assert binary["set.too.big"] == "'false Too large.'"
    assert binary["bin.get.c"] == "'zero+one+two'"
    assert binary["bin.async.getBulk"] == "{bn: '1005', bn2: '0', bn3: '9'}"
    sasl = clienttools.case_values(spy, "memcached/sasl")
    assert sasl["sasl.mechs"] == "TreeSet [PLAIN]"
    assert sasl["sasl.get"] == "'secret value'" and sasl["sasl.incr.again"] == "Long 42"
    bad = clienttools.case_values(spy, "memcached/saslbad")
    assert bad["saslbad.set"] == "'refused'" and bad["saslbad.get"] == "'refused'"
    assert bad["saslbad.good.get"] == "'kept'"
