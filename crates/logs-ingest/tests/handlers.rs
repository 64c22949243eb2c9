//! Handler tests: real event fixtures and HTTP requests into the bridge, with an in-memory fake
//! of the broker. Every status code and branch the contract names.

use std::io::Write;
use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use logs_ingest::api::{LogRequest, LogsApi};
use logs_ingest::auth::{Authenticator, JwtAlgorithm, JwtSettings};
use logs_ingest::config::{Limits, Routes};
use logs_ingest::ports::{Delivery, LogPublisher, PublishError};
use logs_ingest::record::OutRecord;
use serde_json::{Value, json};
use time::OffsetDateTime;

const KEY: &str = "fixture-key";
const JWT_SECRET: &str = "fixture-jwt-secret";

/// A broker that acknowledges every record, or answers each one's outcome from `outcome`
/// (by its position in the publish call). Acknowledged and unknown records are kept, as a
/// broker that may have written an unacknowledged record would.
#[derive(Default)]
struct FakeBroker {
    produced: Mutex<Vec<(String, OutRecord)>>,
    outcome: Option<fn(usize) -> Delivery>,
}

impl FakeBroker {
    fn answering(outcome: fn(usize) -> Delivery) -> FakeBroker {
        FakeBroker {
            outcome: Some(outcome),
            ..FakeBroker::default()
        }
    }
}

impl LogPublisher for FakeBroker {
    async fn publish(&self, topic: &str, records: Vec<OutRecord>) -> Vec<Delivery> {
        let mut produced = self.produced.lock().unwrap();
        records
            .into_iter()
            .enumerate()
            .map(|(index, record)| {
                let delivery = self.outcome.map_or(Delivery::Acknowledged, |f| f(index));
                if !matches!(delivery, Delivery::NotSent(_)) {
                    produced.push((topic.to_owned(), record));
                }
                delivery
            })
            .collect()
    }
}

fn api(broker: FakeBroker) -> LogsApi<FakeBroker> {
    LogsApi {
        publisher: broker,
        auth: Authenticator::new(
            &[KEY.into(), "second-key".into()],
            Some(&JwtSettings {
                algorithm: JwtAlgorithm::Hs256,
                key: JWT_SECRET.into(),
                audience: None,
                issuer: None,
            }),
        )
        .unwrap(),
        routes: Routes::parse("app=mobile-logs,events=mobile-events").unwrap(),
        limits: Limits {
            max_body_bytes: 4096,
            max_entries: 5,
            max_field_bytes: 256,
            ..Limits::default()
        },
        mask_mobile_number: true,
        callbacks: None,
    }
}

fn request(path: &str, app_key: Option<&str>, body: impl Into<Bytes>) -> LogRequest {
    let mut headers = HeaderMap::new();
    if let Some(key) = app_key {
        headers.insert("appkey", HeaderValue::from_str(key).unwrap());
    }
    LogRequest {
        method: Method::POST,
        path: path.into(),
        query: None,
        headers,
        body: body.into(),
        client_ip: Some("203.0.113.7".into()),
        request_id: "req-1".into(),
    }
}

fn at() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_795_342_500).unwrap()
}

async fn send(api: &LogsApi<FakeBroker>, request: LogRequest) -> (StatusCode, Value, HeaderMap) {
    let response = api.handle_at(request, at()).await;
    let body = serde_json::from_slice(response.body()).unwrap();
    (response.status(), body, response.headers().clone())
}

/// Each entry's `status` in an answer's `results`, in order.
fn statuses(answer: &Value) -> Vec<&str> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect()
}

fn produced(api: &LogsApi<FakeBroker>) -> Vec<(String, Option<String>, Value)> {
    api.publisher
        .produced
        .lock()
        .unwrap()
        .iter()
        .map(|(topic, r)| {
            (
                topic.clone(),
                r.key.clone(),
                serde_json::from_slice(&r.value).unwrap(),
            )
        })
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn one_entry_is_produced_in_its_envelope_and_acknowledged() {
    let api = api(FakeBroker::default());
    let body = r#"{"user_id":"u1","mobile_number":"9876543210","desc":"hi","custom":{"a":1}}"#;
    let (status, answer, _) = send(&api, request("/api/v1/logs/app", Some(KEY), body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, json!({"msg": "Logs posted Successfully"}));
    let mut produced = produced(&api);
    let entry_id = produced[0].2["entry_id"].take();
    assert!(
        entry_id.as_str().unwrap().starts_with("req-1/"),
        "{entry_id}"
    );
    assert_eq!(
        produced,
        [(
            "mobile-logs".to_owned(),
            Some("u1".to_owned()),
            json!({
                "entry": {"user_id": "u1", "mobile_number": "******3210", "desc": "hi", "custom": {"a": 1}},
                "received_at": "2026-11-22T10:15:00.000Z",
                "path": "app",
                "request_id": "req-1",
                "client_ip": "203.0.113.7",
                "entry_id": null,
            })
        )]
    );
}

#[tokio::test]
async fn a_missing_key_gets_the_contract_body_exactly() {
    let api = api(FakeBroker::default());
    for key in [None, Some("  ")] {
        let response = api
            .handle_at(request("/api/v1/logs/app", key, "{}"), at())
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            std::str::from_utf8(response.body()).unwrap(),
            r#"{"errors":{"error_description": "Please provide authorization token", "error_type": "token_expired"}}"#
        );
    }
    assert!(produced(&api).is_empty());
}

#[tokio::test]
async fn wrong_keys_and_bad_or_expired_jwts_are_refused_honestly() {
    use jsonwebtoken::{EncodingKey, Header, encode};
    let api = api(FakeBroker::default());
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let sign = |claims: Value, secret: &str| {
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let cases = [
        ("wrong-key".to_owned(), "invalid_token"),
        (
            sign(json!({"exp": now + 600}), "other-secret"),
            "invalid_token",
        ),
        (sign(json!({"exp": now - 600}), JWT_SECRET), "token_expired"),
    ];
    for (key, error_type) in cases {
        let (status, body, _) = send(&api, request("/api/v1/logs/app", Some(&key), "{}")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["errors"]["error_type"], error_type, "{key}");
        assert!(body["errors"]["error_description"].is_string());
    }
    let valid = sign(json!({"exp": now + 600}), JWT_SECRET);
    let (status, _, _) = send(&api, request("/api/v1/logs/app", Some(&valid), "{}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(&api, request("/api/v1/logs/app", Some("second-key"), "{}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(produced(&api).len(), 2);
}

#[tokio::test]
async fn a_batch_produces_every_entry_and_a_gzip_batch_the_same() {
    let api = api(FakeBroker::default());
    let body = r#"[{"user_id":"a"},{"device_details":"pixel-8"},{"desc":"no key"}]"#;
    let (status, _, _) = send(&api, request("/api/v1/logs/events", Some(KEY), body)).await;
    assert_eq!(status, StatusCode::OK);
    let mut gz = request("/api/v1/logs/events", Some(KEY), gzip(body.as_bytes()));
    gz.headers
        .insert("content-encoding", HeaderValue::from_static("gzip"));
    let (status, _, _) = send(&api, gz).await;
    assert_eq!(status, StatusCode::OK);
    let records = produced(&api);
    let keys: Vec<Option<&str>> = records.iter().map(|(_, k, _)| k.as_deref()).collect();
    assert_eq!(
        keys,
        [
            Some("a"),
            Some("pixel-8"),
            None,
            Some("a"),
            Some("pixel-8"),
            None
        ]
    );
    assert!(records.iter().all(|(topic, _, _)| topic == "mobile-events"));
    assert_eq!(records[0].2, records[3].2, "gzip changes nothing");
}

#[tokio::test]
async fn a_partly_invalid_batch_is_a_207_and_only_valid_entries_are_produced() {
    let api = api(FakeBroker::default());
    let body = r#"[{"user_id":"a"},{"user_id":5},"text",{"timestamp":"soon"}]"#;
    let (status, answer, _) = send(&api, request("/api/v1/logs/app", Some(KEY), body)).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(answer["accepted"], 1);
    assert_eq!(answer["rejected"], 3);
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results[0]["index"], 0);
    assert_eq!(results[0]["status"], "accepted");
    assert_eq!(results[0]["entry_id"], produced(&api)[0].2["entry_id"]);
    assert_eq!(results[1]["fields"]["user_id"], "must be a string");
    assert_eq!(results[2]["fields"]["entry"], "must be a JSON object");
    assert!(results[3]["fields"]["timestamp"].is_string());
    assert_eq!(produced(&api).len(), 1);
}

#[tokio::test]
async fn invalid_single_entries_and_all_invalid_batches_are_400_with_nothing_produced() {
    let api = api(FakeBroker::default());
    for (body, code) in [
        (r#"{"app_version": 3}"#, "invalid_entry"),
        (r#"[{"env": []}, 1]"#, "invalid_entries"),
        ("not json", "invalid_body"),
        ("[]", "invalid_body"),
        ("42", "invalid_body"),
    ] {
        let (status, answer, _) = send(&api, request("/api/v1/logs/app", Some(KEY), body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["error"], code, "{body}");
    }
    assert!(produced(&api).is_empty());
}

#[tokio::test]
async fn limits_answer_413_or_400_as_documented() {
    let api = api(FakeBroker::default());
    let too_big = format!(r#"{{"desc":"{}"}}"#, "x".repeat(5000));
    let bomb = gzip(format!(r#"{{"desc":"{}"}}"#, " ".repeat(1_000_000)).as_bytes());
    let mut bomb_request = request("/api/v1/logs/app", Some(KEY), bomb);
    bomb_request
        .headers
        .insert("content-encoding", HeaderValue::from_static("gzip"));
    let (status, answer, _) = send(&api, request("/api/v1/logs/app", Some(KEY), too_big)).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    let (status, answer, _) = send(&api, bomb_request).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    let six = format!("[{}]", ["{}"; 6].join(","));
    let (status, answer, _) = send(&api, request("/api/v1/logs/app", Some(KEY), six)).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("too_many_entries"))
    );
    let long_field = format!(r#"{{"desc":"{}"}}"#, "x".repeat(300));
    let (status, answer, _) = send(&api, request("/api/v1/logs/app", Some(KEY), long_field)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["fields"]["desc"], "must be at most 256 bytes");
    let mut brotli = request("/api/v1/logs/app", Some(KEY), "{}");
    brotli
        .headers
        .insert("content-encoding", HeaderValue::from_static("br"));
    let (status, _, _) = send(&api, brotli).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(produced(&api).is_empty());
}

#[tokio::test]
async fn unknown_streams_other_paths_and_methods_are_refused() {
    let api = api(FakeBroker::default());
    let (status, answer, _) = send(&api, request("/api/v1/logs/nope", Some(KEY), "{}")).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_stream"))
    );
    let (status, answer, _) = send(&api, request("/api/v2/other", Some(KEY), "{}")).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let mut get = request("/api/v1/logs/app", Some(KEY), "");
    get.method = Method::GET;
    let (status, _, headers) = send(&api, get).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "POST");
    assert!(produced(&api).is_empty());
}

#[tokio::test]
async fn a_broker_that_takes_nothing_is_a_503_nothing_was_posted() {
    let full: fn(usize) -> Delivery = |_| Delivery::NotSent(PublishError::Backpressure);
    let down: fn(usize) -> Delivery =
        |_| Delivery::NotSent(PublishError::Unavailable("all brokers down".into()));
    for (outcome, code) in [(full, "overloaded"), (down, "broker_unavailable")] {
        let api = api(FakeBroker::answering(outcome));
        let (status, answer, headers) = send(
            &api,
            request(
                "/api/v1/logs/app",
                Some(KEY),
                r#"[{"desc":"a"},{"desc":"b"}]"#,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer["error"], code);
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains("nothing was posted")
        );
        assert_eq!(headers["retry-after"], "1");
        assert!(!answer.to_string().contains("brokers down"), "no internals");
        assert!(produced(&api).is_empty());
    }
}

#[tokio::test]
async fn a_batch_the_broker_took_in_part_is_a_207_saying_which_to_send_again() {
    // The queue filled up after the second entry: the first two are acknowledged, the rest never
    // left the process.
    let api = api(FakeBroker::answering(|index| {
        if index < 2 {
            Delivery::Acknowledged
        } else {
            Delivery::NotSent(PublishError::Backpressure)
        }
    }));
    let body = r#"[{"desc":"a"},{"desc":"b"},{"user_id":7},{"desc":"c"},{"desc":"d"}]"#;

    let (status, answer, headers) = send(&api, request("/api/v1/logs/app", Some(KEY), body)).await;

    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(answer["accepted"], 2);
    assert_eq!(answer["rejected"], 1);
    let statuses = statuses(&answer);
    assert_eq!(
        statuses,
        [
            "accepted",
            "accepted",
            "rejected",
            "not_posted",
            "not_posted"
        ]
    );
    assert_eq!(headers["retry-after"], "1");
    let descs: Vec<Value> = produced(&api)
        .iter()
        .map(|(_, _, envelope)| envelope["entry"]["desc"].clone())
        .collect();
    assert_eq!(descs, [json!("a"), json!("b")]);
}

#[tokio::test]
async fn entries_whose_outcome_is_unknown_keep_their_ids_when_sent_again_with_the_same_key() {
    // Given a batch whose second valid entry was sent but never acknowledged,
    let timed_out: fn(usize) -> Delivery = |index| {
        if index == 0 {
            Delivery::Acknowledged
        } else {
            Delivery::Unknown(PublishError::Unavailable(
                "no delivery report in time".into(),
            ))
        }
    };
    let with_key = |request_id: &str, body: &'static str| {
        let mut request = request("/api/v1/logs/app", Some(KEY), body);
        request.request_id = request_id.into();
        request
            .headers
            .insert("idempotency-key", HeaderValue::from_static("batch-7f3a"));
        request
    };
    let api = api(FakeBroker::answering(timed_out));

    // when the app posts it, then sends only the unknown entry again under the same key,
    let (status, answer, _) = send(
        &api,
        with_key("req-1", r#"[{"desc":"a"},{"user_id":7},{"desc":"b"}]"#),
    )
    .await;
    let (retried, _, _) = send(&api, with_key("req-2", r#"[{"desc":"b"}]"#)).await;

    // then the answer names each entry by its place in the body, and both copies of the
    // unknown entry carry the id the answer gave it.
    assert_eq!(status, StatusCode::MULTI_STATUS);
    let statuses = statuses(&answer);
    assert_eq!(statuses, ["accepted", "rejected", "unknown"]);
    assert_eq!(answer["results"][2]["index"], 2);
    let unknown_id = answer["results"][2]["entry_id"].clone();
    assert!(unknown_id.as_str().unwrap().starts_with("batch-7f3a/"));
    assert_eq!(retried, StatusCode::OK);
    let envelopes = produced(&api);
    let ids: Vec<&Value> = envelopes.iter().map(|(_, _, e)| &e["entry_id"]).collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], &answer["results"][0]["entry_id"]);
    assert_eq!(ids[1], &unknown_id);
    assert_eq!(
        ids[2], &unknown_id,
        "the copy a consumer sees twice has one id"
    );
}

#[tokio::test]
async fn a_single_entry_that_may_have_landed_is_a_503_with_its_entry_id() {
    let api = api(FakeBroker::answering(|_| {
        Delivery::Unknown(PublishError::Unavailable("timed out".into()))
    }));
    let (status, answer, headers) = send(&api, request("/api/v1/logs/app", Some(KEY), "{}")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer["error"], "broker_unavailable");
    assert_eq!(answer["results"][0]["status"], "unknown");
    let entry_id = &produced(&api)[0].2["entry_id"];
    assert_eq!(&answer["results"][0]["entry_id"], entry_id);
    assert_eq!(headers["retry-after"], "1");
}

#[tokio::test]
async fn a_malformed_idempotency_key_is_a_400_and_nothing_is_posted() {
    let api = api(FakeBroker::default());
    for key in ["", "has space", &"k".repeat(129)] {
        let mut request = request("/api/v1/logs/app", Some(KEY), "{}");
        request
            .headers
            .insert("idempotency-key", HeaderValue::from_str(key).unwrap());
        let (status, answer, _) = send(&api, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{key:?}");
        assert_eq!(answer["error"], "invalid_idempotency_key");
    }
    assert!(produced(&api).is_empty());
}

#[tokio::test]
async fn the_lambda_front_end_takes_ip_and_request_id_from_the_http_api_event() {
    let event = include_str!("../fixtures/http-api-post-logs.json");
    let request = lambda_http::request::from_str(event).unwrap();
    let api = api(FakeBroker::default());
    let response = logs_ingest::lambda::handle(&api, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let records = produced(&api);
    assert_eq!(records.len(), 1);
    let (_, key, envelope) = &records[0];
    assert_eq!(key.as_deref(), Some("u-42"));
    assert_eq!(envelope["client_ip"], "198.51.100.23");
    assert_eq!(envelope["request_id"], "Xk2PejZ1IAMEbXw=");
    assert_eq!(envelope["path"], "app");
    assert_eq!(envelope["entry"]["mobile_number"], "******3210");
}
