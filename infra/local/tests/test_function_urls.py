"""The local function URL front end: what a function receives for what a client sends, and what the
client gets back for what the function returns. The function here records its event; the
front end under test is the real one, over HTTP."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import function_urls  # noqa: E402


class Function:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []
        self.result: tuple[str, bool] = (json.dumps({"statusCode": 204}), False)

    def __call__(self, binary: str, event: dict) -> tuple[str, bool]:
        self.events.append((binary, event))
        return self.result


@pytest.fixture
def front():
    function = Function()
    server = function_urls.serve(0, function)
    yield function, server.server_address[1]
    server.shutdown()
    server.server_close()


def send(port: int, method: str, target: str, body: bytes = b"", headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, target, body=body, headers=headers or {})
    response = connection.getresponse()
    answer = (response.status, response.getheaders(), response.read())
    connection.close()
    return answer


def test_a_gzip_body_labelled_json_reaches_the_function_intact(front):
    function, port = front
    body = gzip.compress(json.dumps({"source": "app", "desc": "ünïcode"}).encode())
    status, _, _ = send(port, "POST", "/lambda-url/logs-bridge/api/v1/logs/app", body,
                        {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert status == 204
    binary, event = function.events[-1]
    assert binary == "logs-bridge"
    assert event["rawPath"] == "/api/v1/logs/app"
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_plain_json_is_text_and_non_utf8_json_is_base64(front):
    function, port = front
    send(port, "POST", "/lambda-url/f/", b'{"a":"\xc3\xa9"}', {"Content-Type": "application/json; charset=utf-8"})
    assert function.events[-1][1]["isBase64Encoded"] is False
    assert function.events[-1][1]["body"] == '{"a":"é"}'
    send(port, "POST", "/lambda-url/f/", b'{"a":"\xff"}', {"Content-Type": "application/json"})
    assert function.events[-1][1]["isBase64Encoded"] is True
    assert base64.b64decode(function.events[-1][1]["body"]) == b'{"a":"\xff"}'
    send(port, "POST", "/lambda-url/f/", b"\x00\x01", {"Content-Type": "application/octet-stream"})
    assert function.events[-1][1]["isBase64Encoded"] is True


def test_the_event_has_the_shape_aws_documents(front):
    function, port = front
    send(port, "GET", "/lambda-url/records-api/?limit=5&a=1&a=2&x=%41%20b", headers={
        "User-Agent": "phone/1.0", "Cookie": "one=1; two=2", "X-Multi": "p",
    })
    _, event = function.events[-1]
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/"
    assert event["rawQueryString"] == "limit=5&a=1&a=2&x=%41%20b"
    assert event["queryStringParameters"] == {"limit": "5", "a": "1,2", "x": "A b"}
    assert event["cookies"] == ["one=1", "two=2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["user-agent"] == "phone/1.0"
    assert event["headers"]["x-multi"] == "p"
    context = event["requestContext"]
    assert context["http"] == {"method": "GET", "path": "/", "protocol": "HTTP/1.1",
                               "sourceIp": "127.0.0.1", "userAgent": "phone/1.0"}
    assert context["accountId"] == function_urls.ACCOUNT_ID
    assert context["requestId"]
    assert isinstance(context["timeEpoch"], int)
    assert "body" not in event and event["isBase64Encoded"] is False


def test_any_method_reaches_the_function(front):
    function, port = front
    for method in ("DELETE", "PATCH", "OPTIONS", "PROPFIND"):
        send(port, method, "/lambda-url/f/x")
        assert function.events[-1][1]["requestContext"]["http"]["method"] == method


def test_responses_map_back_with_cookies_and_binary_bodies(front):
    function, port = front
    function.result = (json.dumps({
        "statusCode": 207,
        "headers": {"content-type": "application/json", "retry-after": "1"},
        "cookies": ["a=1; Path=/", "b=2"],
        "body": base64.b64encode(b"\x00bytes").decode(),
        "isBase64Encoded": True,
    }), False)
    status, headers, body = send(port, "GET", "/lambda-url/f/")
    assert status == 207
    assert body == b"\x00bytes"
    assert ("retry-after", "1") in [(k.lower(), v) for k, v in headers]
    assert [v for k, v in headers if k.lower() == "set-cookie"] == ["a=1; Path=/", "b=2"]


def test_a_result_without_status_is_200_json_and_an_error_is_502(front):
    function, port = front
    function.result = ('{"answer": 42}', False)
    assert send(port, "GET", "/lambda-url/f/")[::2] == (200, b'{"answer": 42}')
    function.result = ('{"errorType": "Boom", "errorMessage": "no"}', True)
    status, _, body = send(port, "GET", "/lambda-url/f/")
    assert status == 502
    assert json.loads(body) == {"Message": "Internal Server Error"}


def test_a_body_over_the_invocation_limit_is_413_and_never_invoked(front):
    function, port = front
    status, _, _ = send(port, "POST", "/lambda-url/f/", b" " * (function_urls.MAX_REQUEST_BYTES + 1),
                        {"Content-Type": "application/json"})
    assert status == 413
    assert function.events == []


def test_chunked_bodies_are_read_whole(front):
    function, port = front
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("POST", "/lambda-url/f/", body=iter([b'{"a":', b'"b"}']),
                       headers={"Content-Type": "application/json"}, encode_chunked=True)
    assert connection.getresponse().status == 204
    connection.close()
    assert function.events[-1][1]["body"] == '{"a":"b"}'


def test_a_control_character_in_a_header_is_refused_before_the_function(front):
    function, port = front
    request = (b"POST /lambda-url/f/ HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\x7fb\r\n"
               b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400")
    assert answer.endswith(b'{"Message":"Bad Request"}')
    assert function.events == []
