//! The mobile logs sink: on the far side of the topic, [`sink::LogSink`] writes what the MSK
//! event source delivers to S3 as gzip NDJSON, overwriting rather than duplicating on
//! redelivery. It reads the bridge's envelopes through the contract ([`logs::EnvelopeHead`]).

pub mod ports;
pub mod s3;
pub mod sink;
