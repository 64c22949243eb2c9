"""The Glue job's rules, and the proof that it writes the same bytes as the Rust engine."""

from __future__ import annotations

import decimal
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "infra" / "glue"))

import search_keyword_performance as job  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))

import duckdb_peer  # noqa: E402

BIN = Path(os.environ.get("HITDATA_BIN_DIR", ROOT / "target" / "debug"))


def test_keywords_normalise_like_the_engine():
    assert job.normalize_keyword("  ZUNE%09%0A++Player ") == "zune player"
    assert job.normalize_keyword("caf%C3%A9") == "café"
    assert job.normalize_keyword("50%zz+off") == "50%zz off"
    assert job.normalize_keyword("bad%FFbyte") == "bad\ufffdbyte"
    assert job.normalize_keyword("ΟΔΟΣ") == "\u03bf\u03b4\u03bf\u03c2"
    assert job.normalize_keyword("+++%20") is None


def test_search_referrals_follow_the_engine_table():
    page = "http://www.esshopzilla.com/product/?pid=1"
    assert job.search_referral("http://www.google.co.uk/search?hl=en&q=Zune", page) == ("google.co.uk", "zune")
    assert job.search_referral("http://search.yahoo.com/search?p=cd+player", page) == ("yahoo.com", "cd player")
    assert job.search_referral("http://search.aol.com/aol/search?q=&query=tv", page) == ("aol.com", "tv")
    assert job.search_referral("HTTP://WWW.BING.COM/s?q=X", page) == ("bing.com", "x")
    assert job.search_referral("http://www.google.com/s#top?q=a", page) is None
    assert job.search_referral("http://www.esshopzilla.com/search?q=ipod", page) is None
    assert job.search_referral("http://www.google.com/search?q=ipod", "http://www.google.com/x") is None


def test_revenue_is_exact_and_rounds_half_away_from_zero():
    total, malformed = job.purchase_revenue("A;B;1;12abc;,A;C;1; 7 ;,A;D;1;;,A;E;1;0.005")
    assert (total, malformed) == (decimal.Decimal("7.005"), ["12abc"])
    assert job.format_revenue(total) == "7.01"
    assert job.format_revenue(decimal.Decimal("-2.345")) == "-2.35"


def test_purchases_are_event_one_only():
    assert job.is_purchase("2, 1 ,12")
    assert not job.is_purchase("11,12,01")


@pytest.fixture(scope="module")
def spark():
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = job.local_session()
    yield session
    session.stop()


def rust_report(path: Path, out_dir: Path) -> tuple[bytes, dict]:
    run = subprocess.run(
        [BIN / "search-keyword-performance", path, "--out-dir", out_dir, "--date", "2026-11-22"],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(run.stderr[: run.stderr.rindex("}") + 1])
    return (out_dir / "2026-11-22_SearchKeywordPerformance.tab").read_bytes(), summary


# The last cases are shops with thousands and a hundred thousand people browsing at once, long
# user agents and a long tail of keywords (the generator's --visitors population).
@pytest.mark.parametrize("seed,size,visitors", [
    (1, "3M", None), (20261122, "1M", None), (7, "4M", 3000), (5, "8M", 100_000),
])
def test_the_glue_job_the_duckdb_peer_and_the_engine_write_identical_bytes(spark, tmp_path, seed, size, visitors):
    data = tmp_path / "hits.tsv"
    population = ["--visitors", str(visitors)] if visitors else []
    subprocess.run([BIN / "generate-hits", data, "--size", size, "--seed", str(seed), *population],
                   check=True, capture_output=True)

    engine_bytes, engine = rust_report(data, tmp_path)
    glue_bytes, glue = job.compute(spark, str(data))
    peer_bytes, peer = duckdb_peer.compute(str(data))

    assert glue_bytes == engine_bytes
    assert peer_bytes == engine_bytes
    assert engine_bytes.count(b"\n") > 20, "the generated data should credit many keywords"
    for field in ("rows_read", "rejected_too_few_fields", "rejected_bad_hit_time", "purchases",
                  "attributed_revenue", "unattributed_revenue", "warnings"):
        assert glue[field] == engine[field], field
    for field in ("purchases", "attributed_revenue", "unattributed_revenue", "warnings"):
        assert peer[field] == engine[field], field
    rows, rejected = engine["rows_read"], engine["rejected_too_few_fields"] + engine["rejected_bad_hit_time"]
    assert peer["hits"] == rows - rejected


def test_awkward_lines_agree_too(spark, tmp_path):
    data = tmp_path / "awkward.tsv"
    data.write_bytes(
        b'"referrer"\tproduct_list\tpage_url\tevent_list\tuser_agent\tip\thit_time_gmt\tgeo_city\r\n'
        b"http://www.google.com/search?q=Ipod\t\thttp://shop.example.com/\t2\t\"UA\"\t1.1.1.1\t100\tK\xc3\xb6ln\r\n"
        b"\tA;B;1;10;,A;C;2;2.5\thttp://shop.example.com/\t1\tUA\t1.1.1.1\t200\t\xff\xfe\n"
        b"short\tline\n"
        b"\t\t\t\tUA\t1.1.1.1\tnot-a-time\tx\n"
        b"http://search.yahoo.com/search?p=%D0%BF%D0%BB%D0%B5%D0%B5%D1%80\t\thttp://shop.example.com/\t\tUA\t2.2.2.2\t300\tx\n"
        b"\tA;B;1;.5\thttp://shop.example.com/\t 1 \tUA\t2.2.2.2\t2101\tx\n"
        b"\tA;B;1;7\thttp://shop.example.com/\t1\tUA\t2.2.2.2\t2100\tx\n"
    )

    engine_bytes, _ = rust_report(data, tmp_path)
    glue_bytes, _ = job.compute(spark, str(data))

    assert glue_bytes == engine_bytes == (
        "Search Engine Domain\tSearch Keyword\tRevenue\n"
        "google.com\tipod\t12.50\n"
        "yahoo.com\tплеер\t7.50\n"
    ).encode()
