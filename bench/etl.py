"""The hit-level ETL engine against its targets, and against the Glue (PySpark) job.

Run by `make bench` after `cargo build --release --bins`. Generates its inputs (100 MB and 1 GB,
fixed seed) under the cache directory, runs the engine pinned to one core and to two, reads
peak RSS from the kernel's accounting of each run, then runs the PySpark job in local mode on
the same 1 GB file and checks that both reports are the same bytes.
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
DATE = "2026-11-22"


def generate(size: str) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"hits-{size}.tsv"
    subprocess.run([RELEASE / "generate-hits", path, "--size", size, "--seed", "1"], check=True, capture_output=True)
    return path


def run(command: list, cores: str | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB) and stderr of one run."""
    if cores:
        command = ["taskset", "-c", cores, *command]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        sys.exit(f"failed: {' '.join(map(str, command))}\n{stderr}")
    return wall, usage.ru_maxrss // 1024, stderr


def engine(path: Path, out_dir: Path, threads: int, cores: str) -> tuple[float, int]:
    """Throughput (bytes/s, as the engine measured it) and peak RSS (MB)."""
    command = [RELEASE / "search-keyword-performance", path, "--out-dir", out_dir, "--date", DATE, "--threads", str(threads)]
    _, rss, stderr = run(command, cores=cores)
    summary = json.loads(stderr[: stderr.rindex("}") + 1])
    return summary["bytes_per_second"], rss


def median_and_best(samples: list[float]) -> str:
    return f"median {statistics.median(samples) / 1e9:.2f} GB/s, best {max(samples) / 1e9:.2f} GB/s"


def main() -> None:
    small, large = generate("100M"), generate("1G")
    size = large.stat().st_size
    with tempfile.TemporaryDirectory() as out:
        out_dir = Path(out)
        print(f"hit-level ETL engine on {size / 1e9:.2f} GB of generated hits ({RUNS} runs each)")
        one = [engine(large, out_dir, 1, "0") for _ in range(RUNS)]
        two = [engine(large, out_dir, 2, "0,1") for _ in range(RUNS)]
        print(f"  1 core  (1 worker thread):   {median_and_best([r for r, _ in one])}, peak RSS {max(m for _, m in one)} MB")
        print(f"  2 cores (2 worker threads):  {median_and_best([r for r, _ in two])}, peak RSS {max(m for _, m in two)} MB")
        small_rss = max(engine(small, out_dir, 2, "0,1")[1] for _ in range(3))
        print(f"  peak RSS, 2 cores: {small_rss} MB on 100 MB, {max(m for _, m in two)} MB on 1 GB")
        engine(large, out_dir, 2, "0,1")
        engine_report = (out_dir / f"{DATE}_SearchKeywordPerformance.tab").read_bytes()

        glue_python = Path(subprocess.run(
            [ROOT / "infra" / "local" / "bootstrap.sh", ROOT / "infra" / "glue" / "requirements.lock"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()) / "bin" / "python"
        spark_dir = out_dir / "spark"
        spark_dir.mkdir()
        env_command = [glue_python, ROOT / "infra" / "glue" / "search_keyword_performance.py", large,
                       "--out-dir", spark_dir, "--date", DATE]
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        wall, rss, _ = run(env_command, cores="0,1")
        spark_report = (spark_dir / f"{DATE}_SearchKeywordPerformance.tab").read_bytes()
        spark_rate = size / wall
        engine_median = statistics.median([r for r, _ in two])
        print(f"  PySpark job, local mode, 2 cores: {spark_rate / 1e6:.1f} MB/s ({wall:.0f} s, driver peak RSS {rss} MB)")
        print(f"  engine / PySpark: {engine_median / spark_rate:.0f}x (medians; PySpark time includes its ~10 s start)")
        print(f"  reports byte-identical: {'yes' if spark_report == engine_report else 'NO'} "
              f"({len(engine_report.splitlines()) - 1} keyword rows)")
        print("targets: >= 1 GB/s on 2 cores; about 100x the PySpark job; RSS flat from 100 MB to 1 GB")


if __name__ == "__main__":
    main()
