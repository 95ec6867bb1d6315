#!/usr/bin/env python3
"""The figures of one `./run bench` run as one table, and as JSON.

Reads what each step of the run wrote into one directory, all measured in
that run, and prints a row per figure: its value, its target (from the
issue that set it) and value/target. Every ratio between two figures
(Classify against the health check, stored against unstored batches) is
taken from the same run. A step that did not run leaves its rows out.

  bench_table.py DIR [--json FILE]

DIR holds, from the steps that ran:
  engine.json, store.json, redis.json   Google Benchmark --benchmark_out
  rpcs.json, rpcs_half.json             oppmatrix-bench --json (closed
                                        loop; open loop at half the health
                                        check's QPS)
  rss.json                              {"idle_mb", "peak_mb"} of the
                                        classifier in the rpcs step
  pipeline.json                         {"events", "seconds"}: the simulator
                                        writing while ingestion runs
  pipeline_drain.json                   {"events", "seconds"}: a backlog of
                                        the same mix drained
  pipeline_kafka_drain.json             {"events", "seconds"}: the same
                                        backlog from a Kafka topic
  latency.json                          {"samples", "p50_ms", "p99_ms",
                                        "max_ms"} at 100 events/s
  rescore.json                          rescore_bench.py publish: {"results",
                                        "seconds", "rate"}, no rate limit
  rescore_load.json                     rescore_bench.py under_load: Classify
                                        at half the health peak alone
                                        ("base") and during a rescore
  abuse.json, abuse_deadline.json       h2_abuse.py --json
"""

import argparse
import json
import math
import os
import sys


def load(directory, name):
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError:
            print(f"bench: {name} holds no report (its step failed)",
                  file=sys.stderr)
            return None


def google_benchmarks(report):
    """name -> the benchmark's JSON entry (the mean when repeated)."""
    if report is None:
        return {}
    out = {}
    for b in report.get("benchmarks", []):
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "mean":
            continue
        out[b.get("run_name", b["name"])] = b
    return out


def ns_per_item(b):
    return 1e9 / b["items_per_second"] if b.get("items_per_second") else None


class Table:
    def __init__(self):
        self.rows = []

    def add(self, figure, value, unit, target=None, better="higher",
            issue=None, note=None):
        """`better`: "higher" (target is a floor) or "lower" (a ceiling)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return
        ratio = None
        met = None
        if target is not None:
            ratio = value / target if target else None
            met = value >= target if better == "higher" else value <= target
        self.rows.append({
            "figure": figure, "value": value, "unit": unit, "target": target,
            "better": better, "ratio": ratio, "met": met, "issue": issue,
            "note": note,
        })

    def print(self, out=sys.stdout):
        def fmt(v):
            if v is None:
                return "-"
            if abs(v) >= 1000:
                return f"{v:,.0f}"
            if abs(v) >= 100:
                return f"{v:.0f}"
            if abs(v) >= 10:
                return f"{v:.1f}"
            return f"{v:.2f}"

        width = max([len(r["figure"]) for r in self.rows] + [6])
        print(f"{'figure':<{width}}  {'value':>10} {'unit':<9} "
              f"{'target':>10}  {'ratio':>6}  met", file=out)
        for r in self.rows:
            target = "-" if r["target"] is None else (
                ("≥ " if r["better"] == "higher" else "≤ ") + fmt(r["target"]))
            ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}×"
            met = "" if r["met"] is None else ("yes" if r["met"] else "MISSED")
            note = f"  ({r['note']})" if r["note"] else ""
            print(f"{r['figure']:<{width}}  {fmt(r['value']):>10} "
                  f"{r['unit']:<9} {target:>10}  {ratio:>6}  {met}{note}",
                  file=out)


def rpc_rows(table, rpcs, half, rss):
    by = {r["rpc"]: r for r in rpcs.get("rpcs", []) if not r.get("skipped")}
    health = by.get("health")
    if health is None:
        return
    table.add("health check QPS (closed loop, 16 outstanding)", health["qps"],
              "calls/s")
    classify = by.get("classify")
    if classify:
        table.add("Classify (stored) QPS", classify["qps"], "calls/s")
        table.add("Classify QPS / health QPS", classify["qps"] / health["qps"],
                  "×", 0.85, issue=13)
    for name, label in (("get", "GetClassification"),
                        ("stream", "ClassifyStream (4 streams)")):
        if name in by:
            table.add(f"{label} QPS / health QPS",
                      by[name]["qps"] / health["qps"], "×")
    if "batch" in by:
        table.add(f"BatchClassify({rpcs['load']['batch_size']}) stored, "
                  "over gRPC", by["batch"]["opportunities_per_s"], "opps/s")
    if half:
        hb = {r["rpc"]: r for r in half.get("rpcs", [])
              if not r.get("skipped")}
        if "health" in hb and "classify" in hb:
            rate = half["load"]["rate"]
            table.add(f"Classify p99 at {rate:,.0f}/s (half the health "
                      "check's QPS)", hb["classify"]["latency_ms"]["p99"], "ms")
            table.add("  health p99 at the same rate",
                      hb["health"]["latency_ms"]["p99"], "ms")
            table.add("  Classify p99 / health p99",
                      hb["classify"]["latency_ms"]["p99"] /
                      hb["health"]["latency_ms"]["p99"], "×", 1.5,
                      better="lower", issue=13,
                      note=f"{hb['classify'].get('dropped', 0)} sends dropped")
    if rss:
        table.add("classifier RSS idle", rss["idle_mb"], "MB", 40,
                  better="lower", issue=13)
        table.add("classifier peak RSS under the RPC loads", rss["peak_mb"],
                  "MB", 120, better="lower", issue=13)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("directory")
    p.add_argument("--json", help="also write the rows here")
    args = p.parse_args()
    d = args.directory
    t = Table()

    engine = google_benchmarks(load(d, "engine.json"))
    if "BM_Classify_WithReasons" in engine:
        t.add("engine: ns per opportunity, with reasons",
              ns_per_item(engine["BM_Classify_WithReasons"]), "ns", 1000,
              better="lower", issue=13)
    if "BM_Classify_NoReasons" in engine:
        t.add("engine: ns per opportunity, without reasons",
              ns_per_item(engine["BM_Classify_NoReasons"]), "ns", 250,
              better="lower", issue=13)

    if "BM_ClassifyOnArena_WithReasons" in engine:
        t.add("  on an arena, with reasons",
              ns_per_item(engine["BM_ClassifyOnArena_WithReasons"]), "ns")
    if "BM_ClassifyOnArena_NoReasons" in engine:
        t.add("  on an arena, without reasons",
              ns_per_item(engine["BM_ClassifyOnArena_NoReasons"]), "ns")
    if "BM_WhatIfToKey" in engine:
        ns = ns_per_item(engine["BM_WhatIfToKey"])
        t.add("engine: WhatIf to KEY, µs per opportunity",
              ns / 1000 if ns else None, "µs")

    store = google_benchmarks(load(d, "store.json"))
    stored = store.get("BM_BatchStored/500/real_time")
    plain = store.get("BM_BatchNoStore/500/real_time")
    if stored:
        t.add("BatchClassify(500) stored", stored["items_per_second"],
              "opps/s", 150000, issue=13)
        t.add("  Redis time per stored result", stored.get(
            "redis_us_per_result"), "µs")
    if stored and plain:
        t.add("  stored / unstored BatchClassify(500)",
              stored["items_per_second"] / plain["items_per_second"], "×",
              0.6, issue=13)
    for n in (10, 100):
        spread = store.get(f"BM_BatchStoredTenants/{n}/real_time")
        if spread:
            t.add(f"  the same over {n} tenants", spread["items_per_second"],
                  "opps/s")
    if plain:
        t.add("BatchClassify(500) unstored", plain["items_per_second"],
              "opps/s")
    current = store.get("BM_BatchCached/500/real_time")
    if current:
        t.add("BatchClassify(500), results already current",
              current["items_per_second"], "opps/s")
        t.add("  Redis time per current result",
              current.get("redis_us_per_result"), "µs")

    moving = store.get("BM_BatchMoving/real_time")
    unkept = store.get("BM_BatchMovingNoHistory/real_time")
    if moving and unkept:
        t.add("  history kept / none (a new state each write)",
              moving["items_per_second"] / unkept["items_per_second"], "×",
              0.8, issue=15,
              note=f"{moving['items_per_second']:,.0f} against "
                   f"{unkept['items_per_second']:,.0f} opps/s")

    redis = google_benchmarks(load(d, "redis.json"))
    inflight = redis.get("BM_AsyncInFlight/128/real_time")
    if inflight:
        t.add("AsyncRedis: SET+GET pipelines, 128 in flight",
              inflight["items_per_second"], "/s")
    waiting = redis.get("BM_AsyncThreads/real_time/threads:16")
    if waiting:
        t.add("AsyncRedis: SET+GET pipelines, 16 waiting threads",
              waiting["items_per_second"], "/s")

    rpcs = load(d, "rpcs.json")
    if rpcs:
        rpc_rows(t, rpcs, load(d, "rpcs_half.json"), load(d, "rss.json"))

    pipeline = load(d, "pipeline.json")
    if pipeline and pipeline.get("seconds"):
        t.add("pipeline: simulator events to stored results",
              pipeline["events"] / pipeline["seconds"], "events/s", 50000,
              issue=14)
    drain = load(d, "pipeline_drain.json")
    if drain and drain.get("seconds"):
        t.add("pipeline: bus backlog drained to stored results",
              drain["events"] / drain["seconds"], "events/s", 50000,
              issue=14)
    kafka = load(d, "pipeline_kafka_drain.json")
    if kafka and kafka.get("seconds"):
        t.add("pipeline (Kafka, mock cluster): topic backlog drained to "
              "stored results", kafka["events"] / kafka["seconds"],
              "events/s", 50000, issue=16)
    latency = load(d, "latency.json")
    if latency:
        t.add("event on the bus to stored result, p99 at 100 events/s",
              latency["p99_ms"], "ms", 20, better="lower", issue=14)
        t.add("  p50", latency["p50_ms"], "ms")

    rescore = load(d, "rescore.json")
    if rescore and rescore.get("seconds"):
        t.add(f"rescore of {rescore['total']:,} stored results after a "
              "publication, no rate limit", rescore["rate"], "opps/s", 50000,
              issue=15, note=f"{rescore['moved']:,} moved, "
                             f"{rescore['seconds']:.1f} s")
    under = load(d, "rescore_load.json")
    if under:
        def p99(report):
            by = {r["rpc"]: r for r in report.get("rpcs", [])
                  if not r.get("skipped")}
            return by.get("classify", {}).get("latency_ms", {}).get("p99")
        base, during = p99(under["base"]), p99(under["during"])
        r = under["rescore"]
        t.add(f"rescore at --rescore_rate={under['rate_limit']:,.0f} under "
              f"Classify at {under['half_rate']:,}/s", r["rate"], "opps/s")
        if base and during:
            t.add("  Classify p99 during the rescore", during, "ms")
            t.add("  Classify p99 alone at the same rate", base, "ms")
            t.add("  Classify p99 during / alone", during / base, "×", 2,
                  better="lower", issue=15)

    for name, label in (("abuse.json", "rapid reset + 20,000 streams"),
                        ("abuse_deadline.json",
                         "the same, 1 ms stream deadlines")):
        a = load(d, name)
        if not a:
            continue
        t.add(f"abuse ({label}): peak RSS", a["rss_mb"]["hwm"], "MB", 256,
              better="lower", issue=12)
        t.add("  health p99 meanwhile", a["health"]["p99_ms"], "ms", 100,
              better="lower", issue=12,
              note=f"{a['health']['missed']} of {a['health']['checks']} "
                   "checks missed")

    if not t.rows:
        print("bench: no figures were written", file=sys.stderr)
        return 1
    t.print()
    doc = {"rows": t.rows}
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print()
    print(json.dumps(doc, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
