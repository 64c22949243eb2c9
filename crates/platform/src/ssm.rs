//! Secrets kept in SSM Parameter Store as SecureStrings, read once and held as [`Secret`]s.

use thiserror::Error;

use crate::Secret;

/// Why a secret parameter could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParameterError {
    #[error("could not read parameter {name}: {reason}")]
    Unreadable { name: String, reason: String },
    #[error("parameter {name} has no value")]
    Empty { name: String },
}

/// Reads an SSM SecureString parameter, decrypted.
pub async fn read_secure_parameter(
    client: &aws_sdk_ssm::Client,
    name: &str,
) -> Result<Secret, ParameterError> {
    let output = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|err| ParameterError::Unreadable {
            name: name.to_owned(),
            reason: aws_sdk_ssm::error::DisplayErrorContext(err).to_string(),
        })?;
    let value = output
        .parameter
        .and_then(|p| p.value)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| ParameterError::Empty {
            name: name.to_owned(),
        })?;
    Ok(Secret::new(value))
}

/// A SecureString read on first use and kept for the life of the sandbox. A failed read is not
/// kept: the next use tries again, so a parameter that was briefly unreadable does not stay so.
pub struct LazyParameter {
    client: aws_sdk_ssm::Client,
    name: String,
    value: tokio::sync::OnceCell<Secret>,
}

impl LazyParameter {
    pub fn new(client: aws_sdk_ssm::Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
            value: tokio::sync::OnceCell::new(),
        }
    }

    pub async fn get(&self) -> Result<&Secret, ParameterError> {
        self.value
            .get_or_try_init(|| read_secure_parameter(&self.client, &self.name))
            .await
    }
}

/// An SSM client on the shared configuration.
pub fn client(sdk: &aws_config::SdkConfig) -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(sdk)
}
