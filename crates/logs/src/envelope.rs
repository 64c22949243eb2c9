//! What goes to Kafka: the entry wrapped with where and when it arrived.
//!
//! ```json
//! {"entry": {...}, "received_at": "2026-11-22T10:15:00.123Z", "path": "app",
//!  "request_id": "…", "client_ip": "203.0.113.9", "entry_id": "<key>/<digest>.0"}
//! ```
//! `entry_id` is the client's `Idempotency-Key` (else the request id) with a digest of the
//! stream and the entry: an entry whose produce timed out may land and be sent again by the
//! app; both copies carry the same id when the app retries with the same key, and a consumer
//! that must not count twice drops repeats.
//! The bridge writes it ([`LogEnvelope::to_vec`]); the sink reads back what it needs
//! ([`EnvelopeHead::read`]) and stores the bytes as they were produced.

use std::borrow::Cow;
use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::stream::is_stream_name;

/// One entry as produced to the topic. `E` is the entry: a JSON object when written, anything
/// that checks it is an object when read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEnvelope<'a, E> {
    pub entry: E,
    /// As [`timestamp`] writes it.
    #[serde(borrow)]
    pub received_at: Cow<'a, str>,
    /// The stream: the `{path}` of `/api/v1/logs/{path}`.
    #[serde(borrow)]
    pub path: Cow<'a, str>,
    /// Absent from envelopes of producers that do not know one.
    #[serde(borrow, default)]
    pub request_id: Cow<'a, str>,
    /// Written as `null` when the front end did not know it.
    #[serde(borrow)]
    pub client_ip: Option<Cow<'a, str>>,
    /// Absent from envelopes written before it existed.
    #[serde(borrow, default)]
    pub entry_id: Cow<'a, str>,
}

impl<E: Serialize> LogEnvelope<'_, E> {
    /// The record value: compact JSON on one line.
    pub fn to_vec(&self) -> Result<Vec<u8>, EnvelopeError> {
        serde_json::to_vec(self).map_err(|err| EnvelopeError::Unwritable(err.to_string()))
    }
}

/// What a reader of the topic needs to place an envelope: its stream and arrival time, both
/// checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeHead {
    pub path: String,
    /// In UTC.
    pub received_at: OffsetDateTime,
}

impl EnvelopeHead {
    /// Reads and checks one record value, without building the entry.
    pub fn read(value: &[u8]) -> Result<EnvelopeHead, EnvelopeError> {
        // The derived reader would also take an array of the members in order.
        if value.trim_ascii_start().first() == Some(&b'[') {
            return Err(EnvelopeError::Invalid(
                "the value is not a JSON object".into(),
            ));
        }
        let envelope: LogEnvelope<'_, AnyObject> =
            serde_json::from_slice(value).map_err(|err| {
                if err.is_syntax() || err.is_eof() {
                    EnvelopeError::NotJson(err.to_string())
                } else {
                    EnvelopeError::Invalid(err.to_string())
                }
            })?;
        if !is_stream_name(&envelope.path) {
            return Err(EnvelopeError::Invalid(format!(
                "'path' {:?} is not a stream name",
                envelope.path
            )));
        }
        let received_at = OffsetDateTime::parse(&envelope.received_at, &Rfc3339)
            .map_err(|_| EnvelopeError::Invalid("'received_at' is not an RFC 3339 time".into()))?
            .to_offset(time::UtcOffset::UTC);
        Ok(EnvelopeHead {
            path: envelope.path.into_owned(),
            received_at,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EnvelopeError {
    #[error("the value is not JSON: {0}")]
    NotJson(String),
    #[error("the value is not an envelope: {0}")]
    Invalid(String),
    #[error("the envelope could not be written: {0}")]
    Unwritable(String),
}

/// Any JSON object, its members skipped: what a reader that keeps the produced bytes checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnyObject;

impl<'de> Deserialize<'de> for AnyObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AnyObject, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = AnyObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an 'entry' object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyObject, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AnyObject)
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// `received_at` as written in envelopes: RFC 3339, UTC, always three fraction digits, so that
/// the times sort as text.
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value, json};

    fn written(entry: &Map<String, Value>) -> Vec<u8> {
        LogEnvelope {
            entry,
            received_at: timestamp(OffsetDateTime::from_unix_timestamp(1_763_806_500).unwrap())
                .into(),
            path: "app".into(),
            request_id: "req-1".into(),
            client_ip: Some("203.0.113.9".into()),
            entry_id: "req-1/0".into(),
        }
        .to_vec()
        .unwrap()
    }

    #[test]
    fn the_envelope_is_written_with_its_members_in_order_on_one_line() {
        let entry = json!({"desc": "hi", "user_id": "u1"});
        let bytes = written(entry.as_object().unwrap());
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"entry":{"desc":"hi","user_id":"u1"},"received_at":"2025-11-22T10:15:00.000Z","path":"app","request_id":"req-1","client_ip":"203.0.113.9","entry_id":"req-1/0"}"#
        );
    }

    #[test]
    fn what_the_bridge_writes_the_sink_reads_back() {
        let entry = json!({"user_id": "u1"});
        let head = EnvelopeHead::read(&written(entry.as_object().unwrap())).unwrap();
        assert_eq!(head.path, "app");
        assert_eq!(head.received_at.unix_timestamp(), 1_763_806_500);
    }

    #[test]
    fn an_unknown_client_is_written_as_null_and_read_back() {
        let entry = Map::new();
        let envelope = LogEnvelope {
            entry: &entry,
            received_at: "2026-11-22T10:18:01.470Z".into(),
            path: "app".into(),
            request_id: "r".into(),
            client_ip: None,
            entry_id: "r/0".into(),
        };
        let bytes = envelope.to_vec().unwrap();
        assert!(String::from_utf8_lossy(&bytes).contains(r#""client_ip":null"#));
        assert!(EnvelopeHead::read(&bytes).is_ok());
    }

    #[test]
    fn values_that_are_not_envelopes_are_refused_with_the_reason() {
        let refused = |value: &str| EnvelopeHead::read(value.as_bytes()).unwrap_err();
        assert!(matches!(refused("{\"entry\": "), EnvelopeError::NotJson(_)));
        assert!(matches!(refused("not json"), EnvelopeError::NotJson(_)));
        for value in [
            r#"[1, 2]"#,
            r#"[{}, "2026-11-22T10:18:01.470Z", "app", "r", null, "r/0"]"#,
            r#"{"entry": [], "received_at": "2026-11-22T10:18:01.470Z", "path": "app", "request_id": "r", "client_ip": null, "entry_id": "r/0"}"#,
            r#"{"entry": {}, "received_at": "yesterday", "path": "app", "request_id": "r", "client_ip": null, "entry_id": "r/0"}"#,
            r#"{"entry": {}, "received_at": "2026-11-22T10:18:01.470Z", "path": "../etc", "request_id": "r", "client_ip": null, "entry_id": "r/0"}"#,
            r#"{"entry": {}, "path": "app", "request_id": "r", "client_ip": null, "entry_id": "r/0"}"#,
        ] {
            assert!(
                matches!(refused(value), EnvelopeError::Invalid(_)),
                "{value}"
            );
        }
    }

    #[test]
    fn received_at_always_has_three_fraction_digits() {
        let at = |nanos: i128| timestamp(OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap());
        assert_eq!(at(1_795_342_681_470_999_999), "2026-11-22T10:18:01.470Z");
        assert_eq!(at(1_795_342_681_500_000_000), "2026-11-22T10:18:01.500Z");
        assert_eq!(at(1_795_342_681_007_000_000), "2026-11-22T10:18:01.007Z");
        assert_eq!(at(1_763_806_500_123_456_789), "2025-11-22T10:15:00.123Z");
    }
}
