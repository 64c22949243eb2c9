//! events-sink: what the MSK event source delivers from the ad events topic, stored in
//! BatchWriteItem calls.
//!
//! Each message is decoded with the schema version its framing names (asked of the registry
//! once per process), so messages of every registered version decode side by side. Within the
//! batch, messages that make the same item (the same network and event id) are written once,
//! as the last of them; the item replaces any stored with its key, so a redelivered batch or a
//! callback a network sent twice changes nothing. Items go 25 to a call, a few calls at once;
//! what the table leaves unprocessed, or a call throttled or failed, is written again with
//! backoff. A message that cannot be stored (not in the registry's framing, a version the
//! registry does not have, not a datum of that version, an item the table refuses) is parked
//! with the reason and not retried. What still fails is reported: the partition's failed
//! item is its earliest offset not stored, so the event source retries from exactly there.
//! If the registry cannot be asked, the partition is reported from that message on.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use events::registry::{RegistryError, SchemaRegistry, Schemas};
use events::wire;
use futures::StreamExt;
use platform::msk::{BatchItemFailure, BatchResponse, ItemIdentifier, KafkaEvent, KafkaRecord};

use crate::item::{self, EventItem, ItemKey};
use crate::ports::{BATCH_LIMIT, EventTable, PARKED_VALUE_LIMIT, Parked, TableError};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// How long before the invocation's deadline no call is begun: more than one SDK operation may
/// take (10 s), so that the answer is given before the deadline.
pub const TIME_MARGIN: Duration = Duration::from_secs(12);

/// How many BatchWriteItem calls are in flight at once.
const CALLS_IN_FLIGHT: usize = 4;

/// How long to wait before writing again what was not written.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    /// Calls per chunk, the first included, before its items are reported as failed.
    pub attempts: u32,
}

impl Default for Backoff {
    /// 50 ms doubling to 2 s, ten calls: about 8 s of waiting at most, well inside the
    /// function's timeout.
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(50),
            max: Duration::from_secs(2),
            attempts: 10,
        }
    }
}

impl Backoff {
    fn delay(&self, retry: u32) -> Duration {
        self.first
            .saturating_mul(1u32 << retry.min(16))
            .min(self.max)
    }
}

pub struct EventsSink<T, R> {
    pub table: T,
    pub schemas: Schemas<R>,
    pub backoff: Backoff,
}

enum Decoded {
    Item(EventItem),
    Park(String),
    /// The registry could not be asked: retry from this message.
    Later(String),
}

/// An item to write, with where it came from.
struct Pending {
    item: EventItem,
    /// Every partition holding a message that makes this item, with the earliest such offset:
    /// the same event can arrive on two partitions (a network resending after the topic was
    /// repartitioned), and each must be reported if the item is not written.
    sources: Vec<(usize, i64)>,
    /// The message the item was made from (the last of them), and its partition.
    partition: usize,
    record: KafkaRecord,
}

impl Pending {
    fn add_source(&mut self, partition: usize, offset: i64) {
        match self.sources.iter_mut().find(|(p, _)| *p == partition) {
            Some((_, earliest)) => *earliest = (*earliest).min(offset),
            None => self.sources.push((partition, offset)),
        }
    }
}

enum Unwritten {
    /// Still not written after every attempt.
    Failed(String),
    /// The table refuses it: park it.
    Refused(String),
}

impl<T: EventTable, R: SchemaRegistry> EventsSink<T, R> {
    pub async fn handle(&self, event: KafkaEvent) -> BatchResponse {
        self.handle_until(event, None).await
    }

    /// Handles a batch, retrying what was not written no later than [`TIME_MARGIN`] before
    /// `deadline` (the invocation's): what is still unwritten then is reported, so the function
    /// answers rather than being stopped with the whole batch to be delivered again.
    pub async fn handle_until(
        &self,
        event: KafkaEvent,
        deadline: Option<SystemTime>,
    ) -> BatchResponse {
        let mut partitions: Vec<(String, Option<i64>)> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut by_key: HashMap<ItemKey, usize> = HashMap::new();
        // Each parked record, with the partitions and offsets to report if it cannot be parked.
        let mut parked: Vec<(Vec<(usize, i64)>, Parked)> = Vec::new();
        // Writer ids the registry could not be asked for: not asked again in this batch, so a
        // registry that is down costs one timeout per batch, not one per partition.
        let mut unavailable: HashSet<Uuid> = HashSet::new();

        for (partition_key, mut records) in event.records {
            let partition = partitions.len();
            partitions.push((partition_key.clone(), None));
            records.sort_by_key(|r| r.offset);
            records.dedup_by_key(|r| r.offset);
            for record in records {
                match self.decode(&record, &mut unavailable, deadline).await {
                    Decoded::Item(item) => match by_key.get(&item.key) {
                        Some(&at) => {
                            let earlier = &mut pending[at];
                            earlier.add_source(partition, record.offset);
                            earlier.item = item;
                            earlier.partition = partition;
                            earlier.record = record;
                        }
                        None => {
                            by_key.insert(item.key.clone(), pending.len());
                            pending.push(Pending {
                                item,
                                sources: vec![(partition, record.offset)],
                                partition,
                                record,
                            });
                        }
                    },
                    Decoded::Park(reason) => {
                        let sources = vec![(partition, record.offset)];
                        parked.push((sources, parked_record(&partition_key, &record, reason)));
                    }
                    Decoded::Later(reason) => {
                        tracing::warn!(partition = %partition_key, offset = record.offset, %reason, "cannot decode now; reporting the partition from here");
                        partitions[partition].1 = Some(record.offset);
                        break;
                    }
                }
            }
        }

        let unwritten: Vec<Vec<(usize, Unwritten)>> = futures::stream::iter(
            pending
                .chunks(BATCH_LIMIT)
                .enumerate()
                .map(|(n, chunk)| self.write_chunk(n * BATCH_LIMIT, chunk, deadline)),
        )
        .buffer_unordered(CALLS_IN_FLIGHT)
        .collect()
        .await;
        for (at, outcome) in unwritten.into_iter().flatten() {
            let p = &pending[at];
            match outcome {
                Unwritten::Failed(reason) => {
                    for &(partition, offset) in &p.sources {
                        tracing::warn!(partition = %partitions[partition].0, offset, %reason, "item not written; reporting it");
                        fail(&mut partitions, partition, offset);
                    }
                }
                Unwritten::Refused(reason) => {
                    let key = &partitions[p.partition].0;
                    let reason = format!("the table refused the item: {reason}");
                    parked.push((p.sources.clone(), parked_record(key, &p.record, reason)));
                }
            }
        }

        for (sources, record) in parked {
            tracing::warn!(partition = %record.partition, offset = record.offset, reason = %record.reason, "parking a record that cannot be stored");
            if let Err(err) = self.park(&record, deadline).await {
                tracing::warn!(partition = %record.partition, offset = record.offset, error = %err, "could not park; reporting it");
                for (partition, offset) in sources {
                    fail(&mut partitions, partition, offset);
                }
            }
        }

        BatchResponse {
            batch_item_failures: partitions
                .into_iter()
                .filter_map(|(partition, failed)| {
                    failed.map(|offset| BatchItemFailure {
                        item_identifier: ItemIdentifier { partition, offset },
                    })
                })
                .collect(),
        }
    }

    async fn decode(
        &self,
        record: &KafkaRecord,
        unavailable: &mut HashSet<Uuid>,
        deadline: Option<SystemTime>,
    ) -> Decoded {
        let Some(value) = record.value.as_deref() else {
            return Decoded::Park("the record has no value".into());
        };
        let framed = match STANDARD.decode(value) {
            Ok(framed) => framed,
            Err(err) => return Decoded::Park(format!("the value is not base64: {err}")),
        };
        let (id, datum) = match wire::decode(&framed) {
            Ok(decoded) => decoded,
            Err(err) => return Decoded::Park(err.to_string()),
        };
        if unavailable.contains(&id) {
            return Decoded::Later(format!(
                "schema version {id}: the registry could not be asked"
            ));
        }
        if deadline.is_some_and(|d| SystemTime::now() + TIME_MARGIN >= d) {
            return Decoded::Later("no time left in this invocation".into());
        }
        let writer = match self.schemas.writer(id).await {
            Ok(writer) => writer,
            Err(RegistryError::NotFound(reason)) => return Decoded::Park(reason),
            Err(RegistryError::Unavailable(reason)) => {
                unavailable.insert(id);
                return Decoded::Later(reason);
            }
        };
        let mut rest = datum.as_slice();
        let value = match apache_avro::from_avro_datum(&writer.schema, &mut rest, None) {
            Ok(value) if rest.is_empty() => value,
            Ok(_) => {
                return Decoded::Park(format!(
                    "{} bytes follow the datum of {} v{}",
                    rest.len(),
                    writer.kind,
                    writer.version
                ));
            }
            Err(err) => {
                return Decoded::Park(format!(
                    "not a datum of {} v{}: {err}",
                    writer.kind, writer.version
                ));
            }
        };
        match item::from_record(&writer, value) {
            Ok(item) => Decoded::Item(item),
            Err(reason) => Decoded::Park(reason),
        }
    }

    /// Writes one chunk (pending[start..start + chunk.len()]); answers what was not written.
    async fn write_chunk(
        &self,
        start: usize,
        chunk: &[Pending],
        deadline: Option<SystemTime>,
    ) -> Vec<(usize, Unwritten)> {
        let mut left: Vec<usize> = (start..start + chunk.len()).collect();
        let item_at = |at: usize| &chunk[at - start].item;
        let mut last_error = String::new();
        for attempt in 0..self.backoff.attempts {
            if attempt > 0 {
                let delay = self.backoff.delay(attempt - 1);
                if deadline.is_some_and(|d| SystemTime::now() + delay + TIME_MARGIN >= d) {
                    last_error = format!("{last_error}; no time left to retry");
                    break;
                }
                tokio::time::sleep(delay).await;
            }
            let items: Vec<EventItem> = left.iter().map(|&at| item_at(at).clone()).collect();
            match self.table.write_batch(&items).await {
                Ok(unprocessed) if unprocessed.is_empty() => return Vec::new(),
                Ok(unprocessed) => {
                    left.retain(|&at| unprocessed.contains(&item_at(at).key));
                    last_error = format!("{} items left unprocessed", left.len());
                }
                Err(TableError::Refused(reason)) if left.len() == 1 => {
                    return vec![(left[0], Unwritten::Refused(reason))];
                }
                Err(TableError::Refused(_)) => {
                    // One item spoils the call: write each on its own to find it.
                    let mut unwritten = Vec::new();
                    for at in left {
                        let one = &chunk[at - start..=at - start];
                        unwritten.extend(Box::pin(self.write_chunk(at, one, deadline)).await);
                    }
                    return unwritten;
                }
                Err(err) => last_error = err.to_string(),
            }
        }
        left.into_iter()
            .map(|at| (at, Unwritten::Failed(last_error.clone())))
            .collect()
    }

    async fn park(&self, record: &Parked, deadline: Option<SystemTime>) -> Result<(), TableError> {
        if deadline.is_some_and(|d| SystemTime::now() + TIME_MARGIN >= d) {
            return Err(TableError::Unavailable(
                "no time left in this invocation".into(),
            ));
        }
        let mut result = self.table.park(record).await;
        for retry in 0..self.backoff.attempts.saturating_sub(1) {
            match &result {
                Err(err) if err.is_transient() => {
                    let delay = self.backoff.delay(retry);
                    if deadline.is_some_and(|d| SystemTime::now() + delay + TIME_MARGIN >= d) {
                        break;
                    }
                    tokio::time::sleep(delay).await;
                    result = self.table.park(record).await;
                }
                _ => break,
            }
        }
        result
    }
}

fn fail(partitions: &mut [(String, Option<i64>)], partition: usize, offset: i64) {
    let failed = &mut partitions[partition].1;
    *failed = Some(failed.map_or(offset, |earlier| earlier.min(offset)));
}

fn parked_record(partition: &str, record: &KafkaRecord, reason: String) -> Parked {
    let cut = |text: &String| {
        let mut end = PARKED_VALUE_LIMIT.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_owned()
    };
    let (value, value_sha256, value_length) = match &record.value {
        Some(value) if value.len() > PARKED_VALUE_LIMIT => {
            let digest: String = Sha256::digest(value.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (Some(cut(value)), Some(digest), Some(value.len()))
        }
        value => (value.clone(), None, None),
    };
    Parked {
        partition: partition.to_owned(),
        offset: record.offset,
        key: record.key.as_ref().map(cut),
        value,
        value_sha256,
        value_length,
        reason,
    }
}
