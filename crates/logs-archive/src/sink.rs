//! logs-sink: what the MSK event source delivers, written to S3 as gzip NDJSON.
//!
//! Within each topic-partition, records are taken in offset order and cut into runs of
//! consecutive records bound for the same `logs/<path>/dt=YYYY-MM-DD/hour=HH/` folder. A run is
//! one object named `<topic>-<partition>-<first offset>.ndjson.gz`: a redelivered batch starts
//! at an offset this function already started an object at, so it replaces that object instead
//! of adding a second copy (records a shorter redelivery leaves out start the next object). A record that cannot be decoded
//! goes to `rejected/` with the reason, on its own. Objects are written in offset order; the
//! first that fails is reported as the partition's failed item, so the event source retries
//! from exactly there and nothing before it is written twice.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures::future::join_all;
use logs::EnvelopeHead;
use serde_json::{Value, json};

use crate::ports::{Object, ObjectStore};
use platform::msk::{BatchItemFailure, BatchResponse, ItemIdentifier, KafkaEvent, KafkaRecord};

/// Where a decoded record belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Destination {
    path: String,
    date: String,
    hour: String,
}

enum Decoded {
    Line(Destination, Vec<u8>),
    Rejected(String),
}

/// One object to write, covering `first..=last` offsets of one partition.
struct Item {
    first: i64,
    object: Object,
}

pub struct LogSink<S> {
    pub store: S,
}

impl<S: ObjectStore> LogSink<S> {
    pub async fn handle(&self, event: KafkaEvent) -> BatchResponse {
        let failures = join_all(
            event
                .records
                .into_iter()
                .map(|(partition, records)| self.write_partition(partition, records)),
        )
        .await;
        BatchResponse {
            batch_item_failures: failures.into_iter().flatten().collect(),
        }
    }

    async fn write_partition(
        &self,
        partition_key: String,
        mut records: Vec<KafkaRecord>,
    ) -> Option<BatchItemFailure> {
        records.sort_by_key(|r| r.offset);
        records.dedup_by_key(|r| r.offset);
        let items = match items(&partition_key, &records) {
            Ok(items) => items,
            Err(err) => {
                tracing::error!(partition = %partition_key, error = %err, "could not encode the batch; reporting it");
                return records.first().map(|first| BatchItemFailure {
                    item_identifier: ItemIdentifier {
                        partition: partition_key.clone(),
                        offset: first.offset,
                    },
                });
            }
        };
        for item in items {
            if let Err(err) = self.store.put(item.object).await {
                tracing::warn!(partition = %partition_key, offset = item.first, error = %err, "write failed; reporting the batch item");
                return Some(BatchItemFailure {
                    item_identifier: ItemIdentifier {
                        partition: partition_key,
                        offset: item.first,
                    },
                });
            }
        }
        None
    }
}

fn items(partition_key: &str, records: &[KafkaRecord]) -> std::io::Result<Vec<Item>> {
    let mut items = Vec::new();
    let mut run: Option<(Destination, i64, i64, Vec<u8>)> = None;
    let flush = |run: &mut Option<(Destination, i64, i64, Vec<u8>)>,
                 items: &mut Vec<Item>|
     -> std::io::Result<()> {
        if let Some((dest, first, last, lines)) = run.take() {
            items.push(run_object(
                partition_key,
                records,
                &dest,
                first,
                last,
                &lines,
            )?);
        }
        Ok(())
    };
    for record in records {
        match decode(record) {
            Decoded::Line(dest, line) => match &mut run {
                Some((current, _, last, lines)) if *current == dest => {
                    *last = record.offset;
                    lines.extend_from_slice(&line);
                }
                _ => {
                    flush(&mut run, &mut items)?;
                    run = Some((dest, record.offset, record.offset, line));
                }
            },
            Decoded::Rejected(reason) => {
                flush(&mut run, &mut items)?;
                items.push(rejected_object(partition_key, record, &reason)?);
            }
        }
    }
    flush(&mut run, &mut items)?;
    Ok(items)
}

fn topic_and_partition(partition_key: &str, records: &[KafkaRecord]) -> (String, i64) {
    let first = &records[0];
    let topic = first.topic.clone().unwrap_or_else(|| {
        partition_key
            .rsplit_once('-')
            .map_or(partition_key, |(topic, _)| topic)
            .to_owned()
    });
    (topic, first.partition)
}

fn run_object(
    partition_key: &str,
    records: &[KafkaRecord],
    dest: &Destination,
    first: i64,
    last: i64,
    lines: &[u8],
) -> std::io::Result<Item> {
    let (topic, partition) = topic_and_partition(partition_key, records);
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(lines)?;
    let body = gzip.finish()?;
    tracing::info!(topic, partition, first, last, path = %dest.path, "writing run");
    Ok(Item {
        first,
        object: Object {
            key: format!(
                "logs/{}/dt={}/hour={}/{topic}-{partition}-{first:020}.ndjson.gz",
                dest.path, dest.date, dest.hour
            ),
            body,
            content_type: "application/gzip",
        },
    })
}

fn rejected_object(
    partition_key: &str,
    record: &KafkaRecord,
    reason: &str,
) -> std::io::Result<Item> {
    let (topic, partition) = topic_and_partition(partition_key, std::slice::from_ref(record));
    let body = json!({
        "topic": topic,
        "partition": partition,
        "offset": record.offset,
        "reason": reason,
        "key": record.key,
        "value": record.value,
    });
    Ok(Item {
        first: record.offset,
        object: Object {
            key: format!("rejected/{topic}-{partition}-{:020}.json", record.offset),
            body: serde_json::to_vec(&body)?,
            content_type: "application/json",
        },
    })
}

fn decode(record: &KafkaRecord) -> Decoded {
    let Some(value) = record.value.as_deref() else {
        return Decoded::Rejected("the record has no value".into());
    };
    let Ok(bytes) = STANDARD.decode(value) else {
        return Decoded::Rejected("the value is not base64".into());
    };
    let head = match EnvelopeHead::read(&bytes) {
        Ok(head) => head,
        Err(err) => return Decoded::Rejected(err.to_string()),
    };
    // The bytes as produced, one per line; a value spread over lines is compacted first.
    let mut line = if bytes.contains(&b'\n') || bytes.contains(&b'\r') {
        match serde_json::from_slice::<Value>(&bytes).and_then(|value| serde_json::to_vec(&value)) {
            Ok(compact) => compact,
            Err(err) => return Decoded::Rejected(format!("the value is not JSON: {err}")),
        }
    } else {
        bytes
    };
    line.push(b'\n');
    let received_at = head.received_at;
    let destination = Destination {
        path: head.path,
        date: format!(
            "{:04}-{:02}-{:02}",
            received_at.year(),
            received_at.month() as u8,
            received_at.day()
        ),
        hour: format!("{:02}", received_at.hour()),
    };
    Decoded::Line(destination, line)
}
