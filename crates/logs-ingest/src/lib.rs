//! The bridge: mobile logs and ad-network callbacks to Kafka.
//!
//! Apps `POST /api/v1/logs/{path}` with an `AppKey` header; the bridge checks the key, validates
//! every entry, wraps it in the contract's envelope ([`logs::LogEnvelope`]) and answers only once
//! Kafka acknowledged it, per entry. Ad networks call `/api/v1/events/{network}/{kind}`
//! ([`callbacks`]): each callback is checked against its versioned schema and produced in Glue
//! Schema Registry's Avro framing, again answered once acknowledged. The same [`api::LogsApi`] serves as a Lambda function
//! ([`lambda`]) and behind the standalone server (the `logs-server` crate).

pub mod api;
pub mod auth;
pub mod bridge;
pub mod callbacks;
pub mod config;
pub mod entry;
pub mod kafka;
pub mod lambda;
pub mod ports;
pub mod record;
