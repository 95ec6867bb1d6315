#!/usr/bin/env python3
"""Rescoring a tenant's stored results after a publication (issue 15).

Runs against a classifier with Redis that `./run bench rescore` started,
through oppctl and oppmatrix-bench only (no Redis access):

  rescore_bench.py load --target=T --count=N
      stores N generated opportunities of tenant "rescore" (BatchClassify
      of 1000 through `oppctl classify`)
  rescore_bench.py publish --target=T --out=FILE
      uploads a draft (the default ruleset with the potential cut at 65)
      and publishes it, then polls the rescore's progress every 50 ms:
      {"results", "seconds", "rate"} from its first step to its end
  rescore_bench.py under_load --target=T --out=FILE
      Classify's p99 at half its peak QPS (closed loop, 16 outstanding;
      then open loop, tenant "bench"), first alone, then while a rollback
      rescores the tenant:
      {"base": report, "during": report, "rescore": {...}}
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

TENANT = "rescore"


def oppctl(args, target, stdin=None, check=True):
    cmd = [ARGS.oppctl, f"--target={target}", f"--tenant={TENANT}",
           "--author=bench"] + args
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"rescore bench: {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def status(target):
    return json.loads(oppctl(["--json", "rules", "status"], target))


def follow(target, rescore_id):
    """Polls until rescore `rescore_id` is done: its figures from the first
    step seen to the end (the settle time before it is left out)."""
    first = None
    while True:
        s = status(target)
        now = time.monotonic()
        done = int(s.get("done", 0))
        if int(s.get("id", 0)) >= rescore_id:
            if first is None and done > 0:
                first = (now, done)
            if s.get("state") == "DONE":
                break
        time.sleep(0.05)
    start_t, start_done = first if first else (now, 0)
    seconds = max(now - start_t, 1e-3)
    results = int(s.get("done", 0)) - start_done
    return {"results": results, "total": int(s.get("total", 0)),
            "moved": int(s.get("moved", 0)), "seconds": seconds,
            "rate": results / seconds}


def draft():
    with open(os.path.join(ARGS.root, "rules", "default.yaml")) as f:
        text = f.read()
    text = text.replace("\nname: default\n", "\nname: bench-strict\n")
    text = text.replace("potential_thresholds: [50]",
                        "potential_thresholds: [65]")
    path = os.path.join(tempfile.mkdtemp(), "strict.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def load(target, count):
    jsonl = subprocess.run(
        [ARGS.oppctl, f"--tenant={TENANT}", "generate", f"--count={count}",
         "--seed=11"], capture_output=True, text=True, check=True).stdout
    oppctl(["classify", "--format=jsonl", "--batch_size=1000", "-"], target,
           stdin=jsonl)


def publish(target):
    out = oppctl(["rules", "upload", draft()], target)
    version = out.split()[1].rstrip(",")
    r = json.loads(oppctl(["--json", "rules", "publish", version], target))
    return follow(target, int(r.get("rescoreId", r.get("rescore_id", 0))))


def bench_load(target, rpc, rate, seconds):
    args = [ARGS.bench, f"--target={target}", f"--rpc={rpc}",
            f"--duration={seconds}s", "--warmup=1s", "--json"]
    if rate:
        args += [f"--rate={rate}", "--max_outstanding=2000"]
    r = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def under_load(target):
    peak = bench_load(target, "classify", 0, 3)
    classify = {x["rpc"]: x for x in peak["rpcs"]}["classify"]["qps"]
    half = int(classify / 2)
    base = bench_load(target, "classify", half, 4)
    # The rollback's rescore runs while the same load does.
    r = json.loads(oppctl(["--json", "rules", "rollback"], target))
    rescore_id = int(r.get("rescoreId", r.get("rescore_id", 0)))
    result = {}

    def watch():
        result["rescore"] = follow(target, rescore_id)

    watcher = threading.Thread(target=watch)
    watcher.start()
    # Past the settle time, for about as long as the rescore takes.
    time.sleep(2.5)
    seconds = max(3, int(ARGS.count / max(ARGS.rate, 1)))
    during = bench_load(target, "classify", half, seconds)
    watcher.join()
    return {"half_rate": half, "base": base, "during": during,
            "rescore": result["rescore"], "rate_limit": ARGS.rate}


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("step", choices=["load", "publish", "under_load"])
    p.add_argument("--target", required=True)
    p.add_argument("--count", type=int, default=200_000)
    p.add_argument("--rate", type=float, default=10_000,
                   help="the classifier's --rescore_rate (for the load's "
                   "length)")
    p.add_argument("--out")
    p.add_argument("--root", default=os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    p.add_argument("--oppctl", required=True)
    p.add_argument("--bench", required=True)
    ARGS = p.parse_args()
    if ARGS.step == "load":
        load(ARGS.target, ARGS.count)
        return
    report = publish(ARGS.target) if ARGS.step == "publish" else under_load(
        ARGS.target)
    with open(ARGS.out, "w") as f:
        json.dump(report, f)
    print(json.dumps(report if ARGS.step == "publish" else
                     {"rescore": report["rescore"],
                      "half_rate": report["half_rate"]}))


if __name__ == "__main__":
    main()
