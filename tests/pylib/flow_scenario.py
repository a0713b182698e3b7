"""Large values and slow readers (issue 12), against any memcached-protocol server.

N items of S bytes; R slow readers, each with a small SO_RCVBUF, send G multi-gets of K keys at
once and then read their replies slowly (`read_rate` bytes/s each); meanwhile another client
does small single-key gets and measures their latency. While it runs, the server's RSS and (for
mcbridge) Redis's used_memory and client output buffers are sampled.

Used by tests/integration/test_int_flow.py (CI size) and bench/slow_readers.py (the issue's
size, beside memcached). Plain sockets and threads: no client library in between.
"""

from __future__ import annotations

import functools
import multiprocessing
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

import servers


@functools.lru_cache(maxsize=256)
def item_value(i: int, size: int) -> bytes:
    """A value whose every byte depends on the item: a swapped or cut value is detected."""
    head = b"item-%06d:" % i
    body = bytes((i * 31 + j) & 0xFF for j in range(251))
    reps = size // len(body) + 1
    return (head + body * reps)[:size]


def populate(port: int, n: int, size: int, prefix: str = "big") -> None:
    with servers.RawConn(port, timeout=30) as c:
        for i in range(n):
            c.send(b"set %s%d 0 0 %d\r\n%s\r\n" % (prefix.encode(), i, size, item_value(i, size)))
        got = c.read_until(b"\r\n", n, timeout=60)
        assert got == b"STORED\r\n" * n, got[:200]
        c.send(b"set small 0 0 100\r\n" + b"s" * 100 + b"\r\n")
        assert c.read_line(timeout=10) == b"STORED\r\n"


class ReplyChecker:
    """Checks a stream of get replies as it arrives, keeping only the unparsed tail (a slow
    reader of 300 MB holds a few KB): reply i has the VALUE blocks of replies[i] (item numbers,
    every item a hit with item_value()) then END."""

    def __init__(self, replies: list, size: int, prefix: str):
        self.replies_keys, self.size, self.prefix = replies, size, prefix
        self.keys = replies[0] if replies else []
        self.buf = bytearray()
        self.key_index = 0
        self.replies = 0
        self.ok = 0
        self.problems: list = []

    def feed(self, data: bytes) -> None:
        self.buf += data
        pos = 0
        buf = self.buf
        while not self.problems:
            if self.key_index == len(self.keys):
                if len(buf) - pos < 5:
                    break
                if buf[pos:pos + 5] != b"END\r\n":
                    self.problems.append(bytes(buf[pos:pos + 100]))
                    break
                pos += 5
                self.replies += 1
                self.key_index = 0
                if self.replies < len(self.replies_keys):
                    self.keys = self.replies_keys[self.replies]
                continue
            if self.replies >= len(self.replies_keys):
                if len(buf) > pos:
                    self.problems.append(b"unexpected bytes: " + bytes(buf[pos:pos + 100]))
                break
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            line = bytes(buf[pos:eol])
            if not line.startswith(b"VALUE "):
                self.problems.append(line[:100])
                break
            parts = line.split()
            n = int(parts[3])
            if len(buf) < eol + 2 + n + 2:
                break
            k = self.keys[self.key_index]
            data_ok = buf[eol + 2:eol + 2 + n] == item_value(k, self.size)
            if parts[1].decode() != f"{self.prefix}{k}" or n != self.size or not data_ok:
                self.problems.append(b"bad value for " + parts[1])
            else:
                self.ok += 1
            pos = eol + 2 + n + 2
            self.key_index += 1
        del buf[:pos]


@dataclass
class Result:
    slow_values_ok: list = field(default_factory=list)   # per slow reader
    slow_problems: list = field(default_factory=list)
    slow_seconds: list = field(default_factory=list)
    slow_bytes: list = field(default_factory=list)
    small_latencies_ms: list = field(default_factory=list)
    small_errors: list = field(default_factory=list)
    rss_peak_kb: int = 0
    rss_before_kb: int = 0
    redis_used_before: int = 0
    redis_used_peak: int = 0
    redis_client_obuf_peak: int = 0   # max client_recent_max_output_buffer seen
    seconds: float = 0.0

    def p(self, q: float) -> float:
        lat = sorted(self.small_latencies_ms)
        if not lat:
            return float("nan")
        return lat[min(len(lat) - 1, int(q * len(lat)))]

    def summary(self) -> dict:
        return {
            "seconds": round(self.seconds, 2),
            "readers_mb_per_s": round(sum(self.slow_bytes) / 2**20 / max(self.seconds, 1e-9), 1),
            "slow_values_ok": self.slow_values_ok,
            "slow_problems": [p[:80].decode("latin-1") for ps in self.slow_problems
                              for p in ps][:5],
            "small_gets": len(self.small_latencies_ms),
            "small_p50_ms": round(self.p(0.50), 3),
            "small_p99_ms": round(self.p(0.99), 3),
            "small_max_ms": round(max(self.small_latencies_ms or [0]), 3),
            "small_errors": len(self.small_errors),
            "small_error_samples": [e[:80].decode("latin-1") for e in self.small_errors[:3]],
            "rss_before_mb": round(self.rss_before_kb / 1024, 1),
            "rss_peak_mb": round(self.rss_peak_kb / 1024, 1),
            "redis_used_growth_mb": round((self.redis_used_peak - self.redis_used_before) / 2**20, 1),
            "redis_client_obuf_peak_mb": round(self.redis_client_obuf_peak / 2**20, 1),
        }


def _redis_info(port: int) -> dict:
    text = servers.resp(port, "INFO").decode()
    out = {}
    for line in text.split("\r\n"):
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def slow_reader(port: int, keys: list, gets: int, size: int, prefix: str, rcvbuf: int,
                read_rate: float, timeout: float, res: Result, idx: int) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    line = b"get " + b" ".join(f"{prefix}{k}".encode() for k in keys) + b"\r\n"
    s.sendall(line * gets)
    checker = ReplyChecker([keys] * gets, size, prefix)
    received = 0
    start = time.monotonic()
    chunk = max(4096, rcvbuf // 2)
    deadline = start + timeout
    s.settimeout(1.0)
    quiet = 0
    while time.monotonic() < deadline and checker.replies < gets and not checker.problems:
        try:
            data = s.recv(chunk)
        except socket.timeout:
            quiet += 1
            if quiet >= 5:  # nothing for 5 s: whatever was answered has arrived
                break
            continue
        quiet = 0
        if not data:
            break
        received += len(data)
        checker.feed(data)
        # Read at read_rate (0: as fast as possible): sleep as long as this much "should" have
        # taken.
        if read_rate > 0:
            pause = start + received / read_rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    s.close()
    res.slow_seconds[idx] = time.monotonic() - start
    res.slow_bytes[idx] = received
    res.slow_values_ok[idx] = checker.ok
    res.slow_problems[idx] = checker.problems


def _small_getter_proc(port: int, stop, conn, interval: float) -> None:
    """In its own process, so the slow readers' Python work does not add to its latency."""
    lat, errors = [], []
    try:
        with servers.RawConn(port, timeout=10) as c:
            while not stop.is_set():
                t0 = time.perf_counter()
                c.send(b"get small\r\n")
                try:
                    reply = c.read_get_reply(timeout=10)
                except (TimeoutError, ConnectionError) as e:
                    errors.append(str(e).encode())
                    break
                lat.append((time.perf_counter() - t0) * 1000)
                if not reply.startswith(b"VALUE small ") or not reply.endswith(b"END\r\n"):
                    errors.append(reply[:100])
                time.sleep(interval)
    finally:
        conn.send((lat, errors))
        conn.close()


def run(port: int, pid: Optional[int], redis_port: Optional[int], *, items: int, size: int,
        readers: int, gets: int, keys_per_get: int, rcvbuf: int = 16384,
        read_rate: float = 20e6, timeout: float = 120.0, small_interval: float = 0.002,
        prefix: str = "big") -> Result:
    """Runs the scenario against the server on `port` (items must already be stored with
    populate()). `pid` for RSS sampling, `redis_port` for Redis memory sampling."""
    res = Result()
    res.slow_values_ok = [0] * readers
    res.slow_problems = [[] for _ in range(readers)]
    res.slow_seconds = [0.0] * readers
    res.slow_bytes = [0] * readers
    if pid:
        res.rss_before_kb = res.rss_peak_kb = servers.vm_rss_kb(pid)
    if redis_port:
        info = _redis_info(redis_port)
        res.redis_used_before = res.redis_used_peak = int(info["used_memory"])
    sampling = threading.Event()

    def sampler():
        while not sampling.is_set():
            if pid:
                res.rss_peak_kb = max(res.rss_peak_kb, servers.vm_rss_kb(pid))
            if redis_port:
                try:
                    info = _redis_info(redis_port)
                    res.redis_used_peak = max(res.redis_used_peak, int(info["used_memory"]))
                    res.redis_client_obuf_peak = max(
                        res.redis_client_obuf_peak,
                        int(info.get("client_recent_max_output_buffer", 0)))
                except (OSError, servers.RespError, TimeoutError, ConnectionError):
                    pass
            time.sleep(0.05)

    keys = list(range(min(keys_per_get, items)))
    t_sample = threading.Thread(target=sampler, daemon=True)
    ctx = multiprocessing.get_context("fork")
    small_stop = ctx.Event()
    small_rx, small_tx = ctx.Pipe(duplex=False)
    p_small = ctx.Process(target=_small_getter_proc,
                          args=(port, small_stop, small_tx, small_interval), daemon=True)
    t_sample.start()
    p_small.start()
    time.sleep(0.2)  # a few small gets before the load
    start = time.monotonic()
    threads = [threading.Thread(target=slow_reader,
                                args=(port, [(k + 7 * r) % items for k in keys], gets, size,
                                      prefix, rcvbuf, read_rate, timeout, res, r), daemon=True)
               for r in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 10)
    res.seconds = time.monotonic() - start
    small_stop.set()
    if small_rx.poll(20):
        res.small_latencies_ms, res.small_errors = small_rx.recv()
    else:
        res.small_errors.append(b"small getter did not report")
    p_small.join(5)
    if p_small.is_alive():
        p_small.kill()
    sampling.set()
    t_sample.join(5)
    return res
