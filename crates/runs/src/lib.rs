//! The hit-level ETL pipeline around the `hitdata` engine: an S3 drop becomes a run in the
//! ledger, a workflow runs the engine (retrying once), failures reach on-call once, and anyone
//! can ask where a run stands.
//!
//! The domain (runs, transitions, the handlers) sees only the traits in [`ports`]; the AWS
//! adapters in [`aws`] are behind features, so each function links only the SDKs it uses.

pub mod aws;
#[cfg(feature = "engine")]
pub mod engine;
pub mod notify;
#[cfg(feature = "engine")]
pub mod parts;
pub mod ports;
pub mod reconcile;
pub mod run;
pub mod s3_event;
pub mod status;
pub mod trigger;

pub use run::{Engine, InputObject, ObjectVersion, Run, RunId, RunRequest, RunStatus};
