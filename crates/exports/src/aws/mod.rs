//! The exports' adapters to AWS: the only modules that see SDK types. Each is built with the
//! feature of the functions that use it: `api` (ledger, queue, presigner), `worker` (ledger,
//! stored events, multipart upload), `notify` (ledger, presigner, SES).

#[cfg(any(feature = "api", feature = "worker", feature = "notify"))]
pub mod ledger;
#[cfg(feature = "notify")]
pub mod mail;
#[cfg(any(feature = "api", feature = "notify"))]
pub mod presign;
#[cfg(feature = "api")]
pub mod queue;
#[cfg(feature = "worker")]
pub mod stored;
#[cfg(feature = "worker")]
pub mod upload;

/// How an SDK error reads as a [`crate::ports::ServiceError`].
#[cfg(any(feature = "api", feature = "worker", feature = "notify"))]
pub(crate) fn service_error<E, R>(
    err: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> crate::ports::ServiceError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    let text = aws_smithy_types::error::display::DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::ServiceError(service) => match service.err().code() {
            Some(
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "Throttling"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "SlowDown",
            ) => crate::ports::ServiceError::Throttled(text),
            Some(code)
                if code.starts_with("Validation")
                    || code == "InvalidParameterValue"
                    || code == "MessageRejected" =>
            {
                crate::ports::ServiceError::Refused(text)
            }
            _ => crate::ports::ServiceError::Unavailable(text),
        },
        _ => crate::ports::ServiceError::Unavailable(text),
    }
}

/// S3, path-style on the local stack.
#[cfg(any(feature = "api", feature = "worker", feature = "notify"))]
pub(crate) fn s3_client(sdk: &platform::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(platform::is_local_endpoint())
            .build(),
    )
}
