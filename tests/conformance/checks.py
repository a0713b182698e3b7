"""Comparison of one case's reply streams, consulting intended_differences."""

from __future__ import annotations

import pytest

from harness import describe, normalized, run_case
from intended_differences import applicable


def check_case(case, targets):
    ref, sut = targets
    runs = run_case(case, ref, sut)
    diffs = applicable(case)

    def norm(data: bytes) -> bytes:
        for d in diffs:
            if d.normalize:
                data = d.normalize(data)
        return data

    want = normalized(runs[0], norm)
    got = normalized(runs[1], norm)
    if want == got:
        return
    alternatives = []
    for d in diffs:
        if d.alternative:
            alt = d.alternative(case)
            alt_run = run_case(alt, ref)[0]
            alt_want = normalized(alt_run, norm)
            alternatives.append((d.name, alt_want))
            if got == alt_want:
                return
    msg = [f"{sut.name} differs from memcached 1.6.18",
           f"  memcached: {want[:1500]!r}",
           f"  {sut.name:>9}: {got[:1500]!r}"]
    for name, alt_want in alternatives:
        msg.append(f"  allowed by intended difference {name!r}: {alt_want[:600]!r}")
    msg.append("per-step replies (case re-run in lockstep mode):")
    msg.append(describe(case, run_case(case, ref, sut, slow=True)))
    pytest.fail("\n".join(msg), pytrace=False)
