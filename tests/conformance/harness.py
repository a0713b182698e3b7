"""Differential harness: run the same byte script against a reference memcached 1.6.18 and
against the system under test (mcbridge, or a second memcached when
CONFORMANCE_TARGET=memcached), and compare the reply streams byte for byte after
normalising CAS values to their equality pattern (c1, c2, ... in order of appearance).

A Case is a list of Steps. Each step sends bytes (optionally split into several send()
calls, optionally after a sleep). Step bytes may contain CAS templates `{c1}`, `{c2+5}`:
they are replaced, per target, by the real CAS value that target returned for normalised
token c1 earlier in the same case. After the last step a sentinel `version\r\n` is sent
(unless the case leaves the connection waiting for data or closed) and everything up to
the sentinel's reply is collected, so slow targets are waited for deterministically. A case
that sends `version` itself ends with the meta no-op `mn\r\n` instead (sentinel_of): its own
VERSION reply must not be taken for the sentinel's.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from servers import RawConn

SENTINEL = b"version\r\n"
SENTINEL_REPLY = b"VERSION 1.6.18\r\n"
NOOP_SENTINEL = b"mn\r\n"
NOOP_SENTINEL_REPLY = b"MN\r\n"
# For a case that sends both: a meta miss whose reply carries the key and opaque back.
MISS_SENTINEL = b"mg __harness_sentinel__ k O9191\r\n"
MISS_SENTINEL_REPLY = b"EN k__harness_sentinel__ O9191\r\n"
_SENDS_VERSION = re.compile(rb"(?im)^[ \t]*version")
_SENDS_MN = re.compile(rb"(?im)^[ \t]*mn\b")
CLOSED = b"<CLOSED>"


@dataclass
class Step:
    data: bytes
    sleep: float = 0.0                 # seconds to sleep before sending
    cuts: Optional[list] = None        # split offsets for several send() calls
    until: Optional[bytes] = None      # read until this terminator appears (for templates)
    until_count: int = 1


@dataclass
class Case:
    id: str
    steps: list
    sentinel: bool = True              # False: connection ends waiting for data / closed
    reconnect: bool = False            # reconnect before a step if the server closed
    tags: set = field(default_factory=set)
    lockstep: bool = False             # never pipeline the steps (see run_case)

    def script(self) -> bytes:
        return b"".join(s.data for s in self.steps)


def sentinel_of(case: Case) -> tuple:
    """(command, reply) that ends `case`: `version`, unless the case sends `version` itself.
    Reading up to the first VERSION of such a case stopped after its own one: the rest of the
    case went unread and uncompared, and a slow target was still executing it (its later
    writes landing after the next case's flush_all) when the connection closed."""
    script = case.script()
    if not _SENDS_VERSION.search(script):
        return SENTINEL, SENTINEL_REPLY
    if not _SENDS_MN.search(script):
        return NOOP_SENTINEL, NOOP_SENTINEL_REPLY
    if b"__harness_sentinel__" not in script:
        return MISS_SENTINEL, MISS_SENTINEL_REPLY
    raise ValueError(f"case {case.id} sends version, mn and the sentinel key: no sentinel of "
                     f"its own")


# ------------------------------------------------------------------ normalisation

_VALUE_RE = re.compile(rb"^VALUE (\S+) (\S+) (\d+)(?: (\S+))?$")


_META_RE = re.compile(rb"^(VA (\d+)|HD|NS|EX|NF|EN)((?: \S+)*)$")
_ME_RE = re.compile(rb"^ME (\S+) exp=(-?\d+) la=(\d+) cas=(\d+) (.*)$")


def _coarse(n: int) -> int:
    """Seconds compared 'within a second' (meta t/l, me exp/la): 29 and 30 fall together."""
    return (n + 1) // 5 if n >= 0 else -((-n + 1) // 5)


def _meta_tokens(tokens: bytes, mapping: dict) -> bytes:
    out = []
    for t in tokens.split(b" "):
        if re.fullmatch(rb"c\d+", t):
            cas = t[1:]
            if cas != b"0":
                if cas not in mapping:
                    mapping[cas] = len(mapping) + 1
                t = b"c<c%d>" % mapping[cas]
        elif re.fullmatch(rb"[tl]-?\d+", t):
            t = t[:1] + b"~%d" % _coarse(int(t[1:]))
        out.append(t)
    return b" ".join(out)


def normalize_cas(stream: bytes, mapping: Optional[dict] = None):
    """Replace the CAS field of 5-field VALUE lines, the c token of meta replies and the cas=
    of me by c1, c2, ... (same value -> same token); meta TTL/idle seconds (t, l, exp=, la=)
    are compared within a second. Data blocks are skipped by their declared length. Returns
    (bytes, mapping) where mapping is {real_cas_bytes: token_index}."""
    if mapping is None:
        mapping = {}
    out = bytearray()
    pos = 0
    n = len(stream)
    while pos < n:
        eol = stream.find(b"\r\n", pos)
        if eol < 0:
            out += stream[pos:]
            break
        line = stream[pos:eol]
        mm = _META_RE.match(line)
        if mm:
            code, size, tokens = mm.groups()
            out += code + _meta_tokens(tokens, mapping) + b"\r\n"
            pos = eol + 2
            if size is not None:
                end = pos + int(size) + 2
                out += stream[pos:end]
                pos = end
            continue
        me = _ME_RE.match(line)
        if me:
            key, exp, la, cas, rest = me.groups()
            if cas not in mapping:
                mapping[cas] = len(mapping) + 1
            out += b"ME %s exp~%d la~%d cas=<c%d> %s\r\n" % (
                key, _coarse(int(exp)), _coarse(int(la)), mapping[cas], rest)
            pos = eol + 2
            continue
        m = _VALUE_RE.match(line)
        if m:
            key, flags, length, cas = m.groups()
            if cas is not None:
                if cas not in mapping:
                    mapping[cas] = len(mapping) + 1
                line = b"VALUE %s %s %s c%d" % (key, flags, length, mapping[cas])
            out += line + b"\r\n"
            pos = eol + 2
            end = pos + int(length) + 2
            out += stream[pos:end]
            pos = end
            continue
        out += line + b"\r\n"
        pos = eol + 2
    return bytes(out), mapping


_NOW_RE = re.compile(rb"\{now([+-]\d+)?\}")
_TEMPLATE_RE = re.compile(rb"\{c(\d+|last|prev)([+-]\d+)?\}")


def substitute(data: bytes, mapping: dict, prev: Optional[bytes] = None) -> bytes:
    inv = {idx: int(cas) for cas, idx in mapping.items()}
    if prev is not None and prev in mapping:
        inv[-1] = int(prev)

    def repl(m):
        # {clast}: the CAS value seen most recently for the first time; {cprev}: the last CAS
        # value in the previous step's replies
        which = m.group(1)
        idx = (max(inv) if inv else 0) if which == b"last" else -1 if which == b"prev" \
            else int(which)
        if idx not in inv:
            # unknown token (e.g. the reference returned fewer CAS values): keep a value that
            # can never match a real CAS so both sides see a mismatch/parse identically
            base = 999999999
        else:
            base = inv[idx]
        off = int(m.group(2)) if m.group(2) else 0
        return b"%d" % max(0, base + off)
    return _TEMPLATE_RE.sub(repl, data)


# ------------------------------------------------------------------ execution

@dataclass
class Target:
    name: str
    port: int
    idle: float            # drain gap after each step
    wait_cap: float = 3.0  # how long to wait for bytes the reference already produced


class Run:
    """One case running on one target."""

    def __init__(self, target: Target):
        self.t = target
        self.conn: Optional[RawConn] = None
        self.out = bytearray()
        self.steps_out: list = []
        self.mapping: dict = {}
        self.prev_cas: Optional[bytes] = None

    def connect(self):
        self.conn = RawConn(self.t.port, timeout=5)
        # clean state: every case starts after an immediate flush_all
        self.conn.send(b"flush_all\r\n")
        r = self.conn.read_until(b"\r\n", 1, timeout=5)
        assert r == b"OK\r\n", f"{self.t.name}: flush_all answered {r!r}"

    def _mark_closed(self):
        if not self.out.endswith(CLOSED):
            self.out += CLOSED

    def send(self, step: Step, now: int):
        if self.conn.closed:
            return
        data = substitute(step.data, self.mapping, self.prev_cas) if b"{c" in step.data \
            else step.data
        if b"{now" in data:
            data = _NOW_RE.sub(lambda m: b"%d" % (now + int(m.group(1) or 0)), data)
        try:
            if step.cuts:
                self.conn.send_split(data, step.cuts)
            else:
                self.conn.send(data)
        except (BrokenPipeError, ConnectionResetError):
            self.conn.closed = "RST"

    def drain(self, min_bytes: int = 0, idle: Optional[float] = None, cap: float = 3.0) -> bytes:
        if self.conn.closed and not self.conn.pending:
            return b""
        got = self.conn.read_idle(idle=self.t.idle if idle is None else idle, cap=cap,
                                  min_bytes=min_bytes)
        return got

    def read_until(self, term: bytes, count: int, timeout: float = 3.0) -> bytes:
        try:
            return self.conn.read_until(term, count, timeout)
        except (TimeoutError, ConnectionError):
            p = self.conn.pending
            self.conn.pending = b""
            return p

    def record(self, data: bytes):
        self.out += data
        self.steps_out[-1] += data
        if self.conn.closed:
            self._mark_closed()
        _, self.mapping = normalize_cas(bytes(self.out))
        _, step_cas = normalize_cas(bytes(self.steps_out[-1]), {})
        if step_cas:
            self.prev_cas = list(step_cas)[-1]

    def close(self):
        if self.conn:
            self.conn.close()


def run_case(case: Case, ref: Target, sut: Optional[Target] = None, slow: bool = False):
    """Run `case` on the reference and the SUT. Returns [ref_run, sut_run] (just [ref_run]
    without a SUT). Small cases without sleeps/templates are pipelined (each step one send(),
    all replies read at the end); otherwise (or with slow=True) the targets run in lockstep
    and each step's replies are drained before the next step is sent."""
    runs = [Run(ref)] + ([Run(sut)] if sut else [])
    sentinel, sentinel_reply = sentinel_of(case) if case.sentinel else (None, None)
    try:
        for r in runs:
            r.connect()
        fast = not slow and not case.reconnect and not case.lockstep and \
            not any(s.sleep or s.until for s in case.steps) and \
            sum(len(s.data) for s in case.steps) < 200_000
        for step in case.steps:
            if fast:
                # pipelined: every step is its own send() call, replies collected at the end
                now = int(time.time())
                for r in runs:
                    r.steps_out.append(bytearray())
                    r.send(step, now)
                continue
            if step.sleep:
                time.sleep(step.sleep)
            now = int(time.time())     # {now+N}: absolute exptimes, same for both targets
            for r in runs:
                r.steps_out.append(bytearray())
                if case.reconnect and r.conn.closed:
                    r.conn.close()
                    r.conn = RawConn(r.t.port, timeout=5)
                r.send(step, now)
            if step.until:
                for r in runs:
                    r.record(r.read_until(step.until, step.until_count))
            else:
                # lockstep cases: give the reference time to flush each reply completely
                # before the next request arrives (memcached's key>250 quirk, see cases.mk)
                ref_bytes = runs[0].drain(idle=0.05 if case.lockstep else None)
                runs[0].record(ref_bytes)
                # the SUT gets time to produce at least as many bytes as the reference did
                for r in runs[1:]:
                    r.record(r.drain(min_bytes=len(ref_bytes), cap=r.t.wait_cap))
        # final collection
        for r in runs:
            r.steps_out.append(bytearray())
            if case.sentinel and not r.conn.closed:
                try:
                    r.conn.send(sentinel)
                except OSError:
                    r.conn.closed = "RST"
                if not r.conn.closed:
                    r.record(r.read_until(sentinel_reply, 1, timeout=r.t.wait_cap + 2))
                    continue
            r.record(r.drain(idle=0.3, cap=r.t.wait_cap + 2))
    finally:
        for r in runs:
            r.close()
    return runs


def normalized(run: Run, extra: Optional[Callable[[bytes], bytes]] = None) -> bytes:
    data, _ = normalize_cas(bytes(run.out))
    if extra:
        data = extra(data)
    return data


def describe(case: Case, runs, limit: int = 600) -> str:
    lines = [f"case {case.id}"]
    end = sentinel_of(case)[0] if case.sentinel else b"<drain>"
    for i, step in enumerate(case.steps + [Step(end)]):
        d = step.data if len(step.data) <= limit else step.data[:limit] + b"...(%d bytes)" % len(step.data)
        lines.append(f"  C: {d!r}")
        for r in runs:
            o = bytes(r.steps_out[i]) if i < len(r.steps_out) else b""
            o = o if len(o) <= limit else o[:limit] + b"...(%d bytes)" % len(o)
            lines.append(f"     {r.t.name:>9}: {o!r}")
    return "\n".join(lines)
