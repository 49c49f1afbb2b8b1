"""What the reference S3 clients of the benchmark (bench/s3_get.py, boto3; bench/s3_crt.py, the
AWS CRT) share: their command line and the percentile they report."""

import argparse


def percentile(sorted_values, q):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return 0.0
    rank = max(1, int(round(q * len(sorted_values) + 0.5)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def arguments(description):
    """--endpoint, --bucket, --objects, --concurrency, --seconds and --warmup, parsed."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--bucket", default="fetchbench")
    p.add_argument("--objects", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--seconds", type=float, default=10.0, help="measured time")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds run first, left out")
    return p.parse_args()
