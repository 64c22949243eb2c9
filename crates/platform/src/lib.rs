//! Plumbing every Sluice function shares: one way to build AWS config (local endpoints honoured),
//! tracing, configuration from the environment, and stable JSON error bodies.

pub mod aws;
pub mod config;
pub mod http;

pub use aws::{StripEndpointPrefix, aws_config, is_local_endpoint};
pub use aws_config::SdkConfig;
pub use config::{ConfigError, required_env};

/// Structured logs: JSON when Lambda asks for it (`AWS_LAMBDA_LOG_FORMAT=JSON`), text otherwise.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}
