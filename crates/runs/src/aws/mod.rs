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

/// An SDK error as text for logs and error variants: the whole chain of causes, which the
/// SDK's own `Display` leaves out.
#[cfg(any(
    feature = "dynamodb",
    feature = "engine",
    feature = "status",
    feature = "trigger",
    feature = "notifier"
))]
fn describe<E: std::error::Error>(err: &E) -> String {
    aws_smithy_types::error::display::DisplayErrorContext(err).to_string()
}
