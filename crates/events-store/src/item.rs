//! One stored ad event.

use std::collections::BTreeMap;

use apache_avro::types::Value;
use events::registry::WriterSchema;

/// The attributes every item has besides its fields.
pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const KIND: &str = "kind";
pub const SCHEMA_VERSION: &str = "schema_version";

/// An item's key: `{app_id}#{YYYY-MM-DD}` and `{network}#{event_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemKey {
    pub pk: String,
    pub sk: String,
}

/// A value as DynamoDB keeps it.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    S(String),
    N(String),
    Bool(bool),
}

/// One event as stored: its key, its kind and writer's version, and every field the writer's
/// schema gave it (absent optional fields are left out; times are RFC 3339 UTC to the
/// millisecond, so that they sort as text).
#[derive(Debug, Clone, PartialEq)]
pub struct EventItem {
    pub key: ItemKey,
    pub attributes: BTreeMap<String, Attr>,
}

/// The partition key of an app's events on one UTC day (`YYYY-MM-DD`).
pub fn day_key(app_id: &str, day: &str) -> String {
    format!("{app_id}#{day}")
}

/// A decoded message made into its item; `Err` says why it cannot be stored.
pub fn from_record(writer: &WriterSchema, record: Value) -> Result<EventItem, String> {
    let Value::Record(fields) = record else {
        return Err("the message is not an Avro record".into());
    };
    let mut attributes = BTreeMap::new();
    for (name, value) in fields {
        if let Some(attr) = attr(&name, value)? {
            attributes.insert(name, attr);
        }
    }
    let text = |name: &str| match attributes.get(name) {
        Some(Attr::S(value)) if !value.is_empty() => Ok(value.clone()),
        _ => Err(format!("the message has no {name}")),
    };
    let (app_id, network, event_id) = (text("app_id")?, text("network")?, text("event_id")?);
    let occurred_at = text("occurred_at")?;
    let day = occurred_at
        .get(..10)
        .filter(|day| occurred_at.len() == 24 && day.as_bytes()[4] == b'-')
        .ok_or_else(|| format!("occurred_at {occurred_at} is not a time Sluice can store"))?;
    let key = ItemKey {
        pk: day_key(&app_id, day),
        sk: format!("{network}#{event_id}"),
    };
    attributes.insert(KIND.into(), Attr::S(writer.kind.as_str().into()));
    attributes.insert(SCHEMA_VERSION.into(), Attr::N(writer.version.to_string()));
    Ok(EventItem { key, attributes })
}

fn attr(name: &str, value: Value) -> Result<Option<Attr>, String> {
    Ok(Some(match value {
        Value::Null => return Ok(None),
        Value::Union(_, inner) => return attr(name, *inner),
        Value::String(s) | Value::Enum(_, s) => Attr::S(s),
        Value::Boolean(b) => Attr::Bool(b),
        Value::Int(n) => Attr::N(n.to_string()),
        Value::Long(n) => Attr::N(n.to_string()),
        Value::Float(n) => Attr::N(n.to_string()),
        Value::Double(n) => Attr::N(n.to_string()),
        Value::TimestampMillis(ms) => Attr::S(platform::rfc3339_from_unix(
            ms.div_euclid(1000),
            (ms.rem_euclid(1000) * 1_000_000) as u32,
        )),
        Value::TimestampMicros(us) => Attr::S(platform::rfc3339_from_unix(
            us.div_euclid(1_000_000),
            (us.rem_euclid(1_000_000) * 1000) as u32,
        )),
        Value::Date(days) => Attr::N(days.to_string()),
        _ => {
            return Err(format!(
                "field {name} has a type events-sink does not store"
            ));
        }
    }))
}
