"""Walks the records, mobile logs, ad events and hit-level ETL flows against the local stack, printing each
request as curl (or the AWS CLI) and its answer.

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


def admin_call(method: str, path: str, form: list[tuple[str, str]] | None = None) -> tuple[int, dict]:
    """An admin's call on the approvals routes, with the admin key."""
    url = f"{RECORDS_URL}{path}"
    data = urllib.parse.urlencode(form).encode() if form else None
    shown = " ".join(f"-d {k}='{v}'" for k, v in form or [])
    print(f"$ curl -s {'-X POST ' if method == 'POST' else ''}-H 'Authorization: Bearer $RECORDS_ADMIN_KEY' "
          f"{shown + ' ' if shown else ''}'{url}'")
    request = urllib.request.Request(url, method=method, data=data,
                                     headers={"Authorization": f"Bearer {ENDPOINTS['RECORDS_ADMIN_KEY']}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    body = json.loads(raw) if raw else {}
    shown = json.dumps(body)
    print(f"  {status} {shown if len(shown) < 400 else shown[:400] + ' …'}")
    return status, body


def approvals_demo(tag: str) -> None:
    step("A half-valid record (a good name, one of email and pincode wrong) waits for an admin")
    half = [("user_name", f"Meera {tag}"), ("email", "meera@example.com"), ("pincode", "56-001")]
    status, body, _ = call("GET", half)
    expect("202 pending_approval with an approval id", status == 202 and body.get("status") == "pending_approval")
    approval_id = body.get("approval_id", "")
    status, again, _ = call("GET", half)
    expect("sent again: the same approval, not a second one", status == 202 and again == body)

    step("The admin sees it (the admin key is in .local/endpoints.env), with what is wrong")
    for _ in range(100):
        status, shown = urllib_get_quiet(f"/approvals/{approval_id}")
        if status == 200:
            break
        time.sleep(0.2)
    status, shown = admin_call("GET", f"/approvals/{approval_id}")
    approval = shown.get("approval", {})
    expect("pending, the pincode named, nothing stored yet",
           approval.get("status") == "pending" and "pincode" in approval.get("problems", {}))

    step("The admin approves it; the workflow stores the record once")
    # Until the workflow's first step has written the approval (on a cold local stack, watch
    # builds that function first), a decision answers 503 approval_opening with Retry-After.
    for _ in range(300):
        status, decided = admin_call("POST", f"/approvals/{approval_id}",
                                     [("decision", "approve"), ("decided_by", "demo admin"), ("note", "confirmed by phone")])
        if not (status == 503 and decided.get("error") == "approval_opening"):
            break
        time.sleep(1)
    expect("200, approved, who decided is kept", status == 200 and decided["approval"]["status"] == "approved"
           and decided["approval"]["decision"]["decided_by"] == "demo admin")
    outcome = None
    for _ in range(100):
        _, shown = urllib_get_quiet(f"/approvals/{approval_id}")
        outcome = shown.get("approval", {}).get("outcome")
        if outcome:
            break
        time.sleep(0.2)
    expect("the approval's outcome is stored", outcome == "stored")
    status, stored, _ = call("GET", half)
    expect("the submission now answers 200 with the stored record", status == 200 and stored["record"]["id"] == approval_id)
    status, body = admin_call("POST", f"/approvals/{approval_id}", [("decision", "reject"), ("decided_by", "someone else")])
    expect("a second decision is a 409 naming the first", status == 409 and body["decision"]["decision"] == "approve")
    pending, cursor = [], None
    while True:
        status, body = admin_call("GET", "/approvals?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        pending += [a["id"] for a in body.get("approvals", [])]
        cursor = body.get("next")
        if status != 200 or not cursor:
            break
    expect("no page of the pending list holds it any more", status == 200 and approval_id not in pending)

    step("The same in a browser: records as cards, pending approvals with approve/reject buttons")
    page = urllib.request.Request(f"{ENDPOINTS['RECORDS_URL']}/?limit=5", headers={"Accept": "text/html"})
    with urllib.request.urlopen(page, timeout=60) as response:
        html = response.read().decode()
        policy = response.headers.get("Content-Security-Policy", "")
    cards = html.count('class="card"')
    print(f"  {response.status} {response.headers.get('Content-Type')}, {cards} cards")
    expect("an HTML page of cards under a strict Content-Security-Policy",
           cards > 0 and policy.startswith("default-src 'none'"))
    print(f"  records:   {ENDPOINTS['RECORDS_URL']}/?format=html")
    print(f"  approvals: {ENDPOINTS['RECORDS_URL']}/approvals?format=html  (admin key: RECORDS_ADMIN_KEY in .local/endpoints.env)\n")


def urllib_get_quiet(path: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"{RECORDS_URL}{path}",
                                     headers={"Authorization": f"Bearer {ENDPOINTS['RECORDS_ADMIN_KEY']}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


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


def aws(service: str):
    import boto3

    return boto3.client(service, endpoint_url=ENDPOINTS["AWS_ENDPOINT_URL"], region_name=ENDPOINTS["AWS_REGION"],
                        aws_access_key_id="local", aws_secret_access_key="local")


def get_run(path: str) -> tuple[int, dict, dict]:
    url = f"{ENDPOINTS['RUNS_URL']}{path}"
    print(f"$ curl -s '{url}'")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(url, timeout=30) as response:
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, dict(error.headers), error.read()
    body = json.loads(raw) if raw else {}
    shown = json.dumps(body)
    print(f"  {status} {shown if len(shown) < 600 else shown[:600] + ' …'}")
    return status, body, headers


def wait_for_run(run_id: str, statuses: tuple[str, ...], seconds: float = 90) -> dict:
    table = ENDPOINTS["RUNS_TABLE"]
    deadline = time.time() + seconds
    while time.time() < deadline:
        item = aws("dynamodb").get_item(TableName=table, Key={"run_id": {"S": run_id}}, ConsistentRead=True).get("Item")
        if item and item["status"]["S"] in statuses:
            return item
        time.sleep(0.5)
    return {}


def run_id_of(bucket: str, key: str, version: str) -> str:
    digest = hashlib.sha256()
    for part in (bucket, key, version):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:32]


def drop(key: str, body: bytes) -> str:
    bucket = ENDPOINTS["INBOUND_BUCKET"]
    print(f"$ aws s3 cp - 's3://{bucket}/{key}'   # {len(body):,} bytes")
    put = aws("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return run_id_of(bucket, key, put.get("VersionId") or put["ETag"].strip('"'))


def etl_demo() -> None:
    import subprocess
    import tempfile

    tag = time.time_ns()
    with tempfile.TemporaryDirectory() as scratch:
        sample = Path(scratch) / "hits.tsv"
        subprocess.run([str(ROOT / "target/debug/generate-hits"), str(sample), "--size", "2M", "--seed", "7"],
                       check=True, capture_output=True)
        hits = sample.read_bytes()

    step("Hit-level ETL: a file dropped in the inbound bucket becomes a run and a report")
    key = f"incoming/demo {tag}/día 1+2.tsv"
    run = drop(key, hits)
    item = wait_for_run(run, ("succeeded", "failed"))
    expect(f"run {run} succeeded on the Lambda engine", item.get("status", {}).get("S") == "succeeded")
    status, body, _ = get_run(f"/runs/{run}")
    expect("the status API shows it, key decoded, one attempt",
           status == 200 and body.get("input", {}).get("key") == key and body.get("attempts") == 1)
    status, body, headers = get_run(f"/runs/{run}/report")
    report = b""
    if status == 302:
        with urllib.request.urlopen(body["url"], timeout=30) as response:
            report = response.read()
    rows = report.decode().splitlines()
    for row in rows[:6]:
        print(f"    {row}")
    expect(f"302 to a presigned URL valid 1 h; the report has {len(rows) - 1} rows",
           status == 302 and rows[:1] == ["Search Engine Domain\tSearch Keyword\tRevenue"] and len(rows) > 3)

    step("The same S3 event delivered twice more (S3 delivers at least once): still one run")
    event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": ENDPOINTS["INBOUND_BUCKET"]},
        "object": {"key": urllib.parse.quote_plus(key), "size": len(hits), "eTag": item["etag"]["S"]}}}]}
    function = f"{ENDPOINTS['STACK_NAME']}-etl-trigger"
    for _ in range(2):
        print(f"$ aws lambda invoke --function-name {function} --payload '<the same event>' -")
        answer = json.loads(aws("lambda").invoke(FunctionName=function, Payload=json.dumps(event))["Payload"].read())
        print(f"  {json.dumps(answer)}")
    executions = [e for e in aws("stepfunctions").list_executions(
        stateMachineArn=ENDPOINTS["ETL_STATE_MACHINE_ARN"])["executions"] if e["name"] == run]
    status, body, _ = get_run(f"/runs/{run}")
    expect("one execution, one attempt", len(executions) == 1 and body.get("attempts") == 1)

    step("A broken file on the Glue path: the real Glue script refuses it, one retry, one alert")
    broken = drop(f"incoming/glue/broken {tag}.tsv", b"hit_time_gmt\tip\n1\t10.0.0.1\n")
    item = wait_for_run(broken, ("failed", "succeeded"), seconds=180)
    expect("failed after 2 attempts", item.get("status", {}).get("S") == "failed" and item["attempts"]["N"] == "2")
    alerts, deadline = [], time.time() + 30
    queue = ENDPOINTS["ALERTS_QUEUE_URL"]
    while time.time() < deadline and not alerts:
        for message in aws("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            envelope = json.loads(message["Body"])
            if broken in envelope.get("Message", ""):
                alerts.append(envelope)
            aws("sqs").delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        time.sleep(0.5)
    time.sleep(3)
    for message in aws("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        if broken in json.loads(message["Body"]).get("Message", ""):
            alerts.append(json.loads(message["Body"]))
    for alert in alerts[:1]:
        print(f"  Subject: {alert['Subject']}")
        for line in alert["Message"].splitlines():
            print(f"    {line}")
    expect("exactly one alert reached on-call (the alerts topic, read back from its SQS subscription)",
           len(alerts) == 1)

    step("Where runs stand: newest first, by status")
    status, body, _ = get_run("/runs?limit=3")
    expect("200, a page of 3 with a cursor", status == 200 and len(body.get("runs", [])) <= 3)
    status, body, _ = get_run("/runs/0123456789abcdef0123456789abcdef")
    expect("404 unknown_run", status == 404 and body.get("error") == "unknown_run")


def http_json(method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as failure:
        return failure.code, json.loads(failure.read() or b"{}")


def show(status: int, body: dict) -> None:
    shown = json.dumps(body)
    print(f"  {status} {shown if len(shown) < 400 else shown[:400] + ' …'}")


def ad_events_demo() -> None:
    network, key = ENDPOINTS["AD_NETWORK"], ENDPOINTS["AD_NETWORK_KEY"]
    callbacks = ENDPOINTS["AD_CALLBACKS_URL"]
    app = f"com.example.demo{int(time.time())}"
    moment = time.gmtime()
    today = time.strftime("%Y-%m-%d", moment)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", moment)

    step("Ad networks call GET callback URLs (key in the URL); the bridge answers once Kafka has the event")
    sent = 0
    for n, (kind, extra) in enumerate([
        ("install", {"version": "1", "campaign": "winter sale", "country": "DE"}),
        ("install", {"version": "2", "campaign": "winter sale", "ad_set": "set-7"}),
        ("reattribution", {"version": "1", "days_inactive": "30"}),
    ]):
        query = urllib.parse.urlencode({"key": key, "event_id": f"{app}-{n}", "app_id": app,
                                        "occurred_at": now, "device_id": f"DEV-{n}", **extra})
        url = f"{callbacks}/{network}/{kind}?{query}"
        print(f"$ curl -s '{url.replace(key, '$AD_NETWORK_KEY')}'")
        status, body = http_json("GET", url)
        show(status, body)
        sent += status == 200
    expect("200 accepted for each, v1 and v2 installs alike", sent == 3)

    step("Some POST gzip JSON with the key in a header")
    event = {"version": "1", "event_id": f"{app}-3", "app_id": app, "occurred_at": now, "device_id": "DEV-3",
             "event_name": "purchase", "revenue": "4.99", "currency": "EUR"}
    print(f"$ echo '{json.dumps(event)}' | gzip | curl -s -X POST -H 'Content-Type: application/json' "
          f"-H 'Content-Encoding: gzip' -H 'X-Network-Key: $AD_NETWORK_KEY' --data-binary @- '{callbacks}/{network}/event'")
    status, body = http_json("POST", f"{callbacks}/{network}/event", gzip.compress(json.dumps(event).encode()),
                             {"Content-Type": "application/json", "Content-Encoding": "gzip", "X-Network-Key": key})
    show(status, body)
    expect("200 accepted", status == 200)

    step("A callback that breaks its schema, or names an unknown version, is refused at the edge")
    for extra, error in [({"version": "1", "country": "Germany"}, "invalid_callback"), ({"version": "7"}, "unknown_version")]:
        query = urllib.parse.urlencode({"key": key, "event_id": f"{app}-bad", "app_id": app, "occurred_at": now,
                                        "device_id": "DEV-9", **extra})
        print(f"$ curl -s '{callbacks}/{network}/install?{query.replace(key, '$AD_NETWORK_KEY')}'")
        status, body = http_json("GET", f"{callbacks}/{network}/install?{query}")
        show(status, body)
        expect(f"400 {error}", status == 400 and body.get("error") == error)

    step("events-sink stores them in batches, per app and day; an export of the period is asked for")
    dynamodb = aws("dynamodb")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        stored = dynamodb.query(TableName=ENDPOINTS["AD_EVENTS_TABLE"], KeyConditionExpression="pk = :pk",
                                ExpressionAttributeValues={":pk": {"S": f"{app}#{today}"}}, Select="COUNT")["Count"]
        if stored >= 4:
            break
        time.sleep(0.5)
    expect(f"the 4 accepted callbacks stored once each ({stored})", stored == 4)
    email = "ops@example.com"
    ask = {"app_id": app, "from": today, "to": today, "email": email}
    print(f"$ curl -s -X POST -H 'Content-Type: application/json' -d '{json.dumps(ask)}' '{ENDPOINTS['EXPORTS_URL']}/exports'")
    status, queued = http_json("POST", f"{ENDPOINTS['EXPORTS_URL']}/exports", json.dumps(ask).encode(),
                               {"Content-Type": "application/json"})
    show(status, queued)
    expect("202 queued", status == 202 and queued.get("status") == "queued")
    export_id = queued.get("export_id", "")
    deadline = time.monotonic() + 120
    while True:
        status, report = http_json("GET", f"{ENDPOINTS['EXPORTS_URL']}/exports/{export_id}")
        if report.get("status") in ("ready", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    print(f"$ curl -s '{ENDPOINTS['EXPORTS_URL']}/exports/{export_id}'")
    show(status, report)
    expect("ready, 4 rows, with a presigned URL", report.get("status") == "ready" and report.get("rows") == 4)

    step("The mail the requester got (the local SES keeps it in .local/mail/), and the CSV behind its URL")
    mail = None
    for path in sorted(Path(ENDPOINTS["EXPORTS_MAIL_DIR"]).glob("*.json"), reverse=True):
        candidate = json.loads(path.read_text())
        if export_id in candidate["body"]:
            mail = candidate
            break
    if mail:
        print(f"  From: {mail['source']}\n  To: {', '.join(mail['destinations']['ToAddresses'])}\n  Subject: {mail['subject']}")
        for line in mail["body"].splitlines():
            print(f"    {line}")
        url = next(line for line in mail["body"].splitlines() if line.startswith("http"))
        with urllib.request.urlopen(url, timeout=30) as response:
            csv = response.read().decode()
        print(f"$ curl -s '<the URL in the mail>'")
        for line in csv.splitlines():
            print(f"    {line[:160]}")
        expect("the mailed URL downloads the CSV: a header and 4 rows", len(csv.splitlines()) == 5)
    else:
        expect("a mail for the export", False)


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
        ([("user_name", "Ravi"), ("email", "ravi.k@example.org"), ("pincode", "12")], ["email", "pincode"]),
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

    approvals_demo(tag)
    logs_demo()
    ad_events_demo()
    etl_demo()

    if failures:
        print(f"demo: {failures} step(s) did not behave as documented")
        return 1
    print("demo: every step behaved as documented.")
    print(f"The stack is still up: try curl '{RECORDS_URL}/?limit=5', list pending approvals with "
          f"curl -H 'Authorization: Bearer {ENDPOINTS['RECORDS_ADMIN_KEY']}' '{RECORDS_URL}/approvals', post logs to "
          f"'{LOGS_URL}/api/v1/logs/app' with -H 'AppKey: {ENDPOINTS['LOGS_APP_KEY']}', send ad callbacks to "
          f"'{ENDPOINTS['AD_CALLBACKS_URL']}/{ENDPOINTS['AD_NETWORK']}/install?key=$AD_NETWORK_KEY&...' and export "
          f"them at '{ENDPOINTS['EXPORTS_URL']}/exports' (in a browser: '{ENDPOINTS['EXPORTS_URL']}/'), drop a file in "
          f"s3://{ENDPOINTS['INBOUND_BUCKET']}/incoming/ and follow it at '{ENDPOINTS['RUNS_URL']}/runs'. "
          "`make down` stops it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
