"""Search keyword performance as an AWS Glue (PySpark) job: the same rules and the same output
bytes as the Rust engine (crates/hitdata), for inputs beyond one machine.

The logic is plain PySpark so it runs anywhere Spark does; `awsglue` is imported only when the
script runs as a Glue job (`--JOB_NAME` among the arguments).

Locally:  python search_keyword_performance.py INPUT --out-dir DIR [--date YYYY-MM-DD]
In Glue:  job arguments --input s3://bucket/key --output s3://bucket/prefix/ [--date YYYY-MM-DD],
          with --additional-python-modules publicsuffixlist==1.1.2.20261023
"""

from __future__ import annotations

import datetime
import decimal
import json
import re
import sys
from typing import Iterable, Iterator

NEEDED = ("hit_time_gmt", "ip", "user_agent", "event_list", "page_url", "product_list", "referrer")
VISIT_GAP_SECONDS = 1800
MAX_FRACTION_DIGITS = 18
REPORT_HEADER = "Search Engine Domain\tSearch Keyword\tRevenue\n"
ENGINES = {
    "google": ("q",), "bing": ("q",), "msn": ("q",), "duckduckgo": ("q",), "ask": ("q",),
    "ecosia": ("q",), "yahoo": ("p",), "aol": ("q", "query"), "baidu": ("wd", "word"),
    "yandex": ("text",),
}
# Unicode White_Space, the definition the Rust engine trims and splits keywords on.
WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
ASCII_SPACE = " \t\n\x0c\r"
PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)\Z")
INTEGER = re.compile(r"[+-]?[0-9]+\Z")
HEX = "0123456789abcdefABCDEF"
ASCII_LOWER = {i: i + 32 for i in range(65, 91)}

decimal.getcontext().prec = 80


def unquote(field: str) -> str:
    return field[1:-1] if len(field) >= 2 and field[0] == '"' and field[-1] == '"' else field


def form_decode(raw: str) -> str:
    """`+` is a space, `%XX` a byte; a malformed escape stays. Bytes decode as UTF-8, lossily."""
    out = bytearray()
    data = raw.encode("utf-8", "surrogatepass")
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == 0x2B:
            out.append(0x20)
            i += 1
        elif byte == 0x25 and i + 2 < len(data) and chr(data[i + 1]) in HEX and chr(data[i + 2]) in HEX:
            out.append(int(data[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(byte)
            i += 1
    return out.decode("utf-8", "replace")


def normalize_keyword(raw: str) -> str | None:
    text = form_decode(raw).lower()
    words = re.split(f"[{re.escape(WHITE_SPACE)}]+", text)
    keyword = " ".join(w for w in words if w)
    return keyword or None


def parse_url(url: str) -> tuple[str, str] | None:
    """(lowercased host, raw query) of an absolute http(s) URL, else None."""
    lowered = url[:8].lower()
    if lowered.startswith("http://"):
        rest = url[7:]
    elif lowered.startswith("https://"):
        rest = url[8:]
    else:
        return None
    end = len(rest)
    for mark in "/?#":
        found = rest.find(mark)
        if found != -1:
            end = min(end, found)
    authority, after = rest[:end], rest[end:]
    host = authority[authority.rfind("@") + 1:]
    host = host.split(":", 1)[0]
    if host.endswith("."):
        host = host[:-1]
    if not host:
        return None
    after = after.split("#", 1)[0]
    query = after.split("?", 1)[1] if "?" in after else ""
    return host.translate(ASCII_LOWER), query


_suffixes = None


def registrable_domain(host: str) -> str | None:
    global _suffixes
    if _suffixes is None:
        from publicsuffixlist import PublicSuffixList

        _suffixes = PublicSuffixList()
    return _suffixes.privatesuffix(host)


def first_value(query: str, name: str) -> str | None:
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            return value
    return None


def search_referral(referrer: str, page_url: str) -> tuple[str, str] | None:
    url = parse_url(referrer)
    if url is None:
        return None
    host, query = url
    if not any(label in ENGINES for label in host.split(".")):
        return None
    domain = registrable_domain(host)
    if domain is None:
        return None
    parameters = ENGINES.get(domain.split(".")[0])
    if parameters is None:
        return None
    page = parse_url(page_url)
    if page is not None and registrable_domain(page[0]) == domain:
        return None
    for name in parameters:
        value = first_value(query, name)
        if value is not None:
            keyword = normalize_keyword(value)
            if keyword is not None:
                return domain, keyword
    return None


def is_purchase(event_list: str) -> bool:
    return any(event.strip(ASCII_SPACE) == "1" for event in event_list.split(","))


def purchase_revenue(product_list: str) -> tuple[decimal.Decimal, list[str]]:
    total, malformed = decimal.Decimal(0), []
    for product in product_list.split(","):
        fields = product.split(";")
        if len(fields) < 4:
            continue
        amount = fields[3].strip(ASCII_SPACE)
        if not amount:
            continue
        fraction = amount.split(".", 1)[1] if "." in amount else ""
        if PLAIN_DECIMAL.match(amount) and len(fraction) <= MAX_FRACTION_DIGITS:
            total += decimal.Decimal(amount)
        else:
            malformed.append(amount)
    return total, malformed


def header_columns(header: str) -> tuple[int, dict[str, int]]:
    names = [unquote(name.strip(ASCII_SPACE)) for name in header.rstrip("\r\n").split("\t")]
    missing = [name for name in NEEDED if name not in names]
    if missing:
        raise ValueError("the header lacks the column(s) " + ", ".join(missing))
    return len(names), {name: names.index(name) for name in NEEDED}


def parse_hit(line: str, count: int, index: dict[str, int]):
    """(visitor, (time, line_number, referral, revenue)) or a rejection reason."""
    fields = line.rstrip("\n").removesuffix("\r").split("\t")
    if len(fields) < count:
        return "too_few_fields"
    get = lambda name: unquote(fields[index[name]])
    time = get("hit_time_gmt")
    if not INTEGER.match(time) or not -(2**63) <= int(time) < 2**63:
        return "bad_hit_time"
    referral = search_referral(get("referrer"), get("page_url"))
    revenue = None
    if is_purchase(get("event_list")):
        revenue = purchase_revenue(get("product_list"))
    return get("ip") + "\t" + get("user_agent"), (int(time), referral, revenue)


def sessionize(hits: Iterable[tuple[int, int, tuple | None, tuple | None]]) -> Iterator[tuple]:
    """A visitor's hits sorted by (time, line) → (referral or None, revenue) per purchase."""
    last, current = None, None
    for time, _line, referral, revenue in hits:
        if last is not None and time - last > VISIT_GAP_SECONDS:
            current = None
        if referral is not None:
            current = referral
        if revenue is not None:
            yield current, revenue
        last = time


def format_revenue(amount: decimal.Decimal) -> str:
    return str(amount.quantize(decimal.Decimal("0.01"), rounding=decimal.ROUND_HALF_UP))


def render(totals: dict[tuple[str, str], decimal.Decimal]) -> bytes:
    rows = sorted(
        ((domain, keyword, amount) for (domain, keyword), amount in totals.items() if amount > 0),
        key=lambda r: (-r[2], r[0].encode(), r[1].encode()),
    )
    lines = [REPORT_HEADER] + [f"{d}\t{k}\t{format_revenue(a)}\n" for d, k, a in rows]
    return "".join(lines).encode("utf-8")


def add_credits(a: tuple, b: tuple) -> tuple:
    """(revenue, malformed revenue fields, purchases), summed."""
    return a[0] + b[0], a[1] + b[1], a[2] + b[2]


def compute(spark, input_path: str) -> tuple[bytes, dict]:
    """The report's bytes and a summary, from one tab-separated export."""
    if __name__ != "__main__":
        # Imported (by tests or another job): executors need this module to unpickle the rules.
        spark.sparkContext.addPyFile(__file__)
    # Lines end at LF only (a CR before it is stripped), as in the Rust engine.
    lines = spark.read.text(input_path, lineSep="\n").rdd.map(lambda row: row.value).zipWithIndex()
    first = lines.take(1)
    if not first:
        raise ValueError("the input is empty: expected a header line")
    count, index = header_columns(first[0][0])

    parsed = lines.filter(lambda pair: pair[1] > 0).map(
        lambda pair: (pair[1] + 1, parse_hit(pair[0], count, index))
    ).cache()
    kinds = parsed.map(lambda item: item[1] if isinstance(item[1], str) else "hit").countByValue()
    hits = parsed.filter(lambda item: not isinstance(item[1], str)).map(
        lambda item: (item[1][0], (item[1][1][0], item[0], item[1][1][1], item[1][1][2]))
    )
    # One pass over the grouped visits: per referral (or None), revenue, warnings and purchases.
    credited = (
        hits.groupByKey()
        .flatMap(lambda visitor: sessionize(sorted(visitor[1], key=lambda h: (h[0], h[1]))))
        .map(lambda p: (p[0], (p[1][0], len(p[1][1]), 1)))
        .reduceByKey(add_credits)
        .collect()
    )
    parsed.unpersist()

    totals = {referral: credit[0] for referral, credit in credited if referral is not None}
    unattributed = sum((credit[0] for referral, credit in credited if referral is None), decimal.Decimal(0))
    summary = {
        "rows_read": sum(kinds.values()),
        "rejected_too_few_fields": kinds.get("too_few_fields", 0),
        "rejected_bad_hit_time": kinds.get("bad_hit_time", 0),
        "purchases": sum(credit[2] for _, credit in credited),
        "attributed_revenue": format_revenue(sum(totals.values(), decimal.Decimal(0))),
        "unattributed_revenue": format_revenue(unattributed),
        "warnings": sum(credit[1] for _, credit in credited),
    }
    return render(totals), summary


def report_name(date: str) -> str:
    return f"{date}_SearchKeywordPerformance.tab"


def write_local(data: bytes, out_dir: str, date: str) -> str:
    import os

    target = os.path.join(out_dir, report_name(date))
    partial = os.path.join(out_dir, f".{report_name(date)}.partial-{os.getpid()}")
    with open(partial, "wb") as out:
        out.write(data)
    os.replace(partial, target)
    return target


def write_s3(data: bytes, prefix: str, date: str) -> str:
    import boto3

    bucket, _, key_prefix = prefix.removeprefix("s3://").partition("/")
    key = f"{key_prefix.rstrip('/')}/{report_name(date)}".lstrip("/")
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=data, ContentType="text/tab-separated-values")
    return f"s3://{bucket}/{key}"


def local_session():
    import os

    from pyspark.sql import SparkSession

    # Workers run the driver's interpreter, which has the job's dependencies.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master("local[*]")
        .appName("search-keyword-performance")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .getOrCreate()
    )


def run_glue_job(argv: list[str]) -> None:
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    optional = ["date"] if "--date" in argv else []
    args = getResolvedOptions(argv, ["JOB_NAME", "input", "output", *optional])
    glue = GlueContext(SparkContext.getOrCreate())
    job = Job(glue)
    job.init(args["JOB_NAME"], args)
    date = args.get("date") or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    data, summary = compute(glue.spark_session, args["input"])
    print(json.dumps({**summary, "output": write_s3(data, args["output"], date)}))
    job.commit()


def main(argv: list[str]) -> int:
    if "--JOB_NAME" in argv:
        run_glue_job(argv)
        return 0
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--date", default=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"))
    args = parser.parse_args(argv)
    spark = local_session()
    try:
        data, summary = compute(spark, args.input)
    finally:
        spark.stop()
    print(json.dumps({**summary, "output": write_local(data, args.out_dir, args.date)}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
