"""The memcached binary protocol for tests: packet building, reply parsing, and a small client
connection that reads replies until a sentinel NOOP."""

from __future__ import annotations

import socket
import struct
import time
from typing import Optional

REQ, RES = 0x80, 0x81
GET, SET, ADD, REPLACE, DELETE, INCR, DECR, QUIT, FLUSH, GETQ, NOOP, VERSION = range(0x0c)
GETK, GETKQ, APPEND, PREPEND, STAT = 0x0c, 0x0d, 0x0e, 0x0f, 0x10
SETQ, ADDQ, REPLACEQ, DELETEQ, INCRQ, DECRQ, QUITQ, FLUSHQ, APPENDQ, PREPENDQ = range(0x11, 0x1b)
TOUCH, GAT, GATQ, GATK, GATKQ = 0x1c, 0x1d, 0x1e, 0x23, 0x24
SASL_LIST, SASL_AUTH, SASL_STEP = 0x20, 0x21, 0x22

SENTINEL_OPAQUE = 0xFEEDFACE


def pkt(op, key=b"", extras=b"", value=b"", opaque=0, cas=0, magic=REQ, bodylen=None,
        keylen=None, extlen=None, dtype=0, vbucket=0) -> bytes:
    kl = len(key) if keylen is None else keylen
    el = len(extras) if extlen is None else extlen
    bl = len(key) + len(extras) + len(value) if bodylen is None else bodylen
    return struct.pack(">BBHBBHIIQ", magic, op, kl, el, dtype, vbucket, bl, opaque, cas) + \
        extras + key + value


def store(op, key, value, flags=0, exptime=0, **kw) -> bytes:
    return pkt(op, key, struct.pack(">II", flags, exptime), value, **kw)


def counter(op, key, delta=1, initial=0, exptime=0xffffffff, **kw) -> bytes:
    return pkt(op, key, struct.pack(">QQI", delta, initial, exptime), **kw)


def touch(op, key, exptime, **kw) -> bytes:
    return pkt(op, key, struct.pack(">I", exptime), **kw)


def sentinel() -> bytes:
    return pkt(NOOP, opaque=SENTINEL_OPAQUE)


def parse(data: bytes):
    """Splits reply bytes into packets (dicts); a trailing partial packet is returned as
    {"partial": bytes}."""
    out = []
    while len(data) >= 24:
        m, op, kl, el, dt, st, bl, opq, cas = struct.unpack(">BBHBBHIIQ", data[:24])
        if len(data) < 24 + bl:
            break
        body = data[24:24 + bl]
        out.append(dict(magic=m, op=op, status=st, dtype=dt, extras=body[:el],
                        key=body[el:el + kl], value=body[el + kl:], opaque=opq, cas=cas))
        data = data[24 + bl:]
    if data:
        out.append(dict(partial=data))
    return out


class BinConn:
    def __init__(self, port: int, timeout: float = 5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.closed = False

    def send(self, data: bytes, cuts: Optional[list] = None) -> None:
        try:
            if not cuts:
                self.sock.sendall(data)
                return
            prev = 0
            for c in sorted(cuts) + [len(data)]:
                if c > prev:
                    self.sock.sendall(data[prev:c])
                    time.sleep(0.003)
                    prev = c
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True

    def read_until_sentinel(self, timeout: float = 3.0):
        """Reads packets until the sentinel NOOP's reply (not returned), a close, or the
        timeout. Returns (packets, ending) with ending "sentinel", "closed" or "timeout"."""
        deadline = time.monotonic() + timeout
        while True:
            pkts = parse(self.buf)
            for i, p in enumerate(pkts):
                if p.get("op") == NOOP and p.get("opaque") == SENTINEL_OPAQUE:
                    consumed = sum(24 + len(q["extras"]) + len(q["key"]) + len(q["value"])
                                   for q in pkts[:i + 1])
                    self.buf = self.buf[consumed:]
                    return pkts[:i], "sentinel"
            if self.closed:
                self.buf = b""
                return pkts, "closed"
            left = deadline - time.monotonic()
            if left <= 0:
                self.buf = b""
                return pkts, "timeout"
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
            self.buf += chunk

    def request(self, data: bytes, timeout: float = 5.0):
        """Sends data plus a sentinel NOOP and returns the replies before the sentinel's."""
        self.send(data + sentinel())
        pkts, ending = self.read_until_sentinel(timeout)
        assert ending == "sentinel", (ending, pkts)
        return pkts

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
