"""The AWS Common Runtime's S3 client (awscrt, the engine under the AWS CLI's and boto3's fast
transfers and Mountpoint for S3), measured as bench/s3_get.py measures boto3: GetObject of random
keys filename{i}.txt with N requests in flight, each timed from the request to the end of its
body. Prints one line of JSON with the latency percentiles (microseconds), the throughput and the
bytes per second, and the process's CPU time per request over the measured window (every thread:
the CRT's native event loop and the Python loop that starts the next request).

Credentials come from the standard AWS environment variables. The endpoint is plain HTTP on an
IP and port (the embedded endpoint), addressed path style.
"""

import json
import os
import queue
import random
import threading
import time
from urllib.parse import urlparse

import awscrt
from awscrt.auth import AwsCredentialsProvider
from awscrt.http import HttpHeaders, HttpRequest
from awscrt.io import ClientBootstrap, DefaultHostResolver, EventLoopGroup
from awscrt.s3 import S3Client, S3RequestTlsMode, S3RequestType

from s3_client_common import arguments, percentile


def main():
    args = arguments(__doc__.splitlines()[0])

    url = urlparse(args.endpoint)
    elg = EventLoopGroup()
    bootstrap = ClientBootstrap(elg, DefaultHostResolver(elg))
    credentials = AwsCredentialsProvider.new_static(
        os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    client = S3Client(bootstrap=bootstrap, region=os.environ.get("AWS_REGION", "us-east-1"),
                      tls_mode=S3RequestTlsMode.DISABLED, credential_provider=credentials,
                      max_active_connections_override=max(args.concurrency, 1))

    lock = threading.Lock()
    finished = queue.Queue()  # one item per request done: the main thread starts the next
    rng = random.Random(1)
    state = {"ops": 0, "errors": 0, "bytes": 0}
    latencies = []
    start = time.perf_counter()
    measure_from = start + args.warmup
    end = measure_from + args.seconds
    live = {}  # id -> meta-request, kept referenced until it finishes

    def start_one(n):
        key = "filename%d.txt" % rng.randint(0, args.objects - 1)
        request = HttpRequest("GET", "/%s/%s" % (args.bucket, key), HttpHeaders([("Host", url.netloc)]))
        got = [0]
        t0 = time.perf_counter()

        def on_body(chunk, **_):
            got[0] += len(chunk)

        def on_done(error=None, status_code=None, **_):
            t1 = time.perf_counter()
            with lock:
                if t0 >= measure_from and t1 <= end + 5:
                    if error is None and status_code == 200 and got[0] > 0:
                        latencies.append((t1 - t0) * 1e6)
                        state["ops"] += 1
                        state["bytes"] += got[0]
                    else:
                        state["errors"] += 1
            finished.put(n)

        live[n] = client.make_request(type=S3RequestType.GET_OBJECT, request=request,
                                      on_body=on_body, on_done=on_done)

    n = 0
    for _ in range(args.concurrency):
        start_one(n)
        n += 1
    in_flight = args.concurrency
    # The process's CPU (every thread: the CRT's event loop and this one) over the measured
    # window, and the requests that ended in it.
    cpu = {"from": None, "to": None, "done": 0}
    while in_flight:
        live.pop(finished.get(), None)
        in_flight -= 1
        now = time.perf_counter()
        if cpu["from"] is None and now >= measure_from:
            cpu["from"] = time.process_time()
        elif cpu["from"] is not None and cpu["to"] is None:
            cpu["done"] += 1
            if now >= end:
                cpu["to"] = time.process_time()
        if now < end:
            start_one(n)
            n += 1
            in_flight += 1
    all_us = sorted(latencies)
    print(json.dumps({
        "client": "awscrt %s" % getattr(awscrt, "__version__", "?"),
        "concurrency": args.concurrency,
        "ops": state["ops"],
        "errors": state["errors"],
        "seconds": args.seconds,
        "ops_s": state["ops"] / args.seconds,
        "bytes_s": state["bytes"] / args.seconds,
        "mean_us": sum(all_us) / len(all_us) if all_us else 0.0,
        "p50_us": percentile(all_us, 0.50),
        "p99_us": percentile(all_us, 0.99),
        "cpu_us": (cpu["to"] - cpu["from"]) * 1e6 / cpu["done"] if cpu["to"] and cpu["done"] else 0.0,
    }))


if __name__ == "__main__":
    main()
