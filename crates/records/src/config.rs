use platform::{ConfigError, required_env};

/// records-api's configuration, read once at start.
#[derive(Debug, Clone)]
pub struct RecordsConfig {
    pub table_name: String,
    pub state_machine_arn: String,
}

impl RecordsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required_env("RECORDS_TABLE")?,
            state_machine_arn: required_env("INGEST_STATE_MACHINE_ARN")?,
        })
    }
}
