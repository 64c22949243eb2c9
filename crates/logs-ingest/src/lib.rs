//! The mobile logs bridge.
//!
//! Apps `POST /api/v1/logs/{path}` with an `AppKey` header; the bridge checks the key, validates
//! every entry, wraps it in the contract's envelope ([`logs::LogEnvelope`]) and answers only once
//! Kafka acknowledged it, per entry. The same [`api::LogsApi`] serves as a Lambda function
//! ([`lambda`]) and behind the standalone server (the `logs-server` crate).

pub mod api;
pub mod auth;
pub mod bridge;
pub mod config;
pub mod entry;
pub mod kafka;
pub mod lambda;
pub mod ports;
pub mod record;
