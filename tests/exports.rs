//! End-to-end: CSV exports of stored ad events on the local stack. Callbacks go through the
//! bridge and events-sink as in production; an export is asked for at the exports function URL,
//! run by export-worker from the FIFO queue, and mailed by export-notifier when its CSV lands
//! (S3 → EventBridge); the mail is read back from the local SES and its URL downloaded.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[path = "support/local.rs"]
mod local;

const PATIENCE: Duration = Duration::from_secs(180);

struct Stack {
    env: HashMap<String, String>,
    http: reqwest::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
}

impl Stack {
    async fn connect() -> Stack {
        let env = local::endpoints();
        let sdk = local::sdk_config(&env).await;
        Stack {
            http: local::http_client(),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            s3: local::s3_client(&sdk),
            env,
        }
    }

    fn get(&self, key: &str) -> &str {
        local::endpoint(&self.env, key)
    }

    async fn ask(&self, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/exports", self.get("EXPORTS_URL")))
            .json(body)
            .send()
            .await
            .expect("the exports URL answers");
        (
            response.status(),
            response.json().await.expect("a JSON body"),
        )
    }

    async fn status(&self, id: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/exports/{id}", self.get("EXPORTS_URL")))
            .send()
            .await
            .expect("the exports URL answers");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn until_over(&self, id: &str) -> Value {
        let start = Instant::now();
        loop {
            let status = self.status(id).await;
            if matches!(status["status"].as_str(), Some("ready" | "failed"))
                || start.elapsed() > PATIENCE
            {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The stored items of one app's day, in key order, each as attribute → text.
    async fn day(&self, app: &str, day: &str) -> Vec<BTreeMap<String, String>> {
        let (mut items, mut start) = (Vec::new(), None);
        loop {
            let page = self
                .dynamodb
                .query()
                .table_name(self.get("AD_EVENTS_TABLE"))
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(format!("{app}#{day}")))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("Query");
            for item in page.items() {
                items.push(
                    item.iter()
                        .filter(|(name, _)| *name != "pk" && *name != "sk")
                        .map(|(name, value)| {
                            let text = value
                                .as_s()
                                .or_else(|_| value.as_n())
                                .cloned()
                                .unwrap_or_default();
                            (name.clone(), text)
                        })
                        .collect(),
                );
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    /// The mails the local SES sent to `to`.
    fn mail_to(&self, to: &str) -> Vec<Value> {
        let folder = PathBuf::from(self.get("EXPORTS_MAIL_DIR"));
        let Ok(entries) = std::fs::read_dir(folder) else {
            return Vec::new();
        };
        entries
            .filter_map(|entry| {
                let path = entry.ok()?.path();
                (path.extension()? == "json").then_some(path)
            })
            .filter_map(|path| serde_json::from_slice::<Value>(&std::fs::read(path).ok()?).ok())
            .filter(|mail| {
                mail["destinations"]["ToAddresses"]
                    .as_array()
                    .is_some_and(|to_list| to_list.iter().any(|a| a == to))
            })
            .collect()
    }
}

fn days_ago(days: u64) -> String {
    platform::rfc3339_before_now(Duration::from_secs(days * 86_400))[..10].to_owned()
}

/// Sends `per_day` callbacks of each kind on each of the last 14 days (today included) for
/// `app`, through the standalone bridge, and waits until events-sink stored them all.
async fn seed(stack: &Stack, app: &str, per_day: usize) -> Vec<String> {
    let (network, key) = (stack.get("AD_NETWORK"), stack.get("AD_NETWORK_KEY"));
    let days: Vec<String> = (0..14).rev().map(days_ago).collect();
    for (d, day) in days.iter().enumerate() {
        for n in 0..per_day {
            let event_id = format!("{app}-{d}-{n}");
            let occurred_at = format!("{day}T00:00:{:02}Z", n % 60);
            let (kind, extra): (&str, Vec<(&str, String)>) = match n % 3 {
                0 => (
                    "install",
                    vec![
                        ("campaign", format!("winter, \"big\" sale {n}")),
                        ("country", "DE".into()),
                    ],
                ),
                1 => (
                    "reattribution",
                    vec![("days_inactive", (n % 90).to_string())],
                ),
                _ => (
                    "event",
                    vec![
                        ("event_name", "köp \"nu\", då".into()),
                        ("revenue", "4.99".into()),
                        ("currency", "EUR".into()),
                    ],
                ),
            };
            let mut query: Vec<(&str, String)> = vec![
                ("key", key.into()),
                ("version", "1".into()),
                ("event_id", event_id),
                ("app_id", app.into()),
                ("occurred_at", occurred_at),
                ("device_id", format!("DEV-{n}")),
            ];
            query.extend(extra);
            let response = stack
                .http
                .get(format!(
                    "{}/api/v1/events/{network}/{kind}",
                    stack.get("BRIDGE_URL")
                ))
                .query(&query)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "{}",
                response.text().await.unwrap()
            );
        }
    }
    let start = Instant::now();
    for day in &days {
        while stack.day(app, day).await.len() < per_day {
            assert!(
                start.elapsed() < PATIENCE,
                "events-sink did not store {app}'s {day}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    days
}

fn unique_app() -> String {
    local::unique("e2e").replace(' ', ".")
}

#[tokio::test]
async fn a_14_day_export_is_mailed_as_a_url_to_the_csv_of_exactly_the_stored_events() {
    let stack = Stack::connect().await;
    let app = unique_app();
    let days = seed(&stack, &app, 7).await;
    let email = format!("{}@example.com", app.replace('.', "-"));

    let (status, queued) = stack
        .ask(&json!({"app_id": app, "from": days[0], "to": days[13], "email": email}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["status"], "queued");
    let id = queued["export_id"].as_str().unwrap();
    let report = stack.until_over(id).await;
    assert_eq!(report["status"], "ready", "{report}");
    assert_eq!(report["rows"], 14 * 7);
    let url = report["url"].as_str().unwrap();

    // The mail, with the same CSV behind its URL.
    let start = Instant::now();
    let mut mails = stack.mail_to(&email);
    while mails.is_empty() && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        mails = stack.mail_to(&email);
    }
    assert_eq!(mails.len(), 1, "one mail per export");
    let body = mails[0]["body"].as_str().unwrap();
    let mailed = body
        .lines()
        .find(|line| line.starts_with("http"))
        .expect("the mail holds the URL");
    assert!(
        mailed.contains("X-Amz-Expires=3600"),
        "valid for an hour: {mailed}"
    );
    let csv = stack.http.get(mailed).send().await.unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    let csv = csv.bytes().await.unwrap();
    assert_eq!(
        stack
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
        csv
    );

    // An independent reading of the stored items: day by day, in key order.
    let mut reader = csv::Reader::from_reader(csv.as_ref());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<BTreeMap<String, String>> = reader
        .records()
        .map(|r| {
            header
                .iter()
                .zip(r.unwrap().iter())
                .filter(|(_, v)| !v.is_empty())
                .map(|(h, v)| (h.clone(), v.to_owned()))
                .collect()
        })
        .collect();
    let mut stored = Vec::new();
    for day in &days {
        stored.extend(stack.day(&app, day).await);
    }
    assert_eq!(rows.len(), stored.len());
    assert_eq!(rows, stored, "the CSV is the stored events, in order");
    assert!(
        rows.iter()
            .any(|r| r.get("campaign").is_some_and(|c| c.contains(", \"big\"")))
    );
    assert!(
        rows.iter()
            .any(|r| r.get("event_name").is_some_and(|c| c == "köp \"nu\", då"))
    );
}

#[tokio::test]
async fn fifteen_days_is_refused_naming_the_field() {
    let stack = Stack::connect().await;
    let (status, body) = stack
        .ask(&json!({"app_id": "com.example.game", "from": days_ago(14), "to": days_ago(0), "email": "ops@example.com"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_export");
    assert!(
        body["fields"]["to"]
            .as_str()
            .unwrap()
            .contains("at most 14 days"),
        "{body}"
    );
}

#[tokio::test]
async fn two_exports_asked_at_the_same_moment_run_one_after_the_other() {
    let stack = Stack::connect().await;
    let app = unique_app();
    let days = seed(&stack, &app, 3).await;
    let ask = |from: &str| json!({"app_id": app, "from": from, "to": days[13], "email": "ops@example.com"});
    let (first, second) = (ask(&days[0]), ask(&days[1]));
    // The second asked twice at once, as a client retrying its request.
    let ((s1, a), (s2, b), (s3, again)) =
        tokio::join!(stack.ask(&first), stack.ask(&second), stack.ask(&second));
    let answered = platform::now_rfc3339();
    assert_eq!(
        (s1, s2, s3),
        (
            StatusCode::ACCEPTED,
            StatusCode::ACCEPTED,
            StatusCode::ACCEPTED
        )
    );
    assert_ne!(a["export_id"], b["export_id"]);
    let id = |e: &Value| e["export_id"].as_str().unwrap().to_owned();
    let mut exports = vec![
        (stack.until_over(&id(&a)).await, 14 * 3),
        (stack.until_over(&id(&b)).await, 13 * 3),
    ];
    // The same request while its export is queued is that export. Only if the worker had
    // already taken it (the second may be queued before the first) is the retry a new one.
    // Either of the two sent at once may be recorded first: the other is then the retry.
    if again["export_id"] != b["export_id"] {
        let retried = stack.until_over(&id(&again)).await;
        let first_started = [&exports[1].0, &retried]
            .iter()
            .filter_map(|export| export["started_at"].as_str())
            .min()
            .unwrap_or_default()
            .to_owned();
        assert!(
            first_started.as_str() <= answered.as_str(),
            "the same request while queued is the same export: {b} and {again}"
        );
        exports.push((retried, 13 * 3));
    }
    for (export, rows) in &exports {
        assert_eq!(export["status"], "ready", "{export}");
        assert_eq!(export["rows"].as_u64(), Some(*rows), "{export}");
    }
    let mut spans: Vec<(String, String)> = exports
        .iter()
        .map(|(e, _)| {
            (
                e["started_at"].as_str().unwrap().to_owned(),
                e["finished_at"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    spans.sort();
    assert!(
        spans.windows(2).all(|pair| pair[0].1 <= pair[1].0),
        "the exports overlapped: {spans:?}"
    );
}

#[tokio::test]
async fn a_presigned_url_of_an_export_bucket_object_is_refused_once_it_expired() {
    let stack = Stack::connect().await;
    let key = format!(
        "exports/{}.csv",
        local::unique("e2e-expiry").replace(' ', "-")
    );
    let bucket = stack.get("EXPORTS_BUCKET");
    stack
        .s3
        .put_object()
        .bucket(bucket)
        .key(&key)
        .body(b"kind\n".to_vec().into())
        .send()
        .await
        .unwrap();
    let presigned = stack
        .s3
        .get_object()
        .bucket(bucket)
        .key(&key)
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(2)).unwrap(),
        )
        .await
        .unwrap();
    let url = presigned.uri().to_owned();
    assert_eq!(
        stack.http.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let refused = stack.http.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Request has expired")
    );
}
