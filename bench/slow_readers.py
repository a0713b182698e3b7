#!/usr/bin/env python3
"""Large values and slow readers (issue 12) through mcbridge -> redis, beside memcached.

    bench/slow_readers.py [--mcbridge build-bench/mcbridge] [--items 100] [--size 1000000]
                          [--readers 10] [--gets 3] [--keys 100] [--read-rate 20e6]
                          [--targets memcached,mcbridge] [-- extra mcbridge options]

N items of SIZE bytes; READERS clients with a 16 KB receive buffer each send GETS multi-gets of
KEYS keys at once and read their replies at READ_RATE bytes/s (0: as fast as they can, i.e. many
concurrent large multi-gets); another client does small gets
(p50/p99 latency, errors). Prints one JSON line per target: values delivered intact, the readers'
throughput (MB/s), the small
gets' latency and errors, the server's peak RSS and, for mcbridge, Redis's used_memory growth
and client_recent_max_output_buffer. Servers on 127.0.0.1 ephemeral ports, killed on exit.
"""

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "pylib"))

import flow_scenario  # noqa: E402
import servers  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mcbridge", default=str(ROOT / "build-bench" / "mcbridge"))
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--readers", type=int, default=10)
    ap.add_argument("--gets", type=int, default=3)
    ap.add_argument("--keys", type=int, default=100)
    ap.add_argument("--read-rate", type=float, default=20e6)
    ap.add_argument("--rcvbuf", type=int, default=16384)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--targets", default="memcached,mcbridge")
    ap.add_argument("extra", nargs="*", help="extra mcbridge options (after --)")
    a = ap.parse_args()
    os.environ["MCBRIDGE_BIN"] = a.mcbridge
    common = dict(items=a.items, size=a.size, readers=a.readers, gets=a.gets,
                  keys_per_get=a.keys, rcvbuf=a.rcvbuf, read_rate=a.read_rate,
                  timeout=a.timeout)
    for target in a.targets.split(","):
        procs = []
        try:
            if target == "memcached":
                mc = servers.start_memcached(["-t", str(a.threads), "-m", "1024"])
                procs.append(mc)
                port, pid, redis_port = mc.port, mc.pid, None
            else:
                r = servers.start_redis()
                procs.append(r)
                m = servers.start_mcbridge(r.port, threads=a.threads, extra_args=a.extra)
                procs.append(m)
                port, pid, redis_port = m.port, m.pid, r.port
            flow_scenario.populate(port, a.items, a.size)
            res = flow_scenario.run(port, pid, redis_port, **common)
            out = {"target": target, **res.summary()}
            print(json.dumps(out), flush=True)
        finally:
            for p in reversed(procs):
                p.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
