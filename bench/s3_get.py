"""The tutorial's S3 client, measured: sequential GetObject calls of random keys
filename{i}.txt, each timed from the call to the end of the body, as the tutorial's Python
script timed them. With --concurrency N, N threads do the same at once (sharing one client and
its connection pool). Prints one line of JSON with the latency percentiles (microseconds) and
the throughput.

Credentials come from the standard AWS environment variables.
"""

import json
import random
import threading
import time

import boto3
from botocore.config import Config

from s3_client_common import arguments, percentile


def main():
    args = arguments(__doc__.splitlines()[0])

    s3 = boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
            max_pool_connections=max(10, args.concurrency),
            # As the agent: no request checksums, no response validation unless required.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    latencies = [[] for _ in range(args.concurrency)]
    errors = [0] * args.concurrency
    start = time.perf_counter()
    measure_from = start + args.warmup
    end = measure_from + args.seconds

    def worker(slot):
        rng = random.Random(slot)
        mine = latencies[slot]
        while True:
            key = "filename%d.txt" % rng.randint(0, args.objects - 1)
            t0 = time.perf_counter()
            if t0 >= end:
                return
            try:
                body = s3.get_object(Bucket=args.bucket, Key=key)["Body"].read()
                ok = len(body) > 0
            except Exception:  # noqa: BLE001 - counted, like the agent's failures
                ok = False
            t1 = time.perf_counter()
            if t0 >= measure_from:
                if ok:
                    mine.append((t1 - t0) * 1e6)
                else:
                    errors[slot] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    all_us = sorted(v for slot in latencies for v in slot)
    print(
        json.dumps(
            {
                "client": "boto3 %s" % boto3.__version__,
                "concurrency": args.concurrency,
                "ops": len(all_us),
                "errors": sum(errors),
                "seconds": args.seconds,
                "ops_s": len(all_us) / args.seconds,
                "mean_us": sum(all_us) / len(all_us) if all_us else 0.0,
                "p50_us": percentile(all_us, 0.50),
                "p99_us": percentile(all_us, 0.99),
            }
        )
    )


if __name__ == "__main__":
    main()
