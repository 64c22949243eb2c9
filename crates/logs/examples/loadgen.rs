//! Benchmarks of the logs pipeline (run by `make bench` through bench/logs.py):
//!
//! - `server URL SECONDS CONNECTIONS APP_KEY`: keeps CONNECTIONS keep-alive connections posting
//!   one entry each to a running `logs-server` for SECONDS; prints req/s and latency percentiles
//!   of 200 answers (each is an acknowledged produce).
//! - `handler REQUESTS`: the Lambda handler in process, one request after another, against the
//!   broker in `KAFKA_BOOTSTRAP_SERVERS` (the rest of the bridge's environment as for the
//!   function); prints latency percentiles per request to an acknowledged produce.
//! - `sink RECORDS`: the sink's own work (decode, group, gzip) on MSK events of 500 records into
//!   an object store that keeps nothing; prints records/s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

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
        Some("server") => runtime(1)?.block_on(server(
            &args[1],
            args[2].parse()?,
            args[3].parse()?,
            &args[4],
        )),
        Some("handler") => runtime(2)?.block_on(handler(args[1].parse()?)),
        Some("sink") => runtime(2)?.block_on(sink(args[1].parse()?)),
        _ => {
            Err("usage: loadgen server URL SECONDS CONNECTIONS APP_KEY | handler N | sink N".into())
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
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let uri: http::Uri = url.parse()?;
    let authority = uri.authority().ok_or("URL without host")?.to_string();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let failures = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for connection in 0..connections {
        let (uri, authority, key, failures) = (
            uri.clone(),
            authority.clone(),
            app_key.to_owned(),
            Arc::clone(&failures),
        );
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(&authority).await.expect("connect");
            stream.set_nodelay(true).unwrap();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            let mut latencies = Vec::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let body = format!(
                    r#"{{"user_id":"user-{connection}","device_details":"pixel-8","desc":"benchmark entry {n}","app_platform":"android","timestamp":"1795342500000"}}"#
                );
                let request = http::Request::post(uri.clone())
                    .header("host", &authority)
                    .header("appkey", &key)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body)))
                    .unwrap();
                let start = Instant::now();
                match sender.send_request(request).await {
                    Ok(response) => {
                        let ok = response.status() == 200;
                        let _ = response.into_body().collect().await;
                        if ok {
                            latencies.push(start.elapsed().as_micros() as u64);
                        } else {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(_) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await?);
    }
    let elapsed = started.elapsed().as_secs_f64().max(seconds as f64);
    let mut report = percentiles(all.clone());
    report["requests_per_second"] = json!((all.len() as f64 / elapsed).round());
    report["acknowledged"] = json!(all.len());
    report["failed"] = json!(failures.load(Ordering::Relaxed));
    report["connections"] = json!(connections);
    println!("{report}");
    Ok(())
}

async fn handler(requests: usize) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let api = logs::bridge::from_env().await?;
    let fixture = include_str!("../fixtures/http-api-post-logs.json");
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
        let response = logs::lambda::handle(&api, request).await?;
        if response.status() != 200 {
            return Err(format!("handler answered {}", response.status()).into());
        }
        latencies.push(start.elapsed().as_micros() as u64);
    }
    println!("{}", percentiles(latencies));
    Ok(())
}

struct Discard;

#[async_trait]
impl logs::ports::ObjectStore for Discard {
    async fn put(&self, object: logs::ports::Object) -> Result<(), logs::ports::StoreError> {
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
                let envelope = json!({
                    "entry": {"user_id": format!("user-{}", offset % 97), "desc": format!("benchmark entry {offset}"), "app_platform": "android"},
                    "received_at": "2026-11-22T10:15:00.000Z", "path": "app",
                    "request_id": format!("req-{offset}"), "client_ip": "203.0.113.7"});
                json!({"topic": "mobile-logs", "partition": 0, "offset": offset, "timestamp": 1795342500000i64,
                       "timestampType": "CREATE_TIME", "key": null, "headers": [],
                       "value": base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&envelope).unwrap())})
            })
            .collect();
        events.push(
            json!({"eventSource": "aws:kafka", "records": {"mobile-logs-0": items}}).to_string(),
        );
    }
    let sink = logs::sink::LogSink { store: Discard };
    let start = Instant::now();
    for event in &events {
        // Parsing the event is part of the work the function does per invocation.
        let event: logs::KafkaEvent = serde_json::from_str(event)?;
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
