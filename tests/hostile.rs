//! The bad-input corpus: hundreds of malformed or hostile requests, sent as raw HTTP to every
//! endpoint of the local stack (the records URL, the logs bridge, the runs API). Every one must
//! be refused with the documented 4xx and stable JSON body, none may be a 5xx, nothing may be
//! written (the records and runs tables and the log topics keep their counts), and the
//! service answers normally afterwards.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::Select;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[path = "support/local.rs"]
mod local;

/// Who answers a refusal, and so which body it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// `{"error": <code>, "message": …}`: the functions' one error helper.
    Error(&'static str),
    /// `{"errors": {"error_type": …, "error_description": …}}`: the bridge's auth contract.
    Auth(&'static str),
    /// `{"Message": …}`: refused by the front end before any function runs (a header HTTP does
    /// not allow), as AWS's edge answers.
    FrontEnd,
    /// `{"status": "pending_approval", "approval_id": …}`: half valid, kept for an admin, not
    /// stored.
    Pending,
}

struct Case {
    name: String,
    request: Vec<u8>,
    status: u16,
    body: Body,
}

/// One endpoint: where it listens and its path prefix on the front end.
#[derive(Clone)]
struct Endpoint {
    address: String,
    base: String,
}

impl Endpoint {
    fn parse(url: &str) -> Endpoint {
        let rest = url.strip_prefix("http://").expect("a local http URL");
        let (address, base) = rest.split_once('/').unwrap_or((rest, ""));
        Endpoint {
            address: address.to_owned(),
            base: format!("/{}", base.trim_end_matches('/')),
        }
    }

    /// A raw HTTP/1.1 request; `target` starts with `/` and follows the endpoint's prefix.
    fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Vec<u8> {
        let mut head = format!(
            "{method} {}{target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.base, self.address
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }
}

/// Sends one raw request and reads the whole answer: (status, body).
async fn send(address: &str, request: &[u8]) -> (u16, Vec<u8>) {
    let exchange = async {
        let mut stream = TcpStream::connect(address)
            .await
            .expect("the front end listens");
        stream
            .write_all(request)
            .await
            .expect("the request is sent");
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .expect("the answer is read");
        answer
    };
    let answer = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .expect("answered within 30 s");
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete HTTP head");
    let head = String::from_utf8_lossy(&answer[..split]);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head}"));
    (status, answer[split + 4..].to_vec())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// A token with the given header and claims, signed with HMAC-SHA256 over `secret` whatever
/// the header says (so a header claiming RS256 is the HS/RS confusion attack).
fn token(header: &Value, claims: &Value, secret: &str) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature =
        URL_SAFE_NO_PAD.encode(hmac_sha256(secret.as_bytes(), signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

const VALID: (&str, &str, &str) = ("Asha", "asha@example.com", "560001");

fn records_cases(records: &Endpoint) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name: String, request: Vec<u8>, status: u16, body: Body| {
        cases.push(Case {
            name,
            request,
            status,
            body,
        });
    };
    let query = |user_name: &str, email: &str, pincode: &str| {
        format!("/?user_name={user_name}&email={email}&pincode={pincode}")
    };
    let (name, email, pincode) = VALID;

    // Field values that break a rule, percent-encoded as a browser or client would send them.
    let mut refused_fields: Vec<(String, String)> = Vec::new();
    for bad_name in [
        "",
        "%20%20",
        "%00",
        "Asha%00Rao",
        "Asha%0D%0ASet-Cookie:%20x",
        "%1B%5B31mAsha",
        "Asha%09Rao",
        "Asha%7FRao",
        "As%C2%85ha",
        "invoice%E2%80%AEfdp.exe",
        "%E2%81%A6Asha%E2%81%A9",
        "%E2%80%8B%E2%80%8C",
        "%EF%BB%BF%E2%81%A0",
        "%E3%85%A4",
        "%E1%85%9F",
    ] {
        refused_fields.push((
            format!("user_name {bad_name:?}"),
            query(bad_name, email, pincode),
        ));
    }
    refused_fields.push((
        "user_name 129 chars".into(),
        query(&"x".repeat(129), email, pincode),
    ));
    refused_fields.push((
        "user_name 10k".into(),
        query(&"x".repeat(10_000), email, pincode),
    ));
    // A valid name with exactly one of email and pincode malformed goes to an admin, unless
    // the value could not be shown as sent (control characters) or is over its length limit.
    let mut reviewed_fields: Vec<(String, String)> = Vec::new();
    for bad_email in [
        "",
        "asha",
        "asha%40example.org",
        "%D0%B0sha@example.com",
        "asha@%D0%B5xample.com",
        "asha@example.%D1%81om",
        "asha@@example.com",
        "1asha@example.com",
        "asha.rao@example.com",
        "asha@ex-ample.com",
        "%20asha@example.com",
        "ASHA%40EXAMPLE%2ECOM%2E",
        "%EF%BD%81sha@example.com",
    ] {
        reviewed_fields.push((
            format!("email {bad_email:?}"),
            query(name, bad_email, pincode),
        ));
    }
    for bad_email in [
        "asha%00@example.com",
        "asha@example.com%00",
        "asha@example.com%0A",
    ] {
        refused_fields.push((
            format!("email {bad_email:?}"),
            query(name, bad_email, pincode),
        ));
    }
    refused_fields.push((
        "email 255 chars".into(),
        query(name, &format!("a{}@b.com", "x".repeat(248)), pincode),
    ));
    refused_fields.push((
        "email 60k".into(),
        query(name, &format!("a{}@b.com", "x".repeat(60_000)), pincode),
    ));
    for bad_pincode in [
        "",
        "123",
        "1234567",
        "12a4",
        "%D9%A1%D9%A2%D9%A3%D9%A4",
        "%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94",
        "-1234",
        "12.4",
        "%201234",
        "0x1234",
        "1e5",
        "%E2%81%B4%E2%81%B5%E2%81%B6%E2%81%B7",
    ] {
        reviewed_fields.push((
            format!("pincode {bad_pincode:?}"),
            query(name, email, bad_pincode),
        ));
    }
    refused_fields.push(("pincode \"1234%00\"".into(), query(name, email, "1234%00")));
    refused_fields.push((
        "pincode 33 digits".into(),
        query(name, email, &"1".repeat(33)),
    ));
    for method in ["GET", "POST", "PUT"] {
        for (label, target) in &refused_fields {
            add(
                format!("records {method} {label}"),
                records.request(method, target, &[], b""),
                400,
                Body::Error("validation_failed"),
            );
        }
        for (label, target) in &reviewed_fields {
            add(
                format!("records {method} {label}"),
                records.request(method, target, &[], b""),
                202,
                Body::Pending,
            );
        }
    }

    // Parameters that are missing, repeated, unknown, empty-named or out of range.
    for target in [
        format!("/?user_name={name}&email={email}"),
        format!("/?user_name={name}&user_name={name}&email={email}&pincode={pincode}"),
        format!("/?user_name={name}&email={email}&pincode={pincode}&debug=1"),
        format!("/?user_name={name}&email={email}&pincode={pincode}&=x"),
        format!(
            "/?user_name={name}&email={email}&pincode={pincode}&{}=1",
            "p".repeat(5000)
        ),
        format!("/?user_name={name}&email={email}&pincode={pincode}&limit=5"),
        format!("/?USER_NAME={name}&email={email}&pincode={pincode}"),
        format!("/?user_name%00={name}&email={email}&pincode={pincode}"),
        format!("/?user%5Fname={name}&user_name={name}&email={email}&pincode={pincode}"),
        "/?limit=0".into(),
        "/?limit=-1".into(),
        "/?limit=101".into(),
        "/?limit=1e2".into(),
        "/?limit=%31%30%30%30".into(),
        "/?limit=99999999999999999999999".into(),
        "/?limit=".into(),
        "/?limit=1&limit=2".into(),
        "/?x".into(),
        "/?=".into(),
        "/?%ZZ=1".into(),
    ] {
        add(
            format!("records GET {target:.60}"),
            records.request("GET", &target, &[], b""),
            400,
            Body::Error("invalid_parameters"),
        );
    }
    add(
        "records POST with no parameters".into(),
        records.request("POST", "/", &[], b""),
        400,
        Body::Error("invalid_parameters"),
    );
    // Percent-encoding errors decode to replacement characters: a name with one is refused by
    // its rules, never stored as mojibake.
    for bad in ["%ZZ", "%", "%E0%A4", "%FF", "%C0%AE", "%ED%A0%80"] {
        add(
            format!("records bad percent-encoding {bad}"),
            records.request(
                "GET",
                &query(bad, &format!("a{bad}@b.com"), &format!("12{bad}")),
                &[],
                b"",
            ),
            400,
            Body::Error("validation_failed"),
        );
    }
    for cursor in ["garbage", "%00", "eyJ9", &"A".repeat(4096), "..", "e30.e30"] {
        add(
            format!("records forged cursor {cursor:.20}"),
            records.request("GET", &format!("/?cursor={cursor}"), &[], b""),
            400,
            Body::Error("invalid_cursor"),
        );
    }
    for method in ["DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "FOO"] {
        add(
            format!("records {method}"),
            records.request(method, &query(name, email, pincode), &[], b""),
            405,
            Body::Error("method_not_allowed"),
        );
    }
    // (Dot segments, even percent-encoded, are resolved by URL parsing before the handler sees
    // the path: `/%2e%2e/` is `/`.)
    for path in [
        "/records",
        "/..%2f..%2fetc%2fpasswd",
        "//",
        "/%00",
        "/index.html",
        "/a/%2e%2e/b",
    ] {
        add(
            format!("records path {path}"),
            records.request(
                "GET",
                &format!("{path}?{}", &query(name, email, pincode)[2..]),
                &[],
                b"",
            ),
            404,
            Body::Error("not_found"),
        );
    }
    cases
}

fn logs_cases(logs: &Endpoint, app_key: &str, secret: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let path = "/api/v1/logs/app";
    let json_headers = |key: &str| {
        vec![
            ("AppKey", key.to_owned()),
            ("Content-Type", "application/json".to_owned()),
        ]
    };
    let post = |headers: &[(&str, String)], body: &[u8]| {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        logs.request("POST", path, &headers, body)
    };
    let good_entry = br#"{"desc":"hostile corpus: must never land","user_id":"u"}"#;

    // Bodies that are not an entry, or not JSON at all.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!("{}1{}", r#"{"a":"#.repeat(5000), "}".repeat(5000));
    let many_fields = format!(
        "{{{}}}",
        (0..65)
            .map(|i| format!(r#""f{i}":"v""#))
            .collect::<Vec<_>>()
            .join(",")
    );
    let long_name = format!(r#"{{"{}":"v"}}"#, "n".repeat(129));
    let over_field = format!(r#"{{"desc":"{}"}}"#, "x".repeat(16 * 1024 + 1));
    let bodies: Vec<(&str, Vec<u8>, u16, &'static str)> = vec![
        ("empty body", b"".to_vec(), 400, "invalid_body"),
        ("open brace", b"{".to_vec(), 400, "invalid_body"),
        ("open bracket", b"[".to_vec(), 400, "invalid_body"),
        ("missing value", br#"{"a":}"#.to_vec(), 400, "invalid_body"),
        (
            "trailing comma",
            br#"{"a":"b",}"#.to_vec(),
            400,
            "invalid_body",
        ),
        ("nul", b"nul".to_vec(), 400, "invalid_body"),
        ("null", b"null".to_vec(), 400, "invalid_body"),
        ("a string", br#""entry""#.to_vec(), 400, "invalid_body"),
        ("a number", b"42".to_vec(), 400, "invalid_body"),
        ("true", b"true".to_vec(), 400, "invalid_body"),
        ("empty array", b"[]".to_vec(), 400, "invalid_body"),
        (
            "array of numbers",
            b"[1,2]".to_vec(),
            400,
            "invalid_entries",
        ),
        ("array of nulls", b"[null]".to_vec(), 400, "invalid_entries"),
        (
            "nested arrays 100k deep",
            deep.into_bytes(),
            400,
            "invalid_body",
        ),
        (
            "nested objects 5k deep",
            deep_object.into_bytes(),
            400,
            "invalid_body",
        ),
        ("NUL bytes", b"\0\0\0\0".to_vec(), 400, "invalid_body"),
        (
            "invalid UTF-8",
            b"{\"desc\":\"\xff\xfe\"}".to_vec(),
            400,
            "invalid_body",
        ),
        (
            "lone surrogate escape",
            br#"{"desc":"\ud800"}"#.to_vec(),
            400,
            "invalid_body",
        ),
        (
            "UTF-16 BOM",
            b"\xff\xfe{\0}\0".to_vec(),
            400,
            "invalid_body",
        ),
        ("two documents", br#"{}{}"#.to_vec(), 400, "invalid_body"),
        ("NaN", br#"{"desc":NaN}"#.to_vec(), 400, "invalid_body"),
        (
            "huge number",
            format!(r#"{{"n":1{}}}"#, "0".repeat(400)).into_bytes(),
            400,
            "invalid_body",
        ),
        (
            "known field not a string",
            br#"{"user_id":7}"#.to_vec(),
            400,
            "invalid_entry",
        ),
        (
            "timestamp not millis",
            br#"{"timestamp":"2024-01-01"}"#.to_vec(),
            400,
            "invalid_entry",
        ),
        (
            "timestamp negative",
            br#"{"timestamp":"-1"}"#.to_vec(),
            400,
            "invalid_entry",
        ),
        ("65 fields", many_fields.into_bytes(), 400, "invalid_entry"),
        (
            "a 129-byte field name",
            long_name.into_bytes(),
            400,
            "invalid_entry",
        ),
        (
            "a field over 16 KiB",
            over_field.into_bytes(),
            400,
            "invalid_entry",
        ),
        (
            "over 1 MiB",
            vec![b' '; 1024 * 1024 + 1],
            413,
            "payload_too_large",
        ),
        (
            "501 entries",
            format!("[{}]", vec!["{}"; 501].join(",")).into_bytes(),
            413,
            "too_many_entries",
        ),
        (
            "a form post",
            b"desc=x&user_id=u".to_vec(),
            400,
            "invalid_body",
        ),
    ];
    for (label, body, status, code) in &bodies {
        for content_type in [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
        ] {
            cases.push(Case {
                name: format!("logs {label} as {content_type}"),
                request: post(
                    &[
                        ("AppKey", app_key.to_owned()),
                        ("Content-Type", content_type.to_owned()),
                    ],
                    body,
                ),
                status: *status,
                body: Body::Error(code),
            });
        }
    }

    // Compressed bodies: broken, truncated, bombs, double-compressed, unknown encodings.
    let packed = gzip(good_entry);
    let mut flipped = packed.clone();
    let crc_at = flipped.len() - 8;
    flipped[crc_at] ^= 0xff;
    let bomb = gzip(&vec![b' '; 64 << 20]);
    let compressed: Vec<(&str, &str, Vec<u8>, u16, &'static str)> = vec![
        (
            "not gzip",
            "gzip",
            b"{\"desc\":\"x\"}".to_vec(),
            400,
            "invalid_body",
        ),
        (
            "random bytes",
            "gzip",
            (0u8..=255).collect(),
            400,
            "invalid_body",
        ),
        (
            "truncated",
            "gzip",
            packed[..packed.len() / 2].to_vec(),
            400,
            "invalid_body",
        ),
        ("wrong checksum", "gzip", flipped, 400, "invalid_body"),
        (
            "header only",
            "gzip",
            packed[..10].to_vec(),
            400,
            "invalid_body",
        ),
        ("empty", "gzip", Vec::new(), 400, "invalid_body"),
        (
            "a 64 MiB bomb",
            "gzip",
            bomb.clone(),
            413,
            "payload_too_large",
        ),
        ("a bomb as x-gzip", "x-gzip", bomb, 413, "payload_too_large"),
        (
            "twice compressed",
            "gzip",
            gzip(&packed),
            400,
            "invalid_body",
        ),
        (
            "garbage inside",
            "gzip",
            gzip(b"\xff\x00garbage"),
            400,
            "invalid_body",
        ),
        ("brotli", "br", packed.clone(), 415, "unsupported_encoding"),
        (
            "deflate",
            "deflate",
            packed.clone(),
            415,
            "unsupported_encoding",
        ),
        (
            "two encodings",
            "gzip, gzip",
            packed.clone(),
            415,
            "unsupported_encoding",
        ),
        (
            "compress",
            "compress",
            packed.clone(),
            415,
            "unsupported_encoding",
        ),
        ("zstd", "zstd", packed, 415, "unsupported_encoding"),
    ];
    for (label, encoding, body, status, code) in &compressed {
        let mut headers = json_headers(app_key);
        headers.push(("Content-Encoding", (*encoding).to_owned()));
        cases.push(Case {
            name: format!("logs gzip {label}"),
            request: post(&headers, body),
            status: *status,
            body: Body::Error(code),
        });
    }

    // Keys and tokens: missing, wrong, forged, expired, not yet valid, malformed.
    let claims = json!({"sub": "hostile", "exp": now() + 600});
    let hs = json!({"alg": "HS256", "typ": "JWT"});
    let valid = token(&hs, &claims, secret);
    let mut parts = valid.split('.');
    let (header_part, claims_part) = (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
    );
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string()),
        claims_part
    );
    let keys: Vec<(String, String, &'static str)> = vec![
        ("no key".into(), String::new(), "token_expired"),
        ("a blank key".into(), "   ".into(), "token_expired"),
        ("a wrong key".into(), "not-the-key".into(), "invalid_token"),
        (
            "the key with a suffix".into(),
            format!("{app_key}x"),
            "invalid_token",
        ),
        (
            "the key's prefix".into(),
            app_key[..app_key.len() - 1].to_owned(),
            "invalid_token",
        ),
        (
            "the key upper-cased".into(),
            app_key.to_uppercase(),
            "invalid_token",
        ),
        ("a 10k key".into(), "k".repeat(10_000), "invalid_token"),
        ("alg none".into(), alg_none, "invalid_token"),
        (
            "alg none, signed".into(),
            token(&json!({"alg": "none"}), &claims, secret),
            "invalid_token",
        ),
        (
            "HS/RS confusion".into(),
            token(&json!({"alg": "RS256", "typ": "JWT"}), &claims, secret),
            "invalid_token",
        ),
        (
            "HS512 header".into(),
            token(&json!({"alg": "HS512", "typ": "JWT"}), &claims, secret),
            "invalid_token",
        ),
        (
            "another secret".into(),
            token(&hs, &claims, "another-secret"),
            "invalid_token",
        ),
        (
            "expired".into(),
            token(&hs, &json!({"sub": "h", "exp": now() - 600}), secret),
            "token_expired",
        ),
        (
            "not before in the future".into(),
            token(
                &hs,
                &json!({"sub": "h", "exp": now() + 7200, "nbf": now() + 3600}),
                secret,
            ),
            "invalid_token",
        ),
        (
            "no exp".into(),
            token(&hs, &json!({"sub": "h"}), secret),
            "invalid_token",
        ),
        (
            "exp a string".into(),
            token(&hs, &json!({"sub": "h", "exp": "never"}), secret),
            "invalid_token",
        ),
        (
            "claims not JSON".into(),
            format!("{header_part}.{}.sig", URL_SAFE_NO_PAD.encode("not json")),
            "invalid_token",
        ),
        (
            "malformed base64".into(),
            "!!!.###.$$$".into(),
            "invalid_token",
        ),
        (
            "padded base64".into(),
            format!("{header_part}==.{claims_part}==.x"),
            "invalid_token",
        ),
        (
            "signature stripped".into(),
            format!("{header_part}.{claims_part}."),
            "invalid_token",
        ),
        (
            "signature of another token".into(),
            format!(
                "{header_part}.{claims_part}.{}",
                valid
                    .rsplit('.')
                    .next()
                    .unwrap()
                    .chars()
                    .rev()
                    .collect::<String>()
            ),
            "invalid_token",
        ),
        (
            "two segments".into(),
            format!("{header_part}.{claims_part}"),
            "invalid_token",
        ),
        (
            "four segments".into(),
            format!("{valid}.x"),
            "invalid_token",
        ),
        ("dots only".into(), "..".into(), "invalid_token"),
        (
            "a bearer prefix".into(),
            format!("Bearer {valid}"),
            "invalid_token",
        ),
        ("non-ASCII".into(), "kéy".into(), "invalid_token"),
    ];
    for (label, key, error_type) in &keys {
        let mut headers = vec![("Content-Type", "application/json".to_owned())];
        if !key.is_empty() {
            headers.push(("AppKey", key.clone()));
        }
        cases.push(Case {
            name: format!("logs AppKey {label}"),
            request: post(&headers, good_entry),
            status: 403,
            body: Body::Auth(error_type),
        });
    }

    for bad in ["", &"k".repeat(129), "key with spaces", "caf\u{e9}"] {
        let mut headers = json_headers(app_key);
        headers.push(("Idempotency-Key", bad.to_owned()));
        cases.push(Case {
            name: format!("logs Idempotency-Key {bad:.12?}"),
            request: post(&headers, good_entry),
            status: 400,
            body: Body::Error("invalid_idempotency_key"),
        });
    }

    // Control characters in header values never reach a function.
    for (name, value) in [
        ("Idempotency-Key", "a\u{7f}b"),
        ("AppKey", "key\u{1}"),
        ("X-Trace", "\u{1b}[31m"),
    ] {
        let mut headers = json_headers(app_key);
        headers.retain(|(n, _)| *n != name);
        headers.push((name, value.to_owned()));
        cases.push(Case {
            name: format!("logs header {name} with a control character"),
            request: post(&headers, good_entry),
            status: 400,
            body: Body::FrontEnd,
        });
    }

    // Wrong methods and paths.
    let headers: Vec<(&str, &str)> =
        vec![("AppKey", app_key), ("Content-Type", "application/json")];
    for method in ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "FOO"] {
        cases.push(Case {
            name: format!("logs {method}"),
            request: logs.request(method, path, &headers, good_entry),
            status: 405,
            body: Body::Error("method_not_allowed"),
        });
    }
    for (target, code) in [
        ("/api/v1/logs/", "unknown_stream"),
        ("/api/v1/logs", "not_found"),
        ("/api/v1/logs/app/extra", "unknown_stream"),
        ("/api/v2/logs/app", "not_found"),
        ("/", "not_found"),
        ("/api/v1/logs/nope", "unknown_stream"),
        ("/api/v1/logs/APP", "unknown_stream"),
        ("/api/v1/logs/%00", "unknown_stream"),
        ("/api/v1/logs/..%2fapp", "unknown_stream"),
        ("/api/v1/logs/app%20", "unknown_stream"),
    ] {
        cases.push(Case {
            name: format!("logs path {target}"),
            request: logs.request("POST", target, &headers, good_entry),
            status: 404,
            body: Body::Error(code),
        });
    }
    cases
}

fn runs_cases(runs: &Endpoint, inbound: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let json = [("Content-Type", "application/json")];
    let many = json!({"files": (0..101).map(|i| format!("s3://{inbound}/part-{i}.tsv")).collect::<Vec<_>>()});
    for (label, body, code) in [
        ("empty body", String::new(), "invalid_body"),
        ("not JSON", "{".into(), "invalid_body"),
        ("an array", "[]".into(), "invalid_body"),
        ("no files", "{}".into(), "invalid_body"),
        (
            "files not a list",
            r#"{"files":"s3://x/y"}"#.into(),
            "invalid_body",
        ),
        (
            "files of numbers",
            r#"{"files":[1,2]}"#.into(),
            "invalid_body",
        ),
        (
            "deep JSON",
            format!("{}{}", "[".repeat(50_000), "]".repeat(50_000)),
            "invalid_body",
        ),
        ("empty file list", r#"{"files":[]}"#.into(), "invalid_body"),
        (
            "another bucket",
            r#"{"files":["s3://someone-else/x.tsv"]}"#.into(),
            "invalid_files",
        ),
        (
            "not an s3 URL",
            r#"{"files":["https://example.com/x.tsv"]}"#.into(),
            "invalid_files",
        ),
        (
            "a bucket only",
            format!(r#"{{"files":["s3://{inbound}/"]}}"#),
            "invalid_files",
        ),
        (
            "a missing object",
            format!(r#"{{"files":["s3://{inbound}/no/such/object.tsv"]}}"#),
            "invalid_files",
        ),
        (
            "a NUL in the key",
            format!(r#"{{"files":["s3://{inbound}/a\u0000b"]}}"#),
            "invalid_files",
        ),
        ("101 files", many.to_string(), "invalid_body"),
    ] {
        cases.push(Case {
            name: format!("runs POST {label}"),
            request: runs.request("POST", "/runs", &json, body.as_bytes()),
            status: 400,
            body: Body::Error(code),
        });
    }
    for (target, status, code) in [
        ("/runs/0123456789abcdef0123456789abcdef", 404, "unknown_run"),
        (
            "/runs/0123456789abcdef0123456789abcdef/report",
            404,
            "unknown_run",
        ),
        ("/runs/not-a-run-id", 404, "not_found"),
        ("/runs/..%2f..%2fetc", 404, "not_found"),
        ("/runs/%00", 404, "not_found"),
        (
            "/runs/0123456789abcdef0123456789abcdef/other",
            404,
            "not_found",
        ),
        ("/elsewhere", 404, "not_found"),
        ("/runs?limit=0", 400, "invalid_parameters"),
        ("/runs?limit=abc", 400, "invalid_parameters"),
        ("/runs?limit=1&limit=2", 400, "invalid_parameters"),
        ("/runs?status=exploded", 400, "invalid_parameters"),
        ("/runs?debug=1", 400, "invalid_parameters"),
        ("/runs?cursor=forged", 400, "invalid_cursor"),
        ("/runs?cursor=%00%00", 400, "invalid_cursor"),
    ] {
        cases.push(Case {
            name: format!("runs GET {target}"),
            request: runs.request("GET", target, &[], b""),
            status,
            body: Body::Error(code),
        });
    }
    for method in ["DELETE", "PUT", "PATCH", "FOO"] {
        cases.push(Case {
            name: format!("runs {method}"),
            request: runs.request(method, "/runs", &json, br#"{"files":[]}"#),
            status: 405,
            body: Body::Error("method_not_allowed"),
        });
    }
    cases
}

/// What "nothing was written" is measured by: the tables' item counts and the topics' ends.
async fn writes(
    dynamodb: &aws_sdk_dynamodb::Client,
    tables: &[&str],
    bootstrap: &str,
    topics: &[&str],
) -> HashMap<String, i64> {
    let mut counts = HashMap::new();
    for table in tables {
        let mut total = 0i64;
        let mut start = None;
        loop {
            let page = dynamodb
                .scan()
                .table_name(*table)
                .select(Select::Count)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("Scan");
            total += i64::from(page.count);
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        counts.insert(format!("table {table}"), total);
    }
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", local::unique("hostile").replace(' ', "-"))
        .create()
        .unwrap();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .unwrap();
        let mut total = 0;
        for partition in metadata.topics()[0].partitions() {
            let (low, high) = consumer
                .fetch_watermarks(topic, partition.id(), Duration::from_secs(5))
                .unwrap();
            total += high - low;
        }
        counts.insert(format!("topic {topic}"), total);
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_are_refused_with_the_documented_4xx_and_write_nothing() {
    let env = local::endpoints();
    let sdk = local::sdk_config(&env).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let records = Endpoint::parse(&env["RECORDS_URL"]);
    let logs = Endpoint::parse(&env["LOGS_URL"]);
    let runs = Endpoint::parse(&env["RUNS_URL"]);
    let tables = [env["RECORDS_TABLE"].as_str(), env["RUNS_TABLE"].as_str()];
    let topics = ["mobile-logs", "mobile-events"];
    let bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"].as_str();

    let suites = [
        (&records, records_cases(&records)),
        (
            &logs,
            logs_cases(&logs, &env["LOGS_APP_KEY"], &env["LOGS_JWT_SECRET"]),
        ),
        (&runs, runs_cases(&runs, &env["INBOUND_BUCKET"])),
    ];
    let total: usize = suites.iter().map(|(_, cases)| cases.len()).sum();
    assert!(total >= 200, "the corpus holds {total} requests");
    eprintln!(
        "corpus: {total} requests (records {}, logs {}, runs {})",
        suites[0].1.len(),
        suites[1].1.len(),
        suites[2].1.len()
    );

    let before = writes(&dynamodb, &tables, bootstrap, &topics).await;
    let mut wrong = Vec::new();
    let mut server_errors = 0;
    for (endpoint, case) in suites
        .iter()
        .flat_map(|(endpoint, cases)| cases.iter().map(move |case| (*endpoint, case)))
    {
        let (status, body) = send(&endpoint.address, &case.request).await;
        if status >= 500 {
            server_errors += 1;
        }
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        let body_ok = match (case.body, &parsed) {
            (Body::Error(code), Some(v)) => {
                v["error"] == code && v["message"].as_str().is_some_and(|m| !m.is_empty())
            }
            (Body::Auth(kind), Some(v)) => {
                v["errors"]["error_type"] == kind && v["errors"]["error_description"].is_string()
            }
            (Body::FrontEnd, Some(v)) => v["Message"].is_string(),
            (Body::Pending, Some(v)) => {
                v["status"] == "pending_approval"
                    && v["approval_id"].as_str().is_some_and(|id| id.len() == 32)
            }
            _ => false,
        };
        if status != case.status || !body_ok {
            wrong.push(format!(
                "{}: expected {} {:?}, got {status} {}",
                case.name,
                case.status,
                case.body,
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ));
        }
    }
    assert_eq!(server_errors, 0, "5xx answers:\n{}", wrong.join("\n"));
    assert!(
        wrong.is_empty(),
        "{} of {} answered otherwise:\n{}",
        wrong.len(),
        total,
        wrong.join("\n")
    );
    let after = writes(&dynamodb, &tables, bootstrap, &topics).await;
    assert_eq!(after, before, "the corpus wrote something");

    // And the service still answers normally.
    let http = local::http_client();
    let listing = http
        .get(format!("{}/?limit=1", env["RECORDS_URL"]))
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), 200);
    let (name, email, pincode) = VALID;
    let stored = http
        .post(format!("{}/", env["RECORDS_URL"]))
        .query(&[("user_name", name), ("email", email), ("pincode", pincode)])
        .send()
        .await
        .unwrap();
    assert!(
        stored.status() == 200 || stored.status() == 201,
        "{}",
        stored.status()
    );
    let posted = http
        .post(format!("{}/api/v1/logs/app", env["LOGS_URL"]))
        .header("AppKey", &env["LOGS_APP_KEY"])
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(gzip(br#"{"desc":"after the corpus"}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let runs_list = http
        .get(format!("{}/runs", env["RUNS_URL"]))
        .send()
        .await
        .unwrap();
    assert_eq!(runs_list.status(), 200);
}
