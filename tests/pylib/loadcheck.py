"""A load-and-verify memcache client for failure scenarios (tests/cluster/).

Threads, each owning its keys, set and get them through mcbridge as fast as they can; every
acknowledged write must read back bit-exact. A write answered SERVER_ERROR may or may not have
happened, so until the next acknowledged write either value is accepted. A read that returns a
value older than the last acknowledged one is a lost write (allowed only when the primary that
acknowledged it was killed before replicating: the caller decides). Anything else is wrong.

    load = LoadCheck(port); load.start(); ...; load.stop(); load.verify_all()
    load.errors (timestamps), load.wrong, load.lost, load.hangs, load.bad_lines

mixed=True adds meta (ms/mg) and binary (SET/GETK) requests and pipelines (a set, a multi-get,
an mg and another set in one write) to the text set/get/multi-get mix, and checks flags too.
tags=[...] puts about half of each thread's keys under those hash tags (`{tag}...`): several
keys per slot, so multi-gets often hold keys of one slot (e.g. slots about to move).
"""

from __future__ import annotations

import random
import struct
import threading
import time
import zlib

import binproto as bp
import servers


def value_of(key: str, version: int) -> bytes:
    rng = random.Random(f"{key}/{version}")
    pad = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 120)))
    return f"{key}:{version}:".encode() + pad


def flags_of(key: str, version: int) -> int:
    return zlib.crc32(f"{key}/{version}".encode())


class KeyState:
    __slots__ = ("acked", "maybe", "history")

    def __init__(self):
        self.acked = None    # version of the last acknowledged write (None: never written)
        self.maybe = set()   # versions of failed writes since then (may have happened)
        self.history = []    # acknowledged versions, in order


class LoadCheck:
    def __init__(self, port: int, threads: int = 4, keys_per_thread: int = 150,
                 op_timeout: float = 3.0, prefix: str = "lc", seed: int = 1,
                 mixed: bool = False, tags: list = ()):
        self.port = port
        self.op_timeout = op_timeout
        self.mixed = mixed

        def name(t, i):
            if tags and i % 2 == 0:
                return f"{{{tags[(i // 2) % len(tags)]}}}{prefix}{t}-{i}"
            return f"{prefix}{t}-{i}"
        self.keys = [[name(t, i) for i in range(keys_per_thread)] for t in range(threads)]
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
        conn = bconn = None
        version = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                if conn is None:
                    conn = self._connect()
                if bconn is None and self.mixed:
                    bconn = bp.BinConn(self.port, timeout=self.op_timeout)
                r = rng.random()
                if not self.mixed:
                    if r < 0.55:
                        version += 1
                        self._set(conn, rng.choice(keys), version)
                    elif r < 0.9:
                        self._get(conn, [rng.choice(keys)])
                    else:
                        self._get(conn, rng.sample(keys, 10))
                elif r < 0.2:
                    version += 1
                    self._set(conn, rng.choice(keys), version)
                elif r < 0.3:
                    version += 1
                    self._ms(conn, rng.choice(keys), version)
                elif r < 0.4:
                    version += 1
                    self._bset(bconn, rng.choice(keys), version)
                elif r < 0.5:
                    self._mg(conn, rng.choice(keys))
                elif r < 0.6:
                    self._bget(bconn, rng.choice(keys))
                elif r < 0.8:
                    self._get(conn, rng.sample(keys, 10))
                else:
                    version += 2
                    self._pipeline(conn, rng.sample(keys, 13), version)
            except (TimeoutError, ConnectionError, OSError, AssertionError):
                # (BinConn.request asserts that its reply came: a timeout too.)
                with self.lock:
                    self.hangs.append((time.monotonic(), ""))
                for c in (conn, bconn):
                    if c is not None:
                        c.close()
                conn = bconn = None
                time.sleep(0.05)
                continue
            took = time.monotonic() - started
            if took > self.max_latency:
                self.max_latency = took
        for c in (conn, bconn):
            if c is not None:
                c.close()

    def _set(self, conn, key: str, version: int):
        data = value_of(key, version)
        conn.send(b"set %s %d 0 %d\r\n%s\r\n" % (key.encode(), flags_of(key, version),
                                                   len(data), data))
        self._stored(key, version, conn.read_line(timeout=self.op_timeout), b"STORED\r\n")

    def _ms(self, conn, key: str, version: int):
        data = value_of(key, version)
        conn.send(b"ms %s %d F%d T0\r\n%s\r\n" % (key.encode(), len(data),
                                                     flags_of(key, version), data))
        self._stored(key, version, conn.read_line(timeout=self.op_timeout), b"HD\r\n")

    def _bset(self, bconn, key: str, version: int):
        pkts = bconn.request(bp.store(bp.SET, key.encode(), value_of(key, version),
                                      flags=flags_of(key, version)), timeout=self.op_timeout)
        if len(pkts) != 1 or pkts[0].get("op") != bp.SET:
            with self.lock:
                self.bad_lines.append(repr(pkts)[:200].encode())
            return
        st = pkts[0]["status"]
        self._stored(key, version, b"STORED\r\n" if st == 0 else
                     b"SERVER_ERROR binary status 0x%x\r\n" % st, b"STORED\r\n")

    def _stored(self, key: str, version: int, line: bytes, ok: bytes):
        now = time.monotonic()
        st = self.state[key]
        with self.lock:
            self.ops += 1
            if line == ok:
                st.acked = version
                st.maybe.clear()
                st.history.append(version)
                self.ok_times.append((now, key))
            elif line.startswith(b"SERVER_ERROR"):
                st.maybe.add(version)
                self.errors.append((now, (key,), line))
            else:
                self.bad_lines.append(line)

    def _mg(self, conn, key: str):
        conn.send(b"mg %s v f k\r\n" % key.encode())
        self._mg_reply(conn, key)

    def _mg_reply(self, conn, key: str):
        line = conn.read_line(timeout=self.op_timeout)
        now = time.monotonic()
        got = None
        if line.startswith(b"VA "):
            parts = line.split()
            data = conn.read_exact(int(parts[1]) + 2, timeout=self.op_timeout)[:-2]
            fl = [p for p in parts[2:] if p.startswith(b"f")]
            kf = [p for p in parts[2:] if p.startswith(b"k")]
            if not fl or kf != [b"k" + key.encode()]:
                with self.lock:
                    self.bad_lines.append(line)
                return
            got = (int(fl[0][1:]), data)
        with self.lock:
            self.ops += 1
            if line.startswith(b"SERVER_ERROR"):
                self.errors.append((now, (key,), line))
            elif got is None and line not in (b"EN\r\n", b"EN k%s\r\n" % key.encode()):
                self.bad_lines.append(line)
            else:
                self._check(key, got)
                self.ok_times.append((now, key))

    def _bget(self, bconn, key: str):
        pkts = bconn.request(bp.pkt(bp.GETK, key.encode()), timeout=self.op_timeout)
        now = time.monotonic()
        if len(pkts) != 1 or pkts[0].get("op") != bp.GETK:
            with self.lock:
                self.bad_lines.append(repr(pkts)[:200].encode())
            return
        p = pkts[0]
        with self.lock:
            self.ops += 1
            if p["status"] == 0:
                self._check(key, (struct.unpack(">I", p["extras"])[0], p["value"]))
                self.ok_times.append((now, key))
            elif p["status"] == 1:
                self._check(key, None)
                self.ok_times.append((now, key))
            else:
                self.errors.append((now, (key,), b"binary status 0x%x" % p["status"]))

    def _pipeline(self, conn, keys: list, version: int):
        """set, a 10-key multi-get, mg, set: one write, four replies in order."""
        a, b, c, rest = keys[0], keys[1], keys[2], keys[3:]
        da, db = value_of(a, version - 1), value_of(b, version)
        conn.send(b"set %s %d 0 %d\r\n%s\r\n" % (a.encode(), flags_of(a, version - 1), len(da),
                                                   da) +
                  b"get " + b" ".join(k.encode() for k in rest) + b"\r\n" +
                  b"mg %s v f k\r\n" % c.encode() +
                  b"set %s %d 0 %d\r\n%s\r\n" % (b.encode(), flags_of(b, version), len(db), db))
        self._stored(a, version - 1, conn.read_line(timeout=self.op_timeout), b"STORED\r\n")
        self._get_reply(conn, rest)
        self._mg_reply(conn, c)
        self._stored(b, version, conn.read_line(timeout=self.op_timeout), b"STORED\r\n")

    def _get(self, conn, keys: list):
        conn.send(b"get " + b" ".join(k.encode() for k in keys) + b"\r\n")
        self._get_reply(conn, keys)

    def _get_reply(self, conn, keys: list):
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
        """{key: (flags, data)}"""
        out = {}
        pos = 0
        while reply.startswith(b"VALUE ", pos):
            eol = reply.index(b"\r\n", pos)
            parts = reply[pos:eol].split()
            n = int(parts[3])
            out[parts[1].decode()] = (int(parts[2]), reply[eol + 2:eol + 2 + n])
            pos = eol + 2 + n + 2
        return out

    def _check(self, key: str, got):
        """got: (flags, data) or None (a miss)."""
        st = self.state[key]
        allowed = set(st.maybe)
        if st.acked is not None:
            allowed.add(st.acked)
        flags, data = got if got is not None else (None, None)
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
        if version in allowed and data == value_of(key, version) and \
                flags == flags_of(key, version):
            if version != st.acked:  # a failed write that did happen: now the known value
                st.acked = version
                st.maybe.clear()
            return
        if version in st.history and data == value_of(key, version) and \
                flags == flags_of(key, version):
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
