"""Walks the records flow against the local stack, printing each request as curl and its answer.

Exits non-zero as soon as a step does not behave as the README documents.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def endpoints() -> dict[str, str]:
    lines = (ROOT / ".local" / "endpoints.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


RECORDS_URL = endpoints()["RECORDS_URL"]
failures = 0


def call(method: str, params: list[tuple[str, str]]) -> tuple[int, dict, dict]:
    query = urllib.parse.urlencode(params)
    url = f"{RECORDS_URL}/" + (f"?{query}" if query else "")
    flag = "" if method == "GET" else f"-X {method} "
    print(f"$ curl -s {flag}'{url}'")
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, dict(error.headers), error.read()
    body = json.loads(raw) if raw else {}
    shown = json.dumps(body)
    print(f"  {status} {shown if len(shown) < 400 else shown[:400] + ' …'}")
    return status, body, headers


def expect(what: str, ok: bool) -> None:
    global failures
    print(f"  {'ok' if ok else 'UNEXPECTED'}: {what}\n")
    if not ok:
        failures += 1


def step(title: str) -> None:
    print(f"== {title}")


def main() -> int:
    tag = str(int(time.time()))
    person = [("user_name", f"Asha Rao {tag}"), ("email", "asha@example.com"), ("pincode", "560001")]

    step("A valid record is validated by the state machine and stored")
    status, first, _ = call("GET", person)
    expect("200 with the stored record", status == 200 and first["record"]["email"] == "asha@example.com")

    step("The same record again (a client retry) returns the original; nothing new is stored")
    status, again, _ = call("POST", person)
    expect("200 with the same id and created_at", status == 200 and again == first)

    step("Invalid fields: a 400 naming every failing field, nothing stored")
    for params, failing in [
        ([("user_name", "   "), ("email", "ravi@example.com"), ("pincode", "1234")], ["user_name"]),
        ([("user_name", "Ravi"), ("email", "ravi.k@example.com"), ("pincode", "1234")], ["email"]),
        ([("user_name", "Ravi"), ("email", "ravi@example.com"), ("pincode", "12")], ["pincode"]),
        ([("user_name", ""), ("email", "9ravi@example.org"), ("pincode", "1234567")], ["email", "pincode", "user_name"]),
    ]:
        status, body, _ = call("GET", params)
        expect(f"400 validation_failed naming {failing}",
               status == 400 and body.get("error") == "validation_failed" and sorted(body["fields"]) == failing)

    step("Missing, repeated and unknown parameters: a 400 naming each")
    status, body, _ = call("PUT", [("user_name", "Ravi"), ("user_name", "Ravi"), ("email", "ravi@example.com"), ("debug", "1")])
    expect("400 invalid_parameters for user_name, pincode, debug",
           status == 400 and sorted(body.get("parameters", {})) == ["debug", "pincode", "user_name"])

    step("Listing, three records a page, following `next` until it is null")
    mine = set()
    for i in range(7):
        status, body, _ = call("PUT", [("user_name", f"Pager {tag} {i}"), ("email", f"pager{i}@example.com"), ("pincode", "4000")])
        expect("stored", status == 200)
        mine.add(body["record"]["id"])
    seen, cursor, pages = [], None, 0
    while True:
        status, body, _ = call("GET", [("limit", "3")] + ([("cursor", cursor)] if cursor else []))
        pages += 1
        seen += [r["id"] for r in body.get("records", [])]
        expect("a page of at most 3", status == 200 and len(body["records"]) <= 3)
        cursor = body.get("next")
        if cursor is None:
            break
    expect(f"{pages} pages; each of the 7 new records exactly once",
           all(seen.count(i) == 1 for i in mine) and len(seen) == len(set(seen)))

    step("A tampered cursor is refused")
    status, body, _ = call("GET", [("cursor", "bm90LWEtY3Vyc29y")])
    expect("400 invalid_cursor", status == 400 and body.get("error") == "invalid_cursor")

    step("Other methods are refused")
    status, body, headers = call("DELETE", [])
    expect("405 with Allow: GET, POST, PUT",
           status == 405 and {k.lower(): v for k, v in headers.items()}.get("allow") == "GET, POST, PUT")

    if failures:
        print(f"demo: {failures} step(s) did not behave as documented")
        return 1
    print("demo: every step behaved as documented.")
    print(f"The stack is still up: try curl '{RECORDS_URL}/?limit=5'. `make down` stops it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
