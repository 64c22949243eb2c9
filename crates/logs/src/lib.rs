//! The mobile logs pipeline.
//!
//! Apps `POST /api/v1/logs/{path}` with an `AppKey` header; the bridge checks the key, validates
//! every entry, wraps it in an envelope and answers only once Kafka acknowledged it. The same
//! [`api::LogsApi`] serves as a Lambda function ([`lambda`]) and as a standalone server
//! ([`server`]). On the other side of the topic, [`sink::LogSink`] writes what the MSK event
//! source delivers to S3 as gzip NDJSON, overwriting rather than duplicating on redelivery.

pub mod api;
pub mod auth;
pub mod bridge;
pub mod config;
pub mod entry;
pub mod envelope;
pub mod kafka;
pub mod lambda;
pub mod ports;
pub mod s3;
pub mod server;
pub mod sink;

pub use aws_lambda_events::event::kafka::KafkaEvent;
