"""The hit-level ETL pipeline end to end on the local stack: from the object landing in the
inbound bucket to its report existing in the outbound bucket.

Run by `make bench`, which brings the stack up with release builds of the functions
(SLUICE_WATCH_RELEASE=1). For each case it generates a file (fixed seed, cached), uploads it
(multipart, as the AWS CLI does for large files), and measures from the moment the upload
completed (when S3 sends the event) until the report object exists, with the parts the ledger
records (queued → started → finished). It also reports `etl-run`'s peak RSS, read from the
kernel for the function's process, and the engine's own throughput on the S3 stream beside
the CLI's on the same file read from disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "target" / "release"
CACHE = Path(os.environ.get("SLUICE_CACHE", Path.home() / ".cache" / "sluice")) / "bench"
ENDPOINTS = dict(
    line.split("=", 1) for line in (ROOT / ".local" / "endpoints.env").read_text().splitlines() if "=" in line
)
CASES = [("1M", "lambda"), ("100M", "lambda"), ("1G", "lambda"), ("100M", "glue")]
PATIENCE = 1800


def client(service: str):
    return boto3.client(service, endpoint_url=ENDPOINTS["AWS_ENDPOINT_URL"], region_name=ENDPOINTS["AWS_REGION"],
                        aws_access_key_id="local", aws_secret_access_key="local")


def generate(size: str) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"hits-{size}.tsv"
    if not path.exists():
        subprocess.run([RELEASE / "generate-hits", path, "--size", size, "--seed", "1"], check=True, capture_output=True)
    return path


def run_id(bucket: str, key: str, version: str) -> str:
    digest = hashlib.sha256()
    for part in (bucket, key, version):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:32]


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def etl_run_rss_mb() -> int | None:
    """Peak RSS of the running `etl-run` function process (it stays up between invocations)."""
    found = subprocess.run(["pgrep", "-f", "target/release/etl-run"], capture_output=True, text=True).stdout.split()
    for pid in found:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return None


def case(size: str, engine: str) -> dict:
    s3, ddb = client("s3"), client("dynamodb")
    path = generate(size)
    bucket = ENDPOINTS["INBOUND_BUCKET"]
    prefix = "incoming/glue" if engine == "glue" else "incoming/bench"
    key = f"{prefix}/{size}-{time.time_ns()}.tsv"
    upload_started = time.time()
    s3.upload_file(str(path), bucket, key, Config=TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=64 << 20))
    uploaded = time.time()
    head = s3.head_object(Bucket=bucket, Key=key)
    run = run_id(bucket, key, head.get("VersionId") or head["ETag"].strip('"'))
    deadline = uploaded + PATIENCE
    item = None
    while time.time() < deadline:
        item = ddb.get_item(TableName=ENDPOINTS["RUNS_TABLE"], Key={"run_id": {"S": run}}, ConsistentRead=True).get("Item")
        if item and item["status"]["S"] in ("succeeded", "failed"):
            break
        time.sleep(0.2)
    if not item or item["status"]["S"] != "succeeded":
        sys.exit(f"{size} on {engine}: run {run} ended {item and item['status']['S']}: {item}")
    report = s3.head_object(Bucket=ENDPOINTS["OUTBOUND_BUCKET"], Key=item["report_key"]["S"])
    landed = report["LastModified"].timestamp()
    result = {
        "size": size,
        "engine": engine,
        "bytes": path.stat().st_size,
        "upload_seconds": round(uploaded - upload_started, 2),
        # The local S3 runs the notification (the trigger, the workflow's start) inside the
        # PutObject request, so the upload's end is after the run started; from the upload's
        # start is the figure that holds everywhere.
        "put_to_report_seconds": round(max(landed, seconds(item["finished_at"]["S"])) - upload_started, 2),
        "to_report_seconds": round(max(landed, seconds(item["finished_at"]["S"])) - uploaded, 2),
        "queued_to_started_seconds": round(seconds(item["started_at"]["S"]) - seconds(item["created_at"]["S"]), 2),
        "engine_step_seconds": round(seconds(item["finished_at"]["S"]) - seconds(item["started_at"]["S"]), 2),
    }
    if "summary" in item:
        summary = json.loads(item["summary"]["S"])
        result["engine_seconds"] = round(summary["seconds"], 2)
        result["engine_gb_per_s_from_s3"] = round(summary["bytes_per_second"] / 1e9, 3)
    return result


def cli_throughput(size: str) -> float:
    out = CACHE / "out"
    out.mkdir(exist_ok=True)
    finished = subprocess.run([RELEASE / "search-keyword-performance", generate(size), "--out-dir", out, "--date", "2026-11-23"],
                              check=True, capture_output=True, text=True)
    summary = json.loads(finished.stderr[: finished.stderr.rindex("}") + 1])
    return round(summary["bytes_per_second"] / 1e9, 3)


def main() -> None:
    mode = (ROOT / ".local" / "watch.mode").read_text().strip() if (ROOT / ".local" / "watch.mode").exists() else "?"
    print(f"etl pipeline on the local stack (functions: {mode} builds)")
    if mode != "release":
        print("  warning: the stack serves debug builds; start it with SLUICE_WATCH_RELEASE=1 for figures")
    results = []
    for size, engine in CASES:
        result = case(size, engine)
        results.append(result)
        print(f"  {json.dumps(result)}")
    print(f"  etl-run peak RSS: {etl_run_rss_mb()} MB")
    print(f"  engine from a file (CLI, same 1G file): {cli_throughput('1G')} GB/s")


if __name__ == "__main__":
    main()
