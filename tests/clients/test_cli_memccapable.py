"""libmemcached's memccapable, ASCII tests only (-a). Against memcached 1.6.18 it prints one
"ascii <name>   [pass]" line per test and "All tests passed"."""

import re
import shutil
import subprocess

import pytest

EXPECTED_TESTS = [
    "version", "quit", "verbosity", "set", "set noreply", "get", "gets", "mget", "flush",
    "flush noreply", "add", "add noreply", "replace", "replace noreply", "cas", "cas noreply",
    "delete", "delete noreply", "incr", "incr noreply", "decr", "decr noreply", "append",
    "append noreply", "prepend", "prepend noreply", "stat",
]


def test_memccapable_ascii(port):
    exe = shutil.which("memccapable")
    assert exe, "memccapable (libmemcached-tools) is not installed"
    try:
        p = subprocess.run([exe, "-h", "127.0.0.1", "-p", str(port), "-a"],
                           capture_output=True, timeout=120)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"memccapable hung; output so far: {e.stdout!r}", pytrace=False)
    out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    results = dict(re.findall(r"^ascii (.+?)\s+\[(\w+)\]\s*$", out, re.M))
    failed = {k: v for k, v in results.items() if v != "pass"}
    assert not failed, f"memccapable failures: {failed}\n{out}"
    assert sorted(results) == sorted(EXPECTED_TESTS), out
    assert "All tests passed" in out, out
    assert p.returncode == 0, out
