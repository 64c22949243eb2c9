//! Plays the MSK event source mapping on the local stack: consumes each mapped topic from the
//! local Kafka broker and invokes the mapped function with an MSK-shaped event, honouring its
//! partial batch response. Offsets are committed only for what the function accepted; a failed
//! invocation is retried from the same offsets after a pause.
//!
//! Configuration (environment):
//! - `KAFKA_BOOTSTRAP_SERVERS` — the local broker;
//! - `SLUICE_MSK_MAPPINGS` — a JSON file of mappings written by the local deploy:
//!   `[{"function": "<binary>", "topic": "...", "group": "...", "batch_size": 500, "source_arn": "..."}]`;
//! - `SLUICE_WATCH_URL` — where `cargo lambda watch` serves the Invoke API;
//! - `SLUICE_MSK_WINDOW_MS` — how long to gather a batch (default 200);
//! - `SLUICE_MSK_DELIVERIES` — a folder where each delivered event is kept (optional), named by
//!   topic, partition and first offset, so a test can redeliver exactly the same batch.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Clone, Deserialize)]
struct Mapping {
    function: String,
    topic: String,
    group: String,
    batch_size: usize,
    source_arn: String,
}

struct Settings {
    bootstrap: String,
    watch_url: String,
    window: Duration,
    deliveries: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    platform::init_tracing();
    let mappings_path = platform::required_env("SLUICE_MSK_MAPPINGS")?;
    let mappings: Vec<Mapping> = serde_json::from_slice(&std::fs::read(&mappings_path)?)?;
    let settings = std::sync::Arc::new(Settings {
        bootstrap: platform::required_env("KAFKA_BOOTSTRAP_SERVERS")?,
        watch_url: std::env::var("SLUICE_WATCH_URL")
            .unwrap_or_else(|_| "http://127.0.0.1:9000".into()),
        window: Duration::from_millis(platform::env_number("SLUICE_MSK_WINDOW_MS", 200)?),
        deliveries: std::env::var("SLUICE_MSK_DELIVERIES")
            .ok()
            .map(PathBuf::from),
    });
    if let Some(folder) = &settings.deliveries {
        std::fs::create_dir_all(folder)?;
    }
    let mut tasks = Vec::new();
    for mapping in mappings {
        eprintln!("polling {} for {}", mapping.topic, mapping.function);
        tasks.push(tokio::spawn(poll(
            mapping,
            std::sync::Arc::clone(&settings),
        )));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

async fn poll(
    mapping: Mapping,
    settings: std::sync::Arc<Settings>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &settings.bootstrap)
        .set("group.id", &mapping.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .create()?;
    consumer.subscribe(&[&mapping.topic])?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let invoke_url = format!(
        "{}/2015-03-31/functions/{}/invocations",
        settings.watch_url.trim_end_matches('/'),
        mapping.function
    );
    loop {
        let first = match consumer.recv().await {
            Ok(message) => message.detach(),
            Err(err) => {
                tracing::warn!(error = %err, "consume failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + settings.window;
        while batch.len() < mapping.batch_size {
            match tokio::time::timeout_at(deadline, consumer.recv()).await {
                Ok(Ok(message)) => batch.push(message.detach()),
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "consume failed while batching");
                    break;
                }
                Err(_) => break,
            }
        }
        let event = msk_event(&mapping, &settings.bootstrap, &batch);
        if let Some(folder) = &settings.deliveries {
            let first = &batch[0];
            let name = format!(
                "{}-{}-{:020}.json",
                first.topic(),
                first.partition(),
                first.offset()
            );
            // A test redelivers from this copy: without it the test cannot do what it means to.
            std::fs::write(folder.join(&name), serde_json::to_vec(&event)?).map_err(|err| {
                format!(
                    "could not keep delivery {name} in {}: {err}",
                    folder.display()
                )
            })?;
        }
        // Where each partition of the batch starts and ends.
        let mut spans: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
        for message in &batch {
            let span = spans
                .entry(message.partition())
                .or_insert((message.offset(), message.offset()));
            span.0 = span.0.min(message.offset());
            span.1 = span.1.max(message.offset());
        }
        let resume = match invoke(&http, &invoke_url, &event).await {
            Ok(response) => failed_offsets(&mapping.topic, &response),
            Err(reason) => {
                tracing::warn!(function = %mapping.function, %reason, "invocation failed; the batch will be retried");
                spans.iter().map(|(p, (first, _))| (*p, *first)).collect()
            }
        };
        let mut commits = TopicPartitionList::new();
        for (partition, (_, last)) in &spans {
            let next = resume.get(partition).copied().unwrap_or(last + 1);
            commits.add_partition_offset(&mapping.topic, *partition, Offset::Offset(next))?;
            if next <= *last {
                consumer.seek(
                    &mapping.topic,
                    *partition,
                    Offset::Offset(next),
                    Duration::from_secs(5),
                )?;
            }
        }
        if let Err(err) = consumer.commit(&commits, CommitMode::Sync) {
            tracing::warn!(error = %err, "offset commit failed");
        }
        if !resume.is_empty() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

fn msk_event(
    mapping: &Mapping,
    bootstrap: &str,
    batch: &[rdkafka::message::OwnedMessage],
) -> Value {
    let mut records: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for message in batch {
        records
            .entry(format!("{}-{}", message.topic(), message.partition()))
            .or_default()
            .push(json!({
                "topic": message.topic(),
                "partition": message.partition(),
                "offset": message.offset(),
                "timestamp": message.timestamp().to_millis().unwrap_or(0),
                "timestampType": "CREATE_TIME",
                "key": message.key().map(|k| STANDARD.encode(k)),
                "value": message.payload().map(|v| STANDARD.encode(v)),
                "headers": [],
            }));
    }
    json!({
        "eventSource": "aws:kafka",
        "eventSourceArn": mapping.source_arn,
        "bootstrapServers": bootstrap,
        "records": records,
    })
}

async fn invoke(http: &reqwest::Client, url: &str, event: &Value) -> Result<Value, String> {
    let response = http
        .post(url)
        .json(event)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let errored =
        response.headers().contains_key("x-amz-function-error") || !response.status().is_success();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if errored {
        return Err(String::from_utf8_lossy(&body).into_owned());
    }
    serde_json::from_slice(&body).or(Ok(Value::Null))
}

/// The partial batch response: per partition, the lowest offset to resume at.
fn failed_offsets(topic: &str, response: &Value) -> BTreeMap<i32, i64> {
    let mut resume = BTreeMap::new();
    let failures = response.get("batchItemFailures").and_then(Value::as_array);
    for failure in failures.into_iter().flatten() {
        let identifier = &failure["itemIdentifier"];
        let (Some(key), Some(offset)) = (
            identifier["partition"].as_str(),
            identifier["offset"].as_i64(),
        ) else {
            continue;
        };
        let Some(partition) = key
            .strip_prefix(topic)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let entry = resume.entry(partition).or_insert(offset);
        *entry = (*entry).min(offset);
    }
    resume
}
