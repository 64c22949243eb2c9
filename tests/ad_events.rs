//! End-to-end: ad-network callbacks on the local stack. Callbacks go over HTTP to the bridge
//! (the standalone server for the bulk run, the function through its URL for the rest), the
//! bridge produces them to the real Kafka broker in the schema registry's framing, the local
//! MSK event source hands them to events-sink, and what it stored is read back from DynamoDB.
//! The schema registry is the local stack's Glue, as the deploy registered `schemas/` in it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[path = "support/local.rs"]
mod local;

const TOPIC: &str = "ad-events";
/// How long the sink may take to store what was accepted.
const PATIENCE: Duration = Duration::from_secs(600);

struct Stack {
    env: HashMap<String, String>,
    http: reqwest::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    glue: aws_sdk_glue::Client,
    lambda: aws_sdk_lambda::Client,
}

impl Stack {
    async fn connect() -> Stack {
        let env = local::endpoints();
        let sdk = local::sdk_config(&env).await;
        Stack {
            http: local::http_client(),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            glue: aws_sdk_glue::Client::new(&sdk),
            lambda: aws_sdk_lambda::Client::new(&sdk),
            env,
        }
    }

    fn get(&self, key: &str) -> &str {
        local::endpoint(&self.env, key)
    }

    /// The networks and their keys, as the deploy configured them.
    fn networks(&self) -> Vec<(String, String)> {
        self.get("AD_NETWORK_KEYS")
            .split(',')
            .map(|pair| {
                let (network, key) = pair.split_once(':').unwrap();
                (network.to_owned(), key.to_owned())
            })
            .collect()
    }

    /// How many events are stored under one app and day.
    async fn count(&self, app: &str, day: &str) -> usize {
        let mut total = 0;
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .query()
                .table_name(self.get("AD_EVENTS_TABLE"))
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(format!("{app}#{day}")))
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("Query");
            total += usize::try_from(page.count).unwrap();
            start = page.last_evaluated_key;
            if start.is_none() {
                return total;
            }
        }
    }

    async fn counts(
        &self,
        days: &BTreeMap<(String, String), usize>,
    ) -> BTreeMap<(String, String), usize> {
        let mut counts = BTreeMap::new();
        for (app, day) in days.keys() {
            counts.insert((app.clone(), day.clone()), self.count(app, day).await);
        }
        counts
    }

    /// The item a callback makes, if stored.
    async fn item_of(&self, callback: &Callback) -> Option<HashMap<String, AttributeValue>> {
        self.item(
            callback.field("app_id"),
            &day_of(callback),
            &callback.network,
            callback.field("event_id"),
        )
        .await
    }

    async fn item(
        &self,
        app: &str,
        day: &str,
        network: &str,
        event_id: &str,
    ) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(self.get("AD_EVENTS_TABLE"))
            .key("pk", AttributeValue::S(format!("{app}#{day}")))
            .key("sk", AttributeValue::S(format!("{network}#{event_id}")))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem")
            .item
    }
}

/// A small deterministic generator, so that a failing run can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// What the bridge should answer a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Accepted,
    Refused(u16, &'static str),
}

#[derive(Debug, Clone)]
struct Callback {
    network: String,
    key: String,
    kind: &'static str,
    post: bool,
    fields: Vec<(&'static str, String)>,
    expect: Expect,
}

impl Callback {
    fn field(&self, name: &str) -> &str {
        &self.fields.iter().find(|(n, _)| *n == name).unwrap().1
    }
}

const KINDS: [&str; 3] = ["install", "reattribution", "event"];

/// `count` callbacks over several networks, apps, the three kinds and 14 days; about one in
/// 25 invalid in one of five ways, about one in 50 a network sending an earlier callback again.
fn plan(count: usize, marker: &str, networks: &[(String, String)]) -> Vec<Callback> {
    let mut rng = Lcg(0x5eed);
    let apps: Vec<String> = (0..4).map(|n| format!("{marker}.app{n}")).collect();
    let mut callbacks: Vec<Callback> = Vec::with_capacity(count);
    for i in 0..count {
        let r = rng.next();
        if r % 50 == 7 && !callbacks.is_empty() {
            let earlier = callbacks[(rng.next() as usize) % callbacks.len()].clone();
            if earlier.expect == Expect::Accepted {
                callbacks.push(earlier);
                continue;
            }
        }
        let (network, key) = networks[i % networks.len()].clone();
        let kind = KINDS[(r / 7 % 3) as usize];
        let app = &apps[(r / 21 % 4) as usize];
        // Between 1 and 14 days ago, to the second.
        let ago = Duration::from_secs(86_400 + (r / 84 % (13 * 86_400)));
        let mut fields = vec![
            ("event_id", format!("{marker}-{i}")),
            ("app_id", app.clone()),
            ("occurred_at", platform::rfc3339_before_now(ago)),
            ("device_id", format!("DEV-{}", r % 10_000)),
        ];
        let mut version = 1;
        match kind {
            "install" => {
                fields.push(("campaign", format!("campaign {}", r % 9)));
                fields.push(("country", "DE".into()));
                if r.is_multiple_of(2) {
                    version = 2;
                    fields.push(("ad_set", format!("set-{}", r % 5)));
                }
            }
            "reattribution" => fields.push(("days_inactive", (r % 90).to_string())),
            _ => {
                fields.push(("event_name", "purchase".into()));
                fields.push(("revenue", format!("{}.{:02}", r % 100, r % 97)));
                fields.push(("currency", "EUR".into()));
            }
        }
        fields.push(("version", version.to_string()));
        let mut callback = Callback {
            network,
            key,
            kind,
            post: r.is_multiple_of(3),
            fields,
            expect: Expect::Accepted,
        };
        if r % 25 == 3 {
            match rng.next() % 5 {
                0 => {
                    callback.fields.retain(|(n, _)| *n != "device_id");
                    callback.expect = Expect::Refused(400, "invalid_callback");
                }
                1 => {
                    callback.fields.retain(|(n, _)| *n != "version");
                    callback.fields.push(("version", "9".into()));
                    callback.expect = Expect::Refused(400, "unknown_version");
                }
                2 => {
                    callback.fields.push(("coupon", "FREE".into()));
                    callback.expect = Expect::Refused(400, "invalid_callback");
                }
                3 => {
                    callback.key = "not-the-key".into();
                    callback.expect = Expect::Refused(403, "invalid_network_key");
                }
                _ => {
                    callback.network = "unheardof".into();
                    callback.expect = Expect::Refused(404, "unknown_network");
                }
            }
        }
        callbacks.push(callback);
    }
    callbacks
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Sends one callback as a network would: GET with the key in the query, or gzip JSON POST
/// with the key in a header.
async fn send(http: &reqwest::Client, base: &str, callback: &Callback) -> (StatusCode, Value) {
    let url = format!("{base}/{}/{}", callback.network, callback.kind);
    let request = if callback.post {
        let body: serde_json::Map<String, Value> = callback
            .fields
            .iter()
            .map(|(name, value)| (name.to_string(), Value::String(value.clone())))
            .collect();
        http.post(url)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .header("x-network-key", &callback.key)
            .body(gzip(Value::Object(body).to_string().as_bytes()))
    } else {
        let mut query: Vec<(&str, &str)> = vec![("key", &callback.key)];
        query.extend(callback.fields.iter().map(|(n, v)| (*n, v.as_str())));
        http.get(url).query(&query)
    };
    let response = request.send().await.expect("the bridge answers");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

fn day_of(callback: &Callback) -> String {
    callback.field("occurred_at")[..10].to_owned()
}

/// A consumer of the topic in `group` that commits nothing, and the topic's partitions.
fn consumer(bootstrap: &str, group: &str) -> (BaseConsumer, Vec<i32>) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(TOPIC), Duration::from_secs(5))
        .unwrap();
    let partitions = metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    (consumer, partitions)
}

/// Waits until the sink's consumer group has committed every partition of the topic to its end
/// (the local event source commits what the function accepted).
async fn sink_caught_up(bootstrap: &str, group: &str) {
    let (consumer, partitions) = consumer(bootstrap, group);
    let start = Instant::now();
    loop {
        let mut wanted = TopicPartitionList::new();
        for partition in &partitions {
            wanted.add_partition(TOPIC, *partition);
        }
        let committed = consumer
            .committed_offsets(wanted, Duration::from_secs(5))
            .unwrap();
        let behind: Vec<(i32, i64, i64)> = partitions
            .iter()
            .filter_map(|&partition| {
                let (_, high) = consumer
                    .fetch_watermarks(TOPIC, partition, Duration::from_secs(5))
                    .unwrap();
                let at = match committed
                    .find_partition(TOPIC, partition)
                    .map(|e| e.offset())
                {
                    Some(Offset::Offset(at)) => at,
                    _ => 0,
                };
                (at < high).then_some((partition, at, high))
            })
            .collect();
        if behind.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "events-sink still behind (partition, at, end): {behind:?}"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The topic's last `per_partition` records of each partition, as the MSK event source
/// delivers them.
fn last_records(bootstrap: &str, per_partition: i64) -> Value {
    let group = local::unique("e2e-redelivery").replace(' ', "-");
    let (consumer, partitions) = consumer(bootstrap, &group);
    let mut assignment = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for partition in partitions {
        let (low, high) = consumer
            .fetch_watermarks(TOPIC, partition, Duration::from_secs(5))
            .unwrap();
        ends.insert(partition, high);
        assignment
            .add_partition_offset(
                TOPIC,
                partition,
                Offset::Offset((high - per_partition).max(low)),
            )
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut records: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut done = HashSet::new();
    let start = Instant::now();
    while done.len() < ends.len() && start.elapsed() < Duration::from_secs(60) {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                if message.offset() + 1 >= ends[&message.partition()] {
                    done.insert(message.partition());
                }
                records
                    .entry(format!("{TOPIC}-{}", message.partition()))
                    .or_default()
                    .push(json!({
                        "topic": TOPIC,
                        "partition": message.partition(),
                        "offset": message.offset(),
                        "timestamp": 1_796_292_000_000_i64,
                        "timestampType": "CREATE_TIME",
                        "key": message.key().map(|k| STANDARD.encode(k)),
                        "value": message.payload().map(|v| STANDARD.encode(v)),
                        "headers": [],
                    }));
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(partition))) => {
                done.insert(partition);
            }
            _ => {}
        }
    }
    json!({ "eventSource": "aws:kafka", "records": records })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_callbacks_are_stored_exactly_once_and_a_redelivery_changes_nothing() {
    let stack = Arc::new(Stack::connect().await);
    let count: usize = std::env::var("SLUICE_AD_CALLBACKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let marker = local::unique("e2e").replace(' ', ".");
    let callbacks = Arc::new(plan(count, &marker, &stack.networks()));

    // Sent 64 at a time through the standalone bridge; every answer checked.
    let base = format!("{}/api/v1/events", stack.get("BRIDGE_URL"));
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..64 {
        let (stack, callbacks, next, base) =
            (stack.clone(), callbacks.clone(), next.clone(), base.clone());
        workers.push(tokio::spawn(async move {
            let mut wrong = Vec::new();
            loop {
                let at = next.fetch_add(1, Ordering::Relaxed);
                let Some(callback) = callbacks.get(at) else {
                    return wrong;
                };
                let (status, body) = send(&stack.http, &base, callback).await;
                let got = match status {
                    StatusCode::OK => Expect::Accepted,
                    _ => Expect::Refused(status.as_u16(), "?"),
                };
                let right = match callback.expect {
                    Expect::Accepted => {
                        got == Expect::Accepted && body["event_id"] == callback.field("event_id")
                    }
                    Expect::Refused(code, error) => {
                        status.as_u16() == code && body["error"] == error
                    }
                };
                if !right && wrong.len() < 5 {
                    wrong.push(format!("{callback:?} got {status} {body}"));
                }
            }
        }));
    }
    let mut wrong = Vec::new();
    for worker in workers {
        wrong.extend(worker.await.unwrap());
    }
    assert!(wrong.is_empty(), "answers not as expected: {wrong:#?}");

    // What should be stored, computed from what was accepted.
    let mut expected: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut stored_once = HashSet::new();
    for callback in callbacks.iter().filter(|c| c.expect == Expect::Accepted) {
        if stored_once.insert((
            callback.network.clone(),
            callback.field("event_id").to_owned(),
        )) {
            *expected
                .entry((callback.field("app_id").to_owned(), day_of(callback)))
                .or_default() += 1;
        }
    }
    let refused = callbacks
        .iter()
        .filter(|c| c.expect != Expect::Accepted)
        .count();
    assert!(
        refused > count / 50 && stored_once.len() < count - refused,
        "the plan has invalid and repeated callbacks"
    );
    assert_eq!(expected.len(), 4 * 14, "four apps over 14 days");

    // Counted once the sink has taken the whole topic (counting is heavy on the local table).
    let group = format!("{}-events-sink", stack.get("STACK_NAME"));
    sink_caught_up(stack.get("KAFKA_BOOTSTRAP_SERVERS"), &group).await;
    let start = Instant::now();
    let mut counts = stack.counts(&expected).await;
    while counts != expected && start.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_secs(10)).await;
        counts = stack.counts(&expected).await;
    }
    assert_eq!(
        counts, expected,
        "every valid callback stored once, per app and day"
    );

    // Stored as sent, whichever version it followed; refused ones not at all.
    for callback in callbacks.iter().step_by(997) {
        let item = stack.item_of(callback).await;
        if callback.expect != Expect::Accepted {
            assert!(item.is_none(), "{callback:?} was stored");
            continue;
        }
        let item = item.unwrap_or_else(|| panic!("{callback:?} not stored"));
        assert_eq!(item["kind"].as_s().unwrap(), callback.kind);
        assert_eq!(
            item["schema_version"].as_n().unwrap(),
            callback.field("version")
        );
        for (name, value) in callback.fields.iter().filter(|(n, _)| *n != "version") {
            let stored = &item[*name];
            let stored = stored.as_s().or_else(|_| stored.as_n()).unwrap();
            assert_eq!(stored, value, "{name} of {callback:?}");
        }
        assert_eq!(item["network"].as_s().unwrap(), &callback.network);
    }

    // A forced redelivery of the last records of every partition changes nothing: neither the
    // counts nor the items of the last callbacks sent, which those records hold.
    let last_sent: Vec<&Callback> = callbacks
        .iter()
        .filter(|c| c.expect == Expect::Accepted)
        .rev()
        .take(200)
        .collect();
    let mut before = Vec::new();
    for callback in &last_sent {
        before.push(stack.item_of(callback).await);
    }
    assert!(
        before.iter().all(Option::is_some),
        "the last callbacks are stored"
    );
    let redelivery = last_records(stack.get("KAFKA_BOOTSTRAP_SERVERS"), 400);
    let redelivered: usize = redelivery["records"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r.as_array().unwrap().len())
        .sum();
    assert!(redelivered >= 400, "read back {redelivered} records");
    let invoked = stack
        .lambda
        .invoke()
        .function_name(format!("{}-events-sink", stack.get("STACK_NAME")))
        .payload(aws_sdk_lambda::primitives::Blob::new(
            redelivery.to_string(),
        ))
        .send()
        .await
        .expect("Invoke");
    assert_eq!(invoked.function_error(), None);
    let answer: Value = serde_json::from_slice(invoked.payload().unwrap().as_ref()).unwrap();
    assert_eq!(answer, json!({ "batchItemFailures": [] }));
    assert_eq!(
        stack.counts(&expected).await,
        expected,
        "a redelivery stores nothing twice"
    );
    for (callback, before) in last_sent.iter().zip(&before) {
        let after = stack.item_of(callback).await;
        assert_eq!(&after, before, "{callback:?} changed on redelivery");
    }
}

#[tokio::test]
async fn the_function_takes_callbacks_too_and_both_schema_versions_are_stored() {
    let stack = Stack::connect().await;
    let (network, key) = (
        stack.get("AD_NETWORK").to_owned(),
        stack.get("AD_NETWORK_KEY").to_owned(),
    );
    let app = local::unique("e2e").replace(' ', ".");
    let day = platform::rfc3339_before_now(Duration::from_secs(3_600));
    let callback = |event_id: &str, version: &str, post: bool| {
        let mut fields = vec![
            ("event_id", event_id.to_owned()),
            ("app_id", app.clone()),
            ("occurred_at", day.clone()),
            ("device_id", "DEV-1".to_owned()),
            ("version", version.to_owned()),
        ];
        if version == "2" {
            fields.push(("ad_set", "set-1".into()));
        }
        Callback {
            network: network.clone(),
            key: key.clone(),
            kind: "install",
            post,
            fields,
            expect: Expect::Accepted,
        }
    };
    let base = stack.get("AD_CALLBACKS_URL");
    let (status, body) = send(&stack.http, base, &callback("fn-1", "1", false)).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("accepted")),
        "{body}"
    );
    let (status, body) = send(&stack.http, base, &callback("fn-2", "2", true)).await;
    assert_eq!(
        (status, body["version"].as_i64()),
        (StatusCode::OK, Some(2)),
        "{body}"
    );
    let (status, body) = send(
        &stack.http,
        base,
        &Callback {
            kind: "refund",
            ..callback("fn-3", "1", false)
        },
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_kind")),
        "{body}"
    );

    let day = &day[..10];
    let start = Instant::now();
    while stack.count(&app, day).await < 2 && start.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let v1 = stack
        .item(&app, day, &network, "fn-1")
        .await
        .expect("the v1 install stored");
    let v2 = stack
        .item(&app, day, &network, "fn-2")
        .await
        .expect("the v2 install stored");
    assert_eq!(v1["schema_version"].as_n().unwrap(), "1");
    assert!(!v1.contains_key("ad_set"));
    assert_eq!(v2["schema_version"].as_n().unwrap(), "2");
    assert_eq!(v2["ad_set"].as_s().unwrap(), "set-1");
    assert_eq!(
        stack.count(&app, day).await,
        2,
        "the refused callback stored nothing"
    );
}

#[tokio::test]
async fn a_record_the_sink_cannot_decode_is_parked_with_the_reason() {
    let stack = Stack::connect().await;
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", stack.get("KAFKA_BOOTSTRAP_SERVERS"))
        .create()
        .unwrap();
    let marker = local::unique("not avro");
    producer
        .send(
            BaseRecord::to(TOPIC)
                .key("e2e/garbage")
                .payload(marker.as_bytes()),
        )
        .map_err(|(err, _)| err)
        .unwrap();
    producer.flush(Duration::from_secs(10)).unwrap();

    let value = STANDARD.encode(marker.as_bytes());
    let start = Instant::now();
    let parked = loop {
        let page = stack
            .dynamodb
            .scan()
            .table_name(stack.get("AD_PARKED_EVENTS_TABLE"))
            .send()
            .await
            .expect("Scan");
        let found = page
            .items()
            .iter()
            .find(|item| item.get("value").and_then(|v| v.as_s().ok()) == Some(&value))
            .cloned();
        if found.is_some() || start.elapsed() > Duration::from_secs(60) {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let parked = parked.expect("the record parked");
    let reason = parked["reason"].as_s().unwrap();
    assert!(reason.contains("header"), "{reason}");
    assert!(
        parked["partition"]
            .as_s()
            .unwrap()
            .starts_with("ad-events-")
    );
}

#[tokio::test]
async fn the_registry_takes_a_compatible_version_and_refuses_a_breaking_one() {
    let stack = Stack::connect().await;
    let registry = stack.get("AD_SCHEMA_REGISTRY");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/ad-install");
    let v1 = std::fs::read_to_string(root.join("v1.avsc")).unwrap();
    let v2 = std::fs::read_to_string(root.join("v2.avsc")).unwrap();

    // The deploy registered both versions of the real schema.
    for (number, definition) in [(1, &v1), (2, &v2)] {
        let version = stack
            .glue
            .get_schema_version()
            .schema_id(
                aws_sdk_glue::types::SchemaId::builder()
                    .registry_name(registry)
                    .schema_name("ad-install")
                    .build(),
            )
            .schema_version_number(
                aws_sdk_glue::types::SchemaVersionNumber::builder()
                    .version_number(number)
                    .build(),
            )
            .send()
            .await
            .expect("GetSchemaVersion");
        assert_eq!(version.schema_definition(), Some(definition.as_str()));
        assert_eq!(version.status().map(|s| s.as_str()), Some("AVAILABLE"));
    }

    // A schema of its own, BACKWARD as the deploy creates them: v1, then v2 adds an optional
    // field (accepted), then a version that adds a required field (refused: it cannot read
    // what v2 wrote).
    let name = local::unique("e2e-install").replace(' ', "-");
    stack
        .glue
        .create_schema()
        .registry_id(
            aws_sdk_glue::types::RegistryId::builder()
                .registry_name(registry)
                .build(),
        )
        .schema_name(&name)
        .data_format(aws_sdk_glue::types::DataFormat::Avro)
        .compatibility(aws_sdk_glue::types::Compatibility::Backward)
        .schema_definition(&v1)
        .send()
        .await
        .expect("CreateSchema");
    let schema_id = aws_sdk_glue::types::SchemaId::builder()
        .registry_name(registry)
        .schema_name(&name)
        .build();
    let accepted = stack
        .glue
        .register_schema_version()
        .schema_id(schema_id.clone())
        .schema_definition(&v2)
        .send()
        .await
        .expect("a compatible version registers");
    assert_eq!(accepted.version_number(), Some(2));

    let mut breaking: Value = serde_json::from_str(&v2).unwrap();
    breaking["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "name": "cost", "type": "double" }));
    let refused = stack
        .glue
        .register_schema_version()
        .schema_id(schema_id)
        .schema_definition(breaking.to_string())
        .send()
        .await
        .expect_err("a breaking version is refused");
    let refused = refused.into_service_error();
    assert_eq!(
        aws_sdk_glue::error::ProvideErrorMetadata::code(&refused),
        Some("InvalidInputException")
    );
    let message = aws_sdk_glue::error::ProvideErrorMetadata::message(&refused).unwrap();
    assert!(
        message.contains("cost") && message.contains("BACKWARD"),
        "{message}"
    );
}
