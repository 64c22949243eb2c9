//! What the bridge needs from the outside world, as the narrowest trait that says it.

use std::future::Future;

use thiserror::Error;

use crate::record::OutRecord;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PublishError {
    /// The brokers did not acknowledge in time, or cannot be reached.
    #[error("the brokers did not acknowledge: {0}")]
    Unavailable(String),
    /// The producer's local queue is full: too much in flight.
    #[error("the producer queue is full")]
    Backpressure,
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The brokers acknowledged it.
    Acknowledged,
    /// It never left the process: nothing of it can land.
    NotSent(PublishError),
    /// It was handed to the producer but not acknowledged: it may still land.
    Unknown(PublishError),
}

/// Produces records to a topic.
pub trait LogPublisher: Send + Sync {
    /// Answers once every record has an outcome: one [`Delivery`] per record, in their order.
    fn publish(
        &self,
        topic: &str,
        records: Vec<OutRecord>,
    ) -> impl Future<Output = Vec<Delivery>> + Send;
}
