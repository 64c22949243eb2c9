"""Benchmarks the ad events ingest on the local stack: callbacks/s through the standalone bridge,
and stored events/s through events-sink into the local DynamoDB.

Run by `make bench` with release builds (SLUICE_WATCH_RELEASE=1). wrk (one thread,
CONNECTIONS keep-alive connections, bench/wrk-get-callback.lua) sends GET install callbacks with
unique event ids of a run-tagged app for SECONDS to the stack's logs-server; a 200 is an
acknowledged produce to the ad events topic. The local MSK poller is paused (SIGSTOP) during the
load, so the topic fills; then it is let go and hands the topic to events-sink (BatchSize 1000,
as the template has), which writes to moto's DynamoDB. The stored count of the run's app is read
until it holds every acknowledged callback: stored events/s is that count over the time from the
poller's release to when the last was stored, so it is the sink's pace on a backlog, not the
callbacks' rate. The bridge, the broker, the poller, the sink and moto share the 2 cores, so each
figure is what the others leave.
The script fails if a callback is refused, or if the table ends up holding fewer events than
were acknowledged or more than were sent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
ENDPOINTS = dict(
    line.split("=", 1) for line in (ROOT / ".local" / "endpoints.env").read_text().splitlines() if "=" in line
)
# Two seconds of load make about 56 000 callbacks, which the local DynamoDB (moto, about 460
# writes/s) takes two minutes to store; ten seconds' worth did not drain within the limit.
SECONDS = os.environ.get("SLUICE_BENCH_SECONDS", "2")
CONNECTIONS = os.environ.get("SLUICE_BENCH_CONNECTIONS", "64")
DRAIN_LIMIT_SECONDS = 900


def stored(dynamodb, pk: str) -> int:
    total, start = 0, None
    while True:
        kwargs = {"ExclusiveStartKey": start} if start else {}
        page = dynamodb.query(TableName=ENDPOINTS["AD_EVENTS_TABLE"], KeyConditionExpression="pk = :pk",
                              ExpressionAttributeValues={":pk": {"S": pk}}, Select="COUNT", **kwargs)
        total += page["Count"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return total


def main() -> int:
    wrk = subprocess.run([str(ROOT / "infra/local/install-wrk.sh")], check=True, capture_output=True,
                         text=True).stdout.strip()
    dynamodb = boto3.client("dynamodb", endpoint_url=ENDPOINTS["AWS_ENDPOINT_URL"],
                            region_name=ENDPOINTS["AWS_REGION"], aws_access_key_id="local",
                            aws_secret_access_key="local")
    app = f"bench.{time.time_ns():x}"
    occurred_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    network, key = ENDPOINTS["AD_NETWORK"], ENDPOINTS["AD_NETWORK_KEY"]
    bridge = ENDPOINTS["BRIDGE_URL"]
    # A first acknowledged callback, and its item stored: the producer's and the sink's start-up.
    warm = urllib.parse.urlencode({"key": key, "version": 1, "event_id": f"{app}-warm", "app_id": app,
                                   "occurred_at": occurred_at, "device_id": "DEV-0"})
    with urllib.request.urlopen(f"{bridge}/api/v1/events/{network}/install?{warm}", timeout=30) as answer:
        assert answer.status == 200
    pk = f"{app}#{occurred_at[:10]}"
    deadline = time.monotonic() + 300
    while stored(dynamodb, pk) < 1:
        if time.monotonic() > deadline:
            print("events-sink never stored the warm-up callback")
            return 1
        time.sleep(0.5)

    env = {**os.environ, "SLUICE_BENCH_NETWORK": network, "SLUICE_BENCH_NETWORK_KEY": key,
           "SLUICE_BENCH_APP": app, "SLUICE_BENCH_OCCURRED_AT": occurred_at}
    poller = int((ROOT / ".local" / "poller.pid").read_text())

    def stopped(signum, _frame):
        raise SystemExit(128 + signum)

    # A stopped poller must not outlive the script: the stack would look up, and take nothing.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stopped)
    try:
        os.kill(poller, signal.SIGSTOP)
        out = subprocess.run([wrk, "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--timeout", "30s", "-s",
                              str(ROOT / "bench/wrk-get-callback.lua"), bridge],
                             check=True, capture_output=True, text=True, env=env).stdout
    finally:
        started = time.monotonic()
        os.kill(poller, signal.SIGCONT)
    load = json.loads(out.strip().splitlines()[-1])
    acknowledged = load["requests"] - load["non_2xx"]
    figures = {"connections": int(CONNECTIONS),
               "callbacks_per_second": round(load["requests"] * 1e6 / load["microseconds"]),
               "p50_ms": load["p50_ms"], "p99_ms": load["p99_ms"], "max_ms": load["max_ms"],
               "acknowledged": acknowledged, "refused_or_failed": load["non_2xx"] + load["socket_errors"]}
    print(f"callbacks through logs-server: {json.dumps(figures)}", flush=True)
    if figures["refused_or_failed"] or load["timeouts"]:
        print("callbacks were refused, failed or timed out; the figures are void")
        return 1

    # The warm-up item is stored too; beyond the acknowledged, at most one in flight per
    # connection when the load stopped.
    want, at_most = acknowledged + 1, acknowledged + 1 + int(CONNECTIONS)
    count, last_change, previous = 0, started, -1
    deadline = time.monotonic() + DRAIN_LIMIT_SECONDS
    while time.monotonic() < deadline:
        count = stored(dynamodb, pk)
        if count != previous:
            last_change, previous = time.monotonic(), count
        if count >= want and time.monotonic() - last_change > 3:
            break
        time.sleep(0.5)
    seconds = last_change - started
    sink = {"stored": count - 1, "seconds_from_poller_release": round(seconds, 1),
            "stored_events_per_second": round((count - 1) / seconds) if seconds > 0 else None}
    print(f"stored through events-sink: {json.dumps(sink)}", flush=True)
    if not want <= count <= at_most:
        print(f"the table holds {count - 1} of the run's events; {acknowledged} were acknowledged")
        return 1
    print(json.dumps({"callbacks_per_second": figures["callbacks_per_second"], "p99_ms": figures["p99_ms"],
                      "stored_events_per_second": sink["stored_events_per_second"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
