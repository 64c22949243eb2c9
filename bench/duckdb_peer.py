"""Search keyword performance in DuckDB: the engine's rules as the SQL a data engineer would write
for one machine, the yardstick the engine's speed is measured against (`bench/etl.py`) and a third
implementation in the Glue suite's byte-for-byte comparison.

The rows never pass through Python. DuckDB reads the lines in parallel, splits the fields, orders
each visitor's hits with window functions, finds visits and last touch, and sums exact decimals.
Python runs only once per distinct search-engine referrer (registrable domain and keyword, with
the Glue job's functions: the Public Suffix List and the keyword decoding) and once per distinct
page URL of those hits (its registrable domain); the results go back to DuckDB as column lists.

What the peer assumes that the engine does not: valid UTF-8 (DuckDB's reader refuses anything
else); carriage returns only before line feeds (DuckDB's reader also ends lines at a lone CR);
no line holding the two characters `\0` (its reader's delimiter: such a file is refused); lines
within DuckDB's default maximum line size (2 MB); and revenue fields with at most 20 integer
digits (`DECIMAL(38, 18)`). The engine's generator writes
such files. Rejected-row counts are not reported.

    python duckdb_peer.py INPUT --out-dir DIR [--date YYYY-MM-DD] [--threads N]
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "infra" / "glue"))

import duckdb  # noqa: E402

import search_keyword_performance as rules  # noqa: E402

ENGINE_LABELS = "|".join(rules.ENGINES)


def page_domain(page_url: str | None) -> str | None:
    url = rules.parse_url(page_url) if page_url else None
    return None if url is None else rules.registrable_domain(url[0])


def holds(path: str, text: bytes) -> bool:
    """Whether the file holds `text`, read in chunks that overlap by all but one of its bytes."""
    with open(path, "rb") as data:
        tail = b""
        while chunk := data.read(1 << 24):
            if text in tail + chunk[: len(text) - 1] or text in chunk:
                return True
            tail = chunk[-(len(text) - 1):]
    return False


def table(con, name: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """A table of values computed in Python, handed over as one list per column."""
    lists = [list(values) for values in zip(*rows)] if rows else [[] for _ in columns]
    selected = ", ".join(f"unnest(${i + 1}::VARCHAR[]) AS {column}" for i, column in enumerate(columns))
    con.execute(f"CREATE TEMP TABLE {name} AS SELECT {selected}", lists)


def unquoted(field: str) -> str:
    return f"CASE WHEN length({field}) >= 2 AND {field}[1] = '\"' AND {field}[-1] = '\"' THEN {field}[2:-2] ELSE {field} END"


def compute(input_path: str, threads: int | None = None) -> tuple[bytes, dict]:
    with open(input_path, "rb") as data:
        header = data.readline().decode("utf-8")
    count, index = rules.header_columns(header)
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    field = {name: unquoted(f"f[{position + 1}]") for name, position in index.items()}
    path = str(input_path).replace("'", "''")

    # One column per line. The reader's delimiter is the two characters `\0`: a file holding
    # them is refused rather than read with lines cut short. The lines are read and split in
    # parallel; a table keeps its rows in insertion order, so a row's `rowid` is its order in the
    # file (`row_number() OVER ()` would number them on one thread).
    if holds(input_path, b"\\0"):
        raise ValueError("a line holds the characters \\0, which the peer's reader splits lines at")
    con.execute("SET preserve_insertion_order = true")
    con.execute(f"""
        CREATE TEMP TABLE lines AS
        SELECT string_split(line, chr(9)) AS f
        FROM read_csv('{path}', columns = {{'line': 'VARCHAR'}}, header = false, skip = 1,
                      delim = '\\0', quote = '', escape = '', new_line = '\\n',
                      auto_detect = false, strict_mode = false)
        WHERE line IS NOT NULL
    """)
    con.execute(f"""
        CREATE TEMP TABLE hits AS
        WITH fields AS (
            SELECT rowid AS line, {field['hit_time_gmt']} AS t, {field['ip']} || chr(9) || {field['user_agent']} AS visitor,
                   {field['event_list']} AS events, {field['page_url']} AS page,
                   {field['product_list']} AS products, {field['referrer']} AS referrer
            FROM lines WHERE len(f) >= {count}
        )
        SELECT line, CAST(t AS BIGINT) AS time, visitor, events, page, products, referrer
        FROM fields WHERE regexp_full_match(t, '[+-]?[0-9]+') AND TRY_CAST(t AS BIGINT) IS NOT NULL
    """)
    con.execute("DROP TABLE lines")
    # Search referrals, decoded once per distinct referrer that could be one, then dropped where
    # the page is on the same registrable domain (looked up once per distinct page).
    candidates = con.execute(f"""
        SELECT DISTINCT referrer FROM hits
        WHERE regexp_matches(lower(referrer), '^https?://[^/?#]*({ENGINE_LABELS})')
    """).fetchall()
    found = [(referrer, *hit) for (referrer,) in candidates
             if (hit := rules.search_referral(referrer, "")) is not None]
    table(con, "referrers", ("referrer", "domain", "keyword"), found)
    pages = con.execute("SELECT DISTINCT page FROM hits JOIN referrers USING (referrer)").fetchall()
    table(con, "pages", ("page", "domain"), [(page, page_domain(page)) for (page,) in pages])
    con.execute("""
        CREATE TEMP TABLE keywords AS
        SELECT row_number() OVER () AS id, domain, keyword FROM (SELECT DISTINCT domain, keyword FROM referrers)
    """)
    # A purchase's revenue: the products' Total Revenue fields that are plain decimals.
    con.execute("""
        CREATE TEMP TABLE purchases AS
        WITH purchase_hits AS (
            SELECT line, products FROM hits
            WHERE list_contains(list_transform(string_split(events, ','), lambda e: trim(e, ' ' || chr(13) || chr(12))), '1')
        ), amounts AS (
            SELECT line, trim(string_split(product, ';')[4], ' ' || chr(13) || chr(12)) AS amount,
                   len(string_split(product, ';')) >= 4 AS has_total
            FROM (SELECT line, unnest(string_split(products, ',')) AS product FROM purchase_hits)
        ), plain AS (
            SELECT line, amount,
                   regexp_full_match(amount, '[+-]?([0-9]+(\\.[0-9]{1,18})?|\\.[0-9]{1,18})') AS ok
            FROM amounts WHERE has_total AND amount <> ''
        )
        SELECT p.line,
               coalesce(sum(CASE WHEN ok THEN CAST(amount AS DECIMAL(38, 18)) END), 0) AS revenue,
               count(*) FILTER (WHERE NOT ok) AS malformed
        FROM purchase_hits p LEFT JOIN plain USING (line) GROUP BY p.line
    """)
    con.execute("""
        CREATE TEMP TABLE credited AS
        WITH touches AS (
            SELECT h.line, h.time, h.visitor, k.id AS referral
            FROM hits h
            LEFT JOIN referrers r USING (referrer)
            LEFT JOIN pages p USING (page)
            LEFT JOIN keywords k ON k.domain = r.domain AND k.keyword = r.keyword
                AND (p.domain IS NULL OR p.domain <> r.domain)
        ), visits AS (
            SELECT *, sum(CASE WHEN CAST(time AS HUGEINT) - previous > 1800 THEN 1 ELSE 0 END)
                          OVER (PARTITION BY visitor ORDER BY time, line ROWS UNBOUNDED PRECEDING) AS visit
            FROM (SELECT *, lag(time) OVER (PARTITION BY visitor ORDER BY time, line) AS previous FROM touches)
        ), last_touch AS (
            SELECT line, last_value(referral IGNORE NULLS)
                       OVER (PARTITION BY visitor, visit ORDER BY time, line ROWS UNBOUNDED PRECEDING) AS referral
            FROM visits
        )
        SELECT l.referral, p.revenue, p.malformed FROM purchases p JOIN last_touch l USING (line)
    """)
    rows = con.execute("""
        SELECT k.domain, k.keyword, CAST(round(sum(c.revenue), 2) AS DECIMAL(38, 2))::VARCHAR
        FROM credited c JOIN keywords k ON k.id = c.referral
        GROUP BY k.domain, k.keyword HAVING sum(c.revenue) > 0
        ORDER BY sum(c.revenue) DESC, k.domain, k.keyword
    """).fetchall()
    purchases, attributed, unattributed, warnings = con.execute("""
        SELECT count(*), coalesce(sum(revenue) FILTER (WHERE referral IS NOT NULL), 0),
               coalesce(sum(revenue) FILTER (WHERE referral IS NULL), 0), coalesce(sum(malformed), 0)
        FROM credited
    """).fetchone()
    rows_read = con.execute("SELECT count(*) FROM hits").fetchone()[0]
    con.close()

    report = rules.REPORT_HEADER + "".join(f"{domain}\t{keyword}\t{revenue}\n" for domain, keyword, revenue in rows)
    summary = {
        "hits": rows_read,
        "purchases": purchases,
        "attributed_revenue": rules.format_revenue(attributed),
        "unattributed_revenue": rules.format_revenue(unattributed),
        "warnings": int(warnings),
    }
    return report.encode("utf-8"), summary


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--date", default=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"))
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    data, summary = compute(args.input, args.threads)
    target = Path(args.out_dir) / rules.report_name(args.date)
    target.write_bytes(data)
    print(json.dumps({**summary, "output": str(target)}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
