//! What goes to Kafka: the entry wrapped with where and when it arrived.
//!
//! ```json
//! {"entry": {...}, "received_at": "2026-11-22T10:15:00.123Z", "path": "app",
//!  "request_id": "…", "client_ip": "203.0.113.9"}
//! ```
//! The record key is `user_id`, else `device_details`, so one user's logs stay in order within a
//! partition. `mobile_number` is masked to its last four digits unless configured otherwise.

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// The request-wide part of every envelope.
#[derive(Debug, Clone)]
pub struct Arrival<'a> {
    /// As [`timestamp`] formats it, once per request.
    pub received_at: String,
    pub path: &'a str,
    pub request_id: &'a str,
    pub client_ip: Option<&'a str>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    entry: &'a Map<String, Value>,
    received_at: &'a str,
    path: &'a str,
    request_id: &'a str,
    client_ip: Option<&'a str>,
}

/// A record ready to produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRecord {
    pub key: Option<String>,
    pub value: Vec<u8>,
}

/// `received_at` as written in envelopes: RFC 3339, UTC, always three fraction digits.
pub fn timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// Wraps one checked entry.
pub fn wrap(fields: &Map<String, Value>, arrival: &Arrival<'_>, mask_mobile: bool) -> OutRecord {
    let key = partition_key(fields);
    let masked;
    let entry = match fields.get("mobile_number") {
        Some(Value::String(number)) if mask_mobile => {
            let mut copy = fields.clone();
            copy.insert("mobile_number".into(), Value::String(mask(number)));
            masked = copy;
            &masked
        }
        _ => fields,
    };
    let envelope = Envelope {
        entry,
        received_at: &arrival.received_at,
        path: arrival.path,
        request_id: arrival.request_id,
        client_ip: arrival.client_ip,
    };
    OutRecord {
        key,
        value: serde_json::to_vec(&envelope).expect("an envelope always serializes"),
    }
}

fn partition_key(fields: &Map<String, Value>) -> Option<String> {
    ["user_id", "device_details"]
        .iter()
        .find_map(|name| match fields.get(*name) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            _ => None,
        })
}

/// Keeps the last four digits; every other character becomes `*`.
pub fn mask(number: &str) -> String {
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    number
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen > digits.saturating_sub(4) {
                    c
                } else {
                    '*'
                }
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn arrival() -> Arrival<'static> {
        Arrival {
            received_at: timestamp(OffsetDateTime::from_unix_timestamp(1_763_806_500).unwrap()),
            path: "app",
            request_id: "req-1",
            client_ip: Some("203.0.113.9"),
        }
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn the_envelope_carries_entry_arrival_path_request_and_client() {
        let entry = object(json!({"user_id": "u1", "desc": "hi", "extra": [1]}));
        let record = wrap(&entry, &arrival(), true);
        assert_eq!(record.key.as_deref(), Some("u1"));
        let value: Value = serde_json::from_slice(&record.value).unwrap();
        assert_eq!(
            value,
            json!({
                "entry": {"user_id": "u1", "desc": "hi", "extra": [1]},
                "received_at": "2025-11-22T10:15:00.000Z",
                "path": "app",
                "request_id": "req-1",
                "client_ip": "203.0.113.9",
            })
        );
    }

    #[test]
    fn received_at_always_has_three_fraction_digits() {
        let at = |nanos: i128| timestamp(OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap());
        assert_eq!(at(1_795_342_681_470_999_999), "2026-11-22T10:18:01.470Z");
        assert_eq!(at(1_795_342_681_500_000_000), "2026-11-22T10:18:01.500Z");
        assert_eq!(at(1_795_342_681_007_000_000), "2026-11-22T10:18:01.007Z");
    }

    #[test]
    fn the_key_is_user_id_then_device_details_then_none() {
        let key = |v: Value| wrap(&object(v), &arrival(), true).key;
        assert_eq!(
            key(json!({"user_id": "u", "device_details": "d"})).as_deref(),
            Some("u")
        );
        assert_eq!(
            key(json!({"user_id": " ", "device_details": "d"})).as_deref(),
            Some("d")
        );
        assert_eq!(key(json!({"device_details": "d"})).as_deref(), Some("d"));
        assert_eq!(key(json!({"desc": "x"})), None);
    }

    #[test]
    fn mobile_numbers_keep_only_their_last_four_digits() {
        assert_eq!(mask("9876543210"), "******3210");
        assert_eq!(mask("+91 98765-43210"), "***********3210");
        assert_eq!(mask("123"), "123");
        assert_eq!(mask(""), "");
        let entry = object(json!({"mobile_number": "9876543210"}));
        let masked: Value = serde_json::from_slice(&wrap(&entry, &arrival(), true).value).unwrap();
        assert_eq!(masked["entry"]["mobile_number"], "******3210");
        let kept: Value = serde_json::from_slice(&wrap(&entry, &arrival(), false).value).unwrap();
        assert_eq!(kept["entry"]["mobile_number"], "9876543210");
    }

    #[test]
    fn timestamps_have_millisecond_precision_in_utc() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_763_806_500_123_456_789).unwrap();
        assert_eq!(timestamp(at), "2025-11-22T10:15:00.123Z");
    }
}
