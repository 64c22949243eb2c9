//! Request bodies: one JSON object, or an array of them, optionally gzip-compressed.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::{Map, Value};

use crate::config::Limits;

/// The fields apps send. Each is optional and must be a string when present; other fields are
/// kept as they are.
pub const KNOWN_FIELDS: [&str; 13] = [
    "source",
    "log_type",
    "app_key",
    "app_version",
    "mobile_number",
    "device_details",
    "user_id",
    "ip_address",
    "desc",
    "data",
    "app_platform",
    "timestamp",
    "env",
];

/// Why a body as a whole was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Over the body limit as sent or after decompression (413).
    TooLarge { limit: usize },
    /// More entries than allowed in one request (413).
    TooManyEntries { limit: usize },
    /// A `Content-Encoding` other than gzip or identity (415).
    UnsupportedEncoding(String),
    /// Not a gzip stream although declared so (400).
    BadCompression,
    /// Not JSON, or JSON that is neither an object nor an array (400).
    Malformed(String),
    /// An empty array (400).
    Empty,
}

/// What a body holds: one entry or several.
#[derive(Debug, Clone, PartialEq)]
pub enum Submission {
    Single(Value),
    Batch(Vec<Value>),
}

/// Decompresses the body if `Content-Encoding` says so, never past `limits.max_body_bytes`.
pub fn decode_body<'a>(
    body: &'a [u8],
    content_encoding: Option<&str>,
    limits: &Limits,
) -> Result<std::borrow::Cow<'a, [u8]>, BodyError> {
    if body.len() > limits.max_body_bytes {
        return Err(BodyError::TooLarge {
            limit: limits.max_body_bytes,
        });
    }
    let encoding = content_encoding.map(|e| e.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("") | Some("identity") => Ok(std::borrow::Cow::Borrowed(body)),
        Some("gzip") | Some("x-gzip") => {
            let mut out =
                Vec::with_capacity(body.len().saturating_mul(4).min(limits.max_body_bytes));
            let mut decoder =
                flate2::read::GzDecoder::new(body).take(limits.max_body_bytes as u64 + 1);
            decoder
                .read_to_end(&mut out)
                .map_err(|_| BodyError::BadCompression)?;
            if out.len() > limits.max_body_bytes {
                return Err(BodyError::TooLarge {
                    limit: limits.max_body_bytes,
                });
            }
            Ok(std::borrow::Cow::Owned(out))
        }
        Some(other) => Err(BodyError::UnsupportedEncoding(other.to_owned())),
    }
}

/// Parses a decoded body into one entry or a batch.
pub fn parse(body: &[u8], limits: &Limits) -> Result<Submission, BodyError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| BodyError::Malformed(format!("the body is not JSON: {e}")))?;
    match value {
        Value::Object(_) => Ok(Submission::Single(value)),
        Value::Array(entries) if entries.is_empty() => Err(BodyError::Empty),
        Value::Array(entries) if entries.len() > limits.max_entries => {
            Err(BodyError::TooManyEntries {
                limit: limits.max_entries,
            })
        }
        Value::Array(entries) => Ok(Submission::Batch(entries)),
        _ => Err(BodyError::Malformed(
            "the body must be a JSON object or an array of objects".into(),
        )),
    }
}

/// Problems with one entry, by field (`"entry"` when the entry is not an object).
pub type EntryErrors = BTreeMap<String, String>;

/// Checks one entry: an object of at most `max_fields` fields, whose names are at most
/// `max_field_name_bytes` long, whose known fields are strings, `timestamp` epoch milliseconds,
/// and no field over the size limit. Returns the entry's fields.
pub fn check<'v>(entry: &'v Value, limits: &Limits) -> Result<&'v Map<String, Value>, EntryErrors> {
    let mut errors = EntryErrors::new();
    let Value::Object(fields) = entry else {
        errors.insert("entry".into(), "must be a JSON object".into());
        return Err(errors);
    };
    if fields.len() > limits.max_fields {
        errors.insert(
            "entry".into(),
            format!("must have at most {} fields", limits.max_fields),
        );
        return Err(errors);
    }
    for (name, value) in fields {
        if name.len() > limits.max_field_name_bytes {
            errors.insert(
                shortened(name, limits.max_field_name_bytes),
                format!(
                    "the field name must be at most {} bytes",
                    limits.max_field_name_bytes
                ),
            );
            continue;
        }
        let known = KNOWN_FIELDS.contains(&name.as_str());
        match value {
            Value::String(s) if s.len() > limits.max_field_bytes => {
                errors.insert(
                    name.clone(),
                    format!("must be at most {} bytes", limits.max_field_bytes),
                );
            }
            Value::String(s) if name == "timestamp" && !is_epoch_millis(s) => {
                errors.insert(
                    name.clone(),
                    "must be epoch milliseconds as a string of digits".into(),
                );
            }
            Value::String(_) | Value::Null => {}
            _ if known => {
                errors.insert(name.clone(), "must be a string".into());
            }
            other => {
                if serialized_len(other) > limits.max_field_bytes {
                    errors.insert(
                        name.clone(),
                        format!("must be at most {} bytes", limits.max_field_bytes),
                    );
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(fields)
    } else {
        Err(errors)
    }
}

/// An overlong field name as the answer names it: its first `max_bytes` bytes (cut at a character
/// boundary) and an ellipsis, so the error body stays small whatever was sent.
fn shortened(name: &str, max_bytes: usize) -> String {
    let mut end = max_bytes.min(name.len());
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &name[..end])
}

fn is_epoch_millis(s: &str) -> bool {
    !s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_digit())
}

fn serialized_len(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use serde_json::json;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn small() -> Limits {
        Limits {
            max_body_bytes: 1000,
            max_entries: 3,
            max_field_bytes: 10,
            max_field_name_bytes: 10,
            max_fields: 4,
        }
    }

    #[test]
    fn plain_and_gzip_bodies_decode_to_the_same_bytes() {
        let body = br#"{"source":"app"}"#;
        let limits = small();
        assert_eq!(&*decode_body(body, None, &limits).unwrap(), body);
        assert_eq!(
            &*decode_body(body, Some("identity"), &limits).unwrap(),
            body
        );
        assert_eq!(
            &*decode_body(&gzip(body), Some("GZIP"), &limits).unwrap(),
            body
        );
    }

    #[test]
    fn bodies_over_the_limit_are_refused_before_and_after_decompression() {
        let limits = small();
        assert_eq!(
            decode_body(&[b' '; 1001], None, &limits),
            Err(BodyError::TooLarge { limit: 1000 })
        );
        // A gzip bomb: tiny on the wire, far over the limit once inflated.
        let bomb = gzip(&vec![b' '; 500_000]);
        assert!(bomb.len() < 1000);
        assert_eq!(
            decode_body(&bomb, Some("gzip"), &limits),
            Err(BodyError::TooLarge { limit: 1000 })
        );
        // Exactly at the limit is fine.
        assert!(decode_body(&gzip(&[b' '; 1000]), Some("gzip"), &limits).is_ok());
    }

    #[test]
    fn unknown_encodings_and_broken_gzip_are_refused() {
        let limits = small();
        assert_eq!(
            decode_body(b"{}", Some("br"), &limits),
            Err(BodyError::UnsupportedEncoding("br".into()))
        );
        assert_eq!(
            decode_body(b"{}", Some("gzip"), &limits),
            Err(BodyError::BadCompression)
        );
    }

    #[test]
    fn bodies_are_one_object_or_a_bounded_non_empty_array() {
        let limits = small();
        assert!(matches!(parse(b"{}", &limits), Ok(Submission::Single(_))));
        assert!(matches!(
            parse(b"[{}, {}]", &limits),
            Ok(Submission::Batch(v)) if v.len() == 2
        ));
        assert_eq!(parse(b"[]", &limits), Err(BodyError::Empty));
        assert_eq!(
            parse(b"[{},{},{},{}]", &limits),
            Err(BodyError::TooManyEntries { limit: 3 })
        );
        assert!(matches!(
            parse(b"\"x\"", &limits),
            Err(BodyError::Malformed(_))
        ));
        assert!(matches!(parse(b"{", &limits), Err(BodyError::Malformed(_))));
    }

    #[test]
    fn known_fields_must_be_strings_and_unknown_fields_are_kept() {
        let limits = small();
        assert_eq!(
            check(
                &json!({"source": "a", "extra": {"n": 1}, "desc": null}),
                &limits
            )
            .map(|fields| fields.len()),
            Ok(3)
        );
        let errors = check(&json!({"user_id": 7, "data": ["x"]}), &limits).unwrap_err();
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["data", "user_id"]);
        assert_eq!(errors["user_id"], "must be a string");
    }

    #[test]
    fn timestamps_are_epoch_milliseconds() {
        let limits = Limits {
            max_field_bytes: 100,
            ..small()
        };
        assert_eq!(
            check(&json!({"timestamp": "1700000000000"}), &limits).map(|f| f["timestamp"].clone()),
            Ok(json!("1700000000000"))
        );
        for bad in ["", "17e11", "-1", "2024-01-01", " 1"] {
            assert!(
                check(&json!({ "timestamp": bad }), &limits).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn oversized_fields_are_named() {
        let limits = small();
        let errors = check(
            &json!({"desc": "01234567890", "blob": [1, 2, 3, 4, 5]}),
            &limits,
        )
        .unwrap_err();
        assert_eq!(errors["desc"], "must be at most 10 bytes");
        assert_eq!(errors["blob"], "must be at most 10 bytes");
        assert!(check(&json!({"desc": "0123456789"}), &limits).is_ok());
    }

    #[test]
    fn overlong_field_names_are_named_by_their_start() {
        let limits = small();
        assert!(check(&json!({"ten_chars_": "x"}), &limits).is_ok());
        let errors = check(&json!({"eleven_char": "x", "é_é_é_é_é": "x"}), &limits).unwrap_err();
        assert_eq!(
            errors,
            EntryErrors::from([
                (
                    "eleven_cha…".into(),
                    "the field name must be at most 10 bytes".into()
                ),
                (
                    "é_é_é_…".into(),
                    "the field name must be at most 10 bytes".into()
                ),
            ])
        );
    }

    #[test]
    fn entries_with_more_fields_than_allowed_are_refused_whole() {
        let limits = small();
        assert!(check(&json!({"a": "1", "b": "2", "c": "3", "d": "4"}), &limits).is_ok());
        let errors = check(
            &json!({"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}),
            &limits,
        )
        .unwrap_err();
        assert_eq!(
            errors,
            EntryErrors::from([("entry".into(), "must have at most 4 fields".into())])
        );
    }

    #[test]
    fn non_objects_in_a_batch_are_entry_errors() {
        let errors = check(&json!(42), &small()).unwrap_err();
        assert_eq!(errors["entry"], "must be a JSON object");
    }
}
