"""Benchmarks the mobile logs bridge and sink on loopback, with a real Kafka-protocol broker.

Starts its own broker (tansu, in memory) and the release `logs-server`, then:
1. loads the server with keep-alive connections, each request one entry acknowledged by the
   broker: requests/s, p50/p99; then reads the topic back to confirm that every acknowledged
   entry is there, once (otherwise the figures are void and the script fails);
2. runs the Lambda handler in process, one request at a time: latency to an acknowledged produce;
3. runs the sink's own work (decode, group, gzip) on MSK events: records/s.
Prints the figures as JSON. No timing is a pass/fail check; only lost or doubled entries are.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "target" / "release"
KAFKA_PORT = os.environ.get("SLUICE_BENCH_KAFKA_PORT", "19092")
SERVER = os.environ.get("SLUICE_BENCH_LISTEN", "127.0.0.1:18080")
SECONDS = os.environ.get("SLUICE_BENCH_SECONDS", "10")
CONNECTIONS = os.environ.get("SLUICE_BENCH_CONNECTIONS", "64,128").split(",")
APP_KEY = "bench-app-key"


def run(*args: str, env: dict | None = None) -> dict:
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    tansu = subprocess.run([str(ROOT / "infra/local/install-broker.sh")], check=True,
                           capture_output=True, text=True).stdout.strip()
    bootstrap = f"127.0.0.1:{KAFKA_PORT}"
    broker = subprocess.Popen([tansu, "broker", "--listener-url", f"tcp://{bootstrap}",
                               "--advertised-listener-url", f"tcp://{bootstrap}",
                               "--storage-engine", "memory://tansu/"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    server = None
    try:
        for _ in range(50):
            if subprocess.run([tansu, "topic", "list", "--broker", f"tcp://{bootstrap}"],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.2)
        subprocess.run([tansu, "topic", "create", "--broker", f"tcp://{bootstrap}", "--partitions", "3",
                        "bench-logs"], check=True, capture_output=True)
        env = {**os.environ, "LOGS_TOPICS": "app=bench-logs", "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
               "LOGS_APP_KEYS": APP_KEY, "LOGS_LISTEN": SERVER, "RUST_LOG": "warn"}
        server = subprocess.Popen([str(RELEASE / "logs-server")], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        url = f"http://{SERVER}/api/v1/logs/app"
        # Ready is a first acknowledged produce: the producer gets its id from the broker about
        # half a second after start, and that wait is start-up, not load.
        ready = urllib.request.Request(url, data=b'{"desc":"bench warm-up"}', method="POST",
                                       headers={"AppKey": APP_KEY, "Content-Type": "application/json"})
        for _ in range(100):
            try:
                urllib.request.urlopen(ready, timeout=5)
                break
            except OSError:
                time.sleep(0.2)
        else:
            print("the server never acknowledged a produce")
            return 1
        results = {"server": []}
        for connections in CONNECTIONS:
            figures = run(str(RELEASE / "logs-loadgen"), "server", url, SECONDS, connections, APP_KEY,
                          bootstrap, "bench-logs")
            if figures["acknowledged_found_in_topic"] != figures["acknowledged"] or figures["duplicates_in_topic"]:
                print(f"the topic does not hold exactly the acknowledged entries: {json.dumps(figures)}")
                return 1
            print(f"logs-server, {connections} connections: {json.dumps(figures)}", flush=True)
            results["server"].append(figures)
        results["handler"] = run(str(RELEASE / "logs-loadgen"), "handler", "2000", env=env)
        print(f"Lambda handler, sequential: {json.dumps(results['handler'])}", flush=True)
        results["sink"] = run(str(RELEASE / "logs-loadgen"), "sink", "200000")
        print(f"sink (decode, group, gzip): {json.dumps(results['sink'])}", flush=True)
        # The server's figure is a throughput at a latency: the most requests per second among
        # the loads whose p99 stayed within the 5 ms target (null if none did), beside the busiest.
        def rate(figures: dict) -> float:
            return figures["requests_per_second"]

        def load(figures: dict | None) -> dict | None:
            return figures and {k: figures[k] for k in ("connections", "requests_per_second", "p99_ms")}

        within = [r for r in results["server"] if r["p99_ms"] <= 5.0]
        print(json.dumps({
            "server_within_p99_target": load(max(within, key=rate) if within else None),
            "server_busiest": load(max(results["server"], key=rate)),
            "handler_p99_ms": results["handler"]["p99_ms"],
            "sink_records_per_second": results["sink"]["records_per_second"]}))
    finally:
        for process in (server, broker):
            if process is not None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
