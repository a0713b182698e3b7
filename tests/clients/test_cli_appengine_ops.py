"""mcbridge_appengine.memcache in operation, against a real mcbridge: one round trip per batch
call, failures answered as misses/False within the timeout (never an exception), recovery,
configuration from the environment, `pip install ./clients/python` and a vendored copy."""

import logging
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import servers

CLIENT_DIR = Path(__file__).resolve().parents[2] / "clients" / "python"
sys.path.insert(0, str(CLIENT_DIR))

from mcbridge_appengine import _wire, memcache  # noqa: E402


@pytest.fixture
def ae(mcbridge_srv, redis_flushed):
    c = memcache.Client(address=f"127.0.0.1:{mcbridge_srv.port}", timeout=5)
    yield c
    c.disconnect_all()


# --------------------------------------------------------------------------- round trips

@pytest.fixture
def writes(monkeypatch):
    """Counts the module's writes: each _Conn.send writes a call's whole batch and only then
    are the replies read, so the count is the number of round trips."""
    count = [0]
    real = _wire._Conn.send

    def counting(self, payload):
        count[0] += 1
        return real(self, payload)
    monkeypatch.setattr(_wire._Conn, "send", counting)

    def take():
        n, count[0] = count[0], 0
        return n
    return take


def test_multi_calls_take_one_round_trip(ae, writes):
    ae.get("warm-up")  # connect outside the counted calls
    writes()
    many = {f"k{i}": i for i in range(300)}
    assert ae.set_multi(many) == [] and writes() == 1
    assert ae.get_multi(list(many)) == many and writes() == 1     # 3 get lines, one write
    assert ae.add_multi({"k1": 0, "new": 0}) == ["k1"] and writes() == 1
    assert ae.replace_multi({"k1": 5, "nope": 0}) == ["nope"] and writes() == 1
    many["k1"] = 5
    assert ae.get_multi(list(many), for_cas=True) == many and writes() == 1
    assert ae.cas_multi({"k1": 6, "k2": 6}) == [] and writes() == 1
    assert ae.offset_multi({"k1": 1, "k2": -1, "k3": 2}) == {"k1": 7, "k2": 5, "k3": 5}
    assert writes() == 1
    assert ae.delete_multi([f"k{i}" for i in range(300)]) is True and writes() == 1
    # creating missing counters with initial_value takes one more (an add per missing key)
    assert ae.offset_multi({"a": 1, "b": 2, "new": 3}, initial_value=10) == \
        {"a": 11, "b": 12, "new": 3}
    assert writes() == 2


def test_big_batches_do_not_deadlock(ae):
    """Replies flow while a long pipeline is still being written."""
    value = b"v" * 200_000
    mapping = {f"big{i}": value for i in range(20)}          # 4 MB in one write
    assert ae.set_multi(mapping) == []
    got = ae.get_multi(list(mapping))
    assert len(got) == 20 and all(v == value for v in got.values())


# --------------------------------------------------------------------------- failures

def _check_all_fail_quietly(c, limit):
    """Every call answers App Engine's failure value, none raises, each within `limit`."""
    calls = [
        (lambda: c.get("k"), None), (lambda: c.get_multi(["k", "j"]), {}),
        (lambda: c.set("k", 1), False), (lambda: c.add("k", 1), False),
        (lambda: c.replace("k", 1), False),
        (lambda: c.set_multi({"k": 1, "j": 2}), ["k", "j"]),
        (lambda: c.add_multi({"k": 1}), ["k"]), (lambda: c.replace_multi({"k": 1}), ["k"]),
        (lambda: c.cas_multi({"k": 1}), ["k"]),
        # None when the call failed as a whole, ERROR per key when mcbridge answered an error
        (lambda: c.set_multi_async({"k": 1}).get_result() in (None, {"k": memcache.ERROR}),
         True),
        (lambda: c.delete("k"), memcache.DELETE_NETWORK_FAILURE),
        (lambda: c.delete_multi(["k"]), False),
        (lambda: c.delete_multi_async(["k"]).get_result(), None),
        (lambda: c.incr("n"), None), (lambda: c.decr("n", initial_value=5), None),
        (lambda: c.offset_multi({"n": 1, "m": 2}), {"n": None, "m": None}),
        (lambda: c.flush_all(), False),
        # mcbridge answers stats itself, without Redis; unreachable: None
        (lambda: c.get_stats() is None or "hits" in c.get_stats(), True),
    ]
    for call, expected in calls:
        t0 = time.monotonic()
        assert call() == expected
        assert time.monotonic() - t0 < limit


@pytest.mark.parametrize("mode", [[], ["--miss-on-error"]], ids=["errors", "miss-on-error"])
def test_redis_stopped_means_misses_and_false_within_the_timeout(mode, caplog):
    redis = servers.start_redis()
    mcb = servers.start_mcbridge(redis.port, extra_args=["--request-timeout", "300"] + mode)
    try:
        c = memcache.Client(address=f"127.0.0.1:{mcb.port}", timeout=2)
        assert c.set("k", "v") is True and c.gets("k") == "v"
        redis.stop()
        with caplog.at_level(logging.WARNING, logger="mcbridge_appengine.memcache"):
            _check_all_fail_quietly(c, limit=1.5)   # mcbridge's 300 ms, well under 2 s
        assert "failed" in caplog.text
        # Redis back on the same port: the same client works again
        redis = servers.start_redis(port=redis.port)
        # (a set and its read back as one probe: under a loaded ASan build the first commands
        # on the new connection may still exceed the 300 ms request timeout)
        assert servers.wait_for(lambda: c.set("k", "back") and c.get("k") == "back", 15, 0.2)
        c.disconnect_all()
    finally:
        mcb.stop()
        redis.stop()


def test_mcbridge_down_or_silent_fails_quietly(caplog):
    # nothing listening: connection refused at once
    c = memcache.Client(address=f"127.0.0.1:{servers.free_port()}", timeout=1)
    with caplog.at_level(logging.WARNING, logger="mcbridge_appengine.memcache"):
        _check_all_fail_quietly(c, limit=1.5)
    assert "refused" in caplog.text.lower()
    # a server that accepts and never answers: each call ends at the client timeout
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    try:
        c = memcache.Client(address="127.0.0.1:%d" % silent.getsockname()[1], timeout=0.2)
        _check_all_fail_quietly(c, limit=1.0)
    finally:
        silent.close()


def _start_mcbridge_on(port, redis_port):
    def argv(p, wd):
        return [str(servers.mcbridge_binary()), "--listen", f"127.0.0.1:{p}", "--redis",
                f"redis://127.0.0.1:{redis_port}", "--threads", "1", "--log-level", "warn"]
    return servers._start("mcbridge", argv, port=port, attempts=10)


def test_pooled_connections_survive_an_mcbridge_restart(redis_srv, caplog):
    mcb = servers.start_mcbridge(redis_srv.port)
    port = mcb.port
    c = memcache.Client(address=f"127.0.0.1:{port}", timeout=2)
    try:
        assert c.set("r", 1) is True
        mcb.stop()
        mcb = _start_mcbridge_on(port, redis_srv.port)
        with caplog.at_level(logging.WARNING, logger="mcbridge_appengine.memcache"):
            assert c.get("r") == 1          # the dead pooled connection is retried once
        assert "failed" not in caplog.text
    finally:
        c.disconnect_all()
        mcb.stop()


def test_threads_share_the_module_client(ae):
    errors = []

    def worker(i):
        try:
            for j in range(50):
                key = f"t{i}-{j}"
                assert ae.set(key, (i, j)) is True
                assert ae.get(key) == (i, j)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


def test_flush_all_refused_by_mcbridge_is_false(redis_srv, caplog):
    mcb = servers.start_mcbridge(redis_srv.port, extra_args=["--flush-all", "deny"])
    try:
        c = memcache.Client(address=f"127.0.0.1:{mcb.port}")
        assert c.set("kept", 1) is True
        with caplog.at_level(logging.WARNING, logger="mcbridge_appengine.memcache"):
            assert c.flush_all() is False
        assert "flush_all not allowed" in caplog.text
        assert c.get("kept") == 1
        c.disconnect_all()
    finally:
        mcb.stop()


# --------------------------------------------------------------------------- configuration

def test_configuration_from_the_environment(tmp_path):
    cfg = _wire.Config(env={})
    assert (cfg.host, cfg.port, cfg.timeout, cfg.connect_timeout, cfg.username) == \
        ("127.0.0.1", 11211, 2.0, 1.0, None)
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    cfg = _wire.Config(env={"MCBRIDGE_ADDRESS": "10.1.2.3:11311",
                            "MCBRIDGE_CLIENT_TIMEOUT": "0.5",
                            "MCBRIDGE_CLIENT_CONNECT_TIMEOUT": "0.25",
                            "MCBRIDGE_USERNAME": "app", "MCBRIDGE_PASSWORD_FILE": str(pw)})
    assert (cfg.host, cfg.port, cfg.timeout, cfg.connect_timeout) == \
        ("10.1.2.3", 11311, 0.5, 0.25)
    assert (cfg.username, cfg.password) == (b"app", b"s3cret")
    cfg = _wire.Config(env={"MCBRIDGE_ADDRESS": "[fd00::1]:7", "MCBRIDGE_USERNAME": "u",
                            "MCBRIDGE_PASSWORD": "p", "MCBRIDGE_PASSWORD_FILE": str(pw)})
    assert (cfg.host, cfg.port, cfg.password) == ("fd00::1", 7, b"p")
    assert _wire.Config(env={"MCBRIDGE_ADDRESS": "cache.internal"}).port == 11211
    for bad in ({"MCBRIDGE_ADDRESS": "h:notaport"}, {"MCBRIDGE_ADDRESS": "h:70000"},
                {"MCBRIDGE_CLIENT_TIMEOUT": "0"}, {"MCBRIDGE_USERNAME": "u"},
                {"MCBRIDGE_USERNAME": "u", "MCBRIDGE_PASSWORD": "with space"}):
        with pytest.raises(ValueError):
            _wire.Config(env=bad)


def test_bad_configuration_is_logged_not_raised(monkeypatch, caplog):
    monkeypatch.setenv("MCBRIDGE_ADDRESS", "127.0.0.1:notaport")
    c = memcache.Client()
    with caplog.at_level(logging.ERROR, logger="mcbridge_appengine.memcache"):
        assert c.get("k") is None and c.set("k", 1) is False
    assert "configuration" in caplog.text


def test_module_level_client_reads_mcbridge_address(mcbridge_srv, redis_flushed):
    script = textwrap.dedent("""
        from mcbridge_appengine import memcache
        assert memcache.set("env", {"ok": 1}) is True
        print(memcache.get("env"))
    """)
    out = _run_python(script, [str(CLIENT_DIR)], mcbridge_srv.port)
    assert out == "{'ok': 1}"


# --------------------------------------------------------------------------- packaging

def _run_python(script, path, port):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCBRIDGE_")}
    env["PYTHONPATH"] = os.pathsep.join(path)
    env["MCBRIDGE_ADDRESS"] = f"127.0.0.1:{port}"
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                       timeout=60, cwd="/")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_pip_install_and_vendored_copy(tmp_path, mcbridge_srv, redis_flushed):
    src = tmp_path / "src"
    shutil.copytree(CLIENT_DIR, src, ignore=shutil.ignore_patterns("__pycache__"))
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--no-index", "--no-build-isolation", "--target", str(site), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (site / "mcbridge_appengine" / "memcache.py").is_file()
    script = textwrap.dedent("""
        import mcbridge_appengine
        from mcbridge_appengine import memcache, namespace_manager
        namespace_manager.set_namespace("pkg")
        assert memcache.set("p", [1, 2]) is True
        print(mcbridge_appengine.__file__.split("/")[-3], memcache.get("p"))
    """)
    assert _run_python(script, [str(site)], mcbridge_srv.port) == "site [1, 2]"
    # vendored, as App Engine apps do: the package directory copied into lib/
    lib = tmp_path / "app" / "lib"
    shutil.copytree(CLIENT_DIR / "mcbridge_appengine", lib / "mcbridge_appengine",
                    ignore=shutil.ignore_patterns("__pycache__"))
    assert _run_python(script, [str(lib)], mcbridge_srv.port) == "lib [1, 2]"


# --------------------------------------------------------------------------- credentials

def test_credentials_for_an_auth_file_mcbridge(redis_srv, tmp_path, monkeypatch, caplog):
    users = tmp_path / "users"
    users.write_text("app1:s3cret\nother:pw2\n")
    mcb = servers.start_mcbridge(redis_srv.port, extra_args=["--auth-file", str(users)])
    address = f"127.0.0.1:{mcb.port}"
    try:
        with caplog.at_level(logging.WARNING, logger="mcbridge_appengine.memcache"):
            anonymous = memcache.Client(address=address, timeout=2)
            assert anonymous.set("k", 1) is False and anonymous.get("k") is None
            wrong = memcache.Client(address=address, username="app1", password="nope")
            assert wrong.set("k", 1) is False
        assert "authentication failed" in caplog.text
        for name in list(os.environ):
            if name.startswith("MCBRIDGE_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("MCBRIDGE_ADDRESS", address)
        monkeypatch.setenv("MCBRIDGE_USERNAME", "app1")
        monkeypatch.setenv("MCBRIDGE_PASSWORD", "s3cret")
        c = memcache.Client()
        assert c.set("k", {"v": 1}) is True and c.get("k") == {"v": 1}
        assert c.set_multi({"a": 1, "b": 2}) == [] and c.get_multi(["a", "b"]) == \
            {"a": 1, "b": 2}
        assert c.incr("n", initial_value=1) == 2 and c.gets("k") == {"v": 1}
        assert c.cas("k", 2) is True and c.get("k") == 2
        c.disconnect_all()
        pw = tmp_path / "pw"
        pw.write_text("pw2\n")
        monkeypatch.setenv("MCBRIDGE_USERNAME", "other")
        monkeypatch.delenv("MCBRIDGE_PASSWORD")
        monkeypatch.setenv("MCBRIDGE_PASSWORD_FILE", str(pw))
        c = memcache.Client()
        assert c.get("k") == 2 and c.delete("k") == memcache.DELETE_SUCCESSFUL
        c.disconnect_all()
    finally:
        mcb.stop()
