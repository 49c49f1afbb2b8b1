"""fetchbench's own overhead, measured against reference clients on this machine.

    bench/run            Redis against redis-benchmark, S3 against boto3, controller scale
    bench/run soak       the agent's CPU per request and RSS over a long maximum-rate run
    bench/run build      a cold `cargo build --release` of the workspace, timed
    bench/run ab REF     this checkout's agent against REF's at concurrency 1, interleaved (prints only)
    bench/run idle       concurrency 1 with the guest's idle polling off and on (haltpoll, root)
    bench/run sizes      S3 GETs of 4 KiB to 8 MiB, the agent against the AWS CRT S3 client

Each command prints its table and rewrites its part of docs/benchmarks.md (between the
`bench:` markers); the figures of the other commands are kept from their last run, which
target/bench/*.json holds. Benchmarks print figures; they are not tests.
"""

import argparse
import csv
import datetime
import io
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("BENCH_BIN_DIR", ROOT / "target" / "release"))
STATE = ROOT / "target" / "bench"
DOC = ROOT / "docs" / "benchmarks.md"
PYTHON = Path(sys.executable)

OBJECTS = 200
SIZE = 334

# In the comparisons the server (redis-server, the S3 endpoint) runs on the first core and the
# client under test (fetchbench's controller and agent, redis-benchmark, boto3) on the others, so
# that both clients meet the same placement instead of whatever the scheduler chose that round.
PIN = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
SERVER_CPUS = "0"
CLIENT_CPUS = "1" if (os.cpu_count() or 2) <= 2 else "1-%d" % (os.cpu_count() - 1)

# redis-benchmark's latency histogram (hdr_init(10 us, 3 s, 3 digits)) has 8 µs buckets below
# 16 ms and reports a bucket's highest value: its p50 "39" means a median in [32, 40).
REDIS_BENCHMARK_BUCKET_US = 8


def pinned(cmd, cpus):
    """`cmd` run on `cpus` when pinning is on."""
    return ["taskset", "-c", cpus, *cmd] if PIN else list(cmd)


def in_redis_benchmark_buckets(us):
    """A latency as redis-benchmark would report it: the highest value of its 8 µs bucket."""
    b = REDIS_BENCHMARK_BUCKET_US
    return (int(us) // b) * b + b - 1


# ---------------------------------------------------------------------------------------------
# Processes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid, field="VmRSS"):
    """A /proc/PID/status memory field in KiB, or None once the process is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def children(pid, name):
    """Pids of the direct children of `pid` whose command is `name`."""
    out = []
    for task in Path("/proc/%d/task" % pid).glob("*/children"):
        for child in task.read_text().split():
            try:
                comm = Path("/proc/%s/comm" % child).read_text().strip()
            except OSError:
                continue
            if comm == name[:15]:
                out.append(int(child))
    return out


class Redis:
    """A redis-server child configured as the local fleet configures its own."""

    def __init__(self, workdir, cpus=SERVER_CPUS):
        """On `cpus` (when pinning is on), or where the scheduler puts it with None."""
        self.port = free_port()
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
               "--loglevel", "warning", "--dir", str(workdir)]
        self.proc = subprocess.Popen(pinned(cmd, cpus) if cpus else cmd,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            if subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True,
                              text=True).stdout.strip() == "PONG":
                break
            time.sleep(0.05)
        else:
            raise SystemExit("bench: redis-server did not answer PING")
        self.url = "redis://127.0.0.1:%d" % self.port

    def populate(self, objects, size):
        """redis-benchmark's keys key:000000000000.. with `size`-byte values."""
        value = "v" * size
        resp = io.StringIO()
        for i in range(objects):
            key = "key:%012d" % i
            resp.write("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, size, value))
        subprocess.run(["redis-cli", "-p", str(self.port), "--pipe"], input=resp.getvalue(),
                       text=True, check=True, capture_output=True)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class S3Endpoint:
    """The embedded S3 endpoint in a process of its own (controller/examples/s3_endpoint.rs)."""

    def __init__(self, root, cpus=None):
        cmd = [str(BIN / "examples" / "s3_endpoint"), str(root)]
        self.proc = subprocess.Popen(pinned(cmd, cpus) if cpus else cmd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        info = json.loads(self.proc.stdout.readline())
        self.url = info["endpoint_url"]
        self.env = dict(os.environ, AWS_ACCESS_KEY_ID=info["access_key_id"],
                        AWS_SECRET_ACCESS_KEY=info["secret_access_key"], AWS_REGION="us-east-1",
                        AWS_EC2_METADATA_DISABLED="true")

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait()


def fetchbench(scenario, args=(), env=None, watch_agents=False, sample_every=1.0, cpus=None,
               bin_dir=BIN):
    """Run `fetchbench run` (of `bin_dir`) on `scenario` (TOML text), on `cpus` if given. Returns
    result.json, the time of every stdout line since the start, the controller's peak RSS, and
    when asked, the RSS samples of its agents."""
    work = Path(tempfile.mkdtemp(prefix="fetchbench-bench-"))
    try:
        (work / "scenario.toml").write_text(scenario)
        cmd = [str(bin_dir / "fetchbench"), "run", str(work / "scenario.toml"), "--out",
               str(work / "out"), *args]
        if cpus:
            cmd = pinned(cmd, cpus)
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
        lines = []
        samples = []
        peak = [0]
        stop = threading.Event()

        def sampler():
            while not stop.is_set():
                hwm = rss_kib(proc.pid, "VmHWM")
                if hwm:
                    peak[0] = max(peak[0], hwm)
                if watch_agents:
                    for pid in children(proc.pid, "fetchbench-agent"):
                        rss = rss_kib(pid)
                        if rss:
                            samples.append((time.monotonic() - start, pid, rss))
                stop.wait(sample_every)

        threading.Thread(target=sampler, daemon=True).start()
        for line in proc.stdout:
            lines.append((time.monotonic() - start, line.rstrip("\n")))
        stderr = proc.stderr.read()
        code = proc.wait()
        stop.set()
        if code not in (0, 3):
            raise SystemExit("bench: fetchbench exited %d\n%s\n%s" % (
                code, "\n".join(l for _, l in lines), stderr))
        result = json.loads((work / "out" / "result.json").read_text())
        return {"result": result, "lines": lines, "controller_peak_rss_kib": peak[0],
                "agent_rss": samples, "wall_s": time.monotonic() - start, "exit": code}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def workload(result, name):
    return next(w for w in result["workloads"] if w["name"] == name)


def cpu_us_per_request(result, w):
    """Agent CPU time per request, microseconds, from the agents' own CPU accounting."""
    cores = max(a.get("cores", 1) for a in result["agents"])
    requests = w["ops"] + w["errors"]
    cpu_s = sum(a["cpu_utilization"] * a["duration_s"] * cores for a in w["per_agent"])
    return cpu_s * 1e6 / requests if requests else 0.0


def redis_benchmark(port, clients, requests, pipeline=1):
    out = subprocess.run(
        pinned(["redis-benchmark", "-p", str(port), "-c", str(clients), "-n", str(requests), "-P",
                str(pipeline), "-r", str(OBJECTS), "--csv", "GET", "key:__rand_int__"], CLIENT_CPUS),
        capture_output=True, text=True, check=True).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    row = rows[-1]
    return {"ops_s": float(row["rps"]), "p50_us": float(row["p50_latency_ms"]) * 1000,
            "p99_us": float(row["p99_latency_ms"]) * 1000,
            "mean_us": float(row["avg_latency_ms"]) * 1000}


def redis_benchmark_for(port, clients, seconds, pipeline=1):
    """redis-benchmark for about `seconds`, sized from a short calibration run."""
    probe = redis_benchmark(port, clients, 20000 * pipeline, pipeline)
    return redis_benchmark(port, clients, max(20000, int(probe["ops_s"] * seconds)), pipeline)


def redis_floor(port, seconds, wait=None):
    """The least a client can do per GET at concurrency 1 (controller/examples/redis_floor.rs);
    with wait="spin", retrying non-blocking reads so that its core never sleeps; with
    wait="rearm", waiting in epoll_wait and removing and adding the socket's registration after
    each write, as redis-benchmark's event loop does."""
    out = subprocess.run(pinned([str(BIN / "examples" / "redis_floor"), str(port), str(seconds),
                                 str(OBJECTS), *([wait] if wait else [])], CLIENT_CPUS),
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def boto3_client(endpoint, env, concurrency, seconds):
    out = subprocess.run(
        pinned([str(PYTHON), str(ROOT / "bench" / "s3_get.py"), "--endpoint", endpoint.url,
                "--objects", str(OBJECTS), "--concurrency", str(concurrency), "--seconds",
                str(seconds)], CLIENT_CPUS),
        capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def median_of(runs, key):
    return statistics.median(r[key] for r in runs)


# ---------------------------------------------------------------------------------------------
# Scenarios

DATASET = """
[dataset]
objects = %d
size = %d
seed = 1
""" % (OBJECTS, SIZE)


def closed(name, target, concurrency, seconds, pipeline=1, busy_poll=None):
    return """
[[workload]]
name = "%s"
target = "%s"
concurrency = %d
pipeline = %d
warmup = "1s"
duration = "%ds"
keys = "uniform"
""" % (name, target, concurrency, pipeline, seconds) + (
        'busy_poll = "%s"\n' % busy_poll if busy_poll else "")


# The busy-poll budget of the polling rows: longer than a loopback round trip here (about 25 µs
# with the core awake), short enough that a lost reply costs little.
BUSY_POLL = "100us"


# ---------------------------------------------------------------------------------------------
# Sections


def compare(args):
    """Items 1-3 of issue 7: Redis and S3 side by side with the reference clients."""
    secs = args.seconds
    work = Path(tempfile.mkdtemp(prefix="fetchbench-bench-"))
    rows = {}
    try:
        redis = Redis(work)
        try:
            redis.populate(OBJECTS, SIZE)
            # Each fetchbench measurement runs right beside the redis-benchmark one it is
            # compared with, first or second in turn: this machine's speed drifts by a fifth
            # over minutes (both clients slow down together), so only neighbours are compared.
            fb_scenario = lambda name, c, p, poll=None: (
                'name = "bench-redis"\nagents = 1\n' + DATASET + closed(name, "redis", c, secs, p, poll))
            rb1, rb50, rbp, fb1, fb50, fbp, floor1 = [], [], [], [], [], [], []
            # Without the client's wake-up: both polling, beside the sleeping pair.
            floor_spin1, polled1 = [], []
            # The blocking floor with redis-benchmark's epoll re-arm added: what that alone does.
            floor_rearm1 = []

            def polled_pair():
                floor_spin1.append(redis_floor(redis.port, secs, "spin"))
                run = fetchbench(fb_scenario("polled", 1, 1, BUSY_POLL), ["--redis-url", redis.url],
                                 cpus=CLIENT_CPUS)
                w = workload(run["result"], "polled")
                polled1.append({"ops_s": w["throughput_ops_s"], "p50_us": w["latency_us"]["p50"],
                                "p99_us": w["latency_us"]["p99"],
                                "cpu_us": cpu_us_per_request(run["result"], w),
                                "caught": w["busy_polled_share"]})
            for rep in range(args.reps):
                print("redis, round %d of %d" % (rep + 1, args.reps), flush=True)
                for clients, pipeline, rb, fb in ((1, 1, rb1, fb1), (50, 1, rb50, fb50),
                                                  (50, 16, rbp, fbp)):
                    name = "c%dp%d" % (clients, pipeline)
                    def reference():
                        rb.append(redis_benchmark_for(redis.port, clients, secs, pipeline))
                        if clients == 1 and pipeline == 1:
                            floor1.append(redis_floor(redis.port, secs))
                            floor_rearm1.append(redis_floor(redis.port, secs, "rearm"))
                    if rep % 2 == 0:
                        reference()
                    run = fetchbench(fb_scenario(name, clients, pipeline), ["--redis-url", redis.url],
                                     cpus=CLIENT_CPUS)
                    w = workload(run["result"], name)
                    fb.append({"ops_s": w["throughput_ops_s"], "p50_us": w["latency_us"]["p50"],
                               "p99_us": w["latency_us"]["p99"],
                               "cpu_us": cpu_us_per_request(run["result"], w),
                               "cpu_util": w["cpu_utilization_max"]})
                    if rep % 2 == 1:
                        reference()
                    # The polling pair after both sleeping ones, so that neither sleeping run
                    # follows it only in every other round. Before, fetchbench's c=1 p50 was
                    # 62 µs in the three rounds that put it right after the polling pair and
                    # 55 µs in the three others (2026-12-05 at 7ca9366); at 5ceeb8f, with the
                    # pair moved here, it still ranged 55-64 µs with no such pattern, so the
                    # position was not the cause, but the order is now the same for both.
                    if clients == 1 and pipeline == 1:
                        polled_pair()
        finally:
            redis.stop()
        rows["redis"] = {"redis_benchmark_c1": rb1, "redis_benchmark_c50": rb50,
                         "redis_benchmark_c50_p16": rbp, "fetchbench_c1": fb1, "fetchbench_c50": fb50,
                         "fetchbench_c50_p16": fbp, "floor_c1": floor1,
                         "floor_spin_c1": floor_spin1, "fetchbench_polled_c1": polled1,
                         "floor_rearm_c1": floor_rearm1}

        endpoint = S3Endpoint(work / "s3", SERVER_CPUS)
        try:
            scenario = 'name = "bench-s3"\nagents = 1\n' + DATASET + closed(
                "c1", "s3", 1, secs) + closed("c32", "s3", 32, secs)
            fb1, fb32, py1, py32 = [], [], [], []
            for rep in range(args.reps):
                print("s3, round %d of %d" % (rep + 1, args.reps), flush=True)
                run = fetchbench(scenario, ["--s3-endpoint", endpoint.url, "--s3-bucket",
                                            "fetchbench"], env=endpoint.env, cpus=CLIENT_CPUS)
                for into, name in ((fb1, "c1"), (fb32, "c32")):
                    w = workload(run["result"], name)
                    into.append({"ops_s": w["throughput_ops_s"], "p50_us": w["latency_us"]["p50"],
                                 "p99_us": w["latency_us"]["p99"],
                                 "cpu_us": cpu_us_per_request(run["result"], w),
                                 "cpu_util": w["cpu_utilization_max"]})
                py1.append(boto3_client(endpoint, endpoint.env, 1, secs))
                py32.append(boto3_client(endpoint, endpoint.env, 32, secs))
        finally:
            endpoint.stop()
        rows["s3"] = {"fetchbench_c1": fb1, "fetchbench_c32": fb32, "boto3_c1": py1,
                      "boto3_c32": py32, "boto3_version": py1[0]["client"]}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def scale_scenario(agents, rate, seconds):
    """The scale run's scenario: `agents` local agents, each an open loop of `rate` GETs/s."""
    return ('name = "bench-scale"\nagents = %d\n' % agents) + DATASET + """
[[workload]]
name = "fleet"
target = "redis"
concurrency = 1
rate = %d
warmup = "1s"
duration = "%ds"
keys = "uniform"
""" % (rate, seconds)


def scale_round(scenario):
    """One run of the scale scenario: its start spread, merge time and controller RSS."""
    run = fetchbench(scenario)
    result = run["result"]
    w = workload(result, "fleet")
    offsets = sorted(a["start_offset_ms"] for a in w["per_agent"])
    done_at = next(t for t, l in run["lines"] if l.strip().startswith("done:"))
    result_at = next(t for t, l in run["lines"] if l.startswith("result:"))
    return {
        "agents": len(result["agents"]),
        "lost": sum(a["status"] != "ok" for a in result["agents"]),
        "start_skew_ms": w["start_skew_ms"],
        "start_offset_p99_ms": offsets[min(len(offsets) - 1, int(0.99 * len(offsets)))],
        "merge_write_ms": (result_at - done_at) * 1000,
        "controller_peak_rss_mib": run["controller_peak_rss_kib"] / 1024,
        "wall_s": run["wall_s"],
        "ops_s": w["throughput_ops_s"],
    }


def scale(args):
    """Item 5: 64 local agents, and the merge path of 1,000 simulated agents."""
    agents = args.agents
    scenario = scale_scenario(agents, args.rate, args.scale_seconds)
    runs = []
    work = Path(tempfile.mkdtemp(prefix="fetchbench-scale-"))
    # Unpinned, like the redis-server of the local fleet the agents read from.
    redis = Redis(work, cpus=None)

    def wake_floor(*extra):
        out = subprocess.run([str(BIN / "examples" / "wake_floor"), str(agents), *extra],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])["offset_p99_ms"]

    try:
        for rep in range(args.reps):
            print("%d agents, round %d of %d" % (agents, rep + 1, args.reps), flush=True)
            runs.append(scale_round(scenario))
            runs[-1]["floor_offset_p99_ms"] = wake_floor()
            runs[-1]["floor_get_offset_p99_ms"] = wake_floor(str(redis.port))
    finally:
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)
    # The same start with fewer agents sharing the cores (2 s runs): how the skew grows with them.
    by_agents = {}
    sizes = [n for n in (os.cpu_count() or 1, 8, 16, 32) if n < agents]
    for rep in range(4):
        for n in sizes:
            print("%d agents (skew by agents), round %d of 4" % (n, rep + 1), flush=True)
            w = workload(fetchbench(scale_scenario(n, args.rate, 2))["result"], "fleet")
            by_agents.setdefault(str(n), []).append(w["start_skew_ms"])
    merge = subprocess.run([str(BIN / "examples" / "merge_agents"), str(args.sim_agents), "10",
                            "20000"], capture_output=True, text=True, check=True).stdout
    return {"fleet": runs, "rate_per_agent": args.rate, "seconds": args.scale_seconds,
            "skew_by_agents": by_agents, "merge": json.loads(merge.strip().splitlines()[-1])}


def soak(args):
    """Item 4: one agent at its maximum closed-loop rate for a long time."""
    minutes = args.minutes
    half = max(1, int(minutes * 60 / 2))
    work = Path(tempfile.mkdtemp(prefix="fetchbench-bench-"))
    try:
        endpoint = S3Endpoint(work / "s3")
        try:
            scenario = 'name = "bench-soak"\nagents = 1\n' + DATASET + closed(
                "redis", "redis", 50, half) + closed("s3", "s3", 32, half)
            run = fetchbench(scenario, ["--s3-endpoint", endpoint.url, "--s3-bucket", "fetchbench"],
                             env=endpoint.env, watch_agents=True, sample_every=5.0)
        finally:
            endpoint.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = run["result"]
    samples = [(round(t, 1), rss) for t, _, rss in run["agent_rss"]]
    starts = {l.split()[1]: t for t, l in run["lines"] if l.startswith("running ")}
    phases = {}
    for name in ("redis", "s3"):
        w = workload(result, name)
        begin = starts[name] + 1 + 60  # past the warm-up and the first minute
        end = starts[name] + 1 + half
        inside = [rss for t, rss in samples if begin <= t <= end]
        phases[name] = {
            "ops_s": w["throughput_ops_s"], "ops": w["ops"], "errors": w["errors"],
            "p50_us": w["latency_us"]["p50"], "p99_us": w["latency_us"]["p99"],
            "cpu_us": cpu_us_per_request(result, w), "cpu_util": w["cpu_utilization_max"],
            "rss_after_1min_mib": inside[0] / 1024 if inside else None,
            "rss_at_end_mib": inside[-1] / 1024 if inside else None,
            "rss_max_mib": max(inside) / 1024 if inside else None,
        }
    return {"minutes": minutes, "phases": phases, "samples": samples,
            "agent_peak_rss_mib": max(rss for _, rss in samples) / 1024 if samples else None}


VERIFY_SIZES = (334, 4096, 65536)


def verify_cost(args):
    """Issue 30 part 4: what `verify = true` costs the agent per request, by object size. One
    local run per size and round, its workloads Redis GET (50 in flight) and S3 GetObject (32 in
    flight), each once without and once with verify; which goes first alternates by round."""
    secs = max(1, args.seconds // 2)
    rows = {}
    for size in VERIFY_SIZES:
        runs = []
        for rep in range(args.reps):
            order = (False, True) if rep % 2 == 0 else (True, False)
            workloads = ""
            for target, concurrency in (("redis", 50), ("s3", 32)):
                for on in order:
                    name = "%s-%s" % (target, "on" if on else "off")
                    workloads += closed(name, target, concurrency, secs) + (
                        "verify = true\n" if on else "")
            scenario = 'name = "bench-verify"\nagents = 1\n[dataset]\nobjects = %d\nsize = %d\nseed = 1\n' % (
                OBJECTS, size) + workloads
            runs.append(fetchbench(scenario, cpus=CLIENT_CPUS if PIN else None)["result"])
        row = {}
        for target in ("redis", "s3"):
            for on in ("off", "on"):
                name = "%s-%s" % (target, on)
                ws = [workload(r, name) for r in runs]
                row[name] = {
                    "cpu_us": statistics.median(cpu_us_per_request(r, w) for r, w in zip(runs, ws)),
                    "ops_s": statistics.median(w["throughput_ops_s"] for w in ws),
                    "p50_us": statistics.median(w["latency_us"]["p50"] for w in ws),
                    "corrupt": sum(w["errors_by_kind"].get("corrupt", 0) for w in ws),
                }
        rows[size] = row
    return {"seconds": secs, "rows": rows}


def render_verify(d):
    v = d["verify"]
    out = []
    out.append("One local agent, closed loop, %d rounds of %d s per workload after 1 s of warm-up; "
               "%d objects of each size, uniform keys; Redis GET with 50 in flight and S3 GetObject "
               "(embedded endpoint) with 32, each without and with `verify = true`, in the same run "
               "(which goes first alternates by round). Medians of the rounds. Commit `%s`, %s." % (
                   d["reps"], v["seconds"], OBJECTS, d["machine"]["commit"], d["machine"]["date"]))
    out.append("")
    out.append("| object | target | agent CPU µs/request off | on | added | ops/s off | on | "
               "p50 µs off | on | corrupt |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for size, row in v["rows"].items():
        for target in ("redis", "s3"):
            off, on = row[target + "-off"], row[target + "-on"]
            out.append("| %s B | %s | %s | %s | %s | %s | %s | %s | %s | %d |" % (
                size, target, f(off["cpu_us"], 2), f(on["cpu_us"], 2),
                f(on["cpu_us"] - off["cpu_us"], 2), f(off["ops_s"], 0), f(on["ops_s"], 0),
                f(off["p50_us"]), f(on["p50_us"]), on["corrupt"]))
    return "\n".join(out)


# Issue 32: S3 GETs by object size, the agent against the AWS Common Runtime's client.
SIZES = ((4 << 10, "4 KiB"), (64 << 10, "64 KiB"), (1 << 20, "1 MiB"), (8 << 20, "8 MiB"))
SIZE_CONCURRENCY = (1, 8, 32)
SIZES_DATA_BYTES = 256 << 20  # objects of each size: at most this much, at least 8 objects


def crt_client(endpoint, bucket, objects, concurrency, seconds):
    out = subprocess.run(
        pinned([str(PYTHON), str(ROOT / "bench" / "s3_crt.py"), "--endpoint", endpoint.url,
                "--bucket", bucket, "--objects", str(objects), "--concurrency", str(concurrency),
                "--seconds", str(seconds)], CLIENT_CPUS) if PIN else
        [str(PYTHON), str(ROOT / "bench" / "s3_crt.py"), "--endpoint", endpoint.url, "--bucket",
         bucket, "--objects", str(objects), "--concurrency", str(concurrency), "--seconds",
         str(seconds)],
        capture_output=True, text=True, check=True, env=endpoint.env).stdout
    return json.loads(out.strip().splitlines()[-1])


def sizes(args):
    """S3 GetObject of 4 KiB to 8 MiB objects from the embedded endpoint (in its own process, on
    the server core), fetchbench's agent and the CRT client in turn, at 1, 8 and 32 in flight;
    which goes first alternates by round."""
    secs = max(2, args.seconds // 2)
    work = Path(tempfile.mkdtemp(prefix="fetchbench-bench-"))
    rows = {}
    try:
        endpoint = S3Endpoint(work / "s3", SERVER_CPUS if PIN else None)
        try:
            for size, label in SIZES:
                objects = max(8, min(OBJECTS, SIZES_DATA_BYTES // size))
                bucket = "sizes-%d" % size
                scenario = 'name = "bench-sizes"\nagents = 1\n[dataset]\nobjects = %d\nsize = %d\nseed = 1\n' % (
                    objects, size) + "".join(closed("c%d" % c, "s3", c, secs) for c in SIZE_CONCURRENCY)
                fb = {c: [] for c in SIZE_CONCURRENCY}
                crt = {c: [] for c in SIZE_CONCURRENCY}
                for rep in range(args.reps):
                    print("sizes, %s, round %d of %d" % (label, rep + 1, args.reps), flush=True)

                    def reference():
                        for c in SIZE_CONCURRENCY:
                            crt[c].append(crt_client(endpoint, bucket, objects, c, secs))
                    if rep % 2 == 1:
                        reference()
                    run = fetchbench(scenario, ["--s3-endpoint", endpoint.url, "--s3-bucket", bucket],
                                     env=endpoint.env, cpus=CLIENT_CPUS if PIN else None)
                    for c in SIZE_CONCURRENCY:
                        w = workload(run["result"], "c%d" % c)
                        fb[c].append({"ops_s": w["throughput_ops_s"], "bytes_s": w["throughput_ops_s"] * size,
                                      "p50_us": w["latency_us"]["p50"], "errors": w["errors"],
                                      "cpu_us": cpu_us_per_request(run["result"], w)})
                    if rep % 2 == 0:
                        reference()
                rows[label] = {"size": size, "objects": objects,
                               "fetchbench": {str(c): v for c, v in fb.items()},
                               "crt": {str(c): v for c, v in crt.items()}}
        finally:
            endpoint.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    client = rows[SIZES[0][1]]["crt"][str(SIZE_CONCURRENCY[0])][0]["client"] if rows else "?"
    return {"seconds": secs, "rows": rows, "crt_version": client}


def proc_stat_cpus():
    """Per-core jiffies from /proc/stat: core -> (user+nice, system, softirq, idle)."""
    out = {}
    for line in open("/proc/stat"):
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            v = [int(x) for x in fields[:7]]
            out[name] = (v[0] + v[1], v[2], v[6], v[3])
    return out


def client_syscalls(pattern, seconds):
    """recv/read and epoll_wait calls of the newest process matching `pattern` over `seconds`, with
    perf; None without perf."""
    if not shutil.which("perf"):
        return None
    pid = subprocess.run(["pgrep", "-n", "-f", pattern], capture_output=True, text=True).stdout.strip()
    events = ["syscalls:sys_enter_" + s for s in ("read", "recvfrom", "epoll_wait")]
    out = subprocess.run(["perf", "stat", "-x", ",", "-e", ",".join(events), "-p", pid, "--", "sleep",
                          str(seconds)], capture_output=True, text=True).stderr
    counts = {}
    for line in out.splitlines():
        parts = line.split(",")
        if len(parts) > 2 and parts[0].isdigit():
            counts[parts[2].rsplit("_", 1)[-1] if "epoll" not in parts[2] else "epoll_wait"] = int(parts[0])
    return {"reads": counts.get("read", 0) + counts.get("recvfrom", 0), "epoll_waits": counts.get("epoll_wait", 0)}


def cores(args):
    """Where each core's time goes per GET while the agent, then the CRT client, read 1 MiB objects
    8 at a time from the pinned endpoint: 4 s of each client's steady state (from 5 s after it
    starts), the endpoint's core and the clients' core apart, and each client's reads per GET."""
    size, concurrency, secs, window = 1 << 20, 8, 12, 4
    objects = max(8, min(OBJECTS, SIZES_DATA_BYTES // size))
    bucket = "cores-%d" % size
    scenario = 'name = "bench-cores"\nagents = 1\n[dataset]\nobjects = %d\nsize = %d\nseed = 1\n' % (
        objects, size) + closed("c", "s3", concurrency, secs)
    hz = os.sysconf("SC_CLK_TCK")
    work = Path(tempfile.mkdtemp(prefix="fetchbench-bench-"))
    rows = []
    try:
        endpoint = S3Endpoint(work / "s3", SERVER_CPUS)
        try:
            for rep in range(args.reps):
                for who in ("fetchbench", "crt") if rep % 2 == 0 else ("crt", "fetchbench"):
                    seen = {}

                    def watch():
                        time.sleep(5)
                        before = proc_stat_cpus()
                        seen["calls"] = client_syscalls("fetchbench-agent" if who == "fetchbench" else "s3_crt.py",
                                                        window)
                        if seen["calls"] is None:
                            time.sleep(window)
                        after = proc_stat_cpus()
                        seen["cpu"] = {c: [b - a for a, b in zip(before[c], after[c])] for c in before}
                    watcher = threading.Thread(target=watch)
                    watcher.start()
                    if who == "fetchbench":
                        run = fetchbench(scenario, ["--s3-endpoint", endpoint.url, "--s3-bucket", bucket],
                                         env=endpoint.env, cpus=CLIENT_CPUS)
                        ops = workload(run["result"], "c")["throughput_ops_s"]
                    else:
                        ops = crt_client(endpoint, bucket, objects, concurrency, secs)["ops_s"]
                    watcher.join()
                    gets = ops * window
                    row = {"client": who, "ops_s": ops}
                    for core, label in (("cpu" + SERVER_CPUS, "endpoint_core"),
                                        ("cpu" + CLIENT_CPUS.split("-")[0], "client_core")):
                        user, system, softirq, idle = (v / hz * 1e6 / gets for v in seen["cpu"][core])
                        row[label] = {"user": user, "system": system, "softirq": softirq, "idle": idle}
                    calls = seen["calls"]
                    row["reads_per_get"] = calls["reads"] / gets if calls else None
                    row["epoll_waits_per_get"] = calls["epoll_waits"] / gets if calls else None
                    rows.append(row)
                    print("%s, round %d of %d: %.0f ops/s" % (who, rep + 1, args.reps, ops), flush=True)
        finally:
            endpoint.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def render_cores(d):
    rows = d["cores"]
    out = ["1 MiB GETs, 8 in flight, from the embedded endpoint pinned to core 0 (the client on "
           "core 1), %d rounds; per GET, µs of each core's time over 4 s of each client's steady "
           "state, and the client's read and recv calls per GET (perf). Medians of the rounds. "
           "Commit `%s`, %s." % (d["reps"], d["machine"]["commit"], d["machine"]["date"]), "",
           "| client | ops/s | endpoint core: user | system | softirq | idle | client core: user | "
           "system | softirq | idle | reads / GET | epoll waits / GET |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for who in ("fetchbench", "crt"):
        mine = [r for r in rows if r["client"] == who]
        if not mine:
            continue
        med = lambda get: statistics.median(get(r) for r in mine)
        cells = [f(med(lambda r: r["ops_s"]), 0)]
        for side in ("endpoint_core", "client_core"):
            cells += [f(med(lambda r: r[side][k]), 0) for k in ("user", "system", "softirq", "idle")]
        for k in ("reads_per_get", "epoll_waits_per_get"):
            cells.append(f(med(lambda r: r[k]), 1) if mine[0][k] is not None else "-")
        out.append("| %s | %s |" % ("fetchbench" if who == "fetchbench" else "CRT", " | ".join(cells)))
    return "\n".join(out)


def render_sizes(d):
    v = d["sizes"]
    out = []
    out.append("S3 GetObject from the embedded endpoint (its own process%s), one local agent against "
               "the AWS Common Runtime's S3 client (%s, bench/s3_crt.py) on the same endpoint and "
               "objects, closed loop, %d rounds of %d s after 1 s of warm-up, uniform keys; which "
               "client goes first alternates by round. Medians of the rounds. GB/s is 10^9 bytes "
               "of bodies per second. Commit `%s`, %s." % (
                   ", on core 0, the clients on the others" if d.get("pinned") else "",
                   v["crt_version"], d["reps"], v["seconds"], d["machine"]["commit"],
                   d["machine"]["date"]))
    out.append("")
    out.append("| object | in flight | fetchbench ops/s | GB/s | p50 µs | CPU µs/GET | CRT ops/s | GB/s | "
               "p50 µs | CPU µs/GET | fetchbench / CRT ops/s |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for label, row in v["rows"].items():
        for c in SIZE_CONCURRENCY:
            fb, crt = row["fetchbench"][str(c)], row["crt"][str(c)]
            fb_ops, crt_ops = median_of(fb, "ops_s"), median_of(crt, "ops_s")
            out.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %sx |" % (
                label, c, f(fb_ops, 0), f(median_of(fb, "bytes_s") / 1e9, 3), f(median_of(fb, "p50_us")),
                f(median_of(fb, "cpu_us")), f(crt_ops, 0), f(median_of(crt, "bytes_s") / 1e9, 3),
                f(median_of(crt, "p50_us")), f(median_of(crt, "cpu_us")) if crt[0].get("cpu_us") else "-",
                f(fb_ops / crt_ops if crt_ops else 0.0, 2)))
    errors = sum(r["errors"] for row in v["rows"].values() for rs in row["fetchbench"].values() for r in rs)
    errors += sum(r["errors"] for row in v["rows"].values() for rs in row["crt"].values() for r in rs)
    out.append("")
    out.append("Errors over every round, both clients: %d. CPU µs/GET is the client's own CPU time "
               "per request: the agent's (its own accounting), the CRT client's process (its native "
               "threads and the Python loop starting requests), on the clients' core." % errors)
    return "\n".join(out)


def build(args):
    """Item 6: a cold release build of the workspace in a fresh target directory."""
    target = Path(tempfile.mkdtemp(prefix="fetchbench-cold-build-"))
    try:
        load = os.getloadavg()
        start = time.monotonic()
        subprocess.run(["cargo", "build", "--release", "--workspace", "--locked"], cwd=ROOT,
                       check=True, env=dict(os.environ, CARGO_TARGET_DIR=str(target)))
        seconds = time.monotonic() - start
    finally:
        shutil.rmtree(target, ignore_errors=True)
    return {"seconds": seconds, "load_before": load, "load_after": os.getloadavg(),
            "commit": commit()}


def build_ref(ref):
    """The release binaries of commit `ref`, built from a worktree of it in a target directory
    of their own (kept, so that a second A/B against the same commit starts at once)."""
    commit = git("rev-parse", "--verify", "--quiet", ref + "^{commit}")
    if not commit:
        raise SystemExit("bench: %r is not a commit of this repository" % ref)
    src = STATE / "ab-src"
    if src.exists():
        git("worktree", "remove", "--force", str(src))
        shutil.rmtree(src, ignore_errors=True)
    STATE.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "worktree", "add", "--force", "--detach", str(src), commit], cwd=ROOT,
                   check=True, capture_output=True)
    target = ROOT / "target" / "ab"
    print("building %s (%s) into %s" % (ref, commit[:7], target.relative_to(ROOT)), flush=True)
    try:
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "fetchbench", "-p",
                        "fetchbench-agent", "--bins"], cwd=src, check=True,
                       env=dict(os.environ, CARGO_TARGET_DIR=str(target)))
    finally:
        git("worktree", "remove", "--force", str(src))
    return commit, target / "release"


def ab(args):
    """This checkout's build against `args.ref`'s: one agent, closed loop, concurrency 1 against
    one redis-server, the two builds in turn in every round (which goes first alternates), so
    that the machine's drift reaches both alike. A ratio is the median of the rounds' own."""
    base_commit, base_bin = build_ref(args.ref)
    poll = None if args.busy_poll == "off" else args.busy_poll
    scenario = 'name = "bench-ab"\nagents = 1\n' + DATASET + closed("ab", "redis", 1, args.seconds,
                                                                    busy_poll=poll)
    work = Path(tempfile.mkdtemp(prefix="fetchbench-bench-"))
    runs = {"base": [], "head": []}
    try:
        redis = Redis(work)
        try:
            for rep in range(args.reps):
                order = ["base", "head"] if rep % 2 == 0 else ["head", "base"]
                for which in order:
                    run = fetchbench(scenario, ["--redis-url", redis.url], cpus=CLIENT_CPUS,
                                     bin_dir=base_bin if which == "base" else BIN)
                    w = workload(run["result"], "ab")
                    runs[which].append({"p50_us": w["latency_us"]["p50"],
                                        "rt_us": 1e6 / w["throughput_ops_s"],
                                        "cpu_us": cpu_us_per_request(run["result"], w)})
                print("round %d of %d: p50 %s %.1f / this checkout %.1f us" % (
                    rep + 1, args.reps, args.ref, runs["base"][-1]["p50_us"],
                    runs["head"][-1]["p50_us"]), flush=True)
        finally:
            redis.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    name = args.ref if base_commit.startswith(args.ref) else "%s (%s)" % (args.ref, base_commit[:7])
    print("\n%s against this checkout (%s), %d rounds of %d s, concurrency 1, busy_poll %s:" % (
        name, commit(), args.reps, args.seconds, args.busy_poll))
    print("| measurement | %s | this checkout | ratio, median of rounds | this checkout lower in |" % args.ref)
    print("|---|---|---|---|---|")
    for key, label in (("p50_us", "p50 µs"), ("rt_us", "mean round trip µs"),
                       ("cpu_us", "agent CPU µs per request")):
        b = [r[key] for r in runs["base"]]
        h = [r[key] for r in runs["head"]]
        ratios = [y / x for x, y in zip(b, h) if x]
        print("| %s | %.1f | %.1f | %.3fx | %d of %d |" % (
            label, statistics.median(b), statistics.median(h), statistics.median(ratios),
            sum(y < x for x, y in zip(b, h)), len(b)))


HALT_POLL = Path("/sys/module/haltpoll/parameters/guest_halt_poll_ns")


def idle_setting():
    """The guest's idle driver and, under haltpoll, how long it polls before halting (ns)."""
    driver = Path("/sys/devices/system/cpu/cpuidle/current_driver")
    name = driver.read_text().strip() if driver.exists() else None
    ns = int(HALT_POLL.read_text()) if name == "haltpoll" and HALT_POLL.exists() else None
    return name, ns


def check_idle():
    """The current guest_halt_poll_ns, or exit with what `bench/run idle` needs."""
    name, original = idle_setting()
    if name != "haltpoll" or original is None:
        raise SystemExit("bench: idle needs the haltpoll cpuidle driver (this machine's is %s); "
                         "it compares the guest halting at once with polling first" % name)
    if not os.access(HALT_POLL, os.W_OK):
        raise SystemExit("bench: %s is not writable; run bench/run idle as root" % HALT_POLL)
    return original


def idle(args):
    """Concurrency 1 with the client's idle core halting at once (this guest's boot setting when
    guest_halt_poll_ns is 0) and with the haltpoll driver polling for `args.halt_poll_ns` before
    it halts (the kernel's default is 200 µs), the two in turn in every round: redis-benchmark,
    the blocking floor and fetchbench sleeping, as in `compare`. The setting is restored after."""
    original = check_idle()
    settings = [0, args.halt_poll_ns]
    secs = args.seconds
    scenario = 'name = "bench-idle"\nagents = 1\n' + DATASET + closed("c1", "redis", 1, secs)
    runs = {ns: [] for ns in settings}
    work = Path(tempfile.mkdtemp(prefix="fetchbench-bench-"))
    try:
        redis = Redis(work)
        try:
            redis.populate(OBJECTS, SIZE)
            for rep in range(args.reps):
                for ns in settings if rep % 2 == 0 else settings[::-1]:
                    HALT_POLL.write_text(str(ns))
                    rb = redis_benchmark_for(redis.port, 1, secs)
                    floor = redis_floor(redis.port, secs)
                    rearm = redis_floor(redis.port, secs, "rearm")
                    run = fetchbench(scenario, ["--redis-url", redis.url], cpus=CLIENT_CPUS)
                    w = workload(run["result"], "c1")
                    runs[ns].append({
                        "rb_p50_us": rb["p50_us"], "rb_rt_us": 1e6 / rb["ops_s"],
                        "floor_p50_us": floor["p50_us"], "floor_rt_us": 1e6 / floor["ops_s"],
                        "rearm_p50_us": rearm["p50_us"], "rearm_rt_us": 1e6 / rearm["ops_s"],
                        "fb_p50_us": w["latency_us"]["p50"], "fb_rt_us": 1e6 / w["throughput_ops_s"],
                        "fb_cpu_us": cpu_us_per_request(run["result"], w)})
                    x = runs[ns][-1]
                    print("round %d of %d, guest_halt_poll_ns=%d: p50 redis-benchmark %.0f, "
                          "fetchbench %.1f us" % (rep + 1, args.reps, ns, x["rb_p50_us"],
                                                   x["fb_p50_us"]), flush=True)
        finally:
            HALT_POLL.write_text(str(original))
            redis.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"settings": settings, "original": original,
            "runs": [{"halt_poll_ns": ns, "rounds": runs[ns]} for ns in settings]}


# ---------------------------------------------------------------------------------------------
# Report


def git(*a):
    return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def commit():
    """The commit measured; "-dirty" if files other than this report differ from it (an earlier
    `bench/run` command rewrites the report)."""
    changed = git("status", "--porcelain", "--", ".", ":!docs/benchmarks.md")
    return git("rev-parse", "--short", "HEAD") + ("-dirty" if changed else "")


def machine():
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = rss_kib_total()
    cpuidle, halt_poll_ns = idle_setting()
    def version(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "%s not found" % cmd[0]
    return {
        "cpu": model, "cores": os.cpu_count(), "memory_gib": round(mem / 1024 / 1024, 1),
        "kernel": platform.release(), "rustc": version("rustc", "--version"),
        "redis": version("redis-server", "--version").split(" sha=")[0],
        "python": platform.python_version(), "load_at_start": [round(x, 2) for x in os.getloadavg()],
        "cpuidle": cpuidle, "guest_halt_poll_ns": halt_poll_ns,
        "commit": commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def rss_kib_total():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def f(x, digits=1):
    return "-" if x is None else ("{:,.%df}" % digits).format(x)


def verdict(ok):
    return "met" if ok else "**missed**"


def paired(fb, ref, key, fb_value=None):
    """Median over rounds of fetchbench's figure over the reference's of the same round."""
    fb_value = fb_value or (lambda x: x[key])
    return statistics.median(fb_value(a) / b[key] for a, b in zip(fb, ref))


def render_compare(d):
    r, s = d["rows"]["redis"], d["rows"]["s3"]
    m = lambda runs, k: median_of(runs, k)
    fb1, rb1, fb50, rb50 = r["fetchbench_c1"], r["redis_benchmark_c1"], r["fetchbench_c50"], r[
        "redis_benchmark_c50"]
    bucketed = lambda x: in_redis_benchmark_buckets(x["p50_us"])
    p50_bucketed = paired(fb1, rb1, "p50_us", bucketed)
    # At concurrency 1 a closed loop's ops/s is one over its mean round trip, at full resolution.
    rtt = lambda runs: 1e6 / m(runs, "ops_s")
    rtt_ratio = paired(rb1, fb1, "ops_s")
    ops = paired(fb50, rb50, "ops_s")
    s3ratio = m(s["fetchbench_c1"], "p50_us") / m(s["boto3_c1"], "p50_us")
    out = []
    out.append("%d rounds of %d s per measurement (one agent, closed loop, 1 s warm-up; %d "
               "objects of %d bytes, uniform keys). Commit `%s`, %s; load average at start %s."
               % (d["reps"], d["seconds"], OBJECTS, SIZE, d["machine"]["commit"],
                  d["machine"]["date"], d["machine"]["load_at_start"]))
    out.append("")
    out.append("Figures are medians over the rounds. Each Redis ratio is the median of the rounds' "
               "own ratios: in a round, fetchbench runs right before or right after the "
               "redis-benchmark run it is compared with (each first in every other round), "
               "because this machine's speed drifts over minutes for both clients alike.")
    out.append("")
    if d.get("pinned"):
        out.append("Servers (redis-server, the S3 endpoint) ran on CPU %s, the clients compared "
                   "(redis-benchmark, boto3, fetchbench's controller and agent) on CPU %s, pinned "
                   "with taskset." % (d["pinned"]["server"], d["pinned"]["client"]))
    else:
        out.append("Not pinned to cores (one core, or no taskset): where the scheduler puts "
                   "client and server changes the figures from round to round.")
    out.append("")
    out.append("| measurement | reference | fetchbench | ratio | target |")
    out.append("|---|---|---|---|---|")
    out.append("| Redis GET c=1, p50 µs | redis-benchmark %s | %s | %.2fx | |" % (
        f(m(rb1, "p50_us")), f(m(fb1, "p50_us")), paired(fb1, rb1, "p50_us")))
    out.append("| Redis GET c=1, p50 µs in redis-benchmark's 8 µs buckets | redis-benchmark %s | %s "
               "| %.2fx | <= 1.02x: %s |" % (
                   f(m(rb1, "p50_us")), f(statistics.median(bucketed(x) for x in fb1)),
                   p50_bucketed, verdict(p50_bucketed <= 1.02)))
    out.append("| Redis GET c=1, mean round trip µs (1 / ops/s) | redis-benchmark %s | %s | %.2fx | |"
               % (f(rtt(rb1)), f(rtt(fb1)), rtt_ratio))
    floor = r.get("floor_c1")
    if floor:
        out.append("| Redis GET c=1, p50 µs: the floor, a minimal blocking client (`redis_floor`) | "
                   "redis_floor %s | %s | %.2fx | |" % (
                       f(m(floor, "p50_us")), f(m(fb1, "p50_us")), paired(fb1, floor, "p50_us")))
        out.append("| Redis GET c=1, mean round trip µs (1 / ops/s): the floor | redis_floor %s | %s "
                   "| %.2fx | |" % (f(rtt(floor)), f(rtt(fb1)), paired(floor, fb1, "ops_s")))
    rearm = r.get("floor_rearm_c1")
    if floor and rearm:
        out.append("| Redis GET c=1, p50 µs: the floor re-arming epoll after each write as "
                   "redis-benchmark does (`redis_floor rearm`) | redis_floor rearm %s | %s | %.2fx | |" % (
                       f(m(rearm, "p50_us")), f(m(fb1, "p50_us")), paired(fb1, rearm, "p50_us")))
    spin, polled = r.get("floor_spin_c1"), r.get("fetchbench_polled_c1")
    if spin and polled:
        out.append("| Redis GET c=1, p50 µs, both polling (`redis_floor spin`, fetchbench `busy_poll = "
                   "\"%s\"`) | redis_floor spin %s | %s | %.2fx | |" % (
                       BUSY_POLL, f(m(spin, "p50_us")), f(m(polled, "p50_us")),
                       paired(polled, spin, "p50_us")))
        out.append("| Redis GET c=1, mean round trip µs (1 / ops/s), both polling | redis_floor spin %s "
                   "| %s | %.2fx | |" % (f(rtt(spin)), f(rtt(polled)), paired(spin, polled, "ops_s")))
        out.append("| Redis GET c=1, p50 µs: fetchbench polling against redis-benchmark sleeping (not "
                   "like with like) | redis-benchmark %s | %s | %.2fx | |" % (
                       f(m(rb1, "p50_us")), f(m(polled, "p50_us")), paired(polled, rb1, "p50_us")))
    out.append("| Redis GET c=1, p99 µs | redis-benchmark %s | %s | %.2fx | |" % (
        f(m(rb1, "p99_us")), f(m(fb1, "p99_us")), paired(fb1, rb1, "p99_us")))
    out.append("| Redis GET c=1, ops/s | redis-benchmark %s | %s | %.2fx | |" % (
        f(m(rb1, "ops_s"), 0), f(m(fb1, "ops_s"), 0), paired(fb1, rb1, "ops_s")))
    out.append("| Redis GET c=50, ops/s | redis-benchmark -c 50: %s | %s | %.2fx | >= 1.0x: %s |" % (
        f(m(rb50, "ops_s"), 0), f(m(fb50, "ops_s"), 0), ops, verdict(ops >= 1.0)))
    out.append("| Redis GET c=50, p50 µs | redis-benchmark -c 50: %s | %s | %.2fx | |" % (
        f(m(rb50, "p50_us")), f(m(fb50, "p50_us")), paired(fb50, rb50, "p50_us")))
    rbp, fbp = r["redis_benchmark_c50_p16"], r["fetchbench_c50_p16"]
    out.append("| Redis GET c=50 pipelined 16, ops/s | redis-benchmark -c 50 -P 16: %s | %s | %.2fx | |"
               % (f(m(rbp, "ops_s"), 0), f(m(fbp, "ops_s"), 0), paired(fbp, rbp, "ops_s")))
    out.append("| Redis GET c=50 pipelined 16, p50 µs | redis-benchmark -c 50 -P 16: %s | %s | %.2fx | |"
               % (f(m(rbp, "p50_us")), f(m(fbp, "p50_us")), paired(fbp, rbp, "p50_us")))
    out.append("| S3 GetObject c=1, p50 µs | %s %s | %s | %.2fx | <= 0.5x: %s |" % (
        s["boto3_version"], f(m(s["boto3_c1"], "p50_us")), f(m(s["fetchbench_c1"], "p50_us")),
        s3ratio, verdict(s3ratio <= 0.5)))
    out.append("| S3 GetObject c=1, p99 µs | %s | %s | %.2fx | |" % (
        f(m(s["boto3_c1"], "p99_us")), f(m(s["fetchbench_c1"], "p99_us")),
        m(s["fetchbench_c1"], "p99_us") / m(s["boto3_c1"], "p99_us")))
    out.append("| S3 GetObject c=32, ops/s | %s | %s | %.2fx | |" % (
        f(m(s["boto3_c32"], "ops_s"), 0), f(m(s["fetchbench_c32"], "ops_s"), 0),
        m(s["fetchbench_c32"], "ops_s") / m(s["boto3_c32"], "ops_s")))
    out.append("| S3 GetObject c=32, p50 µs | %s | %s | %.2fx | |" % (
        f(m(s["boto3_c32"], "p50_us")), f(m(s["fetchbench_c32"], "p50_us")),
        m(s["fetchbench_c32"], "p50_us") / m(s["boto3_c32"], "p50_us")))
    out.append("")
    out.append("redis-benchmark's latencies come from a histogram with 8 µs buckets at these "
               "values (`hdr_init(10, 3000000, 3)`, lowest value 10 µs), and it reports a bucket's "
               "highest value; the second row puts fetchbench's p50 (3 significant digits) in the "
               "same buckets, so that the ratio compares like with like. The mean round trip is "
               "exact for both. The floor is a client of a few dozen lines that does only a "
               "blocking write and blocking reads per GET, timed around both, run right after "
               "redis-benchmark in each round: what any client pays on this machine, so that "
               "fetchbench over the floor is what the agent adds.")
    if floor and rearm:
        out.append("")
        out.append("The floor re-arming (`redis_floor PORT SECONDS KEYS rearm`), run right after "
                   "the blocking floor in each round, is the same client waiting in `epoll_wait` "
                   "instead of `recvfrom`, which after each write removes its socket from the "
                   "epoll set and adds it again (`EPOLL_CTL_DEL`, `EPOLL_CTL_ADD`), as "
                   "redis-benchmark's event loop does around every request. Those two calls do "
                   "nothing for the request; what they do to the wait on this machine: the "
                   "re-arming floor's p50 %s µs and mean round trip %s µs, the blocking floor's "
                   "p50 over it %.2fx; its p50 in redis-benchmark's buckets over redis-benchmark's "
                   "%.2fx, its round trip over redis-benchmark's %.2fx." % (
                       f(m(rearm, "p50_us")), f(rtt(rearm)), paired(floor, rearm, "p50_us"),
                       paired(rearm, rb1, "p50_us", lambda x: in_redis_benchmark_buckets(x["p50_us"])),
                       paired(rb1, rearm, "ops_s")))
    if spin and polled:
        out.append("")
        out.append("Both polling: the floor retrying non-blocking reads (`redis_floor PORT SECONDS "
                   "KEYS spin`) and fetchbench with `busy_poll = \"%s\"`, run right after the "
                   "sleeping floor in each round. Neither client's core sleeps while it waits, so "
                   "the wake-up of an idle core is out of both figures and fetchbench over the "
                   "spinning floor is the agent's own cost. fetchbench caught %s%% of the replies "
                   "while polling and used %s µs of CPU per request (sleeping: %s µs)." % (
                       BUSY_POLL, f(100 * m(polled, "caught")), f(m(polled, "cpu_us")),
                       f(m(r["fetchbench_c1"], "cpu_us"))))
    out.append("")
    out.append("Agent CPU per request during these runs (its own `getrusage`, from result.json): "
               "Redis c=1 %s µs, c=50 %s µs (%s%% of the cores), c=50 pipelined 16 %s µs (%s%%); "
               "S3 c=1 %s µs, c=32 %s µs (%s%%)."
               % (f(m(r["fetchbench_c1"], "cpu_us")), f(m(r["fetchbench_c50"], "cpu_us")),
                  f(100 * m(r["fetchbench_c50"], "cpu_util"), 0), f(m(fbp, "cpu_us"), 2),
                  f(100 * m(fbp, "cpu_util"), 0), f(m(s["fetchbench_c1"], "cpu_us")),
                  f(m(s["fetchbench_c32"], "cpu_us")), f(100 * m(s["fetchbench_c32"], "cpu_util"), 0)))
    out.append("")
    out.append("Every round in the order run, redis-benchmark / fetchbench:")
    out.append("")
    round_trip = lambda x: 1e6 / x["ops_s"]
    for label, fb, ref, ref_value, fb_value, digits in (
            ("c=1 p50 µs (fetchbench in 8 µs buckets)", fb1, rb1, lambda x: x["p50_us"], bucketed, 1),
            ("c=1 mean round trip µs", fb1, rb1, round_trip, round_trip, 1),
            ("c=50 ops/s", fb50, rb50, lambda x: x["ops_s"], lambda x: x["ops_s"], 0),
            ("c=50 pipelined 16 ops/s", fbp, rbp, lambda x: x["ops_s"], lambda x: x["ops_s"], 0)):
        pairs = ["%s / %s" % (f(ref_value(b), digits), f(fb_value(a), digits)) for a, b in zip(fb, ref)]
        out.append("- %s: %s" % (label, ", ".join(pairs)))
    if floor:
        out.append("- c=1 p50 µs, the floor / fetchbench: %s" % ", ".join(
            "%s / %s" % (f(b["p50_us"]), f(a["p50_us"])) for a, b in zip(fb1, floor)))
    if floor and rearm:
        out.append("- c=1 p50 µs, redis-benchmark / the floor / the floor re-arming / fetchbench: %s"
                   % ", ".join("%s / %s / %s / %s" % (f(c["p50_us"]), f(b["p50_us"]), f(d["p50_us"]),
                                                     f(a["p50_us"]))
                               for a, b, c, d in zip(fb1, floor, rb1, rearm)))
    if spin and polled:
        out.append("- c=1 p50 µs, both polling, the floor / fetchbench: %s" % ", ".join(
            "%s / %s" % (f(b["p50_us"]), f(a["p50_us"])) for a, b in zip(polled, spin)))
    out.append("- S3 c=1 p50 µs, boto3 / fetchbench: %s" % ", ".join(
        "%s / %s" % (f(b["p50_us"]), f(a["p50_us"])) for a, b in zip(s["fetchbench_c1"], s["boto3_c1"])))
    return "\n".join(out)


def render_scale(d):
    s = d["scale"]
    runs, merge = s["fleet"], s["merge"]
    m = lambda k: statistics.median(r[k] for r in runs)
    out = []
    out.append("%d local agent processes, each an open loop of %d Redis GETs/s for %d s (the "
               "machine has %d cores), medians of %d rounds; and `merge_agents`, an in-process "
               "simulation of %d agents streaming %d one-second interval histograms of %d "
               "requests each. Commit `%s`, %s." % (
                   runs[0]["agents"], s["rate_per_agent"], s["seconds"], d["machine"]["cores"],
                   len(runs), merge["agents"], merge["intervals"], merge["ops_per_interval"],
                   d["machine"]["commit"], d["machine"]["date"]))
    out.append("")
    out.append("| measurement | value | target |")
    out.append("|---|---|---|")
    out.append("| start offset p99 across %d agents, ms | %s | <= 2 ms: %s |" % (
        runs[0]["agents"], f(m("start_offset_p99_ms"), 2), verdict(m("start_offset_p99_ms") <= 2)))
    if "floor_offset_p99_ms" in runs[0]:
        out.append("| the floor: start offset p99 across %d bare processes woken at one instant "
                   "(`wake_floor`: take the time, write a line), ms | %s | |" % (
                       runs[0]["agents"], f(m("floor_offset_p99_ms"), 2)))
    if "floor_get_offset_p99_ms" in runs[0]:
        out.append("| the floor with the first request: the same processes, each also sending one "
                   "GET to a redis-server and blocking for its reply, no runtime (`wake_floor "
                   "%d PORT`), ms | %s | |" % (runs[0]["agents"], f(m("floor_get_offset_p99_ms"), 2)))
        ratios = [r["start_offset_p99_ms"] / r["floor_get_offset_p99_ms"] for r in runs]
        out.append("| agents' start offset p99 over that floor's, each round's own ratio (median; "
                   "the agents ahead in %d of %d rounds) | %.2fx (%s) | |" % (
                       sum(x < 1 for x in ratios), len(ratios), statistics.median(ratios),
                       ", ".join("%.2f" % x for x in ratios)))
    out.append("| start skew (latest minus earliest), ms | %s | |" % f(m("start_skew_ms"), 2))
    by_agents = s.get("skew_by_agents")
    if by_agents:
        series = ["%s agents %s" % (n, f(statistics.median(v), 2)) for n, v in by_agents.items()]
        series.append("%d agents %s" % (runs[0]["agents"], f(m("start_skew_ms"), 2)))
        out.append("| start skew with fewer agents sharing the %d cores (2 s runs, medians of 4), "
                   "ms | %s | |" % (d["machine"]["cores"], ", ".join(series)))
    out.append("| last event to result.json written and summary printed, ms | %s | |"
               % f(m("merge_write_ms")))
    out.append("| controller peak RSS, MiB | %s | |" % f(m("controller_peak_rss_mib")))
    out.append("| whole run (fleet start to exit), s | %s | |" % f(m("wall_s")))
    out.append("| agents lost | %d | |" % max(r["lost"] for r in runs))
    final_ms = merge["merge_ms"] + merge["serialise_ms"]
    out.append("| %d simulated agents: merge their results into the workload's result and "
               "serialise it, ms | %s + %s | < 1000 ms: %s |" % (
                   merge["agents"], f(merge["merge_ms"]), f(merge["serialise_ms"]),
                   verdict(final_ms < 1000)))
    out.append("| %d simulated agents: fold one interval's %d progress events into the tallies "
               "while the run goes, ms (slowest of %d) | %s | < 1000 ms (the interval), to keep "
               "up: %s |" % (merge["agents"], merge["agents"], merge["intervals"],
                             f(merge["slowest_interval_ms"]),
                             verdict(merge["slowest_interval_ms"] < 1000)))
    out.append("| %d simulated agents: all %d events folded, then merged and serialised, ms | %s | |"
               % (merge["agents"], merge["agents"] * merge["intervals"], f(merge["total_ms"])))
    out.append("| %d simulated agents: peak RSS, MiB | %s | |" % (
        merge["agents"], f(merge["peak_rss_kib"] / 1024)))
    return "\n".join(out)


def render_soak(d):
    s = d["soak"]
    out = []
    out.append("One agent at its maximum closed-loop rate for %s minutes: Redis GET with 50 in "
               "flight for the first half, S3 GetObject with 32 in flight (embedded endpoint) for "
               "the second; the agent's RSS sampled every 5 s. Commit `%s`, %s." % (
                   f(s["minutes"], 0), d["machine"]["commit"], d["machine"]["date"]))
    out.append("")
    out.append("| workload | ops/s | p50 µs | p99 µs | agent CPU µs/request | agent CPU share | "
               "RSS after 1 min, MiB | RSS at end, MiB | RSS max, MiB |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for name, p in s["phases"].items():
        out.append("| %s | %s | %s | %s | %s | %s%% | %s | %s | %s |" % (
            name, f(p["ops_s"], 0), f(p["p50_us"]), f(p["p99_us"]), f(p["cpu_us"]),
            f(100 * p["cpu_util"], 0), f(p["rss_after_1min_mib"]), f(p["rss_at_end_mib"]),
            f(p["rss_max_mib"])))
    out.append("")
    out.append("Agent peak RSS over the whole run: %s MiB." % f(s["agent_peak_rss_mib"]))
    return "\n".join(out)


def render_idle(d):
    out = []
    out.append("%d rounds of %d s per client and setting (one agent, closed loop, 1 s warm-up; %d "
               "objects of %d bytes, uniform keys; pinned as in the comparison above). Commit `%s`, "
               "%s; load average at start %s. In every round each setting in turn (which goes "
               "first alternates): redis-benchmark, the blocking floor (`redis_floor`), the floor "
               "re-arming epoll as redis-benchmark does (`redis_floor rearm`), fetchbench "
               "sleeping (no `busy_poll`). A ratio is the median of the rounds' own; "
               "`guest_halt_poll_ns` was %d before and after."
               % (d["reps"], d["seconds"], OBJECTS, SIZE, d["machine"]["commit"],
                  d["machine"]["date"], d["machine"]["load_at_start"], d["idle"]["original"]))
    out.append("")
    out.append("| guest_halt_poll_ns | redis-benchmark p50 µs | fetchbench p50 µs (in its buckets) "
               "| ratio, target <= 1.02x | mean round trip µs: redis-benchmark / floor / fetchbench "
               "| fetchbench over redis-benchmark, round trip | fetchbench over the floor, p50 "
               "| the floor re-arming, p50 µs: over the floor / over redis-benchmark (in its buckets) "
               "| agent CPU µs per request |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for run in d["idle"]["runs"]:
        rs = run["rounds"]
        med = lambda k: median_of(rs, k)
        # A round holds all three clients: fetchbench's figure over the other's, round by round.
        over = lambda key, fb_value: paired(rs, rs, key, fb_value)
        bucketed = lambda x: in_redis_benchmark_buckets(x["fb_p50_us"])
        p50 = over("rb_p50_us", bucketed)
        rearm = "%s: %.2fx / %.2fx" % (
            f(med("rearm_p50_us")), over("floor_p50_us", lambda x: x["rearm_p50_us"]),
            over("rb_p50_us", lambda x: in_redis_benchmark_buckets(x["rearm_p50_us"])))
        out.append("| %d | %s | %s (%s) | %.2fx: %s | %s / %s / %s | %.2fx | %.2fx | %s | %s |" % (
            run["halt_poll_ns"], f(med("rb_p50_us")), f(med("fb_p50_us")),
            f(statistics.median(bucketed(x) for x in rs), 0), p50, verdict(p50 <= 1.02),
            f(med("rb_rt_us")), f(med("floor_rt_us")), f(med("fb_rt_us")),
            over("rb_rt_us", lambda x: x["fb_rt_us"]), over("floor_p50_us", lambda x: x["fb_p50_us"]),
            rearm, f(med("fb_cpu_us"))))
    out.append("")
    out.append("Every round in the order run, p50 µs redis-benchmark / fetchbench in its buckets:")
    out.append("")
    for run in d["idle"]["runs"]:
        out.append("- guest_halt_poll_ns=%d: %s" % (run["halt_poll_ns"], ", ".join(
            "%s / %s" % (f(x["rb_p50_us"], 0), f(in_redis_benchmark_buckets(x["fb_p50_us"]), 0))
            for x in run["rounds"])))
    return "\n".join(out)


def render_build(d):
    b = d["build"]
    return ("Cold `cargo build --release --workspace --locked` in an empty target directory: "
            "**%s s (%s min)** at commit `%s`, load average %s before and %s after (a load above "
            "the build's own means something else shared the 2 cores). Target: <= 6 min: %s."
            % (f(b["seconds"], 0), f(b["seconds"] / 60, 1), b["commit"],
               [round(x, 1) for x in b["load_before"]], [round(x, 1) for x in b["load_after"]],
               verdict(b["seconds"] <= 360)))


SECTIONS = {
    "compare": ("Against the reference clients", "bench/run", render_compare),
    "scale": ("Controller scale", "bench/run", render_scale),
    "soak": ("Agent CPU and memory over a long run", "bench/run soak", render_soak),
    "build": ("Cold release build", "bench/run build", render_build),
    "idle": ("Concurrency 1 and the guest's idle polling", "bench/run idle", render_idle),
    "verify": ("What checking every body costs (verify)", "bench/run verify", render_verify),
    "sizes": ("S3 by object size, against the AWS CRT client", "bench/run sizes", render_sizes),
    "cores": ("Where the cores' time goes at 1 MiB, 8 in flight", "bench/run cores", render_cores),
}


def update_doc(name, data):
    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / (name + ".json")).write_text(json.dumps(data, indent=1))
    title, command, render = SECTIONS[name]
    text = render(data)
    m = data["machine"]
    idle_driver = ""
    if m.get("cpuidle"):
        idle_driver = ", idle driver %s" % m["cpuidle"]
        if m.get("guest_halt_poll_ns") is not None:
            idle_driver += " with guest_halt_poll_ns=%d" % m["guest_halt_poll_ns"]
    block = "<!-- bench:%s -->\n### %s\n\n`%s`, on %s (%d cores, %s GiB, Linux %s%s, %s, %s).\n\n%s\n<!-- /bench:%s -->" % (
        name, title, command, m["cpu"], m["cores"], m["memory_gib"], m["kernel"], idle_driver,
        m["rustc"], m["redis"], text, name)
    doc = DOC.read_text() if DOC.exists() else ""
    pattern = re.compile(r"<!-- bench:%s -->.*?<!-- /bench:%s -->" % (name, name), re.S)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: block, doc)
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(doc)
    print()
    print(text)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command", nargs="?", default="all",
                   choices=["all", "compare", "scale", "soak", "build", "ab", "idle", "verify", "sizes",
                            "cores"])
    p.add_argument("ref", nargs="?", help="ab: the commit (or branch, tag) to compare against")
    p.add_argument("--busy-poll", default="off", help="ab: the workload's busy_poll, or off")
    p.add_argument("--reps", type=int, default=6, help="rounds of each comparison")
    p.add_argument("--seconds", type=int, default=10, help="measured seconds per comparison")
    p.add_argument("--agents", type=int, default=64, help="local agents of the scale run")
    p.add_argument("--rate", type=int, default=100, help="GETs/s per agent in the scale run")
    p.add_argument("--scale-seconds", type=int, default=10)
    p.add_argument("--sim-agents", type=int, default=1000, help="agents of the merge simulation")
    p.add_argument("--minutes", type=float, default=10, help="length of the soak run")
    p.add_argument("--halt-poll-ns", type=int, default=200000,
                   help="idle: how long the guest polls before halting in the second setting")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if args.command == "ab":
        if not args.ref:
            p.error("ab needs the commit to compare against: bench/run ab REF")
        ab(args)
        return
    if args.command == "idle":
        check_idle()
    base = {"machine": machine(), "reps": args.reps, "seconds": args.seconds}
    if args.command in ("all", "compare"):
        pins = {"server": SERVER_CPUS, "client": CLIENT_CPUS} if PIN else None
        update_doc("compare", dict(base, rows=compare(args), pinned=pins))
    if args.command in ("all", "scale"):
        update_doc("scale", dict(base, reps=args.reps, scale=scale(args)))
    if args.command == "soak":
        update_doc("soak", dict(base, soak=soak(args)))
    if args.command == "build":
        update_doc("build", dict(base, build=build(args)))
    if args.command == "idle":
        update_doc("idle", dict(base, idle=idle(args)))
    if args.command == "verify":
        update_doc("verify", dict(base, verify=verify_cost(args)))
    if args.command == "sizes":
        update_doc("sizes", dict(base, sizes=sizes(args), pinned=PIN))
    if args.command == "cores":
        if not PIN:
            raise SystemExit("bench: cores needs taskset and at least 2 cores")
        update_doc("cores", dict(base, cores=cores(args)))
    print("\nwritten: %s" % DOC.relative_to(ROOT))


if __name__ == "__main__":
    main()
