//! Building the bridge from its configuration: shared by the Lambda function and the server.

use std::future::Future;
use std::time::Duration;

use platform::{ConfigError, Secret};
use rdkafka::error::KafkaError;
use thiserror::Error;

use crate::api::LogsApi;
use crate::auth::{Authenticator, StaticKeys};
use events::registry::{GlueRegistry, Schemas};
use events::schema::Catalog;

use crate::callbacks::{Callbacks, NetworkKeys};
use crate::config::{BridgeConfig, CallbackConfig, Serving};
use crate::kafka::KafkaPublisher;

/// Why the bridge could not start.
#[derive(Debug, Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("could not create the Kafka producer: {0}")]
    Producer(#[from] KafkaError),
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error("{0}")]
    Auth(String),
    #[error("the network keys: {0}")]
    NetworkKeys(String),
    #[error(transparent)]
    Schemas(#[from] events::schema::SchemaError),
}

/// Why the app keys parameter could not be read.
pub use platform::ssm::ParameterError as KeysError;
pub use platform::ssm::read_secure_parameter;

/// Reads the environment, creates the producer, and fetches the app keys parameter if one is
/// named (and keeps refreshing it in the background). Runs once per process, inside the Tokio
/// runtime.
///
/// The producer comes first: an idempotent producer only asks the brokers for its id half a
/// second after it is created, and the first produce waits for that id, so the wait overlaps
/// the parameter read instead of following it.
pub async fn from_env(serving: Serving) -> Result<LogsApi<KafkaPublisher>, StartError> {
    let config = BridgeConfig::from_env(serving)?;
    let publisher = KafkaPublisher::new(&config.kafka)?;
    let mut keys = config.auth.static_keys.clone();
    let mut jwt = config.auth.jwt.clone();
    let network_keys_parameter = config
        .callbacks
        .as_ref()
        .and_then(|c| c.network_keys_parameter.as_ref());
    let needs_ssm = config.auth.keys_parameter.is_some()
        || config.auth.jwt_key_parameter.is_some()
        || network_keys_parameter.is_some();
    let sdk = match needs_ssm || config.callbacks.is_some() {
        true => Some(platform::aws_config().await),
        false => None,
    };
    // One client for the process: the first reads and every refresh share it.
    let ssm = sdk
        .as_ref()
        .filter(|_| needs_ssm)
        .map(aws_sdk_ssm::Client::new);
    let callbacks = match (&config.callbacks, &sdk) {
        (Some(settings), Some(sdk)) => Some(callbacks(settings, sdk, ssm.as_ref()).await?),
        _ => None,
    };
    if let (Some(ssm), Some(parameter), Some(settings)) =
        (&ssm, &config.auth.jwt_key_parameter, jwt.as_mut())
    {
        settings.key = read_secure_parameter(ssm, parameter).await?;
    }
    let mut parameter_source = None;
    if let (Some(ssm), Some(parameter)) = (ssm, config.auth.keys_parameter.clone()) {
        keys.extend(app_keys_from_parameter(&ssm, &parameter).await?);
        parameter_source = Some((ssm, parameter));
    }
    let auth = Authenticator::new(&keys, jwt.as_ref()).map_err(StartError::Auth)?;
    if let (Some((ssm, parameter)), Some(period)) = (parameter_source, config.auth.keys_refresh) {
        let fixed = config.auth.static_keys.clone();
        let fetch = move || {
            let (ssm, parameter) = (ssm.clone(), parameter.clone());
            async move { app_keys_from_parameter(&ssm, &parameter).await }
        };
        tokio::spawn(refresh_keys(auth.static_keys(), fixed, fetch, period));
    }
    Ok(LogsApi {
        publisher,
        auth,
        routes: config.routes,
        limits: config.limits,
        mask_mobile_number: config.mask_mobile_number,
        callbacks,
    })
}

/// The callback routes: the network keys (the variable's and the parameter's together), the
/// compiled-in schemas, and the registry their ids are read from on first use.
async fn callbacks(
    settings: &CallbackConfig,
    sdk: &aws_config::SdkConfig,
    ssm: Option<&aws_sdk_ssm::Client>,
) -> Result<Callbacks<GlueRegistry>, StartError> {
    let mut spec = settings
        .network_keys
        .as_ref()
        .map(|keys| keys.expose().to_owned())
        .unwrap_or_default();
    if let (Some(ssm), Some(parameter)) = (ssm, &settings.network_keys_parameter) {
        spec.push(',');
        spec.push_str(read_secure_parameter(ssm, parameter).await?.expose());
    }
    let networks = NetworkKeys::parse(&Secret::new(spec)).map_err(StartError::NetworkKeys)?;
    let registry = GlueRegistry::new(sdk, &settings.registry);
    Ok(Callbacks {
        topic: settings.topic.clone(),
        networks,
        catalog: Catalog::new()?,
        schemas: Schemas::new(registry),
    })
}

/// Every `period`, replaces the accepted keys by `fixed` plus what `fetch` returns. A failed
/// fetch keeps the current keys (and says so); rotation is listing old and new keys together,
/// then dropping the old one.
pub async fn refresh_keys<F, Fut>(keys: StaticKeys, fixed: Vec<Secret>, fetch: F, period: Duration)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Vec<Secret>, KeysError>>,
{
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate; the keys were just read
    loop {
        ticks.tick().await;
        match fetch().await {
            Ok(fetched) => {
                let all: Vec<Secret> = fixed.iter().cloned().chain(fetched).collect();
                if all.is_empty() {
                    tracing::warn!("the app keys parameter lists no key; keeping the current keys");
                } else {
                    keys.replace(&all);
                }
            }
            Err(reason) => {
                tracing::warn!(%reason, "could not refresh the app keys; keeping the current keys");
            }
        }
    }
}

/// Reads the app keys from an SSM parameter (a SecureString of comma-separated keys).
pub async fn app_keys_from_parameter(
    client: &aws_sdk_ssm::Client,
    name: &str,
) -> Result<Vec<Secret>, KeysError> {
    let value = read_secure_parameter(client, name).await?;
    Ok(crate::config::split_keys(value.expose()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthFailure;
    use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
    use aws_sdk_ssm::types::{Parameter, ParameterType};
    use platform::mocks::{self, Rule, always, mock, service_error};
    use std::sync::{Arc, Mutex};

    async fn ssm(rules: &[&Rule]) -> aws_sdk_ssm::Client {
        platform::mocked_client!(aws_sdk_ssm, rules)
    }

    fn parameter(value: Option<&str>) -> GetParameterOutput {
        let mut parameter = Parameter::builder()
            .name("/sluice/keys")
            .r#type(ParameterType::SecureString);
        if let Some(value) = value {
            parameter = parameter.value(value);
        }
        GetParameterOutput::builder()
            .parameter(parameter.build())
            .build()
    }

    #[tokio::test]
    async fn app_keys_are_read_decrypted_and_split() {
        let rule = mock!(aws_sdk_ssm::Client::get_parameter)
            .match_requests(|req| {
                req.name() == Some("/sluice/keys") && req.with_decryption() == Some(true)
            })
            .then_output(|| parameter(Some("one, two,,three")));
        let keys = app_keys_from_parameter(&ssm(&[&rule]).await, "/sluice/keys")
            .await
            .unwrap();
        let exposed: Vec<&str> = keys.iter().map(Secret::expose).collect();
        assert_eq!(exposed, ["one", "two", "three"]);
    }

    #[tokio::test]
    async fn a_parameter_without_a_value_is_empty_and_a_refusal_unreadable() {
        let blank = mock!(aws_sdk_ssm::Client::get_parameter).then_output(|| parameter(None));
        assert_eq!(
            read_secure_parameter(&ssm(&[&blank]).await, "/sluice/keys").await,
            Err(KeysError::Empty {
                name: "/sluice/keys".into()
            })
        );
        let missing = mock!(aws_sdk_ssm::Client::get_parameter)
            .then_http_response(|| service_error(400, "ParameterNotFound"));
        let err = read_secure_parameter(&ssm(&[&missing]).await, "/sluice/keys")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, KeysError::Unreadable { name, reason } if name == "/sluice/keys" && reason.contains("ParameterNotFound")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn throttling_is_retried_before_the_read_fails() {
        let once = mock!(aws_sdk_ssm::Client::get_parameter)
            .sequence()
            .http_response(|| service_error(400, "ThrottlingException"))
            .output(|| parameter(Some("key")))
            .build();
        assert_eq!(
            read_secure_parameter(&ssm(&[&once]).await, "/k")
                .await
                .map(|s| s.expose().to_owned()),
            Ok("key".to_owned())
        );
        let throttled = always(mock!(aws_sdk_ssm::Client::get_parameter), || {
            service_error(400, "ThrottlingException")
        });
        assert!(matches!(
            read_secure_parameter(&ssm(&[&throttled]).await, "/k").await,
            Err(KeysError::Unreadable { .. })
        ));
        assert_eq!(throttled.num_calls(), mocks::ATTEMPTS as usize);
    }

    #[tokio::test(start_paused = true)]
    async fn keys_are_refreshed_every_period_and_kept_when_a_read_fails() {
        let auth = Authenticator::new(&["env-key".into(), "old-key".into()], None).unwrap();
        let answers = Arc::new(Mutex::new(vec![
            Err(KeysError::Unreadable {
                name: "keys".into(),
                reason: "throttled".into(),
            }),
            Ok(vec![Secret::from("new-key")]),
        ]));
        let source = answers.clone();
        let fetch = move || {
            let next = source.lock().unwrap().remove(0);
            async move { next }
        };
        let period = Duration::from_secs(300);
        tokio::spawn(refresh_keys(
            auth.static_keys(),
            vec!["env-key".into()],
            fetch,
            period,
        ));

        tokio::time::sleep(period + Duration::from_secs(1)).await;
        assert_eq!(
            auth.check(Some(b"old-key")),
            Ok(()),
            "a failed read keeps the keys"
        );

        tokio::time::sleep(period).await;
        assert_eq!(auth.check(Some(b"new-key")), Ok(()));
        assert_eq!(
            auth.check(Some(b"env-key")),
            Ok(()),
            "the variable's keys stay"
        );
        assert!(matches!(
            auth.check(Some(b"old-key")),
            Err(AuthFailure::Invalid(_))
        ));
        assert!(answers.lock().unwrap().is_empty());
    }
}
