"""Benchmarks the mobile logs bridge and sink on loopback, with a real Kafka-protocol broker.

Starts its own broker (tansu, in memory) and the release `logs-server`, then:
1. loads the server with keep-alive connections, each request one entry acknowledged by the
   broker, twice per load: with the project's own generator and with wrk (Debian's package, one
   thread, bench/wrk-post-entry.lua). Each reports requests/s and p50/p99, and beside them the
   server's own CPU time per acknowledged request (user + system, all its threads, from the
   kernel's accounting): a figure that does not depend on which generator shares the cores.
   After each load the topic is read back: every acknowledged entry must be there, once
   (otherwise the figures are void and the script fails). The project's generator knows which
   requests were acknowledged; for wrk, which only counts answers, the run's distinct entries
   must number at least the acknowledged ones and at most that plus one in flight per connection
   (and those answered with an error or cut off), with none twice; a run with wrk timeouts is void;
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
TOPIC = "bench-logs"


def run(*args: str, env: dict | None = None) -> dict:
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def server_cpu_seconds(pid: int) -> float:
    """User and system time of a process and all its threads so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def per_acknowledged(cpu: float, acknowledged: int) -> float | None:
    return round(cpu * 1e6 / acknowledged, 1) if acknowledged else None


def own_load(url: str, connections: str, bootstrap: str, pid: int) -> dict:
    """The project's generator: its load's figures, then (after the read-back) the check's."""
    before = server_cpu_seconds(pid)
    generator = subprocess.Popen([str(RELEASE / "logs-loadgen"), "server", url, SECONDS, connections,
                                  APP_KEY, bootstrap, TOPIC], stdout=subprocess.PIPE, text=True)
    generator.stdout.readline()  # the load is over
    cpu = server_cpu_seconds(pid) - before
    out, _ = generator.communicate()
    if generator.returncode != 0:
        raise SystemExit(f"logs-loadgen failed: {out}")
    figures = json.loads(out.strip().splitlines()[-1])
    figures["server_cpu_us_per_acknowledged"] = per_acknowledged(cpu, figures["acknowledged"])
    figures["void"] = (figures["acknowledged_found_in_topic"] != figures["acknowledged"]
                       or figures["duplicates_in_topic"] != 0)
    return figures


def wrk_load(wrk: str, url: str, connections: str, bootstrap: str, pid: int) -> dict:
    tag = f"wrk-{time.time_ns():x}"
    env = {**os.environ, "SLUICE_BENCH_RUN": tag, "SLUICE_BENCH_APP_KEY": APP_KEY,
           "SLUICE_BENCH_USERS": connections}
    before = server_cpu_seconds(pid)
    # A long --timeout: wrk leaves answers slower than it out of its latencies.
    out = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{SECONDS}s", "--timeout", "30s", "-s",
                          str(ROOT / "bench/wrk-post-entry.lua"), url],
                         check=True, capture_output=True, text=True, env=env).stdout
    cpu = server_cpu_seconds(pid) - before
    load = json.loads(out.strip().splitlines()[-1])
    acknowledged = load["requests"] - load["non_2xx"]
    check = run(str(RELEASE / "logs-loadgen"), "count", bootstrap, TOPIC, tag, str(acknowledged))
    # Beyond the acknowledged entries the topic may hold those in flight at the end, those whose
    # connection broke, and those answered with an error whose outcome was unknown (a timeout).
    at_most = acknowledged + int(connections) + load["socket_errors"] + load["non_2xx"]
    return {"connections": int(connections),
            "requests_per_second": round(load["requests"] * 1e6 / load["microseconds"]),
            "p50_ms": load["p50_ms"], "p99_ms": load["p99_ms"], "max_ms": load["max_ms"],
            "acknowledged": acknowledged, "failed": load["non_2xx"] + load["socket_errors"],
            "server_cpu_us_per_acknowledged": per_acknowledged(cpu, acknowledged),
            **check,
            "void": not (acknowledged <= check["distinct_in_topic"] <= at_most)
                    or check["duplicates_in_topic"] != 0 or load["timeouts"] != 0}


def install_wrk() -> str | None:
    """wrk's launcher, or None (and why) if it cannot be had: the rest of the bench still runs."""
    installed = subprocess.run([str(ROOT / "infra/local/install-wrk.sh")], capture_output=True, text=True)
    if installed.returncode != 0:
        print(f"wrk is not available, its loads are skipped:\n{installed.stderr.strip()}", flush=True)
        return None
    return installed.stdout.strip()


def main() -> int:
    wrk = install_wrk()
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
                        TOPIC], check=True, capture_output=True)
        env = {**os.environ, "LOGS_TOPICS": f"app={TOPIC}", "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
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
        results = {"logs-loadgen": [], "wrk": []} if wrk else {"logs-loadgen": []}
        for connections in CONNECTIONS:
            for name in results:
                figures = (own_load(url, connections, bootstrap, server.pid) if name == "logs-loadgen"
                           else wrk_load(wrk, url, connections, bootstrap, server.pid))
                if figures.pop("void"):
                    print(f"{name}: the topic does not hold exactly the acknowledged entries: "
                          f"{json.dumps(figures)}")
                    return 1
                print(f"logs-server, {name}, {connections} connections: {json.dumps(figures)}", flush=True)
                results[name].append(figures)
        results["handler"] = run(str(RELEASE / "logs-loadgen"), "handler", "2000", env=env)
        print(f"Lambda handler, sequential: {json.dumps(results['handler'])}", flush=True)
        results["sink"] = run(str(RELEASE / "logs-loadgen"), "sink", "200000")
        print(f"sink (decode, group, gzip): {json.dumps(results['sink'])}", flush=True)
        # The server's figure is a throughput at a latency: the most requests per second among
        # the loads whose p99 stayed within the 5 ms target (null if none did), beside the busiest.
        def rate(figures: dict) -> float:
            return figures["requests_per_second"]

        def load(figures: dict | None) -> dict | None:
            return figures and {k: figures[k] for k in ("connections", "requests_per_second", "p99_ms",
                                                          "server_cpu_us_per_acknowledged")}

        summary = {}
        for name, prefix in (("logs-loadgen", "server"), ("wrk", "server_wrk")):
            if name not in results:
                continue
            within = [r for r in results[name] if r["p99_ms"] <= 5.0]
            summary[f"{prefix}_within_p99_target"] = load(max(within, key=rate) if within else None)
            summary[f"{prefix}_busiest"] = load(max(results[name], key=rate))
        print(json.dumps({
            **summary,
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
