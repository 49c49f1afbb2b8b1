#!/usr/bin/env python3
"""Where a synchronized start's time goes: runs the scale benchmark's 64-agent scenario under
`perf record -a` (cpu-clock samples with call graphs, context switches, sendto calls) and prints,
for the window from the start instant to the last agent's first send, how the two cores' time was
spent and the top entries of the agents' samples between a wake-up and that agent's first send.

    bench/start_profile.py [--agents 64] [--rounds 3]      (root or perf_event_paranoid <= 1)

Needs `perf` and a release build (`bench/run` makes one). A figure printer, not a test."""
import argparse
import collections
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import BIN, scale_scenario

FETCHBENCH = BIN / "fetchbench"
HEADER = re.compile(r"^\s*(.+?)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$")


def record(work, agents):
    """One run under perf; returns (events sorted by time, start skew in s)."""
    (work / "s.toml").write_text(scale_scenario(agents, 100, 2))
    data = work / "perf.data"
    subprocess.run(["perf", "record", "-q", "-a", "-g", "-F", "25000", "-e", "cpu-clock", "-e",
                    "sched:sched_switch", "-e", "syscalls:sys_enter_sendto", "-o", str(data), "--",
                    str(FETCHBENCH), "run", str(work / "s.toml"), "--out", str(work / "out")],
                   check=True, capture_output=True)
    skew = json.loads((work / "out" / "result.json").read_text())["workloads"][0]["start_skew_ms"]
    text = subprocess.run(["perf", "script", "-i", str(data), "-F",
                           "comm,pid,tid,cpu,time,event,trace,ip,sym"],
                          check=True, capture_output=True, text=True).stdout
    events, current = [], None
    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            comm, pid, tid, cpu, t, name, rest = m.groups()
            current = {"t": float(t), "cpu": int(cpu), "comm": comm, "pid": int(pid),
                       "tid": int(tid), "event": name, "rest": rest, "frames": []}
            events.append(current)
        elif line.strip() and current is not None:
            parts = line.strip().split(None, 1)
            current["frames"].append(parts[-1])
    events.sort(key=lambda e: e["t"])
    return events, skew / 1000


def analyse(events, skew, spent, entries):
    """Add one run's core time by kind and its pre-send samples' leaf functions."""
    controller = collections.Counter(
        e["pid"] for e in events if e["comm"] == "fetchbench").most_common(1)[0][0]
    redis = {e["pid"] for e in events if e["comm"] == "redis-server"}
    sends = [e for e in events if e["event"].endswith("sys_enter_sendto")
             and e["pid"] != controller and e["pid"] not in redis]
    # The instant: the first agent send after 50 ms without any that most agents follow within
    # the run's skew.
    t0 = next(s["t"] for i, s in enumerate(sends) if i and s["t"] - sends[i - 1]["t"] > 0.05
              and len({x["pid"] for x in sends[i:i + 400] if x["t"] <= s["t"] + skew + 1e-4}) >= 48)
    first = {}
    for s in sends:
        if s["t"] >= t0 and s["pid"] not in first:
            first[s["pid"]] = s["t"]
    last = max(first.values())
    pid_of = {e["tid"]: e["pid"] for e in events}
    running, switched_in = {}, {}
    for e in events:
        if e["t"] > last:
            break
        if e["event"] == "sched:sched_switch":
            prev = running.get(e["cpu"])
            if prev is not None and e["t"] > t0:
                begin, pid = max(prev[0], t0), prev[1]
                if pid in first:
                    kind = ("agents, wake-up to first send" if begin < first[pid]
                            else "agents, after their first send (replies)")
                elif pid in redis:
                    kind = "redis-server"
                elif pid == 0:
                    kind = "idle"
                elif pid == controller:
                    kind = "controller"
                else:
                    kind = "other"
                spent[kind] += e["t"] - begin
            tid = int(re.search(r"next_pid=(\d+)", e["rest"]).group(1))
            running[e["cpu"]] = (e["t"], pid_of.get(tid, 0 if tid == 0 else -1))
            switched_in[tid] = e["t"]
        elif (e["event"].startswith("cpu-clock") and e["pid"] in first and e["frames"]
              and t0 - 0.0005 <= switched_in.get(e["tid"], 0) <= e["t"] <= first[e["pid"]]):
            entries[e["frames"][0]] += 1
    return last - t0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--agents", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    if not FETCHBENCH.exists():
        sys.exit("start_profile: %s not found; build it with bench/run or cargo build --release"
                 % FETCHBENCH)
    spent, entries, windows = collections.Counter(), collections.Counter(), []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="fetchbench-startprof-") as work:
            events, skew = record(Path(work), args.agents)
            windows.append(analyse(events, skew, spent, entries))
            print("round %d: start skew %.2f ms under perf" % (r + 1, skew * 1000), flush=True)
    total = sum(spent.values())
    print("\nthe cores' time from each start instant to the last first send (%d rounds, %s ms):"
          % (args.rounds, ", ".join("%.2f" % (w * 1000) for w in windows)))
    for kind, s in spent.most_common():
        print("  %-45s %6.2f ms %4.0f%%" % (kind, s * 1000, 100 * s / total))
    n = sum(entries.values())
    print("\nagents' cpu-clock samples between a wake-up and the first send: %d; top entries:" % n)
    for name, k in entries.most_common(20):
        print("  %4.1f%%  %s" % (100 * k / n, name[:100]))


if __name__ == "__main__":
    main()
