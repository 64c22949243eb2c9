use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig, timeout::TimeoutConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::endpoint::EndpointPrefix;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Default limits for every AWS call; the SDK sets none of its own.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The shared SDK configuration, built once per sandbox.
///
/// `AWS_ENDPOINT_URL` (and the SDK's per-service `AWS_ENDPOINT_URL_<SERVICE>`) are honoured by the
/// SDK itself; clients that need local-only adjustments ask [`is_local_endpoint`].
pub async fn aws_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(default_timeouts())
        .load()
        .await
}

pub fn default_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .operation_timeout(OPERATION_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
}

/// True when the SDK is pointed at a local stack rather than AWS.
pub fn is_local_endpoint() -> bool {
    std::env::var("AWS_ENDPOINT_URL").is_ok_and(|url| {
        let host = url
            .split("://")
            .nth(1)
            .unwrap_or(&url)
            .split(['/', ':'])
            .next()
            .unwrap_or("");
        host == "localhost" || host.starts_with("127.") || host == "[::1]"
    })
}

/// Removes the host prefix an operation adds to its endpoint (StartSyncExecution's `sync-`).
///
/// AWS routes on that prefix; a local endpoint such as `127.0.0.1` cannot carry it, so clients
/// talking to the local stack install this interceptor and nothing else changes.
#[derive(Debug, Default)]
pub struct StripEndpointPrefix;

impl Intercept for StripEndpointPrefix {
    fn name(&self) -> &'static str {
        "StripEndpointPrefix"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().unset::<EndpointPrefix>();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_endpoint<T>(value: Option<&str>, f: impl FnOnce() -> T) -> T {
        // SAFETY: these tests run in one thread of their own process-wide lock below.
        let _guard = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        unsafe {
            match value {
                Some(v) => std::env::set_var("AWS_ENDPOINT_URL", v),
                None => std::env::remove_var("AWS_ENDPOINT_URL"),
            }
        }
        f()
    }

    static ENV_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn loopback_endpoints_count_as_local() {
        assert!(with_endpoint(
            Some("http://127.0.0.1:4566"),
            is_local_endpoint
        ));
        assert!(with_endpoint(
            Some("http://localhost:5000/"),
            is_local_endpoint
        ));
    }

    #[test]
    fn aws_or_absent_endpoints_are_not_local() {
        assert!(!with_endpoint(None, is_local_endpoint));
        assert!(!with_endpoint(
            Some("https://states.eu-west-1.amazonaws.com"),
            is_local_endpoint
        ));
    }
}
