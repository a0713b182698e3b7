"""A real Redis Cluster on loopback for the test suites: N primaries with R replicas each,
made with `redis-server --cluster-enabled yes` per node and `redis-cli --cluster create`.

    c = start_cluster()            # 3 primaries + 3 replicas, cluster_state:ok everywhere
    c.primary_for_key("foo")       # the ManagedProcess serving that key's slot now
    c.stop()                       # always (the fixture does it; atexit does it too)

Every node is a servers.ManagedProcess in one temp dir, on ephemeral 127.0.0.1 ports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

import servers

REDIS_CLI = os.environ.get("REDIS_CLI_BIN", "/usr/bin/redis-cli")


class ClusterError(RuntimeError):
    pass


def _crc16(data: bytes) -> int:
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc


def key_slot(key) -> int:
    """Redis Cluster's slot of a key (hash tags included), computed here."""
    k = key.encode() if isinstance(key, str) else key
    start = k.find(b"{")
    if start >= 0:
        end = k.find(b"}", start + 1)
        if end > start + 1:
            k = k[start + 1:end]
    return _crc16(k) & 16383


class RedisCluster:
    def __init__(self, workdir: Path, nodes: list, tls: Optional[dict] = None):
        self.workdir = workdir
        self.nodes = nodes          # ManagedProcess per node, in creation order
        self.tls = tls              # servers.make_tls_certs() paths, or None

    # ---- talking to nodes
    def cmd(self, port: int, *args):
        if self.tls is None:
            return servers.resp(port, *args)
        out = subprocess.run([REDIS_CLI, "--tls", "--cacert", str(self.tls["ca"]),
                              "-p", str(port), *map(str, args)], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip()

    def cli(self, *args, timeout: float = 60.0) -> str:
        tls = ["--tls", "--cacert", str(self.tls["ca"])] if self.tls else []
        out = subprocess.run([REDIS_CLI, *tls, *map(str, args)], capture_output=True,
                             text=True, timeout=timeout)
        if out.returncode != 0:
            raise ClusterError(f"redis-cli {' '.join(map(str, args))}: {out.stdout}{out.stderr}")
        return out.stdout

    @property
    def ports(self) -> list:
        return [n.port for n in self.nodes]

    def node(self, port: int):
        return next(n for n in self.nodes if n.port == port)

    def live_nodes(self) -> list:
        return [n for n in self.nodes if n.alive()]

    def keyslot(self, key) -> int:
        return int(self.cmd(self.live_nodes()[0].port, "CLUSTER", "KEYSLOT", key))

    def slots_map(self, port: Optional[int] = None) -> list:
        """CLUSTER SLOTS as [(first, last, primary_port, [replica ports])]."""
        port = port or self.live_nodes()[0].port
        out = []
        for r in servers.resp(port, "CLUSTER", "SLOTS"):
            out.append((r[0], r[1], r[2][1], [x[1] for x in r[3:]]))
        return out

    def primary_port_for_slot(self, slot: int, port: Optional[int] = None) -> int:
        for first, last, p, _ in self.slots_map(port):
            if first <= slot <= last:
                return p
        raise ClusterError(f"slot {slot} unassigned")

    def primary_for_key(self, key):
        return self.node(self.primary_port_for_slot(self.keyslot(key)))

    def node_id(self, port: int) -> str:
        r = self.cmd(port, "CLUSTER", "MYID")
        return r.decode() if isinstance(r, bytes) else r

    def primaries(self) -> list:
        return sorted({p for _, _, p, _ in self.slots_map()})

    def replicas_of(self, primary_port: int) -> list:
        for _, _, p, reps in self.slots_map():
            if p == primary_port:
                return reps
        return []

    def info(self, port: int, section: str) -> dict:
        text = servers.resp(port, "INFO", section)
        if isinstance(text, bytes):
            text = text.decode()
        out = {}
        for line in text.splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def wait_ok(self, timeout: float = 30.0, replicas: Optional[int] = None) -> None:
        """Until every live node says cluster_state:ok, they agree on the slot map and (with
        `replicas`) every shard lists that many replicas."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                states = ["ok" if "cluster_state:ok" in str(self.cmd(n.port, "CLUSTER", "INFO"))
                          else "fail" for n in self.live_nodes()]
                if all(s == "ok" for s in states):
                    maps = {str(sorted(self.slots_map(n.port))) for n in self.live_nodes()} \
                        if self.tls is None else {"tls"}
                    if len(maps) == 1 and (replicas is None or self.tls is not None or all(
                            len(r) == replicas for _, _, _, r in self.slots_map())):
                        return
                    last = "nodes disagree on the slot map"
                else:
                    last = f"states {states}"
            except Exception as e:  # a node still starting or failing over
                last = repr(e)
            time.sleep(0.05)
        raise ClusterError(f"cluster not ok within {timeout}s: {last}")

    def flushall(self) -> None:
        for p in self.primaries():
            self.cmd(p, "FLUSHALL")

    def stop(self) -> None:
        for n in self.nodes:
            n.kill()
        if not os.environ.get("MCBRIDGE_KEEP_LOGS"):
            shutil.rmtree(self.workdir, ignore_errors=True)


def make_cluster_certs(directory: Path) -> dict:
    """A test CA and one node certificate (SAN IP:127.0.0.1) usable as server and as client:
    the cluster bus authenticates both ends. Same keys as servers.make_tls_certs()."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca, ca_key = d / "ca.pem", d / "ca-key.pem"
    cert, key, csr, ext = d / "node.pem", d / "node-key.pem", d / "node.csr", d / "node.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage=serverAuth,clientAuth\n")

    def run(*a):
        subprocess.run(["openssl", *map(str, a)], check=True, capture_output=True, timeout=60)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
        "-days", "2", "-subj", "/CN=mcbridge test cluster CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=localhost")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext)
    return {"ca": ca, "ca_key": ca_key, "cert": cert, "key": key}


def start_cluster(primaries: int = 3, replicas: int = 1, node_timeout_ms: int = 5000,
                  tls: Optional[dict] = None, extra_args: Optional[list] = None
                  ) -> RedisCluster:
    """Starts the nodes, creates the cluster, waits for cluster_state:ok on all of them.
    With tls (servers.make_tls_certs() paths), nodes listen with TLS only and talk TLS to each
    other (--tls-cluster yes, --tls-replication yes)."""
    workdir = Path(tempfile.mkdtemp(prefix="mcb-cluster-"))
    nodes = []
    cluster = RedisCluster(workdir, nodes, tls)
    try:
        for i in range(primaries * (1 + replicas)):
            nodedir = workdir / f"node{i}"
            nodedir.mkdir()

            def argv(port, wd, nodedir=nodedir):
                base = [servers.REDIS_BIN, "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--dir", str(nodedir), "--protected-mode", "no",
                        "--cluster-enabled", "yes", "--cluster-config-file",
                        str(nodedir / "nodes.conf"),
                        "--cluster-node-timeout", str(node_timeout_ms),
                        "--repl-diskless-sync-delay", "0",
                        # Replicas show in CLUSTER SLOTS once their offset is known (> 0).
                        "--repl-ping-replica-period", "1",
                        # An explicit bus port: port + 10000 may be taken, or above 65535.
                        "--cluster-port", str(servers.free_port())]
                if tls is None:
                    base += ["--port", str(port)]
                else:
                    base += ["--port", "0", "--tls-port", str(port), "--tls-cluster", "yes",
                             "--tls-replication", "yes",
                             "--tls-cert-file", str(tls["cert"]),
                             "--tls-key-file", str(tls["key"]),
                             "--tls-ca-cert-file", str(tls["ca"]),
                             "--tls-auth-clients", "no"]
                return base + list(extra_args or [])
            nodes.append(servers._start("redis-node", argv, workdir=nodedir))
        cluster.cli("--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes],
                    "--cluster-replicas", str(replicas), "--cluster-yes")
        cluster.wait_ok(replicas=replicas)
        return cluster
    except BaseException:
        cluster.stop()
        raise
