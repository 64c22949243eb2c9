//! The S3 notification event, as S3 sends it to a function: only the fields the trigger reads,
//! so an event that lacks the others (the local stack's does) is still understood.

use serde::Deserialize;

use crate::run::{InputObject, ObjectVersion};

#[derive(Debug, Deserialize)]
pub struct S3Notification {
    #[serde(rename = "Records", default)]
    pub records: Vec<S3Record>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Record {
    #[serde(default)]
    pub event_name: String,
    pub s3: S3Entity,
}

#[derive(Debug, Deserialize)]
pub struct S3Entity {
    pub bucket: S3Bucket,
    pub object: S3Object,
}

#[derive(Debug, Deserialize)]
pub struct S3Bucket {
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Object {
    pub key: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub e_tag: Option<String>,
    #[serde(default)]
    pub version_id: Option<String>,
}

/// Why a record of the event names no object the trigger can run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("the object key is not form-encoded UTF-8: {0:?}")]
    UndecodableKey(String),
    #[error("the event carries neither a version id nor an ETag")]
    NoVersion,
}

impl S3Record {
    pub fn is_object_created(&self) -> bool {
        self.event_name.starts_with("ObjectCreated:")
    }

    /// The object the record names, its key decoded.
    pub fn input_object(&self) -> Result<InputObject, RecordError> {
        let object = &self.s3.object;
        let key = decode_key(&object.key)
            .ok_or_else(|| RecordError::UndecodableKey(object.key.clone()))?;
        let version = match (&object.version_id, &object.e_tag) {
            (Some(id), _) if !id.is_empty() && id != "null" => ObjectVersion::VersionId(id.clone()),
            (_, Some(etag)) if !etag.is_empty() => {
                ObjectVersion::Etag(etag.trim_matches('"').to_owned())
            }
            _ => return Err(RecordError::NoVersion),
        };
        Ok(InputObject {
            bucket: self.s3.bucket.name.clone(),
            key,
            version,
            size: object.size,
        })
    }
}

/// Decodes a key as S3 sends it in notifications: form-encoded, `+` for a space and `%XX` for
/// any other byte (locally even `/` arrives as `%2F`).
pub fn decode_key(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let text = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(text, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_form_decoded() {
        assert_eq!(
            decode_key("in%2Fhit+data+2024%2F%C3%A9+%C3%BC%2Bx.tsv").as_deref(),
            Some("in/hit data 2024/é ü+x.tsv")
        );
        assert_eq!(
            decode_key("in/plain-key.tsv").as_deref(),
            Some("in/plain-key.tsv")
        );
    }

    #[test]
    fn broken_escapes_and_non_utf8_are_refused() {
        assert_eq!(decode_key("a%2"), None);
        assert_eq!(decode_key("a%zz"), None);
        assert_eq!(decode_key("%FF%FE"), None);
    }

    #[test]
    fn a_version_id_wins_over_the_etag() {
        let record: S3Record = serde_json::from_value(serde_json::json!({
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "in"},
                   "object": {"key": "a+b.tsv", "size": 3, "eTag": "\"e\"", "versionId": "v1"}}
        }))
        .unwrap();
        let object = record.input_object().unwrap();
        assert_eq!(object.key, "a b.tsv");
        assert_eq!(object.version, ObjectVersion::VersionId("v1".into()));
    }

    #[test]
    fn without_a_version_id_the_etag_names_the_version() {
        let record: S3Record = serde_json::from_value(serde_json::json!({
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "in"}, "object": {"key": "a.tsv", "size": 3, "eTag": "e1"}}
        }))
        .unwrap();
        assert_eq!(
            record.input_object().unwrap().version,
            ObjectVersion::Etag("e1".into())
        );
    }
}
