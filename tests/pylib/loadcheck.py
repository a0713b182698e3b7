"""A load-and-verify memcache client for failure scenarios (tests/cluster/).

Threads, each owning its keys, set and get them through mcbridge as fast as they can; every
acknowledged write must read back bit-exact. A write answered SERVER_ERROR may or may not have
happened, so until the next acknowledged write either value is accepted. A read that returns a
value older than the last acknowledged one is a lost write (allowed only when the primary that
acknowledged it was killed before replicating: the caller decides). Anything else is wrong.

    load = LoadCheck(port); load.start(); ...; load.stop(); load.verify_all()
    load.errors (timestamps), load.wrong, load.lost, load.hangs, load.bad_lines
"""

from __future__ import annotations

import random
import threading
import time

import servers


def value_of(key: str, version: int) -> bytes:
    rng = random.Random(f"{key}/{version}")
    pad = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 120)))
    return f"{key}:{version}:".encode() + pad


class KeyState:
    __slots__ = ("acked", "maybe", "history")

    def __init__(self):
        self.acked = None    # version of the last acknowledged write (None: never written)
        self.maybe = set()   # versions of failed writes since then (may have happened)
        self.history = []    # acknowledged versions, in order


class LoadCheck:
    def __init__(self, port: int, threads: int = 4, keys_per_thread: int = 150,
                 op_timeout: float = 3.0, prefix: str = "lc", seed: int = 1):
        self.port = port
        self.op_timeout = op_timeout
        self.keys = [[f"{prefix}{t}-{i}" for i in range(keys_per_thread)] for t in range(threads)]
        self.state = {k: KeyState() for ks in self.keys for k in ks}
        self.lock = threading.Lock()
        self.errors = []      # (time, keys, line) of SERVER_ERROR replies
        self.ok_times = []    # (time, key) of successful operations
        self.wrong = []       # (key, got, expected versions)
        self.lost = []        # (key, got version, acked version)
        self.hangs = []       # (time, key): no reply within op_timeout
        self.bad_lines = []   # anything a memcached would never say (e.g. MOVED text)
        self.ops = 0
        self.max_latency = 0.0  # seconds, of any single operation
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(t, seed + t), daemon=True)
                         for t in range(threads)]

    # ---- running
    def start(self):
        for t in self._threads:
            t.start()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def _connect(self):
        return servers.RawConn(self.port, timeout=self.op_timeout)

    def _run(self, index: int, seed: int):
        rng = random.Random(seed)
        keys = self.keys[index]
        conn = self._connect()
        version = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                r = rng.random()
                if r < 0.55:
                    version += 1
                    self._set(conn, rng.choice(keys), version)
                elif r < 0.9:
                    self._get(conn, [rng.choice(keys)])
                else:
                    self._get(conn, rng.sample(keys, 10))
            except (TimeoutError, ConnectionError, OSError):
                with self.lock:
                    self.hangs.append((time.monotonic(), ""))
                conn.close()
                conn = None
                while conn is None and not self._stop.is_set():
                    try:
                        conn = self._connect()
                    except OSError:
                        time.sleep(0.05)
                if conn is None:
                    return
            took = time.monotonic() - started
            if took > self.max_latency:
                self.max_latency = took
        conn.close()

    def _set(self, conn, key: str, version: int):
        data = value_of(key, version)
        line = conn.request(b"set %s 0 0 %d\r\n%s\r\n" % (key.encode(), len(data), data),
                            timeout=self.op_timeout)
        now = time.monotonic()
        st = self.state[key]
        with self.lock:
            self.ops += 1
            if line == b"STORED\r\n":
                st.acked = version
                st.maybe.clear()
                st.history.append(version)
                self.ok_times.append((now, key))
            elif line.startswith(b"SERVER_ERROR"):
                st.maybe.add(version)
                self.errors.append((now, (key,), line))
            else:
                self.bad_lines.append(line)

    def _get(self, conn, keys: list):
        conn.send(b"get " + b" ".join(k.encode() for k in keys) + b"\r\n")
        reply = conn.read_get_reply(timeout=self.op_timeout)
        now = time.monotonic()
        with self.lock:
            self.ops += 1
            if reply.startswith(b"SERVER_ERROR"):
                # A multi-get fails whole when one of its slots' nodes fails.
                self.errors.append((now, tuple(keys), reply))
                return
            if not reply.endswith(b"END\r\n"):
                self.bad_lines.append(reply[:200])
                return
            got = self._parse(reply)
            for k in keys:
                self._check(k, got.get(k))
                self.ok_times.append((now, k))

    @staticmethod
    def _parse(reply: bytes) -> dict:
        out = {}
        pos = 0
        while reply.startswith(b"VALUE ", pos):
            eol = reply.index(b"\r\n", pos)
            parts = reply[pos:eol].split()
            n = int(parts[3])
            out[parts[1].decode()] = reply[eol + 2:eol + 2 + n]
            pos = eol + 2 + n + 2
        return out

    def _check(self, key: str, data):
        st = self.state[key]
        allowed = set(st.maybe)
        if st.acked is not None:
            allowed.add(st.acked)
        if data is None:
            if st.acked is None:
                return
            self.lost.append((key, None, st.acked))
            return
        try:
            version = int(data.split(b":")[1])
        except (IndexError, ValueError):
            self.wrong.append((key, data[:60], sorted(allowed)))
            return
        if version in allowed and data == value_of(key, version):
            if version != st.acked:  # a failed write that did happen: now the known value
                st.acked = version
                st.maybe.clear()
            return
        if version in st.history and data == value_of(key, version):
            self.lost.append((key, version, st.acked))
            return
        self.wrong.append((key, data[:60], sorted(allowed)))

    # ---- after the run
    def verify_all(self):
        """Reads every key back once more (after stop())."""
        conn = self._connect()
        try:
            for ks in self.keys:
                for i in range(0, len(ks), 50):
                    self._get(conn, ks[i:i + 50])
        finally:
            conn.close()

    def error_window(self):
        """(first, last) SERVER_ERROR times, or None."""
        if not self.errors:
            return None
        times = [t for t, _, _ in self.errors]
        return min(times), max(times)

    def summary(self) -> str:
        w = self.error_window()
        return (f"ops={self.ops} errors={len(self.errors)} wrong={len(self.wrong)} "
                f"lost={len(self.lost)} hangs={len(self.hangs)} bad={len(self.bad_lines)} "
                f"window={(w[1] - w[0]) if w else 0:.3f}s max_latency={self.max_latency:.3f}s")
