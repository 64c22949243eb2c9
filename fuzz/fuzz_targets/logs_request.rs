//! A whole request to the logs bridge (method, path, AppKey, Idempotency-Key, encoding, body)
//! against a broker that acknowledges everything: never a panic, never a 5xx, and an
//! acknowledged request produced exactly the entries it reports accepted.
#![no_main]

use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use logs_ingest::api::{LogRequest, LogsApi};
use logs_ingest::auth::Authenticator;
use logs_ingest::config::{Limits, Routes};
use logs_ingest::ports::{Delivery, LogPublisher};
use logs_ingest::record::OutRecord;

const KEY: &str = "fuzz-app-key";

#[derive(Default)]
struct Acknowledging {
    produced: Mutex<usize>,
}

impl LogPublisher for Acknowledging {
    async fn publish(&self, _topic: &str, records: Vec<OutRecord>) -> Vec<Delivery> {
        *self.produced.lock().unwrap() += records.len();
        records.iter().map(|_| Delivery::Acknowledged).collect()
    }
}

fn api() -> LogsApi<Acknowledging> {
    LogsApi {
        publisher: Acknowledging::default(),
        auth: Authenticator::new(&[KEY.into()], None).unwrap(),
        routes: Routes::parse("app=mobile-logs,events=mobile-events").unwrap(),
        limits: Limits {
            max_body_bytes: 64 * 1024,
            max_entries: 20,
            max_field_bytes: 512,
            max_field_name_bytes: 32,
            max_fields: 16,
        },
        mask_mobile_number: true,
        callbacks: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (idempotency, body) = match rest.split_first() {
        Some((&n, tail)) if flags & 8 != 0 => tail.split_at((n as usize).min(tail.len())),
        _ => (&[][..], rest),
    };
    let mut headers = HeaderMap::new();
    match flags & 3 {
        0 => {}
        1 => {
            headers.insert("appkey", HeaderValue::from_static(KEY));
        }
        _ => {
            if let Ok(value) = HeaderValue::from_bytes(&body[..body.len().min(40)]) {
                headers.insert("appkey", value);
            }
        }
    }
    if flags & 4 != 0 {
        headers.insert("content-encoding", HeaderValue::from_static("gzip"));
    }
    if !idempotency.is_empty() {
        if let Ok(value) = HeaderValue::from_bytes(idempotency) {
            headers.insert("idempotency-key", value);
        }
    }
    let path = ["/api/v1/logs/app", "/api/v1/logs/events", "/api/v1/logs/x", "/"]
        [usize::from(flags >> 4) % 4];
    let method = if flags & 64 == 0 { Method::POST } else { Method::GET };
    let api = api();
    let response = futures::executor::block_on(api.handle(LogRequest {
        method,
        path: path.into(),
        query: None,
        headers,
        body: Bytes::copy_from_slice(body),
        client_ip: Some("127.0.0.1".into()),
        request_id: "fuzz".into(),
    }));
    let status = response.status();
    assert!(status.as_u16() < 500, "{status} for a request the broker would take");
    let produced = *api.publisher.produced.lock().unwrap();
    let answer: serde_json::Value =
        serde_json::from_slice(response.body()).expect("every answer is JSON");
    match status.as_u16() {
        200 => assert!(produced >= 1),
        207 => {
            let accepted = answer["results"]
                .as_array()
                .expect("a 207 has results")
                .iter()
                .filter(|r| r["status"] == "accepted")
                .count();
            assert_eq!(accepted, produced);
        }
        _ => assert_eq!(produced, 0, "{status} {answer} yet something was produced"),
    }
});
