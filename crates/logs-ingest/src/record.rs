//! One checked entry made into the record the bridge produces: the [`LogEnvelope`] of the
//! contract, keyed so that one user's logs stay in order within a partition (`user_id`, else
//! `device_details`). `mobile_number` is masked to its last four digits unless configured
//! otherwise.

use logs::{EnvelopeError, LogEnvelope};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The request-wide part of every envelope.
#[derive(Debug, Clone)]
pub struct Arrival<'a> {
    /// As [`logs::envelope::timestamp`] formats it, once per request.
    pub received_at: String,
    pub path: &'a str,
    pub request_id: &'a str,
    pub client_ip: Option<&'a str>,
}

/// A record ready to produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRecord {
    pub key: Option<String>,
    pub value: Vec<u8>,
}

/// The ids the entries of one request land under:
/// `<Idempotency-Key or request id>/<digest of the stream and the entry>.<n>`, where `n` counts
/// earlier identical entries of the same request. An entry sent again under the same key keeps
/// its id whether the retry repeats the whole body or only the entries that did not land, except
/// a later copy of an entry repeated in one body: resent without the earlier copies it takes
/// the first one's id, so such a body is resent whole.
pub struct EntryIds<'a> {
    key: &'a str,
    stream: &'a str,
    seen: Vec<[u8; 8]>,
}

impl<'a> EntryIds<'a> {
    pub fn new(key: &'a str, stream: &'a str) -> EntryIds<'a> {
        EntryIds {
            key,
            stream,
            seen: Vec::new(),
        }
    }

    /// The id of the next entry of the request.
    pub fn next(&mut self, fields: &Map<String, Value>) -> Result<String, EnvelopeError> {
        let mut entry = Vec::with_capacity(256);
        canonical(fields, &mut entry).map_err(|err| EnvelopeError::Unwritable(err.to_string()))?;
        let mut digest = Sha256::new();
        digest.update(self.stream.as_bytes());
        digest.update([0]);
        digest.update(&entry);
        let mut short = [0u8; 8];
        short.copy_from_slice(&digest.finalize()[..8]);
        let repeats = self.seen.iter().filter(|seen| **seen == short).count();
        self.seen.push(short);
        let hex: String = short.iter().map(|b| format!("{b:02x}")).collect();
        Ok(format!("{}/{hex}.{repeats}", self.key))
    }
}

/// An entry as compact JSON with every object's keys in order, so its digest depends on what
/// was sent, not on the order the app wrote the fields in (nor on how serde_json keeps maps).
fn canonical(fields: &Map<String, Value>, out: &mut Vec<u8>) -> serde_json::Result<()> {
    let mut names: Vec<&String> = fields.keys().collect();
    names.sort_unstable();
    out.push(b'{');
    for (i, name) in names.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, name)?;
        out.push(b':');
        canonical_value(&fields[name], out)?;
    }
    out.push(b'}');
    Ok(())
}

fn canonical_value(value: &Value, out: &mut Vec<u8>) -> serde_json::Result<()> {
    match value {
        Value::Object(map) => canonical(map, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_value(item, out)?;
            }
            out.push(b']');
            Ok(())
        }
        scalar => serde_json::to_writer(&mut *out, scalar),
    }
}

/// Wraps one checked entry under its id.
pub fn wrap(
    fields: &Map<String, Value>,
    arrival: &Arrival<'_>,
    entry_id: &str,
    mask_mobile: bool,
) -> Result<OutRecord, EnvelopeError> {
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
    let envelope = LogEnvelope {
        entry,
        received_at: arrival.received_at.as_str().into(),
        path: arrival.path.into(),
        request_id: arrival.request_id.into(),
        client_ip: arrival.client_ip.map(Into::into),
        entry_id: entry_id.into(),
    };
    Ok(OutRecord {
        key,
        value: envelope.to_vec()?,
    })
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
    use logs::envelope::timestamp;
    use serde_json::json;
    use time::OffsetDateTime;

    /// An object whose fields were inserted in the order given.
    fn ordered(pairs: &[(&str, Value)]) -> Map<String, Value> {
        let mut map = Map::new();
        for (name, value) in pairs {
            map.insert((*name).into(), value.clone());
        }
        map
    }

    #[test]
    fn an_entry_id_does_not_depend_on_the_order_of_its_fields() {
        let inner = |a: i64, b: i64| Value::Object(ordered(&[("y", json!(b)), ("x", json!(a))]));
        let one = ordered(&[
            ("desc", json!("é \"q\"")),
            ("user_id", json!("u")),
            ("n", inner(1, 2)),
        ]);
        let other = ordered(&[
            (
                "n",
                Value::Object(ordered(&[("x", json!(1)), ("y", json!(2))])),
            ),
            ("user_id", json!("u")),
            ("desc", json!("é \"q\"")),
        ]);
        let first = EntryIds::new("k", "app").next(&one).unwrap();
        assert_eq!(EntryIds::new("k", "app").next(&other).unwrap(), first);
        assert_ne!(
            EntryIds::new("k", "app")
                .next(&ordered(&[("desc", json!("other"))]))
                .unwrap(),
            first
        );
        // The canonical form is serde_json's own compact form of sorted maps.
        let mut bytes = Vec::new();
        canonical(&one, &mut bytes).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"desc":"é \"q\"","n":{"x":1,"y":2},"user_id":"u"}"#
        );
    }

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
        let record = wrap(&entry, &arrival(), "req-1/0", true).unwrap();
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
                "entry_id": "req-1/0",
            })
        );
    }

    #[test]
    fn the_key_is_user_id_then_device_details_then_none() {
        let key = |v: Value| wrap(&object(v), &arrival(), "req-1/0", true).unwrap().key;
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
        let masked: Value =
            serde_json::from_slice(&wrap(&entry, &arrival(), "req-1/0", true).unwrap().value)
                .unwrap();
        assert_eq!(masked["entry"]["mobile_number"], "******3210");
        let kept: Value =
            serde_json::from_slice(&wrap(&entry, &arrival(), "req-1/0", false).unwrap().value)
                .unwrap();
        assert_eq!(kept["entry"]["mobile_number"], "9876543210");
    }

    #[test]
    fn an_entry_keeps_its_id_under_the_same_key_whatever_else_the_request_carries() {
        let (a, b) = (object(json!({"desc": "a"})), object(json!({"desc": "b"})));
        let mut first = EntryIds::new("key-1", "app");
        let ids: Vec<String> = [&a, &b, &a]
            .iter()
            .map(|e| first.next(e).unwrap())
            .collect();
        let mut retry = EntryIds::new("key-1", "app");
        let again = retry.next(&b).unwrap();

        assert_eq!(again, ids[1], "b alone keeps its id");
        assert_ne!(ids[0], ids[2], "a repeated in one request is two entries");
        assert!(ids[0].starts_with("key-1/") && ids[0].ends_with(".0"));
        assert!(ids[2].ends_with(".1"));
        assert_ne!(EntryIds::new("key-2", "app").next(&b).unwrap(), ids[1]);
        assert_ne!(EntryIds::new("key-1", "events").next(&b).unwrap(), ids[1]);
    }
}
