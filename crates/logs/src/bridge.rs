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
        keys.extend(crate::s3::app_keys_from_parameter(&aws, parameter).await?);
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
