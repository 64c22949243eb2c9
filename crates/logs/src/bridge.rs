//! Building the bridge from its configuration: shared by the Lambda function and the server.

use crate::api::LogsApi;
use crate::auth::Authenticator;
use crate::config::BridgeConfig;
use crate::kafka::KafkaPublisher;

/// Reads the environment, fetches the app keys parameter if one is named, and creates the
/// producer. Runs once per process, inside the Tokio runtime.
pub async fn from_env() -> Result<LogsApi<KafkaPublisher>, Box<dyn std::error::Error + Send + Sync>>
{
    let config = BridgeConfig::from_env()?;
    let mut keys = config.auth.static_keys.clone();
    if let Some(parameter) = &config.auth.keys_parameter {
        let aws = platform::aws_config().await;
        keys.extend(app_keys_from_parameter(&aws, parameter).await?);
    }
    let auth = Authenticator::new(&keys, config.auth.jwt.as_ref())?;
    let publisher = KafkaPublisher::new(&config.kafka)?;
    Ok(LogsApi {
        publisher,
        auth,
        routes: config.routes,
        limits: config.limits,
        mask_mobile_number: config.mask_mobile_number,
    })
}

/// Reads the app keys from an SSM parameter (a SecureString of comma-separated keys).
pub async fn app_keys_from_parameter(
    config: &platform::SdkConfig,
    name: &str,
) -> Result<Vec<String>, String> {
    let client = aws_sdk_ssm::Client::new(config);
    let output = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|err| {
            format!(
                "could not read parameter {name}: {}",
                aws_sdk_ssm::error::DisplayErrorContext(err)
            )
        })?;
    let value = output
        .parameter
        .and_then(|p| p.value)
        .ok_or_else(|| format!("parameter {name} has no value"))?;
    Ok(crate::config::split_keys(&value))
}
