"""Options for Memorystore and clusters against real servers: reads from replicas
(--read-from replica, shown by INFO commandstats), the password file read again on every
reconnect (IAM tokens), and a TLS cluster (--tls-cluster yes, certificates made here)."""

from __future__ import annotations

import time

import pytest

import cluster as clusterlib
import servers


def commandstats(c, port: int) -> dict:
    return {k: v for k, v in c.info(port, "commandstats").items() if k.startswith("cmdstat_")}


def calls(stats: dict, cmd: str) -> int:
    v = stats.get(f"cmdstat_{cmd}")
    if not v:
        return 0
    return int(dict(x.split("=") for x in v.split(","))["calls"])


def test_read_from_replica_hits_the_replicas(redis_cluster):
    c = redis_cluster
    c.wait_ok(replicas=1)
    m = servers.start_mcbridge(c.ports[2], key_prefix="rr:", extra_args=["--read-from", "replica"])
    try:
        keys = [f"r{i}" for i in range(90)]
        with servers.RawConn(m.port) as conn:
            for k in keys:
                assert conn.request(b"set %s 3 0 2\r\nv%s\r\n" % (k.encode(), k[-1:].encode())) \
                    == b"STORED\r\n"
            for p in c.primaries():
                servers.resp(p, "WAIT", "1", "1000")  # replicated before reading from replicas
            nodes = [n.port for n in c.live_nodes()]
            for p in nodes:
                servers.resp(p, "CONFIG", "RESETSTAT")
            for k in keys:
                assert conn.request(b"get %s\r\n" % k.encode(), lines=3) == \
                    b"VALUE %s 3 2\r\nv%s\r\nEND\r\n" % (k.encode(), k[-1:].encode())
            # Writes still go to primaries.
            assert conn.request(b"set r0 0 0 1\r\nx\r\n") == b"STORED\r\n"
        primaries = set(c.primaries())
        replica_mgets = sum(calls(commandstats(c, p), "mget") for p in nodes if p not in primaries)
        primary_mgets = sum(calls(commandstats(c, p), "mget") for p in primaries)
        primary_sets = sum(calls(commandstats(c, p), "set") for p in primaries)
        assert replica_mgets > 0 and primary_mgets == 0, (replica_mgets, primary_mgets)
        assert primary_sets == 1
    finally:
        m.stop()


def test_password_file_is_read_again_on_reconnect(tmp_path):
    pw = tmp_path / "token"
    pw.write_text("token-1\n")
    r = servers.start_redis(["--requirepass", "token-1"])
    m = None
    try:
        m = servers.start_mcbridge(r.port, extra_args=["--redis-password-file", str(pw)])
        with servers.RawConn(m.port) as conn:
            assert conn.request(b"set a 0 0 1\r\n1\r\n") == b"STORED\r\n"
        # The token rotates: Redis accepts only the new one, the file gets it a little later.
        admin = servers.RespConn(r.port)
        admin.command("AUTH", "token-1")
        admin.command("CONFIG", "SET", "requirepass", "token-2")
        admin.command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        def connections():
            return int(admin.command("INFO", "stats").decode().split(
                "total_connections_received:")[1].split()[0])
        before = connections()
        time.sleep(1.5)
        attempts = connections() - before
        # Failed AUTHs are retried with backoff (50 ms doubling up to 1 s), not in a tight loop.
        assert 1 <= attempts <= 10, attempts
        assert "AUTH failed" in m.log_text()
        pw.write_text("token-2\n")
        deadline = time.monotonic() + 5
        ok = False
        while time.monotonic() < deadline and not ok:
            with servers.RawConn(m.port) as conn:
                ok = conn.request(b"set a 0 0 1\r\n2\r\n") == b"STORED\r\n"
            time.sleep(0.05)
        assert ok, m.log_text()
        assert admin.command("GET", "a")[14:] == b"2"
        admin.close()
    finally:
        if m is not None:
            m.stop()
        r.stop()


def test_tls_cluster(tmp_path):
    certs = clusterlib.make_cluster_certs(tmp_path / "certs")
    c = clusterlib.start_cluster(tls=certs)
    m = None
    try:
        m = servers.start_mcbridge_url(f"rediss://127.0.0.1:{c.ports[0]}", log_level="warn",
                                       extra_args=["--redis-ca-file", str(certs["ca"])])
        keys = [f"t{i}" for i in range(60)]
        with servers.RawConn(m.port) as conn:
            for k in keys:
                assert conn.request(b"set %s 0 0 %d\r\n%s\r\n" % (
                    k.encode(), len(k), k.encode())) == b"STORED\r\n"
            conn.send(b"get " + b" ".join(k.encode() for k in keys) + b"\r\n")
            assert conn.read_get_reply() == b"".join(
                b"VALUE %s 0 %d\r\n%s\r\n" % (k.encode(), len(k), k.encode()) for k in keys) \
                + b"END\r\n"
        # The keys are spread over the three TLS primaries.
        sizes = []
        for n in c.nodes:
            role = c.cmd(n.port, "ROLE")
            if role.startswith("master"):
                sizes.append(int(c.cmd(n.port, "DBSIZE")))
        assert len(sizes) == 3 and all(s > 0 for s in sizes) and sum(sizes) == len(keys), sizes
    finally:
        if m is not None:
            m.stop()
        c.stop()


def test_redis_read_url_serves_reads_from_a_standalone_replica():
    primary = servers.start_redis()
    replica = servers.start_redis(["--replicaof", "127.0.0.1", str(primary.port)])
    m = None
    try:
        deadline = time.monotonic() + 10
        while b"master_link_status:up" not in servers.resp(replica.port, "INFO", "replication"):
            assert time.monotonic() < deadline, "replica did not sync"
            time.sleep(0.05)
        m = servers.start_mcbridge(primary.port, extra_args=[
            "--read-from", "replica", "--redis-read-url", f"redis://127.0.0.1:{replica.port}"])
        with servers.RawConn(m.port) as conn:
            for i in range(20):
                assert conn.request(b"set s%d 0 0 1\r\n%d\r\n" % (i, i % 10)) == b"STORED\r\n"
            servers.resp(primary.port, "WAIT", "1", "1000")
            for p in (primary.port, replica.port):
                servers.resp(p, "CONFIG", "RESETSTAT")
            for i in range(20):
                assert conn.request(b"get s%d\r\n" % i, lines=3) == \
                    b"VALUE s%d 0 1\r\n%d\r\nEND\r\n" % (i, i % 10)
            rs = {k: v for k, v in (l.split(":", 1) for l in servers.resp(
                replica.port, "INFO", "commandstats").decode().splitlines() if ":" in l)}
            ps = {k: v for k, v in (l.split(":", 1) for l in servers.resp(
                primary.port, "INFO", "commandstats").decode().splitlines() if ":" in l)}
            assert calls(rs, "mget") > 0 and calls(ps, "mget") == 0, (rs, ps)
            # The read endpoint goes away: the primary answers the reads.
            replica.kill()
            deadline = time.monotonic() + 5
            while True:
                got = conn.request(b"get s3\r\n", lines=1)
                if got.startswith(b"VALUE"):
                    conn.read_until(b"END\r\n")
                    break
                assert got.startswith(b"SERVER_ERROR") and time.monotonic() < deadline, got
            assert calls({k: v for k, v in (l.split(":", 1) for l in servers.resp(
                primary.port, "INFO", "commandstats").decode().splitlines() if ":" in l)},
                "mget") > 0
    finally:
        if m is not None:
            m.stop()
        replica.stop()
        primary.stop()
