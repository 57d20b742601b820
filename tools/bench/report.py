#!/usr/bin/env python3
"""Helpers for tools/bench/run.sh (stdlib only).

  report.py free-port                 a free TCP port on 127.0.0.1
  report.py procstat PID...           "<rss bytes> <utime+stime seconds>" of the pids and
                                      their descendants (the same sums loadgen takes)
  report.py wrk FILE LABEL JSON_OUT   parse `wrk --latency` output into JSON
  report.py tables RAW_DIR OUT_PREFIX Markdown tables (OUT_PREFIX.md, also printed) and
                                      one JSON file with every figure (OUT_PREFIX.json)
"""

import glob
import json
import os
import re
import socket
import sys

TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def descendants(roots):
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                line = f.read()
        except OSError:
            continue
        rest = line[line.rfind(")") + 2:].split()
        parent[int(d)] = int(rest[1])
    out = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, pp in parent.items():
            if pp in out and pid not in out:
                out.add(pid)
                grew = True
    return sorted(out)


def procstat(roots):
    rss = 0
    cpu = 0.0
    for pid in descendants(roots):
        try:
            with open(f"/proc/{pid}/stat") as f:
                rest = f.read()
            rest = rest[rest.rfind(")") + 2:].split()
            cpu += (int(rest[11]) + int(rest[12])) / TICK
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1]) * 1024
        except OSError:
            continue
    return rss, cpu


def parse_wrk(path, label):
    text = open(path).read()
    out = {"label": label}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["requests_per_s"] = float(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", text)
    out["socket_errors"] = m.group(1).strip() if m else ""
    for p in ("50", "99"):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if m:
            v = float(m.group(1))
            out[f"p{p}_ms"] = v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    return out


def payload(seq):
    import time
    return '{"t":%d,"seq":%d}' % (time.time_ns() // 1000, seq)


def backlog_xadd(port, stream, topic, n):
    def bulk(x):
        b = x.encode()
        return b"$%d\r\n%s\r\n" % (len(b), b)
    s = socket.create_connection(("127.0.0.1", port))
    buf = b"".join(b"*7\r\n" + bulk("XADD") + bulk(stream) + bulk("*") + bulk("topic") + bulk(topic) +
                   bulk("data") + bulk(payload(1000000 + i)) for i in range(n))
    s.sendall(buf)
    got = b""
    while got.count(b"\r\n") < 2 * n:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    if b"-ERR" in got:
        sys.exit("xadd: " + got[:200].decode(errors="replace"))


def backlog_post(port, path, n):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port)
    for i in range(n):
        c.request("POST", path, body=payload(1000000 + i), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        if r.status >= 300:
            sys.exit(f"post: {r.status}")
        if r.getheader("Connection", "").lower() == "close":
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port)


# ---------------------------------------------------------------- tables

def fmt(v, digits=1):
    if v is None:
        return "–"
    if isinstance(v, float) and (v != v):
        return "–"
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return f"{v:,}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0 or a != a or b != b:
        return "–"
    return f"{a / b:.2f}×"


def load_raw(raw_dir):
    runs = {}
    for path in sorted(glob.glob(os.path.join(raw_dir, "*.json"))):
        name = os.path.basename(path)[:-5]
        try:
            with open(path) as f:
                runs[name] = json.load(f)
        except (OSError, ValueError):
            continue
    return runs


TARGET_NAMES = {
    "cutover": "Cutover",
    "cutover-after": "Cutover --deliver-after-commit",
    "cutover-sio": "Cutover Socket.IO",
    "nchan": "Nchan (memory)",
    "nchan-redis": "Nchan (Redis)",
    "pushpin": "Pushpin",
    "socketio": "Socket.IO (Node)",
    "legacy": "legacy_sim",
}


def target_of(name):
    # <scenario>__<target>__<variant>
    parts = name.split("__")
    return parts[1] if len(parts) > 1 else name


def variant_of(name):
    parts = name.split("__")
    return parts[2] if len(parts) > 2 else ""


def label_of(name):
    # "Nchan (memory)", or "Nchan (memory), SSE" for a run over another transport than WebSocket
    t = TARGET_NAMES.get(target_of(name), target_of(name))
    return t + ", SSE" if variant_of(name) == "sse" else t


def sustained_steps(run):
    return [s for s in run.get("steps", []) if s.get("sustained")]


def tables(raw_dir, prefix):
    runs = load_raw(raw_dir)
    md = []
    summary = {"runs": runs, "goals": []}

    def table(title, header, rows, note=None):
        md.append(f"### {title}\n")
        if note:
            md.append(note + "\n")
        md.append("| " + " | ".join(header) + " |")
        md.append("|" + "|".join("---" for _ in header) + "|")
        for r in rows:
            md.append("| " + " | ".join(str(c) for c in r) + " |")
        md.append("")

    # ---- 1. idle
    for transport, title in (("ws", "1a. Idle WebSockets: server RSS per connection"),
                             ("lp", "1b. Idle parked long-polls: server RSS per waiting request"),
                             ("sse", "1c. Idle SSE streams: server RSS per open stream")):
        rows = []
        keys = [k for k in runs if k.startswith(f"idle__") and k.endswith(f"__{transport}")]
        base = runs.get(f"idle__cutover__{transport}")
        base_pc = base["server"]["rss_per_conn"] if base else None
        for k in sorted(keys, key=lambda k: (target_of(k) != "cutover", k)):
            r = runs[k]
            s = r["server"]
            pc = s.get("rss_per_conn")
            rows.append([TARGET_NAMES.get(target_of(k), target_of(k)), f"{r['ready']:,}/{r['conns']:,}",
                         fmt(s["rss_before"] / 2**20), fmt(s["rss_connected"] / 2**20),
                         fmt(pc / 1024 if pc is not None else None, 2),
                         "—" if target_of(k) == "cutover" else ratio(base_pc, pc)])
        if rows:
            table(title, ["target", "connected", "RSS before (MiB)", "RSS connected (MiB)", "KiB per connection",
                          "Cutover/peer"], rows)
        if base_pc is not None and transport != "sse":
            summary["goals"].append({"goal": f"idle RSS per {'WebSocket' if transport == 'ws' else 'parked poll'} <= 3 KiB",
                                     "measured_kib": base_pc / 1024, "met": base_pc <= 3 * 1024})

    # ---- 2. fan-out
    keys = [k for k in runs if k.startswith("fanout__")]
    if keys:
        base = runs.get("fanout__cutover__ws")
        def first(r):
            st = r.get("steps", [])
            return st[0] if st else {}
        def best(r):
            ss = sustained_steps(r)
            return max(ss, key=lambda s: s["rate"]) if ss else None
        b1 = first(base) if base else {}
        bb = best(base) if base else None
        rows = []
        by_variant = lambda k: (variant_of(k) != "ws", variant_of(k), target_of(k) != "cutover", k)
        for k in sorted(keys, key=by_variant):
            r = runs[k]
            s = first(r)
            b1 = first(runs[f"fanout__cutover__{variant_of(k)}"]) if f"fanout__cutover__{variant_of(k)}" in runs else {}
            rows.append([label_of(k), f"{r['ready']:,}",
                         f"{s.get('delivered', 0):,}/{s.get('expected', 0):,}",
                         fmt(s.get("p50_ms"), 2), fmt(s.get("p99_ms"), 2), fmt(s.get("max_ms"), 2),
                         fmt(s.get("last_recipient_max_ms"), 2),
                         fmt(s.get("server_cpu_us_per_delivery"), 2), fmt(s.get("client_cpu_us_per_delivery"), 2),
                         "—" if target_of(k) == "cutover" else ratio(b1.get("p99_ms"), s.get("p99_ms")),
                         "—" if target_of(k) == "cutover" else ratio(b1.get("server_cpu_us_per_delivery"),
                                                                     s.get("server_cpu_us_per_delivery"))])
        table("2a. Fan-out, one shared topic, 1 msg/s", ["target", "subscribers", "delivered", "p50 ms", "p99 ms", "max ms",
              "last subscriber ms (worst msg)", "server µs/delivery", "client µs/delivery", "p99 Cutover/peer",
              "CPU Cutover/peer"], rows,
              "Latency = receive time − the publisher's timestamp in the payload. Server CPU = utime+stime of the target's processes over the step ÷ deliveries.")
        rows = []
        for k in sorted(keys, key=by_variant):
            r = runs[k]
            s = best(r)
            vb = runs.get(f"fanout__cutover__{variant_of(k)}")
            bb = best(vb) if vb else None
            steps = r.get("steps", [])
            failed = [x for x in steps if not x.get("sustained")]
            f = failed[0] if failed else None
            if s is None:
                rows.append([label_of(k), "none", "–", "–", "–", "–", "–", "–",
                             f"{fmt(f['rate'])} msg/s: p99 {fmt(f.get('p99_ms'))} ms, {f.get('delivered', 0):,}/{f.get('expected', 0):,}" if f else "–", "–"])
                continue
            rows.append([label_of(k), fmt(s["rate"]), fmt(s["deliveries_per_s"]),
                         fmt(s.get("p50_ms"), 2), fmt(s.get("p99_ms"), 2), fmt(s.get("max_ms"), 2),
                         fmt(s.get("server_cpu_us_per_delivery"), 2), fmt(s.get("client_cpu_pct"), 0),
                         f"{fmt(f['rate'])} msg/s: p99 {fmt(f.get('p99_ms'))} ms, {f.get('delivered', 0):,}/{f.get('expected', 0):,}" if f else "not reached",
                         "—" if target_of(k) == "cutover" else ratio(bb["deliveries_per_s"] if bb else None, s["deliveries_per_s"])])
        table("2b. Fan-out: highest sustained rate (all delivered, p99 ≤ the bound)", ["target", "msg/s", "deliveries/s",
              "p50 ms", "p99 ms", "max ms", "server µs/delivery", "client CPU %", "first failing step",
              "deliveries/s Cutover/peer"], rows)
        nchan = runs.get("fanout__nchan__ws")
        b1 = first(base) if base else {}
        if base and nchan:
            c_cpu = b1.get("server_cpu_us_per_delivery")
            n_cpu = first(nchan).get("server_cpu_us_per_delivery")
            # CPU per delivery compared at the highest rate both sustained (least idle noise).
            summary["goals"].append({"goal": "fan-out server CPU per delivery <= 0.75x Nchan's (1 msg/s step)",
                                     "measured": c_cpu, "peer": n_cpu,
                                     "met": bool(c_cpu and n_cpu and c_cpu <= 0.75 * n_cpu)})
            c99 = b1.get("p99_ms")
            n99 = first(nchan).get("p99_ms")
            summary["goals"].append({"goal": "10,000-subscriber fan-out p99 <= 100 ms and <= Nchan's (1 msg/s)",
                                     "measured": c99, "peer": n99,
                                     "met": bool(c99 is not None and n99 is not None and c99 <= 100 and c99 <= n99)})

    # ---- 3. per-user
    keys = [k for k in runs if k.startswith("peruser__")]
    if keys:
        base = runs.get("peruser__cutover__ws")
        rows = []
        for k in sorted(keys, key=lambda k: (target_of(k) != "cutover", k)):
            r = runs[k]
            for i, s in enumerate(r.get("steps", [])):
                bs = base["steps"][i] if base and i < len(base.get("steps", [])) else {}
                rows.append([TARGET_NAMES.get(target_of(k), target_of(k)), f"{r['ready']:,}", fmt(s["rate"]),
                             f"{s['delivered']:,}/{s['expected']:,}", fmt(s.get("p50_ms"), 2), fmt(s.get("p99_ms"), 2),
                             fmt(s.get("max_ms"), 2), fmt(s.get("server_cpu_us_per_delivery"), 1),
                             "yes" if s.get("sustained") else "NO",
                             "—" if target_of(k) == "cutover" else ratio(bs.get("p99_ms"), s.get("p99_ms"))])
        table("3. Per-user topics: one subscriber per user, publishes spread round-robin", ["target", "users",
              "msg/s", "delivered", "p50 ms", "p99 ms", "max ms", "server µs/msg", "sustained", "p99 Cutover/peer"], rows,
              "Server µs/msg includes the publish path (Cutover: Redis XADD → ingest → SQLite commit → hub; peers: HTTP publish).")

    # ---- 4. long-poll
    keys = [k for k in runs if k.startswith("lprelease__")]
    if keys:
        base = runs.get("lprelease__cutover__lp")
        bs = base["steps"][0] if base and base.get("steps") else {}
        rows = []
        for k in sorted(keys, key=lambda k: (target_of(k) != "cutover", k)):
            r = runs[k]
            s = r["steps"][0] if r.get("steps") else {}
            rows.append([TARGET_NAMES.get(target_of(k), target_of(k)), f"{r['ready']:,}",
                         f"{s.get('delivered', 0):,}/{s.get('expected', 0):,}", fmt(s.get("p50_ms"), 1),
                         fmt(s.get("p99_ms"), 1), fmt(s.get("max_ms"), 1),
                         fmt(s.get("server_cpu_us_per_delivery"), 1),
                         "—" if target_of(k) == "cutover" else ratio(bs.get("max_ms"), s.get("max_ms"))])
        table("4a. Long-poll: parked polls released by one publish", ["target", "parked polls", "answered",
              "p50 ms", "p99 ms", "last response ms", "server µs/response", "last response Cutover/peer"], rows)
        leg = runs.get("lprelease__legacy__lp")
        if base and leg and leg.get("steps"):
            summary["goals"].append({"goal": "wake latency vs legacy_sim (p50, ratio)",
                                     "measured": bs.get("p50_ms"), "peer": leg["steps"][0].get("p50_ms"),
                                     "ratio": (bs.get("p50_ms") or 0) / (leg["steps"][0].get("p50_ms") or 1)})
        il = runs.get("idle__cutover__lp")
        ll = runs.get("idle__legacy__lp")
        if il and ll:
            a, b = il["server"]["rss_per_conn"], ll["server"]["rss_per_conn"]
            summary["goals"].append({"goal": "memory per waiting client vs legacy_sim (ratio)",
                                     "measured_kib": a / 1024, "peer_kib": b / 1024, "ratio": a / b if b else None})
    keys = [k for k in runs if k.startswith("repoll__")]
    if keys:
        rows = []
        base = {}
        for k in keys:
            if target_of(k) == "cutover":
                base[k.split("__")[2]] = runs[k]
        for k in sorted(keys, key=lambda k: (k.split("__")[2], target_of(k) != "cutover", k)):
            r = runs[k]
            variant = k.split("__")[2]
            b = base.get(variant, {})
            rps, cpu = r.get("requests_per_s"), r.get("server_cpu_pct")
            us = cpu / 100 * 1e6 / rps if rps and cpu else None
            b_rps, b_cpu = b.get("requests_per_s"), b.get("server_cpu_pct")
            b_us = b_cpu / 100 * 1e6 / b_rps if b_rps and b_cpu else None
            r["server_us_per_request"] = us
            r["projected_requests_per_s_full_core"] = 1e6 / us if us else None
            rows.append([TARGET_NAMES.get(target_of(k), target_of(k)), r.get("what", variant),
                         fmt(rps), fmt(r.get("p50_ms"), 2), fmt(r.get("p99_ms"), 2),
                         f"{r.get('non_2xx', 0):,}", fmt(cpu, 0), fmt(us, 1), fmt(1e6 / us if us else None),
                         "—" if target_of(k) == "cutover" else ratio(b_rps, rps),
                         "—" if target_of(k) == "cutover" else ratio(b_us, us)])
            if target_of(k) == "cutover" and variant == "pipelined":
                summary["goals"].append({"goal": "  same, pipelined requests (client no longer the limit)",
                                         "measured": rps, "met": (rps or 0) >= 60000})
            if target_of(k) == "cutover" and variant == "one":
                summary["goals"].append({"goal": "re-poll throughput with backlog >= 60,000 req/s on one core (measured)",
                                         "measured": rps, "met": (rps or 0) >= 60000})
                summary["goals"].append({"goal": "  same, projected to 100% of core 0 from µs/request",
                                         "measured": 1e6 / us if us else None, "met": bool(us and 1e6 / us >= 60000)})
        table("4b. Re-poll throughput with a backlog waiting (wrk on core 1, keep-alive)", ["target", "request",
              "req/s", "p50 ms", "p99 ms", "non-2xx", "server CPU %", "server µs/request",
              "req/s at 100% of core 0 (projected)", "req/s Cutover/peer", "µs/request Cutover/peer"], rows,
              "When the server CPU % is well below 100, wrk (one thread on core 1) is the limit, not the target; "
              "the projection divides one core by the measured CPU per request.")

    # ---- 5. ingest
    r = runs.get("ingest__cutover__stream")
    if r:
        rate = r.get("notifications_per_second")
        rows = [[fmt(r.get("entries")), fmt(r.get("data_bytes_avg", r.get("payload_bytes")), 0), fmt(r.get("topics")),
                 fmt(r.get("batch")), fmt(r.get("ingest_seconds"), 2), fmt(rate), fmt(r.get("transactions")),
                 fmt((r.get("last_commit_seconds") or 0) * 1000, 1)]]
        table("5. Ingest: Redis stream → committed store (ingest_bench, ingest on core 0, Redis on core 1)",
              ["entries", "data bytes", "topics", "batch", "seconds", "notifications/s", "transactions",
               "last commit ms"], rows)
        if rate:
            summary["goals"].append({"goal": "ingest >= 100,000 notifications/s", "measured": rate,
                                     "met": rate >= 100000})

    if summary["goals"]:
        rows = []
        for g in summary["goals"]:
            measured = g.get("measured", g.get("measured_kib"))
            peer = g.get("peer", g.get("peer_kib"))
            rows.append([g["goal"], fmt(measured, 2) if isinstance(measured, (int, float)) else "–",
                         fmt(peer, 2) if isinstance(peer, (int, float)) else "–",
                         ("met" if g["met"] else "**missed**") if "met" in g else f"ratio {g['ratio']:.3f}" if g.get("ratio") is not None else "–"])
        table("Goals (issue 6)", ["goal", "Cutover", "peer", "verdict"], rows)

    text = "\n".join(md)
    with open(prefix + ".md", "w") as f:
        f.write(text + "\n")
    with open(prefix + ".json", "w") as f:
        json.dump(summary, f, indent=1)
    print(text)


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "free-port":
        print(free_port())
    elif cmd == "procstat":
        rss, cpu = procstat([int(p) for p in sys.argv[2:]])
        print(rss, f"{cpu:.3f}")
    elif cmd == "wrk":
        out = parse_wrk(sys.argv[2], sys.argv[3])
        extra = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
        out.update(extra)
        with open(sys.argv[4], "w") as f:
            json.dump(out, f)
    elif cmd == "xadd":  # PORT STREAM TOPIC N: a backlog, pipelined
        port, stream, topic, n = int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
        backlog_xadd(port, stream, topic, n)
    elif cmd == "post":  # PORT PATH N: a backlog through an HTTP publisher (keep-alive)
        backlog_post(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    elif cmd == "tables":
        tables(sys.argv[2], sys.argv[3])
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
