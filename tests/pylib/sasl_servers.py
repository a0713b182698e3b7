"""Servers that require credentials: memcached -S with a Cyrus sasldb (mech_list plain), and
mcbridge with --auth-file, both holding the same users."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile

import servers

# The users of the auth tests (tests/clients/conftest.py's sasl_* fixtures).
USERS = {"appuser": "s3cret-pass", "other": "pw"}


class AuthDir:
    """A world-readable temporary directory (memcached runs as nobody under root) with the
    auth file and the SASL configuration; removed by cleanup()."""

    def __init__(self, users: dict):
        self.path = tempfile.mkdtemp(prefix="mcbridge-sasl-")
        os.chmod(self.path, 0o755)
        self.auth_file = os.path.join(self.path, "auth")
        with open(self.auth_file, "w") as f:
            for user, password in users.items():
                f.write(f"{user}:{password}\n")
        os.chmod(self.auth_file, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
        db = os.path.join(self.path, "sasldb2")
        for user, password in users.items():
            subprocess.run(["saslpasswd2", "-p", "-f", db, "-a", "memcached", "-c", user],
                           input=password.encode(), check=True)
        os.chmod(db, 0o644)
        with open(os.path.join(self.path, "memcached.conf"), "w") as f:
            f.write(f"mech_list: plain\nsasldb_path: {db}\n")

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def start_memcached_sasl(auth: AuthDir) -> servers.ManagedProcess:
    old = os.environ.get("SASL_CONF_PATH")
    os.environ["SASL_CONF_PATH"] = auth.path
    try:
        return servers.start_memcached(["-S"])
    finally:
        if old is None:
            del os.environ["SASL_CONF_PATH"]
        else:
            os.environ["SASL_CONF_PATH"] = old


def start_mcbridge_auth(redis_port: int, auth: AuthDir) -> servers.ManagedProcess:
    return servers.start_mcbridge(redis_port, extra_args=["--auth-file", auth.auth_file])
