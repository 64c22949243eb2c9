//! The Kafka side: one producer per process (rdkafka), acknowledged by all in-sync replicas,
//! idempotent so the client's own retries never duplicate a record.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use futures::future::join_all;
use rdkafka::ClientContext;
use rdkafka::client::OAuthToken;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use crate::config::{KafkaAuth, KafkaConfig};
use crate::ports::{Delivery, LogPublisher, PublishError};
use crate::record::OutRecord;

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
                .set("sasl.password", password.expose());
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
///
/// An idempotent producer that meets a fatal error (a broker that lost or fenced its producer
/// state, typically after a restart) fails every later message. The publisher then builds a fresh
/// producer, so the process recovers without a restart; the messages of the old one that were
/// not acknowledged are answered as not sent or unknown, per entry.
pub struct KafkaPublisher {
    config: KafkaConfig,
    producer: RwLock<Arc<SluiceProducer>>,
}

type SluiceProducer = FutureProducer<SluiceKafkaContext>;

impl KafkaPublisher {
    /// Builds the producer. Must run inside the Tokio runtime (MSK IAM signs on it).
    pub fn new(config: &KafkaConfig) -> Result<KafkaPublisher, KafkaError> {
        Ok(KafkaPublisher {
            producer: RwLock::new(Arc::new(build_producer(config)?)),
            config: config.clone(),
        })
    }

    /// Waits for everything queued to be delivered (on shutdown).
    pub fn flush(&self, timeout: Duration) {
        let _ = self.current().flush(timeout);
    }

    fn current(&self) -> Arc<SluiceProducer> {
        Arc::clone(&self.producer.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces `failed` by a fresh producer if it is still the current one and has lost its
    /// producer identity: a fatal error, or a broker that fenced or forgot it.
    fn recover(&self, failed: &Arc<SluiceProducer>, code: Option<RDKafkaErrorCode>) {
        let reason = match failed.client().fatal_error() {
            Some((code, reason)) => format!("{code:?}: {reason}"),
            None => match code {
                Some(code) if identity_lost(code) => format!("{code:?}"),
                _ => return,
            },
        };
        let mut current = self
            .producer
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if !Arc::ptr_eq(&current, failed) {
            return; // another request already replaced it
        }
        match build_producer(&self.config) {
            Ok(fresh) => {
                tracing::warn!(%reason, "the Kafka producer lost its identity; replaced it");
                let old = std::mem::replace(&mut *current, Arc::new(fresh));
                // Dropping a producer purges and joins its thread: keep that off the request path.
                tokio::task::spawn_blocking(move || drop(old));
            }
            Err(err) => {
                tracing::error!(%reason, error = %err, "could not replace the failed Kafka producer");
            }
        }
    }

    /// Hands the records to the producer in order and waits for each one's report. The first
    /// record the producer refuses (a full queue) and every one after it are not sent, so that
    /// a key's records never land out of order; the ones before it still get their reports.
    async fn deliver(
        &self,
        producer: &SluiceProducer,
        topic: &str,
        records: &[OutRecord],
    ) -> (Vec<Delivery>, Option<RDKafkaErrorCode>) {
        let mut outcomes: Vec<Option<Delivery>> = vec![None; records.len()];
        let mut pending = Vec::with_capacity(records.len());
        let mut code = None;
        let mut refused: Option<PublishError> = None;
        for (index, record) in records.iter().enumerate() {
            if let Some(error) = &refused {
                outcomes[index] = Some(Delivery::NotSent(error.clone()));
                continue;
            }
            let mut out = FutureRecord::<str, [u8]>::to(topic).payload(record.value.as_slice());
            if let Some(key) = &record.key {
                out = out.key(key.as_str());
            }
            match producer.send_result(out) {
                Ok(delivery) => pending.push((index, delivery)),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    refused = Some(PublishError::Backpressure);
                    outcomes[index] = Some(Delivery::NotSent(PublishError::Backpressure));
                }
                Err((err, _)) => {
                    code = worse(code, err.rdkafka_error_code());
                    let error = PublishError::Unavailable(err.to_string());
                    refused = Some(error.clone());
                    outcomes[index] = Some(Delivery::NotSent(error));
                }
            }
        }
        // librdkafka fails a message itself after `message.timeout.ms`; the outer bound only
        // guards against a delivery report that never comes.
        let deadline = tokio::time::Instant::now() + self.config.ack_timeout * 2;
        let reports = join_all(pending.into_iter().map(|(index, delivery)| async move {
            (index, tokio::time::timeout_at(deadline, delivery).await)
        }))
        .await;
        for (index, report) in reports {
            outcomes[index] = Some(match report {
                Ok(Ok(Ok(_))) => Delivery::Acknowledged,
                // A failed report after the send: with acks=all the broker may have written it.
                Ok(Ok(Err((err, _)))) => {
                    code = worse(code, err.rdkafka_error_code());
                    Delivery::Unknown(PublishError::Unavailable(err.to_string()))
                }
                Ok(Err(_)) => {
                    Delivery::Unknown(PublishError::Unavailable("producer dropped".into()))
                }
                Err(_) => Delivery::Unknown(PublishError::Unavailable(
                    "no delivery report in time".into(),
                )),
            });
        }
        let outcomes = outcomes
            .into_iter()
            .map(|outcome| {
                outcome.unwrap_or(Delivery::Unknown(PublishError::Unavailable(
                    "no outcome".into(),
                )))
            })
            .collect();
        (outcomes, code)
    }
}

/// The code that decides recovery: the first that lost the producer's identity, else the first.
fn worse(
    kept: Option<RDKafkaErrorCode>,
    new: Option<RDKafkaErrorCode>,
) -> Option<RDKafkaErrorCode> {
    match (kept, new) {
        (Some(kept), _) if identity_lost(kept) => Some(kept),
        (_, Some(new)) if identity_lost(new) => Some(new),
        (kept, new) => kept.or(new),
    }
}

/// Errors after which an idempotent producer cannot go on with its current id and epoch.
fn identity_lost(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::Fatal
            | RDKafkaErrorCode::ProducerFenced
            | RDKafkaErrorCode::InvalidProducerEpoch
            | RDKafkaErrorCode::UnknownProducerId
            | RDKafkaErrorCode::OutOfOrderSequenceNumber
            | RDKafkaErrorCode::InvalidProducerIdMapping
    )
}

fn build_producer(config: &KafkaConfig) -> Result<SluiceProducer, KafkaError> {
    client_config(config)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("compression.type", "lz4")
        .set("linger.ms", linger_ms(config.linger))
        .set(
            "max.in.flight.requests.per.connection",
            config.max_in_flight.to_string(),
        )
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
        .create_with_context(SluiceKafkaContext::new(config))
}

/// librdkafka's `linger.ms` takes fractions of a millisecond.
fn linger_ms(linger: Duration) -> String {
    (linger.as_micros() as f64 / 1000.0).to_string()
}

impl LogPublisher for KafkaPublisher {
    async fn publish(&self, topic: &str, records: Vec<OutRecord>) -> Vec<Delivery> {
        let producer = self.current();
        let (outcomes, code) = self.deliver(&producer, topic, &records).await;
        if outcomes.iter().any(|o| *o != Delivery::Acknowledged) {
            self.recover(&producer, code);
        }
        outcomes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linger_is_written_in_milliseconds_with_fractions() {
        assert_eq!(linger_ms(Duration::ZERO), "0");
        assert_eq!(linger_ms(Duration::from_micros(200)), "0.2");
        assert_eq!(linger_ms(Duration::from_millis(5)), "5");
    }
}
