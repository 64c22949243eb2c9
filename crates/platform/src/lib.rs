//! Plumbing every Sluice function shares: one way to build AWS config (local endpoints honoured),
//! tracing, configuration from the environment, and stable JSON error bodies.

pub mod aws;
pub mod config;
pub mod http;

pub use aws::{StripEndpointPrefix, aws_config, is_local_endpoint};
pub use aws_config::SdkConfig;
pub use config::{ConfigError, env_number, required_env};

/// Now, UTC, to the millisecond: how every Sluice timestamp is written
/// (`2026-11-23T10:15:00.123Z`).
pub fn now_rfc3339() -> String {
    use time::format_description::well_known::Rfc3339;
    let now = time::OffsetDateTime::now_utc();
    let millis = now.replace_nanosecond(now.millisecond() as u32 * 1_000_000);
    millis
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| now.unix_timestamp().to_string())
}

/// Structured logs: JSON when Lambda asks for it (`AWS_LAMBDA_LOG_FORMAT=JSON`), text otherwise.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}
