//! The contract of the mobile logs pipeline: what the bridge produces to Kafka and the sink
//! reads back. The bridge (`logs-ingest`) and the sink (`logs-archive`) both depend on this
//! crate and on nothing of each other, so each function links only its own side.

pub mod envelope;
pub mod stream;

pub use envelope::{EnvelopeError, EnvelopeHead, LogEnvelope};
pub use stream::is_stream_name;
