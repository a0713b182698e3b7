#!/usr/bin/env python3
"""Summarises bench/run.sh results (JSON lines) into tables and the issue's targets.

Usage: bench/summarize.py results.jsonl
Medians over rounds; ratios are of medians. Errors are summed over all rounds.
"""
import json
import statistics
import sys

TARGETS = ["memcached", "twemproxy", "mcbridge"]
THROUGHPUT = [  # workload, metric, description
    ("mix", "ops_per_sec", "90/10 get/set, 100 B, 64 conns (loadgen)"),
    ("memcaslap", "ops_per_sec", "memcaslap -T 2 -c 64 -X 100 (TPS)"),
    ("mget10", "keys_per_sec", "multi-get 10 keys, 32 conns (keys/s)"),
    ("mget100", "keys_per_sec", "multi-get 100 keys, 32 conns (keys/s)"),
    ("val10k", "ops_per_sec", "90/10, 10 KB values, 32 conns"),
    ("val500k", "ops_per_sec", "90/10, 500 KB values, 8 conns"),
    ("conns1000", "ops_per_sec", "90/10, 100 B, 1,000 conns"),
]


def fmt(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e4:
        return "%.1fk" % (v / 1e3)
    return "%.0f" % v


def ratio(a, b):
    return None if not a or not b else a / b


def main(path):
    lines = [json.loads(l) for l in open(path) if l.strip()]
    runs = [d for d in lines if d.get("kind") == "run"]
    machine = next((d for d in lines if d.get("kind") == "machine"), {})
    end = next((d for d in lines if d.get("kind") == "end"), {})
    rss = next((d for d in lines if d.get("kind") == "rss"), None)

    def vals(w, t, key):
        return [d.get(key, 0) or 0 for d in runs if d["workload"] == w and d["target"] == t
                and not d.get("failed")]

    def med(w, t, key):
        v = vals(w, t, key)
        return statistics.median(v) if v else None

    def errors(w, t):
        return sum(int(d.get("errors", 0) or 0) for d in runs if d["workload"] == w and d["target"] == t)

    print("machine: %s CPUs (%s), kernel %s; load average %.2f at start, %.2f at end" % (
        machine.get("nproc"), machine.get("cpu"), machine.get("kernel"),
        machine.get("loadavg_start", 0), end.get("loadavg_end", 0)))
    print("rounds %s x %s s (+%s s warm-up); mcbridge --threads %s, memcached -t %s, loadgen %s threads" % (
        machine.get("rounds"), machine.get("duration_s"), machine.get("warmup_s"),
        machine.get("mcbridge_threads"), machine.get("memcached_threads"),
        machine.get("loadgen_threads")))
    print()
    print("| workload | metric (median) | memcached | twemproxy | mcbridge | mcb/memcached | mcb/twemproxy | errors mc/tw/mcb |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    medians = {}
    for w, key, desc in THROUGHPUT:
        if not any(d["workload"] == w for d in runs):
            continue
        m = {t: med(w, t, key) for t in TARGETS}
        medians[w] = m
        r1 = ratio(m["mcbridge"], m["memcached"])
        r2 = ratio(m["mcbridge"], m["twemproxy"])
        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            desc, key.replace("_per_sec", "/s"), fmt(m["memcached"]), fmt(m["twemproxy"]),
            fmt(m["mcbridge"]), "%.2fx" % r1 if r1 else "-", "%.2fx" % r2 if r2 else "-",
            "/".join(str(errors(w, t)) for t in TARGETS)))

    if any(d["target"] == "mcbridge-cluster" for d in runs):
        print()
        print("mcbridge in front of one Redis vs in front of a Redis Cluster of 3 primaries:")
        print()
        print("| workload | metric (median) | mcbridge -> 1 Redis | mcbridge -> cluster | "
              "cluster/one | errors one/cluster |")
        print("|---|---|---:|---:|---:|---|")
        for w, key, desc in THROUGHPUT:
            one, cl = med(w, "mcbridge", key), med(w, "mcbridge-cluster", key)
            if one is None and cl is None:
                continue
            r = ratio(cl, one)
            print("| %s | %s | %s | %s | %s | %s/%s |" % (
                desc, key.replace("_per_sec", "/s"), fmt(one), fmt(cl),
                "%.2fx" % r if r else "-", errors(w, "mcbridge"), errors(w, "mcbridge-cluster")))

    lat = {}
    if any(d["workload"] == "latency" for d in runs):
        print()
        rate = next((d.get("target_rate") for d in runs if d["workload"] == "latency"), 0)
        print("Latency, open loop at %s ops/s (half the mcbridge mix peak), 90/10, 100 B, 64 conns; "
              "medians over rounds, microseconds:" % fmt(rate))
        print()
        print("| target | achieved ops/s | p50 | p90 | p99 | p99.9 | max | errors |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for t in TARGETS:
            rs = [d for d in runs if d["workload"] == "latency" and d["target"] == t and not d.get("failed")]
            if not rs:
                continue
            q = {k: statistics.median(d["lat_us"][k] for d in rs) for k in ("p50", "p90", "p99", "p999", "max")}
            lat[t] = q
            print("| %s | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %d |" % (
                t, fmt(statistics.median(d["ops_per_sec"] for d in rs)), q["p50"], q["p90"], q["p99"],
                q["p999"], q["max"], errors("latency", t)))

    if rss:
        print()
        print("mcbridge memory (VmRSS): idle %d kB; with %d/%d idle connections %d kB => %s bytes per "
              "connection; after they closed %d kB" % (
                  rss["idle_kb"], rss["established"], rss["idle_conns"], rss["loaded_kb"],
                  "%.0f" % rss["per_conn_bytes"] if rss.get("per_conn_bytes") is not None else "?",
                  rss.get("after_close_kb", 0)))

    print()
    print("Targets (issue, 2-core machine):")

    def check(name, ok, detail):
        state = "n/a " if ok is None else ("MET " if ok else "MISS")
        print("  [%s] %s: %s" % (state, name, detail))

    mix = medians.get("mix")
    cs = medians.get("memcaslap")
    for label, m in (("loadgen", mix), ("memcaslap", cs)):
        if not m:
            continue
        r2 = ratio(m["mcbridge"], m["twemproxy"])
        r1 = ratio(m["mcbridge"], m["memcached"])
        check("90/10 100 B 64 conns (%s): mcbridge >= 1.5x twemproxy" % label,
              None if r2 is None else r2 >= 1.5, "%.2fx" % r2 if r2 else "not measured")
        check("90/10 100 B 64 conns (%s): mcbridge >= 0.8x memcached" % label,
              None if r1 is None else r1 >= 0.8, "%.2fx" % r1 if r1 else "not measured")
    if lat.get("mcbridge") and lat.get("memcached"):
        added = lat["mcbridge"]["p99"] - lat["memcached"]["p99"]
        check("p99 added latency at half peak < 200 us", added < 200,
              "mcbridge p99 %.0f us - memcached p99 %.0f us = %.0f us" % (
                  lat["mcbridge"]["p99"], lat["memcached"]["p99"], added))
    else:
        check("p99 added latency at half peak < 200 us", None, "not measured")
    if rss and rss.get("per_conn_bytes") is not None:
        check("< 4 KB RSS per idle client connection", rss["per_conn_bytes"] < 4096,
              "%.0f bytes" % rss["per_conn_bytes"])
        check("idle process < 10 MB", rss["idle_kb"] < 10 * 1024, "%d kB" % rss["idle_kb"])
    else:
        check("< 4 KB RSS per idle client connection", None, "not measured")
        check("idle process < 10 MB", None, "not measured")
    mg = medians.get("mget100")
    if mg:
        r1 = ratio(mg["mcbridge"], mg["memcached"])
        check("multi-get 100 keys >= 0.7x memcached keys/s", None if r1 is None else r1 >= 0.7,
              "%.2fx" % r1 if r1 else "not measured")
    total_err = sum(int(d.get("errors", 0) or 0) for d in runs)
    if total_err:
        print()
        print("ERRORS: %d in total; samples:" % total_err)
        seen = set()
        for d in runs:
            for s in d.get("error_samples", []) or []:
                k = (d["target"], s)
                if k not in seen and len(seen) < 12:
                    seen.add(k)
                    print("  %s/%s: %s" % (d["workload"], d["target"], s))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
