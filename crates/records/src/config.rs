use std::time::Duration;

use platform::{ConfigError, SdkConfig, env_number, required_env};

/// How long an admin has to decide, unless configured: seven days.
pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// records-api's configuration, read once at start.
#[derive(Debug, Clone)]
pub struct RecordsConfig {
    pub table_name: String,
    pub state_machine_arn: String,
    pub approvals_table: String,
    pub approval_state_machine_arn: String,
    pub approval_timeout: Duration,
    /// The SSM SecureString parameter holding the admin key.
    pub admin_key_parameter: String,
}

impl RecordsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required_env("RECORDS_TABLE")?,
            state_machine_arn: required_env("INGEST_STATE_MACHINE_ARN")?,
            approvals_table: required_env("APPROVALS_TABLE")?,
            approval_state_machine_arn: required_env("APPROVAL_STATE_MACHINE_ARN")?,
            approval_timeout: Duration::from_secs(env_number(
                "APPROVAL_TIMEOUT_SECONDS",
                DEFAULT_APPROVAL_TIMEOUT.as_secs(),
            )?),
            admin_key_parameter: required_env("RECORDS_ADMIN_KEY_PARAMETER")?,
        })
    }
}

/// The admin key, read from its parameter on the first approvals request rather than at start,
/// so that an ingest's cold start does not wait on SSM.
pub fn admin_key(sdk: &SdkConfig, parameter: &str) -> crate::api::AdminKey {
    crate::api::AdminKey::Parameter(platform::ssm::LazyParameter::new(
        platform::ssm::client(sdk),
        parameter,
    ))
}
