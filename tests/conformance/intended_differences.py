"""INTENDED differences between mcbridge and memcached 1.6.18, with the reason for each.

The differential tests consult this list for every case. An entry can
  * normalize  - a function applied to BOTH reply streams before comparing (the difference
                 is confined to bytes clients must not rely on), and/or
  * alternative - a function building a transformed case; mcbridge may reply either exactly
                 like memcached does to the original case, or exactly like memcached does to
                 the transformed case (e.g. "reject this out-of-range number as if it were
                 not a number", as PROTOCOL.md §3 recommends).
Nothing here skips a comparison: every case is still compared byte for byte after the
listed normalisation.

Anything NOT listed here that differs is a bug in mcbridge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional

from harness import Case, Step


@dataclass
class IntendedDifference:
    name: str
    reason: str
    applies: Callable[[Case], bool]
    normalize: Optional[Callable[[bytes], bytes]] = None
    alternative: Optional[Callable[[Case], Case]] = None


# ----------------------------------------------------------------- helpers

_STATS_RUN = re.compile(rb"(?:STAT [^\r\n]*\r\n)+")


def _collapse_stats(data: bytes) -> bytes:
    # keep the framing (at least one STAT line, then END) but not names/values/order
    return _STATS_RUN.sub(b"<STAT lines>\r\n", data)


_VALUE_LINE = re.compile(rb"VALUE (\S+) (\d+) (\d+)( c\d+)?\r\n")


def _strip_incr_padding(data: bytes) -> bytes:
    """memcached rewrites incr/decr results in place, right-padded with spaces to the old
    length ("99 "); a store of exact digits ("99") is equally valid (PROTOCOL.md §6.3,
    protocol.txt: "you also shouldn't rely on that"). Normalise digit+space values to the
    bare digits and fix the length."""
    out = bytearray()
    pos = 0
    while True:
        m = _VALUE_LINE.search(data, pos)
        if not m:
            out += data[pos:]
            return bytes(out)
        n = int(m.group(3))
        start = m.end()
        block = data[start:start + n]
        out += data[pos:m.start()]
        if re.fullmatch(rb"\d+ +", block):
            digits = block.rstrip(b" ")
            out += b"VALUE %s %s %d%s\r\n%s" % (m.group(1), m.group(2), len(digits),
                                                 m.group(4) or b"", digits)
        else:
            out += data[m.start():start + n]
        pos = start + n


def _oor_literal(case: Case) -> Optional[bytes]:
    for t in case.tags:
        if t.startswith("oor="):
            return t[4:].encode()
    return None


def _replace_oor(case: Case) -> Case:
    lit = _oor_literal(case)
    pat = re.compile(rb"(?<=[ ])" + re.escape(lit) + rb"(?=[ \r])")
    steps = [Step(pat.sub(b"abc", s.data, count=1) if i == _oor_step(case) else s.data,
                  s.sleep, None, s.until, s.until_count)
             for i, s in enumerate(case.steps)]
    return Case(case.id + "~alt", steps, case.sentinel, case.reconnect, set(), case.lockstep)


def _oor_step(case: Case) -> int:
    for t in case.tags:
        if t.startswith("oorstep="):
            return int(t[8:])
    return 0


def _drop_delayed_flush(case: Case) -> Case:
    # what 1.6.45 (and a correct proxy) answers: the delayed flush does not resurrect
    steps = [Step(b"flush_all 0\r\n") if s.data.startswith(b"flush_all 100") else s
             for s in case.steps]
    return Case(case.id + "~alt", steps, case.sentinel, case.reconnect, set(), case.lockstep)


_MG_LINE = re.compile(rb"(?m)^mg ([^ \r\n]+)((?: [^ \r\n]+)*)(?=\r?\n)")
_KNOWN_META_FLAGS = set(b"bNTRlOPLkstcfvhuqFCMJDI")


def _plain_mg_as_u(case: Case) -> Case:
    """Each mg that mcbridge answers with a plain read (none of h l t N R T) gets a u flag."""
    def add_u(m):
        toks = m.group(2).split()
        if (len(toks) >= 16 or any(t[0] not in _KNOWN_META_FLAGS for t in toks) or
                any(t[:1] in (b"h", b"l", b"t", b"N", b"R", b"T", b"u") for t in toks)):
            return m.group(0)
        return m.group(0) + b" u"
    steps = [Step(_MG_LINE.sub(add_u, st.data), st.sleep, None, st.until, st.until_count)
             for st in case.steps]
    return Case(case.id + "~alt", steps, case.sentinel, case.reconnect, set(), case.lockstep)


# ----------------------------------------------------------------- the list

INTENDED_DIFFERENCES = [
    IntendedDifference(
        name="me-exp-sign",
        reason="memcached 1.6.18's `me` prints an expiring item's exp= negated (now - exptime); "
               "later memcached (1.6.45) prints the remaining seconds, and so does mcbridge.",
        applies=lambda c: "meta" in c.tags and any(b"me " in s.data for s in c.steps),
        normalize=lambda d: re.sub(rb"exp~-(\d+)", rb"exp~\1", d),
    ),
    IntendedDifference(
        name="meta-plain-mg-untracked",
        reason="mcbridge answers an mg without h/l/t/N/R/T with one plain Redis read (the "
               "issue's cost rule: one native command), so it does not record the hit and "
               "last-access time that a later h/l reports: it acts as mg with u (README, Meta "
               "commands). Everything else about it is memcached's.",
        applies=lambda c: "meta" in c.tags,
        alternative=_plain_mg_as_u,
    ),
    IntendedDifference(
        name="stats-content",
        reason="`stats` names, values and order are mcbridge's own counters (PROTOCOL.md "
               "§6.12: only a minimum set is worth emulating); only the STAT...END framing "
               "must match.",
        applies=lambda c: "stats" in c.tags,
        normalize=_collapse_stats,
    ),
    IntendedDifference(
        name="stats-subcommands-may-be-empty",
        reason="`stats items`, `stats slabs`, `stats conns` describe memcached's slab "
               "allocator and fds; mcbridge has neither. PROTOCOL.md §6.12 (minimal proxy): "
               "they may answer just END.",
        applies=lambda c: "stats" in c.tags and any(
            s.data.startswith((b"stats items", b"stats slabs", b"stats conns"))
            for s in c.steps),
        normalize=lambda d: d.replace(b"<STAT lines>\r\n", b""),
    ),
    IntendedDifference(
        name="incr-space-padding",
        reason="memcached pads in-place incr/decr results with spaces to the old length; "
               "PROTOCOL.md §6.3 allows storing the exact digits. Clients must not rely on "
               "padding. (If mcbridge pads like memcached, nothing differs.)",
        applies=lambda c: "incr" in c.tags,
        normalize=_strip_incr_padding,
    ),
    IntendedDifference(
        name="out-of-range-numbers",
        reason="memcached 1.6.18 silently truncates some out-of-range numbers (flags "
               "2^32..2^64-1 mod 2^32, <bytes> > int32 mod 2^32, exptime beyond int32). "
               "PROTOCOL.md §3 recommends rejecting them with the error a non-number gets; "
               "no client depends on the truncation. mcbridge may do either.",
        applies=lambda c: _oor_literal(c) is not None,
        alternative=_replace_oor,
    ),
    IntendedDifference(
        name="flush-all-resurrect-bug",
        reason="memcached 1.6.18 bug: an immediate flush_all followed by `flush_all 100` makes "
               "flushed items visible again until the deadline (fixed in 1.6.45; PROTOCOL.md "
               "§6.5 says do not emulate).",
        applies=lambda c: "flush-resurrect" in c.tags,
        alternative=_drop_delayed_flush,
    ),
]


def applicable(case: Case):
    return [d for d in INTENDED_DIFFERENCES if d.applies(case)]
