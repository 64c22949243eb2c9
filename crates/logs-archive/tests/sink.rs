//! Sink handler tests: a real MSK event fixture into the sink, with an in-memory bucket.

use std::io::Read;
use std::sync::Mutex;

use logs_archive::ports::{Object, ObjectStore, StoreError};
use logs_archive::sink::LogSink;
use platform::msk::KafkaEvent;
use serde_json::{Value, json};

#[derive(Default)]
struct FakeBucket {
    objects: Mutex<std::collections::BTreeMap<String, Vec<u8>>>,
    refuse_prefix: Option<&'static str>,
}

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
async fn fields_the_sink_does_not_read_cannot_stop_a_batch() {
    // Found by fuzzing: a record timestamp with a fraction used to abort the function while the
    // event was decoded, before the handler ran, and the event source would retry it forever.
    let mut event: Value =
        serde_json::from_str(include_str!("../fixtures/msk-event.json")).unwrap();
    event["records"]["mobile-logs-0"][0]["timestamp"] = json!(1795342500000.5);
    event["records"]["mobile-logs-0"][1]["timestamp"] = json!("not a time");
    event["records"]["mobile-logs-1"][0]["headers"] = json!([{"h": [1, 2, 3]}, "odd"]);
    let sink = LogSink {
        store: FakeBucket::default(),
    };
    let response = sink.handle(serde_json::from_value(event).unwrap()).await;
    assert!(response.batch_item_failures.is_empty());
    let reference = LogSink {
        store: FakeBucket::default(),
    };
    reference.handle(msk_event()).await;
    assert_eq!(
        *sink.store.objects.lock().unwrap(),
        *reference.store.objects.lock().unwrap()
    );
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

fn event_with_values(values: &[&str]) -> KafkaEvent {
    use base64::Engine;
    let records: Vec<Value> = values
        .iter()
        .enumerate()
        .map(|(offset, value)| {
            json!({"topic": "mobile-logs", "partition": 0, "offset": offset, "timestamp": 1795342500000i64,
                   "timestampType": "CREATE_TIME", "key": null, "headers": [],
                   "value": base64::engine::general_purpose::STANDARD.encode(value)})
        })
        .collect();
    serde_json::from_value(
        json!({"eventSource": "aws:kafka", "records": {"mobile-logs-0": records}}),
    )
    .unwrap()
}

#[tokio::test]
async fn an_envelope_spread_over_lines_is_stored_on_one_line_and_non_envelopes_are_rejected() {
    let spread = "{\n  \"entry\": {\"desc\": \"two\\nlines\"},\n  \"received_at\": \"2026-11-22T10:15:00.000Z\",\n  \"path\": \"app\", \"request_id\": \"r0\", \"client_ip\": null\n}";
    let array = r#"[{}, "2026-11-22T10:15:00.000Z", "app", "r1", null, "r1/0"]"#;
    let entry_not_object = r#"{"entry": [1], "received_at": "2026-11-22T10:15:00.000Z", "path": "app", "request_id": "r2", "client_ip": null}"#;
    let sink = LogSink {
        store: FakeBucket::default(),
    };

    let response = sink
        .handle(event_with_values(&[spread, array, entry_not_object]))
        .await;

    assert!(response.batch_item_failures.is_empty());
    let objects = sink.store.objects.lock().unwrap().clone();
    let stored = gunzip(
        &objects["logs/app/dt=2026-11-22/hour=10/mobile-logs-0-00000000000000000000.ndjson.gz"],
    );
    assert_eq!(stored.lines().count(), 1, "{stored}");
    let line: Value = serde_json::from_str(stored.trim_end()).unwrap();
    assert_eq!(line["entry"]["desc"], "two\nlines");
    for offset in [1, 2] {
        let rejected: Value =
            serde_json::from_slice(&objects[&format!("rejected/mobile-logs-0-{offset:020}.json")])
                .unwrap();
        let reason = rejected["reason"].as_str().unwrap();
        assert!(reason.contains("not an envelope"), "{reason}");
    }
}
