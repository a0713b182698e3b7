"""The example in clients/python/example: a Flask app written for google.appengine.api.memcache
that runs against mcbridge with only its import line changed; its own tests pass against the
session's mcbridge."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("flask")

CLIENT_DIR = Path(__file__).resolve().parents[2] / "clients" / "python"
EXAMPLE = CLIENT_DIR / "example"


def test_only_the_import_line_mentions_mcbridge():
    code = [line for line in (EXAMPLE / "main.py").read_text().splitlines()
            if "mcbridge" in line and not line.lstrip().startswith("#")]
    imports = [line for line in code if line.startswith("from mcbridge_appengine import")]
    assert imports == ["from mcbridge_appengine import memcache, namespace_manager"]
    # the rest of the mentions are in the docstring, not in code
    assert all(line == imports[0] or not line.startswith(("import", "from")) for line in code)


def test_example_app_tests_pass_against_mcbridge(mcbridge_srv, redis_flushed):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCBRIDGE_")}
    env["MCBRIDGE_ADDRESS"] = f"127.0.0.1:{mcbridge_srv.port}"
    env["PYTHONPATH"] = str(CLIENT_DIR)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(EXAMPLE)], cwd=str(EXAMPLE), env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and "failed" not in r.stdout
