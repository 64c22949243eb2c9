//! The schemas of `schemas/`, compiled in: one Avro record per kind of callback, versioned.
//!
//! A field is described to the edge by its Avro type and two attributes of Sluice's own
//! (`schemas/README.md`): `sluice.source: bridge` for what the bridge fills in, and
//! `sluice.check` for what it checks beyond the type.

use std::fmt;

use apache_avro::Schema;
use apache_avro::schema::RecordField;
use thiserror::Error;

/// The kinds of callback, as they appear in `/api/v1/events/{network}/{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Install,
    Reattribution,
    Event,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Install, Kind::Reattribution, Kind::Event];

    /// The name in the callback path.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Install => "install",
            Kind::Reattribution => "reattribution",
            Kind::Event => "event",
        }
    }

    /// The schema's name in the registry.
    pub fn schema_name(self) -> &'static str {
        match self {
            Kind::Install => "ad-install",
            Kind::Reattribution => "ad-reattribution",
            Kind::Event => "ad-event",
        }
    }

    pub fn from_path(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    pub fn from_schema_name(name: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|kind| kind.schema_name() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every version of every schema, in the order they are registered.
const SOURCES: &[(Kind, u32, &str)] = &[
    (
        Kind::Install,
        1,
        include_str!("../../../schemas/ad-install/v1.avsc"),
    ),
    (
        Kind::Install,
        2,
        include_str!("../../../schemas/ad-install/v2.avsc"),
    ),
    (
        Kind::Reattribution,
        1,
        include_str!("../../../schemas/ad-reattribution/v1.avsc"),
    ),
    (
        Kind::Event,
        1,
        include_str!("../../../schemas/ad-event/v1.avsc"),
    ),
];

/// The fields every kind carries, which the store keys on.
pub const REQUIRED_FIELDS: [&str; 5] = [
    "event_id",
    "app_id",
    "occurred_at",
    "network",
    "received_at",
];

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SchemaError {
    #[error("{kind} v{version} is not valid Avro: {reason}")]
    Unparsable {
        kind: Kind,
        version: u32,
        reason: String,
    },
    #[error("{kind} v{version}: {reason}")]
    Unusable {
        kind: Kind,
        version: u32,
        reason: String,
    },
}

/// What the edge checks on a string beyond its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// 1–128 printable ASCII characters, no space, no `#`.
    Id,
    /// 1–64 of `A-Z a-z 0-9 . _ -`.
    AppId,
    /// Two capital letters.
    Country,
    /// Three capital letters.
    Currency,
    /// `-?digits[.digits]`, at most 18 integer and 9 fractional digits.
    Decimal,
    /// Any text of 1–256 bytes without control characters.
    Text,
}

/// A field's Avro type, as far as callbacks use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String(Check),
    Int,
    TimestampMillis,
}

/// One field of a schema, as the edge sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub ty: FieldType,
    /// A `["null", T]` union: may be left out.
    pub optional: bool,
    /// Filled in by the bridge, never taken from a callback.
    pub from_bridge: bool,
}

/// One version of one kind's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSchema {
    pub kind: Kind,
    pub version: u32,
    /// The definition exactly as registered (the registry finds a version by its text).
    pub definition: &'static str,
    pub schema: Schema,
    pub fields: Vec<Field>,
}

/// Every schema, parsed once per process.
#[derive(Debug, Clone)]
pub struct Catalog {
    schemas: Vec<EventSchema>,
}

impl Catalog {
    pub fn new() -> Result<Catalog, SchemaError> {
        let schemas = SOURCES
            .iter()
            .map(|&(kind, version, definition)| EventSchema::parse(kind, version, definition))
            .collect::<Result<_, _>>()?;
        Ok(Catalog { schemas })
    }

    pub fn get(&self, kind: Kind, version: u32) -> Option<&EventSchema> {
        self.schemas
            .iter()
            .find(|s| s.kind == kind && s.version == version)
    }

    /// The versions of a kind, oldest first.
    pub fn versions(&self, kind: Kind) -> Vec<u32> {
        self.schemas
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.version)
            .collect()
    }

    pub fn latest(&self, kind: Kind) -> &EventSchema {
        self.schemas
            .iter()
            .filter(|s| s.kind == kind)
            .max_by_key(|s| s.version)
            .expect("every kind has a schema")
    }

    pub fn iter(&self) -> impl Iterator<Item = &EventSchema> {
        self.schemas.iter()
    }
}

impl EventSchema {
    pub fn parse(
        kind: Kind,
        version: u32,
        definition: &'static str,
    ) -> Result<EventSchema, SchemaError> {
        let unusable = |reason: String| SchemaError::Unusable {
            kind,
            version,
            reason,
        };
        let schema = Schema::parse_str(definition).map_err(|err| SchemaError::Unparsable {
            kind,
            version,
            reason: err.to_string(),
        })?;
        let Schema::Record(record) = &schema else {
            return Err(unusable("not a record".into()));
        };
        let fields = record
            .fields
            .iter()
            .map(|field| describe(field).map_err(&unusable))
            .collect::<Result<Vec<_>, _>>()?;
        for name in REQUIRED_FIELDS {
            match fields.iter().find(|f| f.name == name) {
                Some(field) if !field.optional => {}
                _ => return Err(unusable(format!("'{name}' must be a required field"))),
            }
        }
        Ok(EventSchema {
            kind,
            version,
            definition,
            schema,
            fields,
        })
    }

    /// The fields a callback may send.
    pub fn callback_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| !f.from_bridge)
    }
}

fn describe(field: &RecordField) -> Result<Field, String> {
    let (inner, optional) = match &field.schema {
        Schema::Union(union) => match union.variants() {
            [Schema::Null, inner] => (inner, true),
            _ => {
                return Err(format!("'{}': the only union is [\"null\", T]", field.name));
            }
        },
        other => (other, false),
    };
    let attribute = |name: &str| {
        field
            .custom_attributes
            .get(name)
            .map(|value| value.as_str().map(str::to_owned).ok_or(name.to_owned()))
            .transpose()
            .map_err(|name| format!("'{}': {name} must be text", field.name))
    };
    let check = match attribute("sluice.check")?.as_deref() {
        None => None,
        Some("id") => Some(Check::Id),
        Some("app_id") => Some(Check::AppId),
        Some("country") => Some(Check::Country),
        Some("currency") => Some(Check::Currency),
        Some("decimal") => Some(Check::Decimal),
        Some(other) => return Err(format!("'{}': no check is named '{other}'", field.name)),
    };
    let ty = match (inner, check) {
        (Schema::String, check) => FieldType::String(check.unwrap_or(Check::Text)),
        (Schema::Int, None) => FieldType::Int,
        (Schema::TimestampMillis, None) => FieldType::TimestampMillis,
        (Schema::Int | Schema::TimestampMillis, Some(_)) => {
            return Err(format!("'{}': checks apply to strings only", field.name));
        }
        (other, _) => {
            return Err(format!(
                "'{}': {other:?} is not a type callbacks carry",
                field.name
            ));
        }
    };
    let from_bridge = match attribute("sluice.source")?.as_deref() {
        None => false,
        Some("bridge") => true,
        Some(other) => return Err(format!("'{}': no source is named '{other}'", field.name)),
    };
    Ok(Field {
        name: field.name.clone(),
        ty,
        optional,
        from_bridge,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_of_the_repository_parses_and_carries_the_keys() {
        let catalog = Catalog::new().unwrap();
        assert_eq!(catalog.versions(Kind::Install), [1, 2]);
        assert_eq!(catalog.latest(Kind::Install).version, 2);
        for kind in Kind::ALL {
            let latest = catalog.latest(kind);
            let sent: Vec<&str> = latest.callback_fields().map(|f| f.name.as_str()).collect();
            assert!(
                sent.contains(&"event_id") && !sent.contains(&"network"),
                "{sent:?}"
            );
        }
        let v2 = catalog.get(Kind::Install, 2).unwrap();
        let ad_set = v2.fields.iter().find(|f| f.name == "ad_set").unwrap();
        assert!(ad_set.optional && !ad_set.from_bridge);
        assert!(
            catalog
                .get(Kind::Install, 1)
                .unwrap()
                .fields
                .iter()
                .all(|f| f.name != "ad_set")
        );
    }

    #[test]
    fn a_schema_without_the_keys_or_with_an_unknown_check_is_refused() {
        let no_app = r#"{"type":"record","name":"X","fields":[
            {"name":"event_id","type":"string"},
            {"name":"occurred_at","type":{"type":"long","logicalType":"timestamp-millis"}},
            {"name":"network","type":"string"},
            {"name":"received_at","type":{"type":"long","logicalType":"timestamp-millis"}}]}"#;
        let err = EventSchema::parse(Kind::Install, 9, no_app).unwrap_err();
        assert!(
            err.to_string()
                .contains("'app_id' must be a required field"),
            "{err}"
        );
        let bad_check = r#"{"type":"record","name":"X","fields":[
            {"name":"event_id","type":"string","sluice.check":"uuid"}]}"#;
        let err = EventSchema::parse(Kind::Install, 9, bad_check).unwrap_err();
        assert!(
            err.to_string().contains("no check is named 'uuid'"),
            "{err}"
        );
        let map = r#"{"type":"record","name":"X","fields":[
            {"name":"extra","type":{"type":"map","values":"string"}}]}"#;
        assert!(EventSchema::parse(Kind::Install, 9, map).is_err());
    }

    #[test]
    fn kinds_round_trip_through_paths_and_registry_names() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_path(kind.as_str()), Some(kind));
            assert_eq!(Kind::from_schema_name(kind.schema_name()), Some(kind));
        }
        assert_eq!(Kind::from_path("purchase"), None);
    }
}
