"""Differential conformance: hundreds of command scripts, memcached 1.6.18 vs the SUT,
reply bytes compared exactly (CAS values normalised to their equality pattern)."""

import pytest

from cases import all_cases
from checks import check_case

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_differential(case, targets):
    check_case(case, targets)
