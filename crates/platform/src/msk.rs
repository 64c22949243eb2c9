//! The event the MSK event source delivers, as far as the sinks read it, and the partial batch
//! response it understands.
//!
//! Sluice's own type rather than `aws_lambda_events`' `KafkaEvent`: that one decodes each
//! record's `timestamp` with an assertion that it has no fraction, so a timestamp such as
//! `1.5` aborts the whole sandbox (the functions are built with `panic = "abort"`) before the
//! handler runs. The sinks need neither the timestamp nor the headers; fields they do not read
//! are not decoded at all, so nothing in them can stop a batch.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// An MSK (or self-managed Kafka) event: records grouped by `topic-partition`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct KafkaEvent {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub records: BTreeMap<String, Vec<KafkaRecord>>,
}

/// `"records": null` is an empty batch, as absent is.
fn null_as_empty<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Vec<KafkaRecord>>, D::Error> {
    Ok(Option::deserialize(deserializer)?.unwrap_or_default())
}

/// One record of a batch; `key` and `value` are base64, as the event source sends them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct KafkaRecord {
    #[serde(default)]
    pub topic: Option<String>,
    pub partition: i64,
    pub offset: i64,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

/// The partial batch response the event source mapping understands.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    pub batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    pub item_identifier: ItemIdentifier,
}

/// Kafka's item identifier: the `topic-partition` key of the event and the offset to resume at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemIdentifier {
    pub partition: String,
    pub offset: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_or_null_records_map_is_an_empty_batch() {
        for event in [r#"{"eventSource":"aws:kafka"}"#, r#"{"records":null}"#] {
            let event: KafkaEvent = serde_json::from_str(event).unwrap();
            assert!(event.records.is_empty());
        }
    }
}
