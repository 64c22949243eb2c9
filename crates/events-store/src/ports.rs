//! The table events-sink writes.

use std::future::Future;

use thiserror::Error;

use crate::item::{EventItem, ItemKey};

/// At most this many items go in one write, as BatchWriteItem takes.
pub const BATCH_LIMIT: usize = 25;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum TableError {
    /// Over the table's throughput: the same write may succeed later.
    #[error("throttled: {0}")]
    Throttled(String),
    /// The table could not be reached or failed: the same write may succeed later.
    #[error("the table is unavailable: {0}")]
    Unavailable(String),
    /// The table refused the request as it is (an item too large, a bad value): writing it
    /// again will not help.
    #[error("refused: {0}")]
    Refused(String),
}

impl TableError {
    pub fn is_transient(&self) -> bool {
        !matches!(self, TableError::Refused(_))
    }
}

/// A record events-sink cannot store, kept with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parked {
    /// `topic-partition`, as the event names it.
    pub partition: String,
    pub offset: i64,
    /// The Kafka key and value, base64 as delivered; a value longer than
    /// [`PARKED_VALUE_LIMIT`] is cut to that length, its whole kept as `value_sha256` and
    /// `value_length`, so the parked item fits the table's 400 KB.
    pub key: Option<String>,
    pub value: Option<String>,
    pub value_sha256: Option<String>,
    pub value_length: Option<usize>,
    pub reason: String,
}

/// The most of a record's (base64) value a parked item keeps.
pub const PARKED_VALUE_LIMIT: usize = 64 * 1024;

pub trait EventTable: Send + Sync {
    /// Writes at most [`BATCH_LIMIT`] items with distinct keys in one call, each replacing any
    /// item with its key. Answers the keys the table did not process (to be written again).
    fn write_batch(
        &self,
        items: &[EventItem],
    ) -> impl Future<Output = Result<Vec<ItemKey>, TableError>> + Send;

    /// Keeps a record that cannot be stored; parking the same record again replaces it.
    fn park(&self, parked: &Parked) -> impl Future<Output = Result<(), TableError>> + Send;
}
