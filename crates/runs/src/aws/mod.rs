//! Adapters from the ETL ports to AWS; the only modules that see SDK types.

#[cfg(feature = "dynamodb")]
pub mod dynamo;
#[cfg(feature = "notifier")]
pub mod glue;
#[cfg(any(feature = "engine", feature = "status"))]
pub mod s3;
#[cfg(any(feature = "trigger", feature = "status"))]
pub mod sfn;
#[cfg(feature = "notifier")]
pub mod sns;
