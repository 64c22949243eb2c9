"""The local front end of Lambda function URLs (and of the HTTP API route in front of the bridge).

`cargo lambda watch` has an HTTP front end of its own, but it refuses a request before the
function runs when a body labelled text or JSON is not UTF-8 — which is every gzip body a mobile
app sends with `Content-Type: application/json` and `Content-Encoding: gzip`. AWS passes such a
request to the function. This front end builds the event the way AWS documents it (payload
format 2.0) and runs the function through watch's Invoke API:

- header names lowercased, repeated headers joined with commas, `Cookie` moved to `cookies`;
- `rawPath` and `rawQueryString` as sent, `queryStringParameters` decoded, repeats joined;
- `requestContext` with the account, the URL id, the method, the client's address and user
  agent, a request id, the time in both forms;
- a binary body base64-encoded with `isBase64Encoded: true`. AWS documents that a binary body
  arrives base64-encoded; here a body counts as text only when its content type is textual
  (`text/*`, JSON, XML, JavaScript), it declares no `Content-Encoding`, and it is UTF-8.
  Either way the function receives the bytes that were sent.

Responses map back as AWS documents: `statusCode`, `headers`, `cookies` as `Set-Cookie`, a
base64 body decoded; a result without `statusCode` is a 200 JSON body; a function error is a 502.
Bodies over the invocation payload limit (6 MB) are a 413 before the function runs, and a
header value with a control character (which HTTP does not allow in a field value, and which the
Lambda runtime cannot even deserialize) is a 400 before the function runs, as at AWS's edge.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

ACCOUNT_ID = "123456789012"
MAX_REQUEST_BYTES = 6 * 1024 * 1024
PREFIX = "/lambda-url/"
TEXT_TYPES = ("application/json", "application/xml", "application/javascript")

# (binary name, event) -> (payload, errored)
Invoke = Callable[[str, dict], "tuple[str, bool]"]


def is_text(content_type: str | None, content_encoding: str | None, body: bytes) -> bool:
    if content_encoding and content_encoding.strip().lower() not in ("", "identity"):
        return False
    media = (content_type or "").split(";", 1)[0].strip().lower()
    textual = (
        media == ""
        or media.startswith("text/")
        or media in TEXT_TYPES
        or media.endswith("+json")
        or media.endswith("+xml")
    )
    if not textual:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def request_event(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    client_ip: str,
) -> tuple[str, dict]:
    """Splits `/lambda-url/<binary>/<path>?<query>` and builds the event; returns (binary, event)."""
    raw_path, _, raw_query = target.partition("?")
    binary, _, rest = raw_path[len(PREFIX):].partition("/")
    path = "/" + rest
    # The URL's id, which AWS derives from the function: here from the binary's name.
    url_id = "".join(c for c in binary.lower() if c.isalnum())[:32] or "default"
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        name = name.lower()
        if name == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    query: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = time.time()
    text = is_text(joined.get("content-type"), joined.get("content-encoding"), body)
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": joined,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": url_id,
            "domainName": f"{url_id}.lambda-url.local",
            "domainPrefix": url_id,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": client_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": bool(body) and not text,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = body.decode("utf-8") if text else base64.b64encode(body).decode("ascii")
    return binary, event


def http_response(payload: str, errored: bool) -> tuple[int, list[tuple[str, str]], bytes]:
    """The HTTP answer for a function's result: (status, headers, body)."""
    if errored:
        return 502, [("Content-Type", "application/json")], b'{"Message":"Internal Server Error"}'
    try:
        result = json.loads(payload) if payload else None
    except json.JSONDecodeError:
        return 502, [("Content-Type", "application/json")], b'{"Message":"Internal Server Error"}'
    if not isinstance(result, dict) or "statusCode" not in result:
        return 200, [("Content-Type", "application/json")], payload.encode()
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(v)) for v in values)
    headers.extend(("Set-Cookie", str(c)) for c in result.get("cookies") or [])
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), headers, raw


class FunctionUrlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    invoke: Invoke

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def __getattr__(self, name: str):
        # Every method reaches the function, as on AWS; the function decides what it allows.
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)

    def read_body(self) -> bytes | None:
        """The body, or None when it is over the limit (the connection is then closed)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_REQUEST_BYTES:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            # Read what was sent (up to a bound) so the client sees the answer, not a reset.
            left = min(length, 4 * MAX_REQUEST_BYTES)
            while left > 0:
                read = len(self.rfile.read(min(left, 1 << 16)))
                if read == 0:
                    break
                left -= read
            return None
        return self.rfile.read(length) if length else b""

    def answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self) -> None:
        if not self.path.startswith(PREFIX):
            self.answer(404, [("Content-Type", "application/json")], b'{"Message":"Not Found"}')
            return
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            self.answer(400, [("Content-Type", "application/json")], b'{"Message":"Bad Request"}')
            return
        if any(bad_field_value(value) for _, value in self.headers.items()):
            self.answer(400, [("Content-Type", "application/json")], b'{"Message":"Bad Request"}')
            return
        if body is None:
            self.close_connection = True
            self.answer(
                413,
                [("Content-Type", "application/json")],
                b'{"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}',
            )
            return
        binary, event = request_event(
            self.command, self.path, list(self.headers.items()), body,
            self.client_address[0],
        )
        payload, errored = type(self).invoke(binary, event)
        self.answer(*http_response(payload, errored))


def bad_field_value(value: str) -> bool:
    """A control character other than tab: not allowed in an HTTP field value (RFC 9110)."""
    return any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value)


def serve(port: int, invoke: Invoke) -> ThreadingHTTPServer:
    """Starts the front end on 127.0.0.1:`port` in a daemon thread."""
    handler = type("Handler", (FunctionUrlHandler,), {"invoke": staticmethod(invoke)})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="function-urls", daemon=True).start()
    return server
