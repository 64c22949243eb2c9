//! Benchmarks of the logs pipeline (run by `make bench` through bench/logs.py):
//!
//! - `server URL SECONDS CONNECTIONS APP_KEY [BOOTSTRAP TOPIC]`: keeps CONNECTIONS keep-alive
//!   connections posting one entry each to a running `logs-server` for SECONDS; prints req/s and
//!   latency percentiles of 200 answers (each is an acknowledged produce). With a broker and
//!   topic it then reads the topic back and prints the figures again, with how many of the
//!   acknowledged entries it holds (all of them, or the figures mean nothing) and how many of
//!   the run's entries twice.
//! - `count BOOTSTRAP TOPIC RUN AT_LEAST`: reads back the entries another load generator (wrk,
//!   through bench/wrk-post-entry.lua) tagged with RUN: how many distinct ones the topic holds
//!   and how many twice. It reads on until at least AT_LEAST are there (the acknowledged count)
//!   and every partition is at its end, or for at most a minute.
//! - `handler REQUESTS`: the Lambda handler in process, one request after another, against the
//!   broker in `KAFKA_BOOTSTRAP_SERVERS` (the rest of the bridge's environment as for the
//!   function); prints latency percentiles per request to an acknowledged produce.
//! - `sink RECORDS`: the sink's own work (decode, group, gzip) on MSK events of 500 records into
//!   an object store that keeps nothing; prints records/s.

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = |threads: usize| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    match args.first().map(String::as_str) {
        // One thread for the load (as a one-thread wrk would): the server and the broker share the
        // machine with it, and a client using every core would measure itself.
        Some("server") => {
            // Tags this run's entries, so that reading the topic back tells them from earlier runs'.
            let run = format!(
                "{:x}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_nanos()
            );
            let (mut report, acknowledged) = runtime(1)?.block_on(server(
                &args[1],
                args[2].parse()?,
                args[3].parse()?,
                &args[4],
                &run,
            ))?;
            // The load's figures come first, on a line of their own, so that whoever watches
            // the server can take its measures before the read-back starts.
            println!("{report}");
            std::io::stdout().flush()?;
            if let (Some(bootstrap), Some(topic)) = (args.get(5), args.get(6)) {
                let (seen, duplicates) = read_run(bootstrap, topic, &run, |seen| {
                    acknowledged.iter().all(|entry| seen.contains(entry))
                })?;
                let found = acknowledged.intersection(&seen).count();
                report["acknowledged_found_in_topic"] = json!(found);
                report["duplicates_in_topic"] = json!(duplicates);
                println!("{report}");
            }
            Ok(())
        }
        Some("count") => {
            let at_least: usize = args[4].parse()?;
            let (seen, duplicates) = read_run(&args[1], &args[2], &args[3], |seen| {
                seen.len() >= at_least
            })?;
            println!(
                "{}",
                json!({"distinct_in_topic": seen.len(), "duplicates_in_topic": duplicates})
            );
            Ok(())
        }
        Some("handler") => runtime(2)?.block_on(handler(args[1].parse()?)),
        Some("sink") => runtime(2)?.block_on(sink(args[1].parse()?)),
        _ => {
            Err("usage: loadgen server URL SECONDS CONNECTIONS APP_KEY [BOOTSTRAP TOPIC] | count BOOTSTRAP TOPIC RUN AT_LEAST | handler N | sink N".into())
        }
    }
}

fn percentiles(mut micros: Vec<u64>) -> Value {
    micros.sort_unstable();
    let at =
        |q: f64| micros[((micros.len() as f64 * q) as usize).min(micros.len() - 1)] as f64 / 1000.0;
    json!({"p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": at(1.0), "samples": micros.len()})
}

async fn server(
    url: &str,
    seconds: u64,
    connections: usize,
    app_key: &str,
    run: &str,
) -> Result<(Value, HashSet<(usize, u64)>), Box<dyn std::error::Error + Send + Sync>> {
    let uri: http::Uri = url.parse()?;
    let authority = uri.authority().ok_or("URL without host")?.to_string();
    let path = uri.path().to_owned();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let failures = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for connection in 0..connections {
        let (authority, path, key, run, failures) = (
            authority.clone(),
            path.clone(),
            app_key.to_owned(),
            run.to_owned(),
            Arc::clone(&failures),
        );
        tasks.push(tokio::spawn(async move {
            let mut client = Connection::open(&authority).await.expect("connect");
            let mut latencies = Vec::new();
            let mut acknowledged = Vec::new();
            let mut request = Vec::with_capacity(512);
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let body = format!(
                    r#"{{"user_id":"user-{connection}","device_details":"pixel-8","desc":"benchmark entry {n}","app_platform":"android","timestamp":"1795342500000","bench_run":"{run}"}}"#
                );
                request.clear();
                write!(
                    request,
                    "POST {path} HTTP/1.1\r\nhost: {authority}\r\nappkey: {key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
                let start = Instant::now();
                match client.exchange(&request).await {
                    Ok(200) => {
                        latencies.push(start.elapsed().as_micros() as u64);
                        acknowledged.push((connection, n));
                    }
                    Ok(_) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
            (latencies, acknowledged)
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    let mut acknowledged = HashSet::new();
    for task in tasks {
        let (latencies, entries) = task.await?;
        all.extend(latencies);
        acknowledged.extend(entries);
    }
    let elapsed = started.elapsed().as_secs_f64().max(seconds as f64);
    let mut report = percentiles(all.clone());
    report["requests_per_second"] = json!((all.len() as f64 / elapsed).round());
    report["acknowledged"] = json!(all.len());
    report["failed"] = json!(failures.load(Ordering::Relaxed));
    report["connections"] = json!(connections);
    Ok((report, acknowledged))
}

/// A run's entries: (connection, number).
type Entries = HashSet<(usize, u64)>;

/// Reads `topic` from its start and returns the entries of `run` it holds, as (connection,
/// number), with how many of them it holds more than once (distinct offsets carrying the same
/// entry). It reads every partition to its end and on until `enough` says the entries seen are
/// all it waits for, or for at most a minute: the local broker's end offsets can trail its last
/// acknowledged write, so an end is not proof that nothing follows.
fn read_run(
    bootstrap: &str,
    topic: &str,
    run: &str,
    enough: impl Fn(&Entries) -> bool,
) -> Result<(Entries, usize), Box<dyn std::error::Error + Send + Sync>> {
    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("sluice-loadgen-{run}"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()?;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut assignment = rdkafka::TopicPartitionList::new();
    for partition in metadata
        .topics()
        .first()
        .ok_or("no such topic")?
        .partitions()
    {
        assignment.add_partition_offset(topic, partition.id(), rdkafka::Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let mut at_end = HashSet::new();
    let mut read = HashSet::new();
    let mut seen = HashSet::new();
    let mut duplicates = 0;
    let mut satisfied = enough(&seen);
    let patience = Instant::now() + Duration::from_secs(60);
    while Instant::now() < patience {
        if satisfied && at_end.len() == assignment.count() {
            break;
        }
        let message = match consumer.poll(Duration::from_millis(200)) {
            None => continue,
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(partition))) => {
                at_end.insert(partition);
                // Checked at ends only: a check per message would cost the read quadratic time.
                satisfied = satisfied || enough(&seen);
                continue;
            }
            Some(Err(err)) => return Err(err.into()),
            Some(Ok(message)) => message,
        };
        at_end.remove(&message.partition());
        if !read.insert((message.partition(), message.offset())) {
            continue; // the same record fetched again
        }
        let envelope: Value = serde_json::from_slice(message.payload().unwrap_or_default())?;
        let entry = &envelope["entry"];
        if entry["bench_run"] != run {
            continue;
        }
        let connection = entry["user_id"]
            .as_str()
            .and_then(|u| u.strip_prefix("user-"));
        let n = entry["desc"]
            .as_str()
            .and_then(|d| d.strip_prefix("benchmark entry "));
        let (Some(Ok(connection)), Some(Ok(n))) = (connection.map(str::parse), n.map(str::parse))
        else {
            return Err(format!("an entry of this run that it did not send: {entry}").into());
        };
        if !seen.insert((connection, n)) {
            duplicates += 1;
        }
    }
    Ok((seen, duplicates))
}

/// A keep-alive HTTP/1.1 client that does only what the benchmark needs: one request at a time,
/// each answer read whole (status line, headers, a `content-length` body). The load generator
/// shares the cores with the server it measures, so it spends as little as a wrk-style client.
struct Connection {
    stream: tokio::net::TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    async fn open(authority: &str) -> std::io::Result<Connection> {
        let stream = tokio::net::TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buffer: Vec::with_capacity(4096),
        })
    }

    /// Sends one request and returns the answer's status once its body has arrived.
    async fn exchange(&mut self, request: &[u8]) -> std::io::Result<u16> {
        self.stream.write_all(request).await?;
        self.buffer.clear();
        loop {
            if let Some(answer) = complete_answer(&self.buffer)? {
                return Ok(answer);
            }
            if self.stream.read_buf(&mut self.buffer).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
}

/// The status of the answer in `buffer` once it is whole; `None` while more is to come.
fn complete_answer(buffer: &[u8]) -> std::io::Result<Option<u16>> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let Some(head_end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buffer[..head_end]).map_err(|_| invalid("head not text"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.strip_prefix("HTTP/1.1 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("no status line"))?;
    let length: usize = lines
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .ok_or_else(|| invalid("answer without content-length"))?;
    Ok((buffer.len() >= head_end + 4 + length).then_some(status))
}

async fn handler(requests: usize) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let api =
        logs_ingest::bridge::from_env(logs_ingest::config::Serving::OneRequestAtATime).await?;
    let fixture = include_str!("../../../crates/logs-ingest/fixtures/http-api-post-logs.json");
    let key = std::env::var("LOGS_APP_KEYS")?
        .split(',')
        .next()
        .unwrap_or_default()
        .to_owned();
    let fixture = fixture.replace("fixture-key", &key);
    let mut latencies = Vec::with_capacity(requests);
    for _ in 0..requests {
        let request = lambda_http::request::from_str(&fixture)?;
        let start = Instant::now();
        let response = logs_ingest::lambda::handle(&api, request).await?;
        if response.status() != 200 {
            return Err(format!("handler answered {}", response.status()).into());
        }
        latencies.push(start.elapsed().as_micros() as u64);
    }
    println!("{}", percentiles(latencies));
    Ok(())
}

struct Discard;

impl logs_archive::ports::ObjectStore for Discard {
    async fn put(
        &self,
        object: logs_archive::ports::Object,
    ) -> Result<(), logs_archive::ports::StoreError> {
        std::hint::black_box(object);
        Ok(())
    }
}

async fn sink(records: usize) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let batch = 500;
    let mut events = Vec::new();
    for start in (0..records).step_by(batch) {
        let items: Vec<Value> = (start..(start + batch).min(records))
            .map(|offset| {
                let envelope = logs::LogEnvelope {
                    entry: json!({"user_id": format!("user-{}", offset % 97), "desc": format!("benchmark entry {offset}"), "app_platform": "android"}),
                    received_at: "2026-11-22T10:15:00.000Z".into(),
                    path: "app".into(),
                    request_id: format!("req-{offset}").into(),
                    client_ip: Some("203.0.113.7".into()),
                    entry_id: format!("req-{offset}/0").into(),
                };
                json!({"topic": "mobile-logs", "partition": 0, "offset": offset, "timestamp": 1795342500000i64,
                       "timestampType": "CREATE_TIME", "key": null, "headers": [],
                       "value": base64::engine::general_purpose::STANDARD.encode(envelope.to_vec().unwrap())})
            })
            .collect();
        events.push(
            json!({"eventSource": "aws:kafka", "records": {"mobile-logs-0": items}}).to_string(),
        );
    }
    let sink = logs_archive::sink::LogSink { store: Discard };
    let start = Instant::now();
    for event in &events {
        // Parsing the event is part of the work the function does per invocation.
        let event: platform::msk::KafkaEvent = serde_json::from_str(event)?;
        let response = sink.handle(event).await;
        assert!(response.batch_item_failures.is_empty());
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"records": records, "seconds": elapsed, "records_per_second": (records as f64 / elapsed).round()})
    );
    Ok(())
}
