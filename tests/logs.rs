//! End-to-end: the mobile logs pipeline on the local stack. Requests go over HTTP to the bridge
//! as `cargo lambda watch` serves it from the deployed template; what lands is read back from
//! the real Kafka broker (a consumer of our own) and from S3 after the sink ran. The broker-stop
//! test runs a broker of its own (keeping its log in the local S3, so it survives a restart, as a
//! managed cluster's does) and the standalone `logs-server` in front of it.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

const PATIENCE: Duration = Duration::from_secs(30);

struct Stack {
    env: HashMap<String, String>,
    http: reqwest::Client,
    s3: aws_sdk_s3::Client,
}

fn local_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.local")
}

impl Stack {
    async fn connect() -> Stack {
        let env = local::endpoints();
        let sdk = local::sdk_config(&env).await;
        let s3 = local::s3_client(&sdk);
        Stack {
            env,
            http: local::http_client(),
            s3,
        }
    }

    fn get(&self, key: &str) -> &str {
        local::endpoint(&self.env, key)
    }

    async fn post(
        &self,
        path: &str,
        app_key: Option<&str>,
        body: Vec<u8>,
        gzip: bool,
    ) -> (StatusCode, String) {
        let mut request = self
            .http
            .post(format!("{}/api/v1/logs/{path}", self.get("LOGS_URL")))
            .body(body);
        if let Some(key) = app_key {
            request = request.header("AppKey", key);
        }
        // What mobile apps send: JSON, compressed or not, always labelled JSON.
        request = request.header("content-type", "application/json");
        if gzip {
            request = request.header("content-encoding", "gzip");
        }
        let response = request.send().await.expect("the bridge answers");
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    async fn post_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let key = self.get("LOGS_APP_KEY").to_owned();
        let (status, text) = self
            .post(path, Some(&key), serde_json::to_vec(body).unwrap(), false)
            .await;
        (status, serde_json::from_str(&text).unwrap())
    }

    /// Every line of every log object, with the object it is in.
    async fn log_lines(&self) -> Vec<(String, String)> {
        let mut lines = Vec::new();
        for key in self.keys("logs/").await {
            let bytes = self.object(&key).await;
            let mut text = String::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_string(&mut text)
                .expect("log objects are gzip");
            lines.extend(text.lines().map(|l| (key.clone(), l.to_owned())));
        }
        lines
    }

    async fn object(&self, key: &str) -> Vec<u8> {
        let object = self
            .s3
            .get_object()
            .bucket(self.get("LOGS_BUCKET"))
            .key(key)
            .send()
            .await
            .unwrap();
        object.body.collect().await.unwrap().into_bytes().to_vec()
    }

    async fn keys(&self, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(self.get("LOGS_BUCKET"))
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            keys.extend(
                page.unwrap()
                    .contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        keys
    }

    /// Waits until S3 holds lines mentioning `marker` (at least `count` of them); with `count` 0,
    /// one look.
    async fn lines_with(&self, marker: &str, count: usize) -> Vec<(String, String)> {
        let start = Instant::now();
        loop {
            let found: Vec<_> = self
                .log_lines()
                .await
                .into_iter()
                .filter(|(_, line)| line.contains(marker))
                .collect();
            if found.len() >= count || start.elapsed() > PATIENCE {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Every record of `topic` whose value mentions `marker`: (partition, offset, key, value).
    /// Reads every partition to its end, and on until at least `count` were seen or patience
    /// runs out: with `count` 0 it answers as soon as the topic has been read through, so a
    /// check that nothing landed costs one pass, not the whole patience.
    fn kafka_records(&self, topic: &str, marker: &str, count: usize) -> Vec<KafkaRecord> {
        let (consumer, partitions) =
            reader_from_beginning(self.get("KAFKA_BOOTSTRAP_SERVERS"), topic);
        let start = Instant::now();
        let mut found = Vec::new();
        let mut at_end = std::collections::HashSet::new();
        let mut read = std::collections::HashSet::new();
        while !(found.len() >= count && at_end.len() == partitions) && start.elapsed() < PATIENCE {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(message)) => {
                    at_end.remove(&message.partition());
                    if !read.insert((message.partition(), message.offset())) {
                        continue; // the same record fetched again
                    }
                    let value = message.payload().unwrap_or_default().to_vec();
                    if String::from_utf8_lossy(&value).contains(marker) {
                        found.push((
                            message.partition(),
                            message.offset(),
                            message.key().map(<[u8]>::to_vec),
                            value,
                        ));
                    }
                }
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(partition))) => {
                    at_end.insert(partition);
                }
                _ => {}
            }
        }
        found
    }
}

/// A consumer of every partition of `topic` from its first offset (reporting each partition's
/// end), and the number of partitions.
fn reader_from_beginning(bootstrap: &str, topic: &str) -> (BaseConsumer, usize) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique("e2e-reader"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        assignment
            .add_partition_offset(topic, partition.id(), Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    (consumer, assignment.count())
}

/// A record read back from Kafka: partition, offset, key, value.
type KafkaRecord = (i32, i64, Option<Vec<u8>>, Vec<u8>);

/// A name no earlier run has used that also serves as a bucket name, group id or marker.
fn unique(prefix: &str) -> String {
    local::unique(prefix).replace(' ', "-")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn jwt(secret: &str, exp_offset: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "e2e-app", "exp": now + exp_offset}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn one_entry_lands_in_kafka_and_then_s3_byte_for_byte() {
    let stack = Stack::connect().await;
    let marker = unique("single");
    let (status, answer) = stack
        .post_json(
            "app",
            &json!({"user_id": "user-7", "mobile_number": "9876543210", "desc": marker,
                    "timestamp": "1795342500123", "app_platform": "android", "extra": {"screen": "cart"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, json!({"msg": "Logs posted Successfully"}));

    let records = stack.kafka_records("mobile-logs", &marker, 1);
    assert_eq!(records.len(), 1, "exactly one record in Kafka");
    let (_, _, key, value) = &records[0];
    assert_eq!(key.as_deref(), Some(&b"user-7"[..]));
    let envelope: Value = serde_json::from_slice(value).unwrap();
    assert_eq!(envelope["entry"]["mobile_number"], "******3210");
    assert_eq!(envelope["entry"]["extra"], json!({"screen": "cart"}));
    assert_eq!(envelope["path"], "app");
    assert_eq!(envelope["client_ip"], "127.0.0.1");
    assert!(
        envelope["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    let received_at = envelope["received_at"].as_str().unwrap();

    let lines = stack.lines_with(&marker, 1).await;
    assert_eq!(lines.len(), 1, "exactly one line in S3");
    let (object, line) = &lines[0];
    assert_eq!(line.as_bytes(), &value[..], "S3 holds the produced bytes");
    let folder = format!(
        "logs/app/dt={}/hour={}/mobile-logs-",
        &received_at[..10],
        &received_at[11..13]
    );
    assert!(object.starts_with(&folder), "{object} under {folder}");
    assert!(!line.contains("9876543210"), "the full number never lands");
}

#[tokio::test]
async fn a_gzip_batch_with_invalid_entries_is_207_and_only_valid_ones_land() {
    let stack = Stack::connect().await;
    let marker = unique("batch");
    let body = json!([
        {"user_id": "u-a", "desc": format!("{marker}-0")},
        {"user_id": 42, "desc": format!("{marker}-bad")},
        {"device_details": "pixel-8", "desc": format!("{marker}-2")},
    ]);
    let key = stack.get("LOGS_APP_KEY").to_owned();
    let (status, text) = stack
        .post(
            "events",
            Some(&key),
            gzip(&serde_json::to_vec(&body).unwrap()),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (answer["accepted"].as_u64(), answer["rejected"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        answer["results"][1]["fields"]["user_id"],
        "must be a string"
    );

    let records = stack.kafka_records("mobile-events", &marker, 2);
    let mut keys: Vec<_> = records.iter().map(|r| r.2.clone().unwrap()).collect();
    keys.sort();
    assert_eq!(keys, [b"pixel-8".to_vec(), b"u-a".to_vec()]);
    let lines = stack.lines_with(&marker, 2).await;
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|(_, l)| !l.contains("-bad")));
}

#[tokio::test]
async fn keys_and_tokens_are_checked_with_the_contract_bodies() {
    let stack = Stack::connect().await;
    let (status, text) = stack.post("app", None, b"{}".to_vec(), false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        text,
        r#"{"errors":{"error_description": "Please provide authorization token", "error_type": "token_expired"}}"#
    );
    let secret = stack.get("LOGS_JWT_SECRET").to_owned();
    for (key, expected) in [
        ("not-a-key".to_owned(), "invalid_token"),
        (jwt("another-secret", 600), "invalid_token"),
        (jwt(&secret, -600), "token_expired"),
    ] {
        let (status, text) = stack.post("app", Some(&key), b"{}".to_vec(), false).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["errors"]["error_type"], expected);
    }
    let marker = unique("jwt");
    let body = serde_json::to_vec(&json!({ "desc": marker })).unwrap();
    let (status, _) = stack
        .post("app", Some(&jwt(&secret, 600)), body, false)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stack.kafka_records("mobile-logs", &marker, 1).len(), 1);
}

#[tokio::test]
async fn unknown_streams_and_oversized_bodies_are_refused_and_nothing_lands() {
    let stack = Stack::connect().await;
    let marker = unique("refused");
    let (status, answer) = stack.post_json("nope", &json!({ "desc": marker })).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_stream"))
    );
    let key = stack.get("LOGS_APP_KEY").to_owned();
    let bomb = gzip(format!(r#"{{"desc":"{marker}{}"}}"#, " ".repeat(4 << 20)).as_bytes());
    let (status, text) = stack.post("app", Some(&key), bomb, true).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    // Refusals are decided before anything is produced, so the topic read through now is final.
    assert!(stack.kafka_records("mobile-logs", &marker, 0).is_empty());
}

#[tokio::test]
async fn a_forced_redelivery_overwrites_and_duplicates_nothing() {
    let stack = Stack::connect().await;
    let marker = unique("redelivery");
    let (status, _) = stack
        .post_json("app", &json!({"user_id": "u-r", "desc": marker}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let lines = stack.lines_with(&marker, 1).await;
    assert_eq!(lines.len(), 1);
    let keys_before = stack.keys("logs/").await;

    // The poller keeps every batch it delivered; deliver the one holding our entry again.
    let deliveries = local_dir().join("msk-deliveries");
    let batch = std::fs::read_dir(&deliveries)
        .unwrap()
        .filter_map(|e| std::fs::read(e.unwrap().path()).ok())
        .find(|bytes| {
            let event: Value = serde_json::from_slice(bytes).unwrap();
            event["records"]
                .as_object()
                .unwrap()
                .values()
                .flat_map(|r| r.as_array().unwrap())
                .any(|r| {
                    let value = STANDARD
                        .decode(r["value"].as_str().unwrap_or_default())
                        .unwrap_or_default();
                    String::from_utf8_lossy(&value).contains(&marker)
                })
        })
        .expect("the delivered batch was kept");
    let invoke = format!(
        "{}/2015-03-31/functions/{}-logs-sink/invocations",
        stack.get("AWS_ENDPOINT_URL"),
        stack.get("STACK_NAME")
    );
    // moto routes on the credential scope and does not check signatures.
    let scope = format!(
        "AWS4-HMAC-SHA256 Credential=local/20260101/{}/lambda/aws4_request, SignedHeaders=host, Signature=0",
        stack.get("AWS_REGION")
    );
    let response = stack
        .http
        .post(&invoke)
        .header("authorization", scope)
        .body(batch)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]));

    assert_eq!(stack.keys("logs/").await, keys_before, "no new object");
    let after = stack.lines_with(&marker, 1).await;
    assert_eq!(after, lines, "the same single line");
}

#[tokio::test]
async fn an_undecodable_record_goes_to_rejected_with_its_reason() {
    let stack = Stack::connect().await;
    let garbage = unique("garbage");
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", stack.get("KAFKA_BOOTSTRAP_SERVERS"))
        .create()
        .unwrap();
    producer
        .send(
            BaseRecord::<str, str>::to("mobile-events")
                .payload(&garbage)
                .key("raw"),
        )
        .map_err(|(e, _)| e)
        .unwrap();
    producer.flush(Duration::from_secs(10)).unwrap();

    let wanted = STANDARD.encode(garbage.as_bytes());
    let start = Instant::now();
    let rejected = loop {
        let mut found = None;
        for key in stack.keys("rejected/").await {
            let bytes = stack.object(&key).await;
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            if body["value"] == wanted {
                found = Some((key, body));
            }
        }
        if found.is_some() || start.elapsed() > PATIENCE {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let (key, body) = rejected.expect("the record was rejected into S3");
    assert!(key.starts_with("rejected/mobile-events-"), "{key}");
    assert!(body["reason"].as_str().unwrap().contains("not JSON"));
    // The sink has handled that record (it parked it), so one look at the logs is final.
    assert!(stack.lines_with(&garbage, 0).await.is_empty());
}

/// A broker owned by one test: tansu keeping its log in the local S3 (moto), so that, like a
/// managed cluster, it keeps what it acknowledged across a crash and restart.
struct OwnBroker {
    tansu: PathBuf,
    port: u16,
    bucket: String,
    /// The local S3 the broker keeps its log in, and its region.
    s3_endpoint: String,
    region: String,
    process: Option<Child>,
    log: PathBuf,
}

impl OwnBroker {
    fn new(stack: &Stack, bucket: String) -> OwnBroker {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let installed = Command::new(root.join("infra/local/install-broker.sh"))
            .output()
            .expect("the broker installer runs");
        assert!(installed.status.success(), "the broker is installed");
        OwnBroker {
            tansu: PathBuf::from(String::from_utf8(installed.stdout).unwrap().trim()),
            port: free_port(),
            log: local_dir().join("logs").join(format!("{bucket}.log")),
            bucket,
            s3_endpoint: stack.get("AWS_ENDPOINT_URL").to_owned(),
            region: stack.get("AWS_REGION").to_owned(),
            process: None,
        }
    }

    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        let url = format!("tcp://{}", self.bootstrap());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(&self.tansu)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", &format!("s3://{}/", self.bucket)])
            .env("AWS_ENDPOINT", &self.s3_endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_REGION", &self.region)
            .env("AWS_DEFAULT_REGION", &self.region)
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("tansu starts");
        self.process = Some(child);
        wait_for_port(self.port);
    }

    /// Stops the broker as an operator or a rolling restart would (SIGTERM), while clients post.
    fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    fn create_topic(&self, topic: &str) {
        let created = Command::new(&self.tansu)
            .args([
                "topic",
                "create",
                "--broker",
                &format!("tcp://{}", self.bootstrap()),
            ])
            .args(["--partitions", "3", topic])
            .output()
            .unwrap();
        assert!(created.status.success(), "{created:?}");
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A child process killed when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < PATIENCE, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The standalone bridge binary, built by cargo (a no-op when it is up to date).
fn logs_server_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "-p", "logs-server"])
        .args(["--message-format", "json-render-diagnostics"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(built.status.success(), "logs-server builds");
    String::from_utf8(built.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the logs-server executable")
}

/// How many records (distinct partition and offset) of `topic` carry each `entry.desc`, reading
/// every partition to its end and
/// on until every one of `expected` was seen (a broker's high watermark can trail its last
/// acknowledged write for a moment) or patience runs out.
fn descs_in(bootstrap: &str, topic: &str, expected: &[&str]) -> HashMap<String, usize> {
    let (consumer, partitions) = reader_from_beginning(bootstrap, topic);
    let mut at_end = std::collections::HashSet::new();
    let mut landed: HashMap<String, usize> = HashMap::new();
    let mut read = std::collections::HashSet::new();
    let start = Instant::now();
    while start.elapsed() < PATIENCE {
        let complete = expected.iter().all(|desc| landed.contains_key(*desc));
        if complete && at_end.len() == partitions {
            break;
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                at_end.remove(&message.partition());
                if !read.insert((message.partition(), message.offset())) {
                    continue; // the same record fetched again
                }
                let envelope: Value =
                    serde_json::from_slice(message.payload().unwrap_or_default()).unwrap();
                let desc = envelope["entry"]["desc"].as_str().unwrap().to_owned();
                *landed.entry(desc).or_default() += 1;
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(partition))) => {
                at_end.insert(partition);
            }
            _ => {}
        }
    }
    landed
}

/// What one request of the run got back.
struct Outcome {
    desc: String,
    status: StatusCode,
    retry_after: Option<String>,
    body: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_stopped_mid_run_answers_503_and_loses_no_acknowledged_entry() {
    let stack = Stack::connect().await;
    let marker = unique("crash");
    stack
        .s3
        .create_bucket()
        .bucket(&marker)
        .send()
        .await
        .unwrap();
    let mut broker = OwnBroker::new(&stack, marker.clone());
    broker.start();
    broker.create_topic("crash-logs");

    let listen = format!("127.0.0.1:{}", free_port());
    let server_log = std::fs::File::create(
        local_dir()
            .join("logs")
            .join(format!("{marker}-server.log")),
    )
    .unwrap();
    let _server = Reaped(
        Command::new(logs_server_binary())
            .env("LOGS_LISTEN", &listen)
            .env("LOGS_TOPICS", "app=crash-logs")
            .env("LOGS_APP_KEYS", &marker)
            .env("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap())
            .env("LOGS_ACK_TIMEOUT_MS", "1000")
            .env_remove("LOGS_APP_KEYS_PARAMETER")
            .env_remove("LOGS_JWT_ALGORITHM")
            .env_remove("LOGS_JWT_KEY_PARAMETER")
            .stdin(Stdio::null())
            .stdout(server_log.try_clone().unwrap())
            .stderr(server_log)
            .spawn()
            .expect("logs-server starts"),
    );
    wait_for_port(listen.rsplit(':').next().unwrap().parse().unwrap());

    // Four clients post one entry after another for the whole run.
    let url = format!("http://{listen}/api/v1/logs/app");
    let running = Arc::new(AtomicBool::new(true));
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let mut clients = Vec::new();
    for client in 0..4 {
        let (url, key, running, outcomes) = (
            url.clone(),
            marker.clone(),
            running.clone(),
            outcomes.clone(),
        );
        clients.push(tokio::spawn(async move {
            let http = local::http_client();
            let mut n = 0;
            while running.load(Ordering::Relaxed) {
                let desc = format!("{key}-{client}-{n}");
                n += 1;
                let response = http
                    .post(&url)
                    .header("AppKey", &key)
                    .json(&json!({"user_id": format!("user-{client}"), "desc": desc}))
                    .send()
                    .await
                    .expect("the server answers");
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                let body = response.text().await.unwrap();
                outcomes.lock().unwrap().push(Outcome {
                    desc,
                    status,
                    retry_after,
                    body,
                });
            }
        }));
    }
    let count = |status: StatusCode| {
        let outcomes = outcomes.lock().unwrap();
        outcomes.iter().filter(|o| o.status == status).count()
    };
    let until = async |what: &str, done: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < PATIENCE * 2,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };

    until("acknowledged posts", &|| count(StatusCode::OK) >= 40).await;
    broker.stop();
    let refused_before = count(StatusCode::SERVICE_UNAVAILABLE);
    until("503s while the broker is down", &|| {
        count(StatusCode::SERVICE_UNAVAILABLE) >= refused_before + 8
    })
    .await;
    broker.start();
    let acknowledged_before_restart = count(StatusCode::OK);
    until("acknowledged posts after the restart", &|| {
        count(StatusCode::OK) >= acknowledged_before_restart + 40
    })
    .await;
    running.store(false, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }

    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    for outcome in &outcomes {
        match outcome.status {
            StatusCode::OK => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(
                    outcome.retry_after.as_deref(),
                    Some("1"),
                    "{}",
                    outcome.desc
                );
                let body: Value = serde_json::from_str(&outcome.body).unwrap();
                assert_eq!(body["error"], "broker_unavailable");
            }
            other => panic!("{} answered {other}: {}", outcome.desc, outcome.body),
        }
    }

    // Every entry that got a 200 is in the broker's log exactly once.
    let acknowledged: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.status == StatusCode::OK)
        .map(|o| o.desc.as_str())
        .collect();
    let landed = descs_in(&broker.bootstrap(), "crash-logs", &acknowledged);
    let lost_or_doubled: Vec<(&str, usize)> = acknowledged
        .iter()
        .map(|desc| (*desc, landed.get(*desc).copied().unwrap_or(0)))
        .filter(|(_, copies)| *copies != 1)
        .collect();
    assert_eq!(
        lost_or_doubled,
        vec![],
        "entries that got a 200, with their copies in Kafka"
    );
    assert!(acknowledged.len() >= 80);
    // A 503 that says nothing was posted is true: none of those entries is in the topic.
    let landed_anyway: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.status == StatusCode::SERVICE_UNAVAILABLE)
        .filter(|o| o.body.contains("nothing was posted"))
        .map(|o| o.desc.as_str())
        .filter(|desc| landed.contains_key(*desc))
        .collect();
    assert_eq!(landed_anyway, Vec::<&str>::new());
}
