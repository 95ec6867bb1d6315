#!/usr/bin/env python3
"""Event latency of one `./run bench` pipeline run: from an event's entry
on the bus (the time in its stream id) to its result's classification
time (the stored result's `at`), for the last event of each opportunity,
whose result is the one that stays stored. Reads Redis with redis-cli
--json; writes {"samples", "p50_ms", "p99_ms", "max_ms"} to the output.

  event_latency.py REDIS_PORT OUT.json
"""
import json
import subprocess
import sys

STREAM = "oppmatrix:crm-events"


def cli(port, args, stdin=None):
    return subprocess.run(["redis-cli", "-p", port, *args], input=stdin,
                          capture_output=True, text=True, check=True).stdout


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main():
    port, out = sys.argv[1], sys.argv[2]
    # The first arrival of each (tenant, opportunity, version).
    arrived = {}
    for entry_id, fields in json.loads(
            cli(port, ["--json", "XRANGE", STREAM, "-", "+"])):
        pairs = dict(zip(fields[::2], fields[1::2]))
        try:
            event = json.loads(pairs.get("event", ""))
            key = (event.get("tenantId", event.get("tenant_id")),
                   event.get("opportunityId", event.get("opportunity_id")),
                   int(event.get("version", 0)))
        except (ValueError, TypeError, AttributeError):
            continue  # the mix's malformed events
        ms = int(entry_id.split("-")[0])
        arrived.setdefault(key, ms)
    keys = [k for k in cli(port, ["--scan", "--pattern",
                                  "oppmatrix:{*}:opp:*"]).split("\n") if k]
    replies = cli(port, ["--json"],
                  "".join(f"HMGET {k} at v\n" for k in keys)).split("\n")
    latencies = []
    for key, reply in zip(keys, replies):
        at, version = json.loads(reply)
        if at is None or version is None:
            continue
        tenant = key[key.index("{") + 1:key.index("}")]
        opportunity = key.split(":opp:", 1)[1]
        sent = arrived.get((tenant, opportunity, int(version)))
        if sent is not None:
            latencies.append(int(at) - sent)
    if not latencies:
        sys.exit("event_latency: no stored result matched an event")
    report = {"samples": len(latencies),
              "p50_ms": percentile(latencies, 0.50),
              "p99_ms": percentile(latencies, 0.99),
              "max_ms": max(latencies)}
    print(f"event to stored result at 100 events/s: {report['samples']} "
          f"opportunities, p50 {report['p50_ms']} ms, p99 "
          f"{report['p99_ms']} ms, max {report['max_ms']} ms")
    json.dump(report, open(out, "w"))


if __name__ == "__main__":
    main()
