"""libmemcached's command-line tools (Debian's libmemcached-tools: memccp, memccat, memcexist,
memctouch, memcrm, memcdump, memcping, memcflush, memcstat --server-version), text and binary
protocol, against memcached 1.6.18 and mcbridge (standalone Redis and Redis Cluster): the same
exit codes and output, step by step."""

import subprocess

import pytest

import clienttools

TARGETS = ["mcbridge", "mcbridge-cluster"]


def steps(path, binary):
    b = ["--binary"] if binary else []
    return [
        ["memcflush"] + b,
        ["memccp"] + b + [path],
        ["memccat"] + b + ["f1.txt"],
        ["memcexist"] + b + ["f1.txt"],
        ["memcexist"] + b + ["nope"],
        ["memctouch"] + b + ["--expire=100", "f1.txt"],
        ["memctouch"] + b + ["--expire=100", "nope"],
        ["memccat"] + b + ["nope"],
        ["memccp"] + b + ["--set", "--expire=2592001", path],  # a Unix time long past
        ["memccat"] + b + ["f1.txt"],
        ["memccp"] + b + ["--add", path],
        ["memccp"] + b + ["--replace", path],
        ["memccp"] + b + ["--add", path],
        ["memcrm"] + b + ["f1.txt"],
        ["memcrm"] + b + ["f1.txt"],
        ["memcdump"],  # text only (libmemcached dumps with stats cachedump)
        ["memcping"] + b,
        ["memcstat"] + b + ["--server-version"],
    ]


@pytest.fixture(scope="module")
def tools(all_ports, tmp_path_factory):
    for exe in ("memccp", "memccat", "memcexist", "memctouch", "memcrm", "memcdump", "memcping",
                "memcflush", "memcstat"):
        clienttools.require(exe, "libmemcached-tools")
    path = tmp_path_factory.mktemp("memctools") / "f1.txt"
    path.write_text("file one contents\n")
    res = {}
    for name, port in all_ports.items():
        for binary in (False, True):
            label = f"{name}/{'binary' if binary else 'text'}"
            for i, argv in enumerate(steps(str(path), binary)):
                p = subprocess.run([argv[0], f"--servers=127.0.0.1:{port}"] + argv[1:],
                                   capture_output=True, text=True, timeout=60)
                out = (p.stdout + p.stderr).replace(str(port), "PORT").replace(str(path), "F")
                if argv[0] == "memcdump":
                    # memcached lists what its cold LRU holds, flushed items included, at that
                    # moment (timing-dependent); mcbridge's dump is empty: the exit code only.
                    out = ""
                res.setdefault(label, []).append(
                    (f"{i:02d}:{' '.join(argv)}", f"exit {p.returncode}: {out!r}"))
    return res


@pytest.mark.parametrize("kind", ["text", "binary"])
@pytest.mark.parametrize("name", TARGETS)
def test_memctools_same_as_memcached(tools, name, kind):
    clienttools.assert_same_results(tools, f"memcached/{kind}", f"{name}/{kind}")


def test_memctools_reference_values(tools):
    for kind in ("text", "binary"):
        res = dict(tools[f"memcached/{kind}"])
        vals = list(res.values())
        assert vals[2] == "exit 0: 'file one contents\\n\\n'", vals  # memccat
        assert vals[3].startswith("exit 0") and not vals[4].startswith("exit 0")  # memcexist
        assert not vals[9].startswith("exit 0")  # memccat of an item stored already expired
        assert vals[15].startswith("exit 0")  # memcdump
