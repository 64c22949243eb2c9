//! A callback's fields checked against one version of its kind's schema, and made into the
//! Avro record the bridge produces.
//!
//! Networks call GET URLs with query parameters or POST a JSON object; both arrive here as a
//! list of named [`Raw`] values. The version is the `version` field; every other field must be
//! one of the version's, given once. Absent, `null` or empty means "not sent": an error for a
//! required field, null for an optional one. Times are RFC 3339 or Unix seconds (a fraction
//! allowed), from 2000 until an hour after the callback arrived.

use std::collections::BTreeMap;

use apache_avro::types::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::schema::{Catalog, Check, EventSchema, FieldType, Kind};

/// The name of the field that says which version of the schema a callback follows.
pub const VERSION_FIELD: &str = "version";

/// One value as a callback sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raw {
    Text(String),
    /// A JSON number, as written.
    Number(String),
    Null,
    /// A JSON array, object or boolean: never a field's value.
    Other,
}

/// Why a callback is refused; the bridge answers 400 with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No version, or one the schema does not have.
    UnknownVersion {
        given: Option<String>,
        known: Vec<u32>,
    },
    /// Field → what is wrong with it.
    Invalid(BTreeMap<String, String>),
}

/// A callback that passed: the record to encode with its schema, and what keys it.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted<'c> {
    pub schema: &'c EventSchema,
    pub event_id: String,
    pub record: Value,
}

/// Where and when the callback arrived: what the bridge fills in.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    pub network: &'a str,
    pub received_at: OffsetDateTime,
}

const EARLIEST_MS: i64 = 946_684_800_000; // 2000-01-01T00:00:00Z
const MAX_AHEAD_MS: i64 = 3_600_000;

pub fn check<'c>(
    catalog: &'c Catalog,
    kind: Kind,
    fields: Vec<(String, Raw)>,
    arrival: Arrival<'_>,
) -> Result<Accepted<'c>, Refusal> {
    let mut given: BTreeMap<String, Raw> = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for (name, value) in fields {
        match given.entry(name) {
            std::collections::btree_map::Entry::Occupied(seen) => {
                errors.insert(seen.key().clone(), "given more than once".to_owned());
            }
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(value);
            }
        }
    }
    let known = catalog.versions(kind);
    let version_text = match given.remove(VERSION_FIELD) {
        Some(Raw::Text(text) | Raw::Number(text)) => Some(text),
        _ => None,
    };
    if errors.contains_key(VERSION_FIELD) {
        return Err(Refusal::UnknownVersion {
            given: version_text,
            known,
        });
    }
    let Some(schema) = version_text
        .as_deref()
        .and_then(|text| text.parse::<u32>().ok())
        .and_then(|version| catalog.get(kind, version))
    else {
        return Err(Refusal::UnknownVersion {
            given: version_text,
            known,
        });
    };
    let received_ms = millis(arrival.received_at);
    let mut record = Vec::with_capacity(schema.fields.len());
    let mut event_id = String::new();
    for field in &schema.fields {
        if field.from_bridge {
            let value = match field.ty {
                FieldType::TimestampMillis => Value::TimestampMillis(received_ms),
                _ => Value::String(arrival.network.to_owned()),
            };
            record.push((field.name.clone(), value));
            continue;
        }
        let value = match given.remove(&field.name) {
            None | Some(Raw::Null) => None,
            Some(Raw::Text(text)) if text.is_empty() => None,
            Some(raw) => Some(raw),
        };
        let value = match value {
            None if field.optional => Value::Union(0, Box::new(Value::Null)),
            None => {
                errors.insert(field.name.clone(), "required".to_owned());
                continue;
            }
            Some(raw) => match convert(field.ty, &raw, received_ms) {
                Ok(value) => {
                    if field.name == "event_id"
                        && let Value::String(id) = &value
                    {
                        event_id.clone_from(id);
                    }
                    if field.optional {
                        Value::Union(1, Box::new(value))
                    } else {
                        value
                    }
                }
                Err(reason) => {
                    errors.insert(field.name.clone(), reason);
                    continue;
                }
            },
        };
        record.push((field.name.clone(), value));
    }
    for name in given.into_keys() {
        let reason = format!("not a field of {kind} v{}", schema.version);
        errors.entry(name).or_insert(reason);
    }
    if !errors.is_empty() {
        return Err(Refusal::Invalid(errors));
    }
    Ok(Accepted {
        schema,
        event_id,
        record: Value::Record(record),
    })
}

fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn convert(ty: FieldType, raw: &Raw, received_ms: i64) -> Result<Value, String> {
    let text = match raw {
        Raw::Text(text) | Raw::Number(text) => text.as_str(),
        Raw::Null | Raw::Other => return Err("must be a string or a number".to_owned()),
    };
    match ty {
        FieldType::String(check) => {
            if matches!(raw, Raw::Number(_)) && check != Check::Decimal {
                return Err("must be a string".to_owned());
            }
            check_text(check, text)?;
            Ok(Value::String(text.to_owned()))
        }
        FieldType::Int => text
            .parse::<i32>()
            .map(Value::Int)
            .map_err(|_| "must be a whole number".to_owned()),
        FieldType::TimestampMillis => {
            let ms = if matches!(raw, Raw::Text(_)) && text.contains(['T', 't']) {
                OffsetDateTime::parse(text, &Rfc3339)
                    .map(millis)
                    .map_err(|_| "must be an RFC 3339 time or Unix seconds".to_owned())?
            } else {
                unix_seconds_as_millis(text)
                    .ok_or_else(|| "must be an RFC 3339 time or Unix seconds".to_owned())?
            };
            if ms < EARLIEST_MS {
                return Err("is before 2000".to_owned());
            }
            if ms > received_ms.saturating_add(MAX_AHEAD_MS) {
                return Err("is more than an hour in the future".to_owned());
            }
            Ok(Value::TimestampMillis(ms))
        }
    }
}

/// `1733220000` or `1733220000.25` as milliseconds; the fraction past milliseconds is dropped.
fn unix_seconds_as_millis(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 12 || !digits(whole) || !digits(fraction) {
        return None;
    }
    if text.contains('.') && fraction.is_empty() {
        return None;
    }
    let seconds: i64 = whole.parse().ok()?;
    let mut ms_digits: String = fraction.chars().take(3).collect();
    while ms_digits.len() < 3 {
        ms_digits.push('0');
    }
    Some(seconds * 1000 + ms_digits.parse::<i64>().ok()?)
}

fn check_text(check: Check, text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let ok = match check {
        Check::Id => bytes.len() <= 128 && bytes.iter().all(|&b| b.is_ascii_graphic() && b != b'#'),
        Check::AppId => {
            bytes.len() <= 64
                && bytes
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        Check::Country => bytes.len() == 2 && bytes.iter().all(u8::is_ascii_uppercase),
        Check::Currency => bytes.len() == 3 && bytes.iter().all(u8::is_ascii_uppercase),
        Check::Decimal => is_decimal(text),
        Check::Text => bytes.len() <= 256 && !text.chars().any(char::is_control),
    };
    if ok {
        Ok(())
    } else {
        Err(match check {
            Check::Id => "must be 1-128 printable ASCII characters without spaces or '#'",
            Check::AppId => "must be 1-64 letters, digits, '.', '_' or '-'",
            Check::Country => "must be a two-letter country code in capitals",
            Check::Currency => "must be a three-letter currency code in capitals",
            Check::Decimal => {
                "must be a decimal number of at most 18 integer and 9 fractional digits"
            }
            Check::Text => "must be at most 256 bytes without control characters",
        }
        .to_owned())
    }
}

fn is_decimal(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    digits(whole, 18) && fraction.is_none_or(|f| digits(f, 9))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-03 10:00:00 UTC);

    fn arrival() -> Arrival<'static> {
        Arrival {
            network: "adnet",
            received_at: NOW,
        }
    }

    fn text(pairs: &[(&str, &str)]) -> Vec<(String, Raw)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Raw::Text((*v).to_owned())))
            .collect()
    }

    fn install(version: &str) -> Vec<(String, Raw)> {
        text(&[
            ("version", version),
            ("event_id", "ev-1"),
            ("app_id", "com.example.game"),
            ("occurred_at", "2026-12-03T09:59:00Z"),
            ("device_id", "6D92078A-8246-4BA4-AE5B-76104861E7DC"),
            ("campaign", "winter sale"),
        ])
    }

    fn field<'v>(record: &'v Value, name: &str) -> &'v Value {
        let Value::Record(fields) = record else {
            panic!("not a record")
        };
        &fields.iter().find(|(n, _)| n == name).unwrap().1
    }

    #[test]
    fn a_valid_install_becomes_its_versions_record_with_the_bridges_fields() {
        let catalog = Catalog::new().unwrap();
        let accepted = check(&catalog, Kind::Install, install("1"), arrival()).unwrap();
        assert_eq!(accepted.schema.version, 1);
        assert_eq!(accepted.event_id, "ev-1");
        let record = &accepted.record;
        assert_eq!(field(record, "network"), &Value::String("adnet".into()));
        assert_eq!(
            field(record, "received_at"),
            &Value::TimestampMillis(1_796_292_000_000)
        );
        assert_eq!(
            field(record, "occurred_at"),
            &Value::TimestampMillis(1_796_291_940_000)
        );
        assert_eq!(
            field(record, "country"),
            &Value::Union(0, Box::new(Value::Null))
        );
        assert_eq!(
            field(record, "campaign"),
            &Value::Union(1, Box::new(Value::String("winter sale".into())))
        );
        let encoded = apache_avro::to_avro_datum(&accepted.schema.schema, record.clone());
        assert!(encoded.is_ok(), "{encoded:?}");
    }

    #[test]
    fn version_two_takes_the_added_field_and_version_one_refuses_it() {
        let catalog = Catalog::new().unwrap();
        let mut fields = install("2");
        fields.push(("ad_set".into(), Raw::Text("set-7".into())));
        let accepted = check(&catalog, Kind::Install, fields.clone(), arrival()).unwrap();
        assert_eq!(accepted.schema.version, 2);
        fields[0].1 = Raw::Text("1".into());
        assert_eq!(
            check(&catalog, Kind::Install, fields, arrival()),
            Err(Refusal::Invalid(BTreeMap::from([(
                "ad_set".to_owned(),
                "not a field of install v1".to_owned()
            )])))
        );
    }

    #[test]
    fn a_missing_or_unknown_version_names_the_known_ones() {
        let catalog = Catalog::new().unwrap();
        for (fields, given) in [
            (install("3"), Some("3")),
            (install("two"), Some("two")),
            (install("1")[1..].to_vec(), None),
        ] {
            assert_eq!(
                check(&catalog, Kind::Install, fields, arrival()),
                Err(Refusal::UnknownVersion {
                    given: given.map(str::to_owned),
                    known: vec![1, 2]
                })
            );
        }
    }

    #[test]
    fn every_wrong_field_is_named_at_once() {
        let catalog = Catalog::new().unwrap();
        let fields = text(&[
            ("version", "1"),
            ("event_id", "has space"),
            ("app_id", "com/example"),
            ("occurred_at", "2026-12-03T12:00:00Z"),
            ("country", "de"),
            ("network", "spoofed"),
            ("cachebuster", "123"),
        ]);
        let Err(Refusal::Invalid(errors)) = check(&catalog, Kind::Install, fields, arrival())
        else {
            panic!("accepted")
        };
        let names: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "app_id",
                "cachebuster",
                "country",
                "device_id",
                "event_id",
                "network",
                "occurred_at"
            ]
        );
        assert_eq!(errors["device_id"], "required");
        assert_eq!(errors["occurred_at"], "is more than an hour in the future");
        assert_eq!(errors["network"], "not a field of install v1");
    }

    #[test]
    fn times_are_rfc3339_or_unix_seconds_within_bounds() {
        let at = |raw: Raw| convert(FieldType::TimestampMillis, &raw, 1_796_292_000_000);
        let ok = |ms: i64| Ok(Value::TimestampMillis(ms));
        assert_eq!(at(Raw::Text("1796291940".into())), ok(1_796_291_940_000));
        assert_eq!(
            at(Raw::Number("1796291940.2567".into())),
            ok(1_796_291_940_256)
        );
        assert_eq!(
            at(Raw::Text("2026-12-03T10:59:00+01:00".into())),
            ok(1_796_291_940_000)
        );
        for bad in [
            "",
            "1796291940.",
            "-5",
            "12e3",
            "2026-12-03",
            "0x10",
            "17962919400000",
        ] {
            assert!(at(Raw::Text(bad.into())).is_err(), "{bad}");
        }
        assert_eq!(
            at(Raw::Text("1999-12-31T23:59:59Z".into())),
            Err("is before 2000".into())
        );
        assert!(at(Raw::Text("1796295601".into())).is_err());
        assert!(at(Raw::Text("1796295600".into())).is_ok());
    }

    #[test]
    fn strings_are_checked_by_what_they_hold() {
        assert!(check_text(Check::Decimal, "-12.50").is_ok());
        for bad in [
            "12.",
            ".5",
            "1e5",
            "--1",
            "1234567890123456789",
            "1.0123456789",
        ] {
            assert!(check_text(Check::Decimal, bad).is_err(), "{bad}");
        }
        assert!(check_text(Check::Currency, "EUR").is_ok());
        assert!(check_text(Check::Currency, "eur").is_err());
        assert!(check_text(Check::Text, "caf\u{e9} \u{1f600}").is_ok());
        assert!(check_text(Check::Text, "line\nbreak").is_err());
        assert!(check_text(Check::Text, &"x".repeat(257)).is_err());
        assert!(check_text(Check::Id, &"x".repeat(129)).is_err());
        assert!(check_text(Check::AppId, "com.example-app_2").is_ok());
    }

    #[test]
    fn json_values_must_be_scalars_and_ids_strings() {
        let catalog = Catalog::new().unwrap();
        let mut fields = install("1");
        fields[1].1 = Raw::Number("12345".into());
        fields.push(("country".into(), Raw::Other));
        let Err(Refusal::Invalid(errors)) = check(&catalog, Kind::Install, fields, arrival())
        else {
            panic!("accepted")
        };
        assert_eq!(errors["event_id"], "must be a string");
        assert_eq!(errors["country"], "must be a string or a number");
    }

    #[test]
    fn an_in_app_event_takes_revenue_as_a_json_number_or_text() {
        let catalog = Catalog::new().unwrap();
        let mut fields = text(&[
            ("version", "1"),
            ("event_id", "e-9"),
            ("app_id", "shop"),
            ("occurred_at", "1796291940"),
            ("device_id", "d-1"),
            ("event_name", "purchase"),
            ("currency", "USD"),
        ]);
        fields.push(("revenue".into(), Raw::Number("4.99".into())));
        let accepted = check(&catalog, Kind::Event, fields, arrival()).unwrap();
        assert_eq!(
            field(&accepted.record, "revenue"),
            &Value::Union(1, Box::new(Value::String("4.99".into())))
        );
    }
}
