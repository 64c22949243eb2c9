"""Benchmarks an export on the local stack: rows/s written by export-worker and its peak RSS,
for a period holding SLUICE_BENCH_EXPORT_EVENTS stored events (300 000 by default).

Run by `make bench` with release builds (SLUICE_WATCH_RELEASE=1). The events of one run-tagged
app, spread evenly over the last 14 days, are written straight into the ad events table in the
shape events-sink stores (four client threads of BatchWriteItem): sending a million callbacks
through the bridge is what bench/ad_events.py measures, not this. Then the export is asked for
at the exports URL as a client would, and followed until it is ready.

Two exports of the same app run: first its last two days (a seventh of the events, which also
starts the worker if it was not running), then all 14 days. Before each, the worker's peak RSS is
reset (`/proc/<pid>/clear_refs`), and read after (VmHWM), so the two peaks show whether memory
grows with the rows. Rows/s is the rows over the ledger's started_at..finished_at: reading the
period from moto's DynamoDB, writing the CSV, and its multipart upload to moto's S3. The CSV is
checked: its object holds a header and exactly the rows the ledger reports, which must be the
events seeded for the period.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
ENDPOINTS = dict(
    line.split("=", 1) for line in (ROOT / ".local" / "endpoints.env").read_text().splitlines() if "=" in line
)
# The local DynamoDB (moto) answers each page of a Query with work in proportion to the whole
# day's partition: at a million events (71 000 a day) one page outlasts the SDK's 10 s operation
# timeout and the export fails, so this measures 300 000 through the stack; the worker's own
# figures at 1 M and 2 M rows come from `cargo bench -p exports --bench worker`.
EVENTS = int(os.environ.get("SLUICE_BENCH_EXPORT_EVENTS", "300000"))
DAYS = 14
PATIENCE_SECONDS = 3600


def client(service: str):
    return boto3.client(service, endpoint_url=ENDPOINTS["AWS_ENDPOINT_URL"], region_name=ENDPOINTS["AWS_REGION"],
                        aws_access_key_id="local", aws_secret_access_key="local")


def item(app: str, day: datetime.date, n: int) -> dict:
    kind = ("install", "reattribution", "event")[n % 3]
    network = ("brightads", "tapreach", "clickwave")[n % 7 % 3]
    event_id = f"{app}-{day:%m%d}-{n}"
    occurred = f"{day}T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000Z"
    fields = {
        "pk": {"S": f"{app}#{day}"}, "sk": {"S": f"{network}#{event_id}"}, "kind": {"S": kind},
        "network": {"S": network}, "event_id": {"S": event_id}, "app_id": {"S": app},
        "occurred_at": {"S": occurred}, "received_at": {"S": occurred}, "schema_version": {"N": "1"},
        "device_id": {"S": f"DEV-{n:08d}"},
    }
    if kind == "install":
        fields |= {"campaign": {"S": f"winter, \"big\" sale {n % 50}"}, "country": {"S": "DE"}}
    elif kind == "reattribution":
        fields |= {"days_inactive": {"N": str(n % 90)}}
    else:
        fields |= {"event_name": {"S": "purchase"}, "revenue": {"N": "4.99"}, "currency": {"S": "EUR"}}
    return fields


def seed(app: str, days: list[datetime.date]) -> dict[datetime.date, int]:
    per_day = {day: EVENTS // DAYS + (1 if i < EVENTS % DAYS else 0) for i, day in enumerate(days)}
    table = ENDPOINTS["AD_EVENTS_TABLE"]

    def write(day: datetime.date, start: int, stop: int) -> None:
        dynamodb = client("dynamodb")
        for first in range(start, stop, 25):
            pending = [{"PutRequest": {"Item": item(app, day, n)}} for n in range(first, min(first + 25, stop))]
            while pending:
                answer = dynamodb.batch_write_item(RequestItems={table: pending})
                pending = answer.get("UnprocessedItems", {}).get(table, [])

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        chunks = [(day, start, min(start + 5000, count)) for day, count in per_day.items()
                  for start in range(0, count, 5000)]
        for done in concurrent.futures.as_completed([pool.submit(write, *chunk) for chunk in chunks]):
            done.result()
    return per_day


def call(method: str, url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def worker_pid() -> int | None:
    found = subprocess.run(["pgrep", "-f", r"target/(debug|release)/export-worker$"], capture_output=True,
                           text=True).stdout.split()
    return int(found[0]) if found else None


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def export(app: str, first: datetime.date, last: datetime.date) -> dict:
    url = ENDPOINTS["EXPORTS_URL"]
    queued = call("POST", f"{url}/exports", {"app_id": app, "from": str(first), "to": str(last),
                                             "email": "bench@example.com"})
    deadline = time.monotonic() + PATIENCE_SECONDS
    while True:
        status = call("GET", f"{url}/exports/{queued['export_id']}")
        if status["status"] in ("ready", "failed"):
            return status
        if time.monotonic() > deadline:
            raise RuntimeError(f"export {queued['export_id']} still {status['status']}")
        time.sleep(1)


def seconds_between(start: str, end: str) -> float:
    parse = lambda stamp: datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (parse(end) - parse(start)).total_seconds()


def measured(app: str, first: datetime.date, last: datetime.date, want: int) -> dict:
    pid = worker_pid()
    if pid:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    status = export(app, first, last)
    if status["status"] != "ready":
        raise RuntimeError(f"the export failed: {status.get('error')}")
    pid = pid or worker_pid()
    seconds = seconds_between(status["started_at"], status["finished_at"])
    s3 = client("s3")
    bucket = ENDPOINTS["EXPORTS_BUCKET"]
    key = f"exports/{status['export_id']}.csv"
    size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    lines = sum(chunk.count(b"\n") for chunk in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(1 << 20))
    if status["rows"] != want or lines != want + 1:
        raise RuntimeError(f"the export holds {status['rows']} rows ({lines} lines); {want} were seeded")
    return {"rows": status["rows"], "seconds": round(seconds, 1), "rows_per_second": round(status["rows"] / seconds),
            "csv_mib": round(size / 2**20, 1), "worker_peak_rss_mib": round(peak_rss_kib(pid) / 1024, 1)}


def main() -> int:
    app = f"bench.{time.time_ns():x}"
    today = datetime.datetime.now(datetime.timezone.utc).date()
    days = [today - datetime.timedelta(days=d) for d in range(DAYS - 1, -1, -1)]
    started = time.monotonic()
    per_day = seed(app, days)
    took = time.monotonic() - started
    print(f"seeded {EVENTS} events over {DAYS} days in {took:.0f} s", flush=True)

    small_days = days[-2:]
    small = measured(app, small_days[0], small_days[-1], sum(per_day[d] for d in small_days))
    print(f"export of 2 days: {json.dumps(small)}", flush=True)
    full = measured(app, days[0], days[-1], EVENTS)
    print(f"export of 14 days: {json.dumps(full)}", flush=True)
    print(json.dumps({"export_rows_per_second": full["rows_per_second"],
                      "worker_peak_rss_mib": full["worker_peak_rss_mib"],
                      "worker_peak_rss_mib_two_days": small["worker_peak_rss_mib"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
