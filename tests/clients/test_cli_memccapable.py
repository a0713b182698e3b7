"""libmemcached's memccapable, ASCII tests only (-a). Against memcached 1.6.18 it prints one
"ascii <name>   [pass]" line per test and "All tests passed"."""

import clienttools

EXPECTED_TESTS = [
    "version", "quit", "verbosity", "set", "set noreply", "get", "gets", "mget", "flush",
    "flush noreply", "add", "add noreply", "replace", "replace noreply", "cas", "cas noreply",
    "delete", "delete noreply", "incr", "incr noreply", "decr", "decr noreply", "append",
    "append noreply", "prepend", "prepend noreply", "stat",
]


def test_memccapable_ascii(port):
    clienttools.run_memccapable(port, "ascii", EXPECTED_TESTS)
