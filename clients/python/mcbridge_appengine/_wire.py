"""The memcached text protocol to one mcbridge address: connections, pipelining, auth.

Nothing here knows App Engine semantics; memcache.py turns replies into App Engine results.
Every call takes a pooled connection, writes all of its commands in one go (one round trip for
a whole batch) and reads the replies in order. Any socket error, timeout or unparsable reply
closes that connection and raises BackendError; the caller turns it into a miss / False.
"""

import os
import select
import socket
import threading
import time

DEFAULT_ADDRESS = "127.0.0.1:11211"
DEFAULT_TIMEOUT = 2.0          # seconds for a whole call (App Engine's RPC deadline was 5 s)
DEFAULT_CONNECT_TIMEOUT = 1.0  # seconds
_MAX_IDLE = 16                 # idle connections kept per Backend
_AUTH_KEY = b"auth"


class BackendError(Exception):
    """mcbridge could not be reached or answered something unusable."""


def parse_address(address):
    """'host:port', '[v6]:port' or 'host' -> (host, port)."""
    address = address.strip()
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif address.count(":") == 1:
        host, port = address.split(":")
    else:
        host, port = address, ""
    if not host:
        raise ValueError("MCBRIDGE_ADDRESS %r has no host" % address)
    try:
        port = int(port) if port else 11211
    except ValueError:
        raise ValueError("MCBRIDGE_ADDRESS %r: bad port" % address)
    if not 0 < port < 65536:
        raise ValueError("MCBRIDGE_ADDRESS %r: bad port" % address)
    return host, port


def _env_float(env, name, default):
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = float(raw)
    if value <= 0:
        raise ValueError("%s must be > 0 seconds, not %r" % (name, raw))
    return value


class Config(object):
    """Where mcbridge is and how to talk to it; read from the environment by default:

    MCBRIDGE_ADDRESS                 host:port (default 127.0.0.1:11211)
    MCBRIDGE_CLIENT_TIMEOUT          seconds a call may take in total (default 2)
    MCBRIDGE_CLIENT_CONNECT_TIMEOUT  seconds to connect (default 1)
    MCBRIDGE_USERNAME                with MCBRIDGE_PASSWORD or MCBRIDGE_PASSWORD_FILE: ASCII
                                     auth on every new connection (mcbridge --auth-file)
    """

    def __init__(self, address=None, timeout=None, connect_timeout=None, username=None,
                 password=None, env=None):
        env = os.environ if env is None else env
        self.address = address or env.get("MCBRIDGE_ADDRESS") or DEFAULT_ADDRESS
        self.host, self.port = parse_address(self.address)
        self.timeout = timeout or _env_float(env, "MCBRIDGE_CLIENT_TIMEOUT", DEFAULT_TIMEOUT)
        self.connect_timeout = connect_timeout or _env_float(
            env, "MCBRIDGE_CLIENT_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT)
        self.username = username if username is not None else env.get("MCBRIDGE_USERNAME")
        if password is None and self.username:
            password = env.get("MCBRIDGE_PASSWORD")
            path = env.get("MCBRIDGE_PASSWORD_FILE")
            if password is None and path:
                with open(path, "rb") as f:
                    password = f.read().rstrip(b"\r\n")
        if isinstance(password, str):
            password = password.encode("utf-8")
        if isinstance(self.username, str):
            self.username = self.username.encode("utf-8")
        if self.username and password is None:
            raise ValueError("MCBRIDGE_USERNAME is set but neither MCBRIDGE_PASSWORD nor "
                             "MCBRIDGE_PASSWORD_FILE")
        for part in (self.username or b"", password or b""):
            if any(c in part for c in b" \r\n"):
                raise ValueError("memcached ASCII auth cannot carry spaces or line breaks in "
                                 "the username or password")
        self.password = password


class _Conn(object):
    """One socket with a read buffer; all I/O bounded by the call's deadline."""

    def __init__(self, config):
        self.sock = socket.create_connection((config.host, config.port),
                                             timeout=config.connect_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buf = bytearray()
        self.pos = 0
        self.deadline = 0.0
        self.received = 0  # bytes received in the current call

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _wait(self, want_write):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise BackendError("timed out")
        if want_write:
            r, w, _ = select.select([self.sock], [self.sock], [], left)
        else:
            r, w, _ = select.select([self.sock], [], [], left)
        if not r and not w:
            raise BackendError("timed out")
        return bool(r), bool(w)

    def _recv_some(self):
        try:
            data = self.sock.recv(262144)
        except (BlockingIOError, InterruptedError):
            return
        if not data:
            raise BackendError("connection closed by mcbridge")
        self.received += len(data)
        self.buf += data

    def send(self, payload):
        """Write payload while also reading whatever replies arrive, so that a long pipeline
        cannot deadlock with both socket buffers full."""
        view = memoryview(payload)
        while view:
            readable, writable = self._wait(True)
            if readable:
                self._recv_some()
            if writable:
                try:
                    n = self.sock.send(view)
                except (BlockingIOError, InterruptedError):
                    continue
                view = view[n:]

    def readline(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._compact()
            self._wait(False)
            self._recv_some()

    def read_exact(self, n):
        while len(self.buf) - self.pos < n:
            self._compact()
            self._wait(False)
            self._recv_some()
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return data

    def _compact(self):
        if self.pos:
            del self.buf[:self.pos]
            self.pos = 0

    def idle_clean(self):
        return self.pos == len(self.buf)


class Backend(object):
    """A small thread-safe pool of connections to one mcbridge."""

    def __init__(self, config):
        self.config = config
        self._idle = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def close_all(self):
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()

    def _connect(self, deadline):
        conn = _Conn(self.config)
        conn.deadline = deadline
        if self.config.username:
            try:
                creds = self.config.username + b" " + self.config.password
                conn.send(b"set %s 0 0 %d\r\n%s\r\n" % (_AUTH_KEY, len(creds), creds))
                line = conn.readline()
            except BaseException:
                conn.close()
                raise
            if line != b"STORED":
                conn.close()
                raise BackendError("authentication failed: %r" % line[:200])
        return conn

    def call(self, payload, read_replies):
        """Send payload on one connection and return read_replies(conn)."""
        deadline = time.monotonic() + self.config.timeout
        for attempt in (0, 1):
            conn, reused = None, False
            with self._lock:
                if self._pid != os.getpid():  # forked: the sockets belong to the parent
                    self._idle, self._pid = [], os.getpid()
                if self._idle:
                    conn, reused = self._idle.pop(), True
            try:
                if conn is None:
                    conn = self._connect(deadline)
                conn.deadline = deadline
                conn.received = 0
                conn.send(payload)
                result = read_replies(conn)
            except (OSError, BackendError, ValueError, IndexError) as e:
                received = conn.received if conn is not None else 0
                if conn is not None:
                    conn.close()
                # A pooled connection the server closed while idle fails before any reply
                # byte: nothing was executed, so try once more on a fresh connection.
                timed_out = isinstance(e, socket.timeout) or "timed out" in str(e)
                if attempt == 0 and reused and received == 0 and not timed_out and \
                        time.monotonic() < deadline:
                    continue
                if isinstance(e, BackendError):
                    raise
                raise BackendError("%s: %s" % (type(e).__name__, e))
            if conn.idle_clean():
                with self._lock:
                    if len(self._idle) < _MAX_IDLE:
                        self._idle.append(conn)
                        conn = None
            if conn is not None:
                conn.close()
            return result
        raise BackendError("unreachable")


# --------------------------------------------------------------------------- commands

_GET_CHUNK = 100  # keys per get line; the lines of one call still go out in one write


def get(backend, keys, with_cas):
    """{wire key: (flags, data, cas or None)} for the keys that hit. A SERVER_ERROR answer to
    one get line drops only that line's keys (they read as misses)."""
    verb = b"gets " if with_cas else b"get "
    lines = [verb + b" ".join(keys[i:i + _GET_CHUNK]) + b"\r\n"
             for i in range(0, len(keys), _GET_CHUNK)]
    errors = []

    def read(conn):
        out = {}
        for _ in lines:
            while True:
                line = conn.readline()
                if line == b"END":
                    break
                if line.startswith(b"VALUE "):
                    parts = line.split(b" ")
                    data = conn.read_exact(int(parts[3]) + 2)[:-2]
                    cas = int(parts[4]) if with_cas and len(parts) > 4 else None
                    out[parts[1]] = (int(parts[2]), data, cas)
                elif line.startswith(b"SERVER_ERROR") or line.startswith(b"CLIENT_ERROR"):
                    errors.append(line)
                    break
                else:
                    raise BackendError("unexpected reply to get: %r" % line[:200])
        return out

    return backend.call(b"".join(lines), read), errors


def store(backend, items):
    """items: (verb, wire key, flags, exptime, data, cas). Returns the reply line of each."""
    parts = []
    for verb, key, flags, exptime, data, cas in items:
        if verb == b"cas":
            parts.append(b"cas %s %d %d %d %d\r\n" % (key, flags, exptime, len(data), cas))
        else:
            parts.append(b"%s %s %d %d %d\r\n" % (verb, key, flags, exptime, len(data)))
        parts.append(data)
        parts.append(b"\r\n")
    return backend.call(b"".join(parts), lambda conn: [conn.readline() for _ in items])


def simple(backend, commands):
    """One-line commands (delete, incr, decr, flush_all, touch): the reply line of each."""
    return backend.call(b"".join(c + b"\r\n" for c in commands),
                        lambda conn: [conn.readline() for _ in commands])


def stats(backend):
    def read(conn):
        out = {}
        while True:
            line = conn.readline()
            if line == b"END":
                return out
            parts = line.split(b" ", 2)
            if len(parts) != 3 or parts[0] != b"STAT":
                raise BackendError("unexpected reply to stats: %r" % line[:200])
            out[parts[1].decode("ascii", "replace")] = parts[2].decode("ascii", "replace")
    return backend.call(b"stats\r\n", read)
