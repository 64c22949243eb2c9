//! What the handlers need from the outside world, as the narrowest traits that say it.

use async_trait::async_trait;
use thiserror::Error;

use crate::envelope::OutRecord;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PublishError {
    /// The brokers did not acknowledge in time, or cannot be reached.
    #[error("the brokers did not acknowledge: {0}")]
    Unavailable(String),
    /// The producer's local queue is full: too much in flight.
    #[error("the producer queue is full")]
    Backpressure,
}

/// Produces records to a topic, answering only once the brokers acknowledged every one.
#[async_trait]
pub trait LogPublisher: Send + Sync {
    async fn publish(&self, topic: &str, records: Vec<OutRecord>) -> Result<(), PublishError>;
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("could not store {key}: {reason}")]
pub struct StoreError {
    pub key: String,
    pub reason: String,
}

/// An object to write: its key, bytes and content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub body: Vec<u8>,
    pub content_type: &'static str,
}

/// Writes whole objects; writing the same key again replaces the object.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    async fn put(&self, object: Object) -> Result<(), StoreError>;
}
