"""Self-tests of the differential harness (no servers needed except where noted)."""

import pytest

from harness import Case, Step, normalize_cas, run_case, sentinel_of, substitute, normalized
from intended_differences import _strip_incr_padding, _collapse_stats


def test_normalize_cas_equality_pattern():
    s = (b"VALUE a 0 1 77\r\nx\r\nVALUE b 0 14 78\r\nVALUE c 0 1 77\r\nEND\r\n"
         b"VALUE a 0 1 77\r\nx\r\nEND\r\n")
    out, mapping = normalize_cas(s)
    # the data block of b contains a fake VALUE line that must not be touched
    assert out == (b"VALUE a 0 1 c1\r\nx\r\nVALUE b 0 14 c2\r\nVALUE c 0 1 77\r\nEND\r\n"
                   b"VALUE a 0 1 c1\r\nx\r\nEND\r\n")
    assert mapping == {b"77": 1, b"78": 2}
    assert normalize_cas(b"VALUE a 0 1\r\nx\r\nEND\r\n")[0] == b"VALUE a 0 1\r\nx\r\nEND\r\n"


def test_different_cas_patterns_differ():
    a = normalize_cas(b"VALUE a 0 1 5\r\nx\r\nVALUE a 0 1 5\r\nx\r\n")[0]
    b = normalize_cas(b"VALUE a 0 1 5\r\nx\r\nVALUE a 0 1 6\r\nx\r\n")[0]
    assert a != b


def test_substitute_templates():
    m = {b"100": 1, b"250": 2}
    assert substitute(b"cas k 0 0 1 {c1}\r\n", m) == b"cas k 0 0 1 100\r\n"
    assert substitute(b"{c2+1} {c1-1} {c3}", m) == b"251 99 999999999"
    assert substitute(b"C{clast} C{clast-1}", m) == b"C250 C249"
    assert substitute(b"C{clast}", {}) == b"C999999999"
    assert substitute(b"C{cprev} C{cprev+1}", m, b"100") == b"C100 C101"


def test_strip_incr_padding():
    assert _strip_incr_padding(b"VALUE n 5 3\r\n99 \r\nEND\r\n") == b"VALUE n 5 2\r\n99\r\nEND\r\n"
    assert _strip_incr_padding(b"VALUE n 5 3 c4\r\n0  \r\n") == b"VALUE n 5 1 c4\r\n0\r\n"
    assert _strip_incr_padding(b"VALUE n 5 3\r\nab \r\n") == b"VALUE n 5 3\r\nab \r\n"


def test_collapse_stats():
    assert _collapse_stats(b"STAT a 1\r\nSTAT b 2\r\nEND\r\n") == b"<STAT lines>\r\nEND\r\n"


def test_harness_detects_a_difference(targets):
    """Two scripts that differ must produce different normalised output on the reference
    (so a broken SUT cannot pass by accident)."""
    ref = targets[0]
    a = run_case(Case("a", [Step(b"set k 0 0 1\r\nx\r\n"), Step(b"get k\r\n")]), ref)[0]
    b = run_case(Case("b", [Step(b"set k 0 0 1\r\ny\r\n"), Step(b"get k\r\n")]), ref)[0]
    assert normalized(a) == b"STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\nVERSION 1.6.18\r\n"
    assert normalized(a) != normalized(b)


def test_harness_flushes_between_cases(targets):
    ref = targets[0]
    run_case(Case("a", [Step(b"set leak 0 0 1\r\nx\r\n")]), ref)
    r = run_case(Case("b", [Step(b"get leak\r\n")]), ref)[0]
    assert normalized(r) == b"END\r\nVERSION 1.6.18\r\n"


def test_harness_cas_template_flow(targets):
    ref = targets[0]
    r = run_case(Case("c", [Step(b"set k 0 0 1\r\nx\r\n"), Step(b"gets k\r\n", until=b"END\r\n"),
                            Step(b"cas k 0 0 1 {c1}\r\ny\r\n"), Step(b"cas k 0 0 1 {c1}\r\nz\r\n"),
                            Step(b"gets k\r\n")]), ref)[0]
    assert normalized(r) == (b"STORED\r\nVALUE k 0 1 c1\r\nx\r\nEND\r\nSTORED\r\nEXISTS\r\n"
                             b"VALUE k 0 1 c2\r\ny\r\nEND\r\nVERSION 1.6.18\r\n")


def test_harness_sees_close(targets):
    ref = targets[0]
    r = run_case(Case("q", [Step(b"get a\r\nquit\r\nversion\r\n")], sentinel=False), ref)[0]
    assert normalized(r) == b"END\r\n<CLOSED>"


def test_sentinel_is_not_sent_by_the_case():
    assert sentinel_of(Case("v", [Step(b"get a\r\n")])) == (b"version\r\n",
                                                            b"VERSION 1.6.18\r\n")
    steps = [Step(b"set a 0 0 1\r\nx\r\n"), Step(b"version\r\nget a\r\n")]
    assert sentinel_of(Case("v", steps)) == (b"mn\r\n", b"MN\r\n")
    assert sentinel_of(Case("v", [Step(b"get a\nversion\n")]))[0] == b"mn\r\n"
    assert sentinel_of(Case("v", [Step(b"version\r\nmn\r\n")])) == (
        b"mg __harness_sentinel__ k O9191\r\n", b"EN k__harness_sentinel__ O9191\r\n")
    with pytest.raises(ValueError):
        sentinel_of(Case("v", [Step(b"version\r\nmn\r\nget __harness_sentinel__\r\n")]))


def test_harness_reads_past_a_version_of_the_case(targets):
    """A pipelined case that sends `version` itself is read to its end: reading stopped at the
    case's own VERSION once, leaving the rest uncompared and still running on a slow target
    when the next case's flush_all came (cluster-random-pipeline-21 saw case 20's last set)."""
    case = Case("v", [Step(b"set k 0 0 1\r\nx\r\nversion\r\n"),
                      Step(b"set n 0 0 2\r\nyz\r\nget k n\r\n")])
    for run in run_case(case, *targets):
        assert normalized(run) == (b"STORED\r\nVERSION 1.6.18\r\nSTORED\r\nVALUE k 0 1\r\nx\r\n"
                                   b"VALUE n 0 2\r\nyz\r\nEND\r\nMN\r\n"), run.t.name


def test_harness_catches_a_deviating_server(targets):
    """A memcached started with -C (no CAS) or -I 2m deviates in a few cases; the harness
    must report exactly those and pass the rest."""
    import pytest
    import servers
    from cases import all_cases
    from checks import check_case
    from harness import Target

    by_id = {c.id: c for c in all_cases()}
    for args, bad, good in (
            (["-C"], "cas-flow-basic", "cas-missing"),
            (["-I", "2m"], "toolarge-set", "key250-set")):
        dev = servers.start_memcached(extra_args=args)
        try:
            pair = (targets[0], Target("deviant", dev.port, idle=0.01))
            check_case(by_id[good], pair)
            with pytest.raises(pytest.fail.Exception):
                check_case(by_id[bad], pair)
        finally:
            dev.stop()
