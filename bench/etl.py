"""The hit-level ETL engine against its targets, against DuckDB and against the Glue (PySpark) job.

Run by `make bench` after `cargo build --release --bins`. Generates its inputs under the cache
directory (fixed seed): 1 GB from the default generator and 1 GB at 10^4, 10^5 and 10^6 people
browsing at once (`--visitors`), 200 MB of each for the memory check, and 10 GB at 10^6 that is
fed through a pipe. On each 1 GB file it runs the engine on two cores, the DuckDB peer
(`bench/duckdb_peer.py`) and the PySpark job (`infra/glue/search_keyword_performance.py`), all
pinned to the same two cores, checks that the three reports are the same bytes, and prints the
ratios. Peak RSS is the kernel's accounting of each run.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "target" / "release"
CACHE = Path(os.environ.get("SLUICE_CACHE", Path.home() / ".cache" / "sluice")) / "bench"
RUNS = int(os.environ.get("SLUICE_BENCH_RUNS", "5"))
PEER_RUNS = int(os.environ.get("SLUICE_BENCH_PEER_RUNS", "2"))
DATE = "2026-11-22"
REPORT = f"{DATE}_SearchKeywordPerformance.tab"
CORES = "0,1"
# (label, --visitors or None for the generator's default population)
POPULATIONS = [("default", None), ("10^4", 10_000), ("10^5", 100_000), ("10^6", 1_000_000)]


def generate(size: str, visitors: int | None) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    population = ["--visitors", str(visitors)] if visitors else []
    path = CACHE / f"hits-{size}{f'-v{visitors}' if visitors else ''}.tsv"
    if not path.exists():
        partial = path.with_suffix(".partial")
        subprocess.run([RELEASE / "generate-hits", partial, "--size", size, "--seed", "1", *population],
                       check=True, capture_output=True)
        partial.rename(path)
    return path


def run(command: list, stdin=subprocess.DEVNULL) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB) and stderr of one run pinned to the benchmark's cores."""
    started = time.perf_counter()
    process = subprocess.Popen(["taskset", "-c", CORES, *command], stdin=stdin,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        sys.exit(f"failed: {' '.join(map(str, command))}\n{stderr}")
    return wall, usage.ru_maxrss // 1024, stderr


def engine(path: Path | str, out_dir: Path, threads: int = 2, stdin=subprocess.DEVNULL) -> tuple[float, int, dict]:
    """Throughput (bytes/s, as the engine measured it), peak RSS (MB) and the run's summary."""
    command = [RELEASE / "search-keyword-performance", path, "--out-dir", out_dir, "--date", DATE,
               "--threads", str(threads)]
    _, rss, stderr = run(command, stdin=stdin)
    summary = json.loads(stderr[: stderr.rindex("}") + 1])
    return summary["bytes_per_second"], rss, summary


def gbps(rate: float) -> str:
    return f"{rate / 1e9:.2f} GB/s"


def main() -> None:
    glue_python = Path(subprocess.run(
        [ROOT / "infra" / "local" / "bootstrap.sh", ROOT / "infra" / "glue" / "requirements.lock"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()) / "bin" / "python"
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    print(f"hit-level ETL: the engine ({RUNS} runs), DuckDB ({PEER_RUNS}) and PySpark (1) on cores {CORES}")
    with tempfile.TemporaryDirectory() as out:
        out_dir = Path(out)
        rows = []
        for label, visitors in POPULATIONS:
            large, small = generate("1G", visitors), generate("200M", visitors)
            size = large.stat().st_size
            runs = [engine(large, out_dir) for _ in range(RUNS)]
            engine_report = (out_dir / REPORT).read_bytes()
            rate = statistics.median(r for r, _, _ in runs)
            rss = max(m for _, m, _ in runs)
            open_visitors = runs[0][2]["peak_open_visitors"]
            small_rss = max(engine(small, out_dir)[1] for _ in range(2))
            if label == "default":
                one = statistics.median(engine(large, out_dir, threads=1)[0] for _ in range(RUNS))
                print(f"  default population, 1 core: {gbps(one)} (median)")

            peer_dir, spark_dir = out_dir / "duckdb", out_dir / "spark"
            peer_dir.mkdir(exist_ok=True)
            spark_dir.mkdir(exist_ok=True)
            peer = [run([glue_python, ROOT / "bench" / "duckdb_peer.py", large, "--out-dir", peer_dir,
                         "--date", DATE, "--threads", "2"]) for _ in range(PEER_RUNS)]
            peer_wall = statistics.median(w for w, _, _ in peer)
            peer_rss = max(m for _, m, _ in peer)
            spark_wall, spark_rss, _ = run([glue_python, ROOT / "infra" / "glue" / "search_keyword_performance.py",
                                            large, "--out-dir", spark_dir, "--date", DATE])
            same = (peer_dir / REPORT).read_bytes() == engine_report == (spark_dir / REPORT).read_bytes()
            rows.append((label, size, rate, rss, small_rss, open_visitors, peer_wall, peer_rss, spark_wall,
                         spark_rss, same, engine_report.count(b"\n") - 1))
            print(f"  {label}: engine {gbps(rate)} (median; best {gbps(max(r for r, _, _ in runs))}), peak RSS "
                  f"{rss} MB ({small_rss} MB on 200 MB), {open_visitors} peak open visitors, "
                  f"{rss * 1e6 / max(open_visitors, 1):.0f} B of RSS per open visitor")
            print(f"      DuckDB {size / peer_wall / 1e6:.0f} MB/s ({peer_wall:.1f} s, peak RSS {peer_rss} MB): "
                  f"engine {rate * peer_wall / size:.1f}x;  PySpark {size / spark_wall / 1e6:.1f} MB/s "
                  f"({spark_wall:.0f} s, driver peak RSS {spark_rss} MB): engine {rate * spark_wall / size:.0f}x;  "
                  f"reports byte-identical: {'yes' if same else 'NO'} ({rows[-1][-1]} keyword rows)")

        # Twice: the first run also brings the file back into the page cache after the peers.
        huge = generate("10G", 1_000_000)
        for attempt in ("first", "second"):
            with open(huge, "rb") as data:
                feeder = subprocess.Popen(["cat"], stdin=data, stdout=subprocess.PIPE)
                rate, rss, summary = engine("-", out_dir, stdin=feeder.stdout)
                feeder.stdout.close()
                feeder.wait()
            print(f"  10^6, {huge.stat().st_size / 1e9:.1f} GB through a pipe ({attempt} run): {gbps(rate)}, "
                  f"peak RSS {rss} MB, {summary['peak_open_visitors']} peak open visitors")
        print("targets: >= 1 GB/s on 2 cores at every population; >= 8x DuckDB; >= 100x the PySpark job; "
              "the same bytes from all three")
        if not all(row[10] for row in rows):
            sys.exit("the reports differ")


if __name__ == "__main__":
    main()
