"""Helpers for the real-client tests (tests/clients): find a client's program, run a client
script, compile the Java / Go drivers into a temporary directory, and compare what one client
saw from memcached 1.6.18 with what it saw from mcbridge.

Driver programs print one result per line as "<label> <case> = <value>"; results() groups them
by label, assert_same_results() compares two labels case by case."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

import pytest


def require(exe: str, package: str) -> str:
    """The path of `exe`; fails (not skips: CI installs it) naming the Debian package."""
    path = shutil.which(exe)
    assert path, f"{exe} is not installed (Debian package {package}, scripts/install-deps.sh)"
    return path


def run(argv: list, timeout: float = 120, env: Optional[dict] = None,
        cwd: Optional[str] = None) -> str:
    """Run a client program; its stdout. Fails with its output if it hangs or exits non-zero."""
    try:
        p = subprocess.run([str(a) for a in argv], capture_output=True, timeout=timeout,
                           env=env, cwd=cwd, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{argv[0]} hung; output so far: {e.stdout!r} {e.stderr!r}", pytrace=False)
    stdout = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, (f"{argv[0]} exited {p.returncode}\n--- stdout ---\n"
                               f"{stdout[-3000:]}\n--- stderr ---\n"
                               f"{p.stderr.decode('utf-8', 'replace')[-3000:]}")
    return stdout


def run_json(argv: list, **kw):
    """Run a client script that prints one JSON document on its last line; that document."""
    return json.loads(run(argv, **kw).splitlines()[-1])


def results(output: str) -> dict:
    """{label: [(case, value), ...]} from a driver's "<label> <case> = <value>" lines."""
    out: dict = {}
    for line in output.splitlines():
        if not line.strip():
            continue
        head, sep, value = line.partition(" = ")
        label, _, case = head.partition(" ")
        assert sep and case, f"not a result line: {line!r}"
        out.setdefault(label, []).append((case, value))
    return out


def assert_same_results(res: dict, reference: str, label: str) -> None:
    """The cases of `label` are those of `reference` (memcached's), in order, with the same
    values; the failure lists every case that differs."""
    assert reference in res and label in res, f"missing output for {reference} or {label}"
    ref, got = res[reference], res[label]
    diffs = []
    for i in range(max(len(ref), len(got))):
        a = ref[i] if i < len(ref) else ("<none>", "")
        b = got[i] if i < len(got) else ("<none>", "")
        if a != b:
            diffs.append(f"  {a[0]}: memcached {a[1]!r}\n  {' ' * len(a[0])}  mcbridge  "
                         f"{b[0] + ' ' if b[0] != a[0] else ''}{b[1]!r}")
    assert not diffs, f"{label} differs from {reference}:\n" + "\n".join(diffs)


def case_values(res: dict, label: str) -> dict:
    return dict(res[label])


class BuildDir:
    """A temporary directory for compiled client drivers (never the source tree)."""

    def __init__(self, prefix: str):
        self.path = Path(tempfile.mkdtemp(prefix=prefix))

    def cleanup(self) -> None:
        if not os.environ.get("MCBRIDGE_KEEP_LOGS"):
            shutil.rmtree(self.path, ignore_errors=True)


def run_memccapable(port: int, mode: str, expected: list) -> None:
    """libmemcached's memccapable -a (mode "ascii") or -b ("binary"): every test in `expected`
    ran and passed, and nothing else ran."""
    exe = require("memccapable", "libmemcached-tools")
    flag = {"ascii": "-a", "binary": "-b"}[mode]
    try:
        p = subprocess.run([exe, "-h", "127.0.0.1", "-p", str(port), flag],
                           capture_output=True, timeout=120)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"memccapable hung; output so far: {e.stdout!r}", pytrace=False)
    out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    results = dict(re.findall(rf"^{mode} (.+?)\s+\[(\w+)\]\s*$", out, re.M))
    failed = {k: v for k, v in results.items() if v != "pass"}
    assert not failed, f"memccapable failures: {failed}\n{out}"
    assert sorted(results) == sorted(expected), out
    assert "All tests passed" in out, out
    assert p.returncode == 0, out
