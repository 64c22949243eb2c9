//! What the sink needs from the outside world.

use std::future::Future;

use thiserror::Error;

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
pub trait ObjectStore: Send + Sync {
    fn put(&self, object: Object) -> impl Future<Output = Result<(), StoreError>> + Send;
}
