//! Ad-network callbacks, the part both sides of the topic share.
//!
//! - [`schema`]: the versioned Avro schemas of `schemas/` (one per kind of callback), compiled in;
//! - [`callback`]: a callback's fields checked against one version, made into the Avro record;
//! - [`wire`]: AWS Glue Schema Registry's framing of a message (the registry's id of the
//!   writer's version, then the Avro datum);
//! - [`registry`]: the port to the registry and the cache in front of it; `glue` (feature
//!   `glue`): its AWS Glue Schema Registry adapter.

pub mod callback;
#[cfg(feature = "glue")]
pub mod glue;
pub mod registry;
pub mod schema;
pub mod wire;

pub use schema::{EventSchema, Kind};
