"""Walks the records and mobile logs flows against the local stack, printing each request as
curl and its answer.

Exits non-zero as soon as a step does not behave as the README documents.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
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


ENDPOINTS = endpoints()
RECORDS_URL = ENDPOINTS["RECORDS_URL"]
LOGS_URL = ENDPOINTS["LOGS_URL"]
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


def post_logs(path: str, body: bytes, app_key: str | None, gzipped: bool = False) -> tuple[int, str]:
    headers = {"Content-Type": "application/octet-stream" if gzipped else "application/json"}
    shown = ["-X POST"]
    if app_key:
        headers["AppKey"] = app_key
        shown.append(f"-H 'AppKey: {app_key[:24]}{'…' if len(app_key) > 24 else ''}'")
    if gzipped:
        headers["Content-Encoding"] = "gzip"
        shown.append("-H 'Content-Encoding: gzip' --data-binary @logs.json.gz")
        data = gzip.compress(body)
    else:
        shown.append(f"-d '{body.decode()[:120]}'")
        data = body
    url = f"{LOGS_URL}/api/v1/logs/{path}"
    print(f"$ curl -s {' '.join(shown)} '{url}'")
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as failure:
        status, text = failure.code, failure.read().decode()
    print(f"  {status} {text if len(text) < 400 else text[:400] + ' …'}")
    return status, text


def signed_jwt(secret: str, exp_offset: int) -> str:
    """An HS256 JWT, signed here with the given secret (the demo shows a bad and an expired one)."""
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"sub": "demo-app", "exp": int(time.time()) + exp_offset}).encode())
    signature = hmac.new(secret.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(signature)}"


def s3_log_lines(bucket: str, marker: str) -> list[tuple[str, str]]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=ENDPOINTS["AWS_ENDPOINT_URL"], region_name=ENDPOINTS["AWS_REGION"],
                      aws_access_key_id="local", aws_secret_access_key="local")
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="logs/"):
        for item in page.get("Contents", []):
            body = gzip.decompress(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()).decode()
            found += [(item["Key"], line) for line in body.splitlines() if marker in line]
    return found


def logs_demo() -> None:
    key = ENDPOINTS["LOGS_APP_KEY"]
    marker = f"demo-{time.time_ns()}"

    step("Mobile logs: one entry with a static AppKey; 200 only after Kafka acknowledged it")
    entry = {"user_id": "user-7", "mobile_number": "9876543210", "desc": f"{marker} opened cart",
             "app_platform": "android", "timestamp": str(int(time.time() * 1000))}
    status, text = post_logs("app", json.dumps(entry).encode(), key)
    expect("200 Logs posted Successfully", status == 200 and json.loads(text) == {"msg": "Logs posted Successfully"})

    step("A gzip batch with one invalid entry: 207, the valid entries are produced")
    batch = [{"device_details": "pixel-8", "desc": f"{marker} viewed product"},
             {"user_id": 42, "desc": f"{marker} never lands"},
             {"user_id": "user-9", "desc": f"{marker} paid"}]
    status, text = post_logs("events", json.dumps(batch).encode(), key, gzipped=True)
    expect("207: 2 accepted, 1 rejected", status == 207 and json.loads(text).get("accepted") == 2)

    step("No AppKey: the 403 body existing apps parse")
    status, text = post_logs("app", b"{}", None)
    expect("403 token_expired", status == 403 and json.loads(text)["errors"]["error_type"] == "token_expired")

    step("A JWT signed with the wrong key, then an expired one")
    status, text = post_logs("app", b"{}", signed_jwt("not-the-secret", 600))
    expect("403 invalid_token", status == 403 and json.loads(text)["errors"]["error_type"] == "invalid_token")
    status, text = post_logs("app", b"{}", signed_jwt(ENDPOINTS["LOGS_JWT_SECRET"], -600))
    expect("403 token_expired", status == 403 and json.loads(text)["errors"]["error_type"] == "token_expired")

    step("An unknown stream")
    status, text = post_logs("nope", b"{}", key)
    expect("404 unknown_stream", status == 404 and json.loads(text).get("error") == "unknown_stream")

    step("The sink writes what Kafka delivered to S3 as gzip NDJSON, mobile number masked")
    deadline = time.time() + 30
    lines: list[tuple[str, str]] = []
    while time.time() < deadline and len(lines) < 3:
        time.sleep(0.5)
        lines = s3_log_lines(ENDPOINTS["LOGS_BUCKET"], marker)
    for object_key, line in lines:
        print(f"  s3://{ENDPOINTS['LOGS_BUCKET']}/{object_key}\n    {line[:160]}{' …' if len(line) > 160 else ''}")
    expect("3 entries in S3, none invalid, the number masked",
           len(lines) == 3 and not any("never lands" in l or "9876543210" in l for _, l in lines))


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

    logs_demo()

    if failures:
        print(f"demo: {failures} step(s) did not behave as documented")
        return 1
    print("demo: every step behaved as documented.")
    print(f"The stack is still up: try curl '{RECORDS_URL}/?limit=5', or post logs to "
          f"'{LOGS_URL}/api/v1/logs/app' with -H 'AppKey: {ENDPOINTS['LOGS_APP_KEY']}'. `make down` stops it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
