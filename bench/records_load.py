"""The records ingest under the traffic simulator, on the local stack: p50/p99 at 10, 50 and 100
requests per second.

Run by `make bench` with release builds of the functions (SLUICE_WATCH_RELEASE=1). Each rate
runs for SECONDS with valid records only, from a seed new to each run (printed, so a run can be
repeated) so that each record is new and each ingest runs the whole express workflow and writes
once, with up to 64 requests in flight. Latency is timed from each request's scheduled start. Locally one
`cargo lambda watch` instance per function serves one request at a time, so what bounds these
figures is the chain records-api → moto's StartSyncExecution → validate-record → DynamoDB put,
run one ingest after another; on AWS each request gets its own sandbox.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIMULATE = ROOT / "target" / "release" / "simulate"
ENDPOINTS = dict(
    line.split("=", 1) for line in (ROOT / ".local" / "endpoints.env").read_text().splitlines() if "=" in line
)
SECONDS = os.environ.get("SLUICE_LOAD_SECONDS", "20")
RATES = [10, 50, 100]


def warm_up() -> None:
    """One ingest answered 200 before anything is timed: `cargo lambda watch` builds and starts
    each function on its first call, which takes minutes, not milliseconds."""
    query = urllib.parse.urlencode({"user_name": "Warm Up", "email": f"warm{time.time_ns()}@example.com",
                                    "pincode": "560001"})
    deadline = time.monotonic() + 900
    while True:
        try:
            with urllib.request.urlopen(f"{ENDPOINTS['RECORDS_URL'].rstrip('/')}/?{query}", timeout=120) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit("records ingest never answered 200 during warm-up")
        time.sleep(2)


def main() -> int:
    warm_up()
    results = []
    base_seed = int(os.environ.get("SLUICE_LOAD_SEED", time.time_ns() // 1000))
    print(f"records ingest: seeds {base_seed} + rate (SLUICE_LOAD_SEED={base_seed} repeats this run)", flush=True)
    for rate in RATES:
        out = subprocess.run(
            [str(SIMULATE), "--records-url", ENDPOINTS["RECORDS_URL"], "--duration", SECONDS,
             "--rate", str(rate), "--concurrency", "64", "--seed", str(base_seed + rate), "--json"],
            check=True, capture_output=True, text=True,
        ).stdout
        report = json.loads(out)
        results.append(report)
        latency = report["latency_ms"]
        print(f"records ingest at {rate:>3}/s target: achieved {report['achieved_per_second']}/s, "
              f"p50 {latency['p50']:.1f} ms, p90 {latency['p90']:.1f} ms, p99 {latency['p99']:.1f} ms, "
              f"max {latency['max']:.1f} ms; {report['as_expected']} of {report['requests']} answered 200, "
              f"{report['late_starts']} started late with every slot busy", flush=True)
    print(json.dumps({"records_load": results}))
    return 0 if all(r["not_as_expected"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
