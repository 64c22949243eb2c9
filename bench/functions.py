"""Init time and size of every function binary (release profile, as built by `make bench`).

Init time is measured as Lambda sees it: from process start until the function's first request
for work (`GET /2018-06-01/runtime/invocation/next`) reaches a stand-in Runtime API on loopback.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 30
INIT_TARGET_MS = 30
SIZE_TARGET_MB = 8

ENVIRONMENT = {
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
    "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_LAMBDA_LOG_FORMAT": "JSON",
    "RECORDS_TABLE": "bench-records",
    "INGEST_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:bench",
    "LOGS_TOPICS": "app=bench-logs",
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19092",
    "LOGS_APP_KEYS": "bench-app-key",
    "LOGS_BUCKET": "bench-logs",
    "RUNS_TABLE": "bench-runs",
    "ETL_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:bench-etl",
    "INBOUND_BUCKET": "bench-inbound",
    "OUTBOUND_BUCKET": "bench-outbound",
    "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:bench-alerts",
    "RUNS_URL": "https://bench.example/",
    "GLUE_JOB_NAME": "bench-job",
    "APPROVALS_TABLE": "bench-approvals",
    "APPROVAL_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:bench-approve",
    "APPROVAL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:bench-admins",
    "RECORDS_ADMIN_KEY_PARAMETER": "/bench/admin-key",
    "RECORDS_URL": "https://bench.example/",
    "AD_EVENTS_TABLE": "bench-ad-events",
    "AD_PARKED_EVENTS_TABLE": "bench-ad-parked",
    "AD_SCHEMA_REGISTRY": "bench-ad-events",
    # The bridge as deployed: callbacks on, with static keys (the SSM read would wait on AWS).
    "AD_EVENTS_TOPIC": "bench-ad-events",
    "AD_NETWORK_KEYS": "bench:bench-network-key",
    "EXPORTS_TABLE": "bench-exports",
    "EXPORTS_BUCKET": "bench-exports",
    "EXPORTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-exports.fifo",
    "EXPORTS_DEAD_LETTERS_ARN": "arn:aws:sqs:us-east-1:123456789012:bench-exports-dead-letters.fifo",
    "EXPORTS_SENDER": "exports@example.com",
    "PATH": "/usr/bin:/bin",
}


def functions() -> list[str]:
    names = []
    for manifest in sorted((ROOT / "functions").glob("*/Cargo.toml")):
        names.append(tomllib.loads(manifest.read_text())["package"]["name"])
    return names


def init_millis(binary: Path, name: str) -> float:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        env = {**ENVIRONMENT, "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}"}
        started = time.perf_counter()
        process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            listener.settimeout(10)
            connection, _ = listener.accept()
            with connection:
                request = b""
                while b"\r\n" not in request:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    request += chunk
                polled = time.perf_counter()
            if not request.startswith(b"GET /2018-06-01/runtime/invocation/next"):
                raise RuntimeError(f"{name}: unexpected first request {request[:80]!r}")
            return (polled - started) * 1000
        finally:
            process.kill()
            process.wait()


def main() -> None:
    print(f"function binaries (target/release, x86_64 host build; {RUNS} cold starts each)")
    print(f"{'function':<20} {'size MB':>8} {'init p50 ms':>12} {'init p95 ms':>12} {'init max ms':>12}")
    for name in functions():
        binary = ROOT / "target" / "release" / name
        size_mb = binary.stat().st_size / 1_000_000
        samples = sorted(init_millis(binary, name) for _ in range(RUNS))
        p95 = samples[int(len(samples) * 0.95) - 1]
        print(f"{name:<20} {size_mb:>8.2f} {statistics.median(samples):>12.2f} {p95:>12.2f} {samples[-1]:>12.2f}")
    print(f"targets: init <= {INIT_TARGET_MS} ms, stripped binary <= {SIZE_TARGET_MB} MB")


if __name__ == "__main__":
    main()
