//! Handler tests: real event fixtures and HTTP requests into the bridge and the sink, with
//! in-memory fakes of the ports. Every status code and branch the contract names.

use std::io::{Read, Write};
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use logs::KafkaEvent;
use logs::api::{LogRequest, LogsApi};
use logs::auth::{Authenticator, JwtAlgorithm};
use logs::config::{JwtConfig, Limits, Routes};
use logs::envelope::OutRecord;
use logs::ports::{LogPublisher, Object, ObjectStore, PublishError, StoreError};
use logs::sink::LogSink;
use serde_json::{Value, json};
use time::OffsetDateTime;

const KEY: &str = "fixture-key";
const JWT_SECRET: &str = "fixture-jwt-secret";

#[derive(Default)]
struct FakeBroker {
    produced: Mutex<Vec<(String, OutRecord)>>,
    fail_with: Option<PublishError>,
}

#[async_trait]
impl LogPublisher for FakeBroker {
    async fn publish(&self, topic: &str, records: Vec<OutRecord>) -> Result<(), PublishError> {
        if let Some(err) = &self.fail_with {
            return Err(err.clone());
        }
        let mut produced = self.produced.lock().unwrap();
        produced.extend(records.into_iter().map(|r| (topic.to_owned(), r)));
        Ok(())
    }
}

fn api(broker: FakeBroker) -> LogsApi<FakeBroker> {
    LogsApi {
        publisher: broker,
        auth: Authenticator::new(
            &[KEY.into(), "second-key".into()],
            Some(&JwtConfig {
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
        },
        mask_mobile_number: true,
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
    assert_eq!(
        produced(&api),
        [(
            "mobile-logs".to_owned(),
            Some("u1".to_owned()),
            json!({
                "entry": {"user_id": "u1", "mobile_number": "******3210", "desc": "hi", "custom": {"a": 1}},
                "received_at": "2026-11-22T10:15:00.000Z",
                "path": "app",
                "request_id": "req-1",
                "client_ip": "203.0.113.7",
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
    assert_eq!(results[0], json!({"index": 0, "status": "accepted"}));
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
async fn a_broker_that_does_not_acknowledge_is_a_503_with_retry_after() {
    for (failure, code) in [
        (
            PublishError::Unavailable("timed out".into()),
            "broker_unavailable",
        ),
        (PublishError::Backpressure, "overloaded"),
    ] {
        let api = api(FakeBroker {
            fail_with: Some(failure),
            ..FakeBroker::default()
        });
        let (status, answer, headers) =
            send(&api, request("/api/v1/logs/app", Some(KEY), "{}")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer["error"], code);
        assert_eq!(headers["retry-after"], "1");
        assert!(!answer.to_string().contains("timed out"), "no internals");
    }
}

#[tokio::test]
async fn the_lambda_front_end_takes_ip_and_request_id_from_the_http_api_event() {
    let event = include_str!("../fixtures/http-api-post-logs.json");
    let request = lambda_http::request::from_str(event).unwrap();
    let api = api(FakeBroker::default());
    let response = logs::lambda::handle(&api, request).await.unwrap();
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

#[derive(Default)]
struct FakeBucket {
    objects: Mutex<std::collections::BTreeMap<String, Vec<u8>>>,
    refuse_prefix: Option<&'static str>,
}

#[async_trait]
impl ObjectStore for FakeBucket {
    async fn put(&self, object: Object) -> Result<(), StoreError> {
        if self
            .refuse_prefix
            .is_some_and(|p| object.key.starts_with(p))
        {
            return Err(StoreError {
                key: object.key,
                reason: "throttled".into(),
            });
        }
        self.objects.lock().unwrap().insert(object.key, object.body);
        Ok(())
    }
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .unwrap();
    text
}

fn msk_event() -> KafkaEvent {
    serde_json::from_str(include_str!("../fixtures/msk-event.json")).unwrap()
}

#[tokio::test]
async fn the_sink_writes_runs_by_hour_and_rejects_what_it_cannot_decode() {
    let sink = LogSink {
        store: FakeBucket::default(),
    };
    let response = sink.handle(msk_event()).await;
    assert!(response.batch_item_failures.is_empty());
    let objects = sink.store.objects.lock().unwrap().clone();
    let keys: Vec<&str> = objects.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "logs/app/dt=2026-11-22/hour=10/mobile-logs-0-00000000000000000010.ndjson.gz",
            "logs/app/dt=2026-11-22/hour=10/mobile-logs-1-00000000000000000007.ndjson.gz",
            "logs/app/dt=2026-11-22/hour=11/mobile-logs-0-00000000000000000013.ndjson.gz",
            "rejected/mobile-logs-0-00000000000000000012.json",
        ]
    );
    let first = gunzip(&objects[keys[0]]);
    let ids: Vec<String> = first
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["request_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids, ["r10", "r11"]);
    assert!(first.ends_with('\n'));
    let rejected: Value = serde_json::from_slice(&objects[keys[3]]).unwrap();
    assert_eq!(rejected["offset"], 12);
    assert!(rejected["reason"].as_str().unwrap().contains("not JSON"));
}

#[tokio::test]
async fn a_redelivered_batch_overwrites_the_same_objects_with_the_same_bytes() {
    let sink = LogSink {
        store: FakeBucket::default(),
    };
    sink.handle(msk_event()).await;
    let once = sink.store.objects.lock().unwrap().clone();
    sink.handle(msk_event()).await;
    let twice = sink.store.objects.lock().unwrap().clone();
    assert_eq!(once, twice);
}

#[tokio::test]
async fn a_failed_write_is_reported_at_its_first_offset_and_later_runs_wait() {
    let sink = LogSink {
        store: FakeBucket {
            refuse_prefix: Some("rejected/"),
            ..FakeBucket::default()
        },
    };
    let response = sink.handle(msk_event()).await;
    let failures = serde_json::to_value(&response).unwrap();
    assert_eq!(
        failures,
        json!({"batchItemFailures": [{"itemIdentifier": {"partition": "mobile-logs-0", "offset": 12}}]})
    );
    let objects = sink.store.objects.lock().unwrap();
    // Offsets 10-11 and the other partition are written; 13 waits for the retry from 12.
    assert_eq!(objects.len(), 2);
    assert!(objects.keys().all(|k| !k.contains("-00000000000000000013")));
}
