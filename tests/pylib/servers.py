"""Shared helpers for the Python test suites (integration, conformance, clients).

* free_port()                      - an ephemeral TCP port on 127.0.0.1
* start_redis() / start_memcached() / start_mcbridge(redis_port, ...) - start a server,
  wait until its port accepts connections, return a ManagedProcess; every process started
  here is also killed at interpreter exit (atexit), so a failing test never leaks servers.
* RawConn                          - raw-socket memcached text client: send bytes, read
  until a terminator count / an idle gap / EOF / RST.
* raw_get(port, key)               - the raw reply to one `get` on a fresh connection.
* resp(port, *args)                - one raw RESP command against Redis (no redis-py needed).
* mcbridge_binary()                - where the daemon under test is (MCBRIDGE_BIN, or the
  newest build*/mcbridge of the repo).

Servers bind 127.0.0.1 on ephemeral ports only.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR = (REPO_ROOT / ".." / "shared").resolve()
TRANSCRIPTS_DIR = SHARED_DIR / "protocol-transcripts"

REDIS_BIN = os.environ.get("REDIS_SERVER_BIN", "/usr/bin/redis-server")
MEMCACHED_BIN = os.environ.get("MEMCACHED_BIN", "/usr/bin/memcached")

_LIVE: "set[ManagedProcess]" = set()


# --------------------------------------------------------------------------- ports

def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- processes

class ServerStartError(RuntimeError):
    pass


class ManagedProcess:
    """A child server process that is always cleaned up."""

    def __init__(self, name: str, argv: list, port: int, workdir: Path, owns_workdir: bool):
        self.name = name
        self.argv = argv
        self.port = port
        self.workdir = workdir
        self._owns_workdir = owns_workdir
        self.log_path = workdir / f"{name}-{port}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=str(workdir),
                                     start_new_session=True)
        _LIVE.add(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_text(self, limit: int = 4000) -> str:
        try:
            self._log.flush()
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-limit:].decode("utf-8", "replace")

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServerStartError(
                    f"{self.name} exited with status {self.proc.returncode} before accepting "
                    f"on port {self.port}: {' '.join(map(str, self.argv))}\n--- log ---\n"
                    f"{self.log_text()}")
            if port_accepts(self.port):
                return
            time.sleep(0.02)
        self.stop()
        raise ServerStartError(f"{self.name} did not accept on port {self.port} within "
                               f"{timeout}s\n--- log ---\n{self.log_text()}")

    def signal(self, sig: int) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    def wait(self, timeout: float) -> Optional[int]:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 5.0) -> Optional[int]:
        """SIGTERM, then SIGKILL if needed. Returns the exit status."""
        if self.alive():
            try:
                self.proc.terminate()
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=timeout)
        self._close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        self._close()

    def _close(self) -> None:
        _LIVE.discard(self)
        with contextlib.suppress(Exception):
            self._log.close()
        if self._owns_workdir and not os.environ.get("MCBRIDGE_KEEP_LOGS"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self) -> str:
        return f"<{self.name} pid={self.proc.pid} port={self.port}>"


@atexit.register
def _kill_all_children() -> None:
    for p in list(_LIVE):
        with contextlib.suppress(Exception):
            p.kill()


def _start(name: str, make_argv, workdir: Optional[Path] = None, timeout: float = 10.0,
           attempts: int = 3, port: Optional[int] = None) -> ManagedProcess:
    """Start a server on a fresh free port (or `port`), retrying if the port was taken."""
    last_err: Optional[Exception] = None
    fixed = port
    for _ in range(attempts):
        owns = workdir is None
        wd = Path(tempfile.mkdtemp(prefix=f"mcb-{name}-")) if owns else workdir
        port = fixed or free_port()
        mp = ManagedProcess(name, make_argv(port, wd), port, wd, owns)
        try:
            mp.wait_ready(timeout)
            return mp
        except ServerStartError as e:
            last_err = e
            log = mp.log_text()
            mp.kill()
            if "in use" in log.lower() or "eaddrinuse" in log.lower():
                if fixed:
                    time.sleep(0.5)
                continue
            raise
    raise last_err  # type: ignore[misc]


def start_redis(extra_args: Optional[list] = None, port: Optional[int] = None) -> ManagedProcess:
    def argv(port, wd):
        return [REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(wd), "--protected-mode", "no"] + \
               list(extra_args or [])
    return _start("redis", argv, port=port, attempts=10 if port else 3)


def start_memcached(extra_args: Optional[list] = None) -> ManagedProcess:
    def argv(port, wd):
        a = [MEMCACHED_BIN, "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-m", "64"]
        if os.geteuid() == 0:
            a += ["-u", "nobody"]
        return a + list(extra_args or [])
    return _start("memcached", argv)


def mcbridge_binary() -> Path:
    """The daemon under test: $MCBRIDGE_BIN, else the newest <repo>/build*/mcbridge."""
    env = os.environ.get("MCBRIDGE_BIN")
    if env:
        return Path(env)
    candidates = [p for p in REPO_ROOT.glob("build*/mcbridge") if p.is_file()]
    if not candidates:
        return REPO_ROOT / "build" / "mcbridge"
    return max(candidates, key=lambda p: p.stat().st_mtime)


def start_mcbridge(redis_port: int, key_prefix: Optional[str] = None,
                   extra_args: Optional[list] = None, log_level: str = "warn",
                   threads: int = 1) -> ManagedProcess:
    binary = mcbridge_binary()
    if not binary.is_file():
        raise ServerStartError(f"mcbridge binary not found at {binary} (set MCBRIDGE_BIN)")

    def argv(port, wd):
        a = [str(binary), "--listen", f"127.0.0.1:{port}",
             "--redis", f"redis://127.0.0.1:{redis_port}", "--threads", str(threads)]
        if key_prefix is not None:
            a += ["--key-prefix", key_prefix]
        a += list(extra_args or [])
        if log_level:
            a += ["--log-level", log_level]
        return a
    return _start("mcbridge", argv)


@contextlib.contextmanager
def redis_server(**kw) -> Iterator[ManagedProcess]:
    p = start_redis(**kw)
    try:
        yield p
    finally:
        p.stop()


@contextlib.contextmanager
def memcached_server(**kw) -> Iterator[ManagedProcess]:
    p = start_memcached(**kw)
    try:
        yield p
    finally:
        p.stop()


@contextlib.contextmanager
def mcbridge_server(redis_port: int, **kw) -> Iterator[ManagedProcess]:
    p = start_mcbridge(redis_port, **kw)
    try:
        yield p
    finally:
        p.stop()


@contextlib.contextmanager
def mcbridge_stack(**kw) -> Iterator[tuple]:
    """A private redis + mcbridge pair: yields (redis, mcbridge)."""
    with redis_server() as r:
        with mcbridge_server(r.port, **kw) as m:
            yield r, m


# --------------------------------------------------------------------------- raw client

class RawConn:
    """A raw TCP connection to a memcached-protocol server.

    After any read, .closed is None, "EOF" (orderly close) or "RST" (reset)."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.closed: Optional[str] = None
        self.pending = b""

    # -- sending
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_split(self, data: bytes, cuts: list, gap: float = 0.003) -> None:
        """Send data in several segments, cut at the given offsets, with a short gap so
        the server sees separate reads."""
        prev = 0
        for c in sorted(set(cuts)) + [len(data)]:
            if c <= prev or c > len(data):
                continue
            self.sock.sendall(data[prev:c])
            prev = c
            if c < len(data):
                time.sleep(gap)

    # -- receiving
    def _recv(self, timeout: float) -> Optional[bytes]:
        """One recv. Returns b'' on EOF/RST (sets .closed), None on timeout."""
        if self.closed:
            return b""
        self.sock.settimeout(max(timeout, 0.0001))
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            return None
        except ConnectionResetError:
            self.closed = "RST"
            return b""
        except OSError as e:
            if e.errno in (errno.ECONNRESET, errno.EPIPE):
                self.closed = "RST"
                return b""
            raise
        if not data:
            self.closed = "EOF"
        return data

    def read_idle(self, idle: float = 0.15, cap: float = 5.0, min_bytes: int = 0) -> bytes:
        """Read until no byte arrives for `idle` seconds (after at least min_bytes were
        read), or EOF/RST, or `cap` seconds in total."""
        buf = bytearray(self.pending)
        self.pending = b""
        deadline = time.monotonic() + cap
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            wait = idle if len(buf) >= min_bytes else min(deadline - now, 1.0)
            chunk = self._recv(min(wait, deadline - now))
            if chunk is None:
                if len(buf) >= min_bytes:
                    break
                continue
            if not chunk:
                break
            buf += chunk
        return bytes(buf)

    def read_until(self, terminator: bytes = b"\r\n", count: int = 1,
                   timeout: float = 5.0) -> bytes:
        """Read until `terminator` has been seen `count` times (counting from the start of
        this read). Extra bytes are kept for the next read. Raises TimeoutError."""
        buf = bytearray(self.pending)
        self.pending = b""
        deadline = time.monotonic() + timeout
        while True:
            pos, seen = 0, 0
            while seen < count:
                i = buf.find(terminator, pos)
                if i < 0:
                    break
                seen += 1
                pos = i + len(terminator)
            if seen >= count:
                self.pending = bytes(buf[pos:])
                return bytes(buf[:pos])
            left = deadline - time.monotonic()
            if left <= 0:
                self.pending = bytes(buf)
                raise TimeoutError(f"no {count}x {terminator!r} within {timeout}s; got "
                                   f"{bytes(buf)[:300]!r} closed={self.closed}")
            chunk = self._recv(left)
            if chunk is None:
                continue
            if not chunk:
                self.pending = bytes(buf)
                raise ConnectionError(f"connection {self.closed} after {bytes(buf)[:300]!r}")
            buf += chunk

    def read_line(self, timeout: float = 5.0) -> bytes:
        return self.read_until(b"\r\n", 1, timeout)

    def read_exact(self, n: int, timeout: float = 5.0) -> bytes:
        buf = bytearray(self.pending)
        self.pending = b""
        deadline = time.monotonic() + timeout
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"got {len(buf)} of {n} bytes")
            chunk = self._recv(left)
            if chunk is None:
                continue
            if not chunk:
                raise ConnectionError(f"connection {self.closed} after {len(buf)} of {n}")
            buf += chunk
        self.pending = bytes(buf[n:])
        return bytes(buf[:n])

    def read_get_reply(self, timeout: float = 10.0) -> bytes:
        """Read one complete get/gets reply (VALUE blocks then END, or an error line)."""
        out = bytearray()
        while True:
            line = self.read_line(timeout)
            out += line
            if line.startswith(b"VALUE "):
                n = int(line.split()[3])
                out += self.read_exact(n + 2, timeout)
                continue
            return bytes(out)

    def request(self, data: bytes, lines: int = 1, timeout: float = 5.0) -> bytes:
        """Send and read `lines` CRLF-terminated lines."""
        self.send(data)
        return self.read_until(b"\r\n", lines, timeout)

    def wait_closed(self, timeout: float = 2.0) -> Optional[str]:
        """Wait for the peer to close; returns "EOF"/"RST" or None if still open."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            chunk = self._recv(deadline - time.monotonic())
            if chunk:
                self.pending += chunk
        return self.closed

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_get(port: int, key: bytes) -> bytes:
    """The complete reply to `get <key>` on a fresh connection (VALUE block(s) and END)."""
    with RawConn(port) as c:
        c.send(b"get " + key + b"\r\n")
        return c.read_get_reply()


# --------------------------------------------------------------------------- RESP

class RespError(Exception):
    pass


def _resp_encode(args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RespConn:
    """Minimal blocking RESP2 client for inspecting/poking Redis in tests."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0):
        self.raw = RawConn(port, host, timeout)

    def _read_reply(self):
        line = self.raw.read_line()
        t, body = line[:1], line[1:-2]
        if t == b"+":
            return body
        if t == b"-":
            return RespError(body.decode("utf-8", "replace"))
        if t == b":":
            return int(body)
        if t == b"$":
            n = int(body)
            if n < 0:
                return None
            return self.raw.read_exact(n + 2)[:-2]
        if t == b"*":
            n = int(body)
            if n < 0:
                return None
            return [self._read_reply() for _ in range(n)]
        raise RespError(f"bad RESP line {line!r}")

    def command(self, *args):
        self.raw.send(_resp_encode(args))
        r = self._read_reply()
        if isinstance(r, RespError):
            raise r
        return r

    def close(self):
        self.raw.close()


def resp(port: int, *args):
    """Run one Redis command over a fresh raw RESP connection and return the reply."""
    c = RespConn(port)
    try:
        return c.command(*args)
    finally:
        c.close()


# --------------------------------------------------------------------------- misc

def version_ok(port: int, timeout: float = 2.0) -> bytes:
    with RawConn(port, timeout=timeout) as c:
        return c.request(b"version\r\n", timeout=timeout)


def sigterm_and_wait(p: ManagedProcess, timeout: float = 10.0) -> Optional[int]:
    p.signal(signal.SIGTERM)
    return p.wait(timeout)


# --------------------------------------------------------------------------- ops helpers
# Used by the failure / TLS / ops suites (test_int_failures.py, test_int_tls.py,
# test_int_ops.py). Added functions only: nothing above changes behaviour.

def start_mcbridge_url(redis_url: str, extra_args: Optional[list] = None,
                       log_level: str = "info", threads: int = 1) -> ManagedProcess:
    """mcbridge on a fresh loopback port talking to `redis_url` (any redis:// or rediss://
    URL, e.g. with a password or an ACL user). Its stdout+stderr go to .log_path."""
    binary = mcbridge_binary()
    if not binary.is_file():
        raise ServerStartError(f"mcbridge binary not found at {binary} (set MCBRIDGE_BIN)")

    def argv(port, wd):
        a = [str(binary), "--listen", f"127.0.0.1:{port}", "--redis", redis_url,
             "--threads", str(threads)]
        a += list(extra_args or [])
        if log_level:
            a += ["--log-level", log_level]
        return a
    return _start("mcbridge", argv)


def run_mcbridge(args: list, timeout: float = 10.0,
                 env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Run mcbridge with `args` and wait for it to exit (for start-up errors). Raises
    subprocess.TimeoutExpired (after killing it) if it is still running after `timeout`.
    MCBRIDGE_* / REDIS* variables of the caller are not passed unless given in `env`."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("MCBRIDGE_") and k not in ("REDISHOST", "REDISPORT")}
    base.update(env or {})
    return subprocess.run([str(mcbridge_binary())] + list(args), capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=base)


def vm_rss_kb(pid: int) -> int:
    """Resident set size of a process in KiB (/proc/PID/status VmRSS), 0 if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_for(predicate, timeout: float, interval: float = 0.02):
    """Poll `predicate` until it returns something truthy (returned) or `timeout` passes
    (returns the last falsy value)."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def mc_stats(port: int, timeout: float = 5.0) -> dict:
    """`stats` over a fresh connection, as {name: value string}."""
    with RawConn(port, timeout=timeout) as c:
        out = c.request(b"stats\r\n", lines=1, timeout=timeout)
        while not out.endswith(b"END\r\n"):
            out += c.read_line(timeout)
    stats = {}
    for line in out.decode("ascii", "replace").split("\r\n"):
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0] == "STAT":
            stats[parts[1]] = parts[2]
    return stats


def make_tls_certs(directory: Path, sans: str = "IP:127.0.0.1,DNS:localhost",
                   name: str = "server") -> dict:
    """A fresh CA and a server certificate signed by it (openssl CLI). Returns paths:
    {"ca": ca.pem, "ca_key": ..., "cert": <name>.pem, "key": <name>-key.pem}."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca, ca_key = d / f"{name}-ca.pem", d / f"{name}-ca-key.pem"
    cert, key, csr = d / f"{name}.pem", d / f"{name}-key.pem", d / f"{name}.csr"
    ext = d / f"{name}.ext"
    ext.write_text(f"subjectAltName={sans}\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")

    def run(*a):
        subprocess.run(["openssl", *map(str, a)], check=True, capture_output=True, timeout=60)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
        "-days", "2", "-subj", f"/CN=mcbridge test CA {name}")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=localhost")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext)
    return {"ca": ca, "ca_key": ca_key, "cert": cert, "key": key}


def start_redis_tls(certs: dict, extra_args: Optional[list] = None,
                    port: Optional[int] = None) -> ManagedProcess:
    """redis-server serving TLS only (no plain port) on a fresh loopback port (or `port`):
    .port is the TLS port. Clients are not asked for certificates."""
    def argv(port, wd):
        return [REDIS_BIN, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
                "--tls-cert-file", str(certs["cert"]), "--tls-key-file", str(certs["key"]),
                "--tls-ca-cert-file", str(certs["ca"]), "--tls-auth-clients", "no",
                "--save", "", "--appendonly", "no", "--dir", str(wd),
                "--protected-mode", "no"] + list(extra_args or [])
    return _start("redis-tls", argv, port=port, attempts=10 if port else 3)


class ClientLoad:
    """A few client threads doing set/get in a loop over raw sockets against a memcache
    port, each request bounded by a socket timeout. Every request is recorded as
    (thread, kind, t_start, t_end, outcome, reply) with outcome one of "ok" (STORED, a hit
    with the expected value, or END), "server_error" (a SERVER_ERROR line), "late" (a hit
    whose value is one of this thread's earlier sets that were answered with an error: a
    failed write that Redis applied after all, later than newer acknowledged writes), "stale"
    (any other value than the one last stored by this thread), "timeout" (no complete reply
    within `sock_timeout`: a hang), "connection" (connection refused/reset/closed) or "bad"
    (anything else). After a timeout or connection failure the thread reconnects."""

    def __init__(self, port: int, threads: int = 3, sock_timeout: float = 3.0,
                 value_size: int = 64, pause: float = 0.0, tag: str = "ld"):
        import threading
        self.port = port
        self.n = threads
        self.sock_timeout = sock_timeout
        self.value_size = value_size
        self.pause = pause
        self.tag = tag
        self.records: list = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(threads)]

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout)

    def _run(self, idx: int) -> None:
        conn: Optional[RawConn] = None
        seq = 0
        last_stored: Optional[bytes] = None
        failed_sets: set = set()
        key = b"%s-%d" % (self.tag.encode(), idx)
        while not self._stop.is_set():
            if conn is None:
                t0 = time.monotonic()
                try:
                    conn = RawConn(self.port, timeout=self.sock_timeout)
                except OSError as e:
                    self.records.append((idx, "connect", t0, time.monotonic(), "connection",
                                         repr(e)))
                    time.sleep(0.05)
                    continue
            seq += 1
            val = (b"%d:%d:" % (idx, seq)).ljust(self.value_size, b"v")
            for kind in ("set", "get"):
                if kind == "set":
                    req = b"set %s 0 0 %d\r\n%s\r\n" % (key, len(val), val)
                else:
                    req = b"get %s\r\n" % key
                t0 = time.monotonic()
                try:
                    conn.send(req)
                    if kind == "set":
                        reply = conn.read_line(timeout=self.sock_timeout)
                    else:
                        reply = conn.read_get_reply(timeout=self.sock_timeout)
                except TimeoutError as e:
                    outcome, reply = "timeout", repr(e).encode()
                except (ConnectionError, OSError) as e:
                    outcome, reply = "connection", repr(e).encode()
                else:
                    if reply.startswith(b"SERVER_ERROR"):
                        outcome = "server_error"
                    elif kind == "set" and reply == b"STORED\r\n":
                        outcome = "ok"
                        last_stored = val
                    elif kind == "get" and reply == b"END\r\n":
                        outcome = "ok"
                    elif kind == "get" and reply.startswith(b"VALUE "):
                        data = reply.split(b"\r\n", 1)[1][:-len(b"\r\nEND\r\n")]
                        # a failed set may have been applied anyway: its value is fine too
                        if data in (last_stored, val):
                            outcome = "ok"
                        elif data in failed_sets:
                            outcome = "late"
                        else:
                            outcome = "stale"
                    else:
                        outcome = "bad"
                if kind == "set" and outcome != "ok":
                    failed_sets.add(val)
                self.records.append((idx, kind, t0, time.monotonic(), outcome, reply))
                if outcome in ("timeout", "connection", "bad"):
                    conn.close()
                    conn = None
                    time.sleep(0.05)
                    break
            if self.pause:
                time.sleep(self.pause)
        if conn is not None:
            conn.close()

    # -- queries over the records
    def between(self, t0: float, t1: float = float("inf"), kinds=None) -> list:
        return [r for r in list(self.records)
                if t0 <= r[2] < t1 and (kinds is None or r[1] in kinds)]

    @staticmethod
    def outcomes(records: list) -> dict:
        out: dict = {}
        for r in records:
            out[r[4]] = out.get(r[4], 0) + 1
        return out

    @staticmethod
    def slowest(records: list) -> float:
        return max((r[3] - r[2] for r in records), default=0.0)

    def first_ok_after(self, t: float, kinds=("get",)) -> Optional[float]:
        ends = [r[3] for r in list(self.records)
                if r[4] == "ok" and r[1] in kinds and r[2] >= t]
        return min(ends) if ends else None
