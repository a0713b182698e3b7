"""Differential cases that need real sleeps (TTL expiry, delayed flush_all). Run last so a
pending delayed flush can never leak into other cases; each waits out its own deadline."""

import pytest

from cases import timing_cases
from checks import check_case

CASES = timing_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_timing(case, targets):
    check_case(case, targets)
