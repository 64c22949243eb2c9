//! The Kafka side: one producer per process (rdkafka), acknowledged by all in-sync replicas,
//! idempotent so the client's own retries never duplicate a record.

use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use rdkafka::ClientContext;
use rdkafka::client::OAuthToken;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use crate::config::{KafkaAuth, KafkaConfig};
use crate::envelope::OutRecord;
use crate::ports::{LogPublisher, PublishError};

/// Connection and authentication settings for the configured brokers.
pub fn client_config(config: &KafkaConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.bootstrap_servers);
    match &config.auth {
        KafkaAuth::Plaintext => {
            client.set("security.protocol", "plaintext");
        }
        KafkaAuth::Scram {
            mechanism,
            username,
            password,
        } => {
            client
                .set("security.protocol", "sasl_ssl")
                .set("sasl.mechanism", mechanism)
                .set("sasl.username", username)
                .set("sasl.password", password);
        }
        KafkaAuth::MskIam { .. } => {
            client
                .set("security.protocol", "sasl_ssl")
                .set("sasl.mechanism", "OAUTHBEARER");
        }
    }
    client
}

/// Supplies MSK IAM tokens to librdkafka when it asks (from its own thread).
pub struct SluiceKafkaContext {
    msk_iam: Option<(aws_config::Region, tokio::runtime::Handle)>,
}

impl SluiceKafkaContext {
    pub fn new(config: &KafkaConfig) -> SluiceKafkaContext {
        let msk_iam = match &config.auth {
            KafkaAuth::MskIam { region } => Some((
                aws_config::Region::new(region.clone()),
                tokio::runtime::Handle::current(),
            )),
            _ => None,
        };
        SluiceKafkaContext { msk_iam }
    }
}

impl ClientContext for SluiceKafkaContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(
        &self,
        _oauthbearer_config: Option<&str>,
    ) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        let Some((region, runtime)) = &self.msk_iam else {
            return Err("OAUTHBEARER is only configured for MSK IAM".into());
        };
        let (token, expiration_time_ms) =
            runtime.block_on(aws_msk_iam_sasl_signer::generate_auth_token(region.clone()))?;
        Ok(OAuthToken {
            token,
            principal_name: String::new(),
            lifetime_ms: expiration_time_ms,
        })
    }
}

/// Produces to Kafka and waits for every acknowledgement.
pub struct KafkaPublisher {
    producer: FutureProducer<SluiceKafkaContext>,
    ack_timeout: Duration,
}

impl KafkaPublisher {
    /// Builds the producer. Must run inside the Tokio runtime (MSK IAM signs on it).
    pub fn new(config: &KafkaConfig) -> Result<KafkaPublisher, KafkaError> {
        let producer = client_config(config)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("compression.type", "lz4")
            .set("linger.ms", config.linger.as_millis().to_string())
            .set(
                "message.timeout.ms",
                config.ack_timeout.as_millis().to_string(),
            )
            .set(
                "request.timeout.ms",
                config.ack_timeout.as_millis().clamp(1, 30_000).to_string(),
            )
            // Bounded in-flight work: a full queue answers 503 instead of growing memory.
            .set("queue.buffering.max.kbytes", "65536")
            .create_with_context(SluiceKafkaContext::new(config))?;
        Ok(KafkaPublisher {
            producer,
            ack_timeout: config.ack_timeout,
        })
    }

    /// Waits for everything queued to be delivered (on shutdown).
    pub fn flush(&self, timeout: Duration) {
        let _ = self.producer.flush(timeout);
    }
}

#[async_trait]
impl LogPublisher for KafkaPublisher {
    async fn publish(&self, topic: &str, records: Vec<OutRecord>) -> Result<(), PublishError> {
        let mut deliveries = Vec::with_capacity(records.len());
        for record in &records {
            let mut out = FutureRecord::<str, [u8]>::to(topic).payload(record.value.as_slice());
            if let Some(key) = &record.key {
                out = out.key(key.as_str());
            }
            match self.producer.send_result(out) {
                Ok(delivery) => deliveries.push(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    return Err(PublishError::Backpressure);
                }
                Err((err, _)) => return Err(PublishError::Unavailable(err.to_string())),
            }
        }
        // librdkafka fails a message itself after `message.timeout.ms`; the outer bound only
        // guards against a delivery report that never comes.
        let outcome = tokio::time::timeout(self.ack_timeout * 2, join_all(deliveries)).await;
        let Ok(results) = outcome else {
            return Err(PublishError::Unavailable(
                "no delivery report in time".into(),
            ));
        };
        for result in results {
            match result {
                Ok(Ok(_)) => {}
                Ok(Err((err, _))) => return Err(PublishError::Unavailable(err.to_string())),
                Err(_) => return Err(PublishError::Unavailable("producer dropped".into())),
            }
        }
        Ok(())
    }
}
