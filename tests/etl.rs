//! End-to-end: the hit-level ETL pipeline on the local stack. Files are put into the inbound
//! bucket with the S3 API; the bucket's notification (declared in the template) runs
//! `etl-trigger`, the process-hit-file workflow runs `etl-run`, and what users see is read back:
//! the ledger in DynamoDB, the report in S3, the status API over HTTP, and the alerts that the
//! SNS topic delivered to the local alerts queue.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[path = "support/local.rs"]
mod local;

/// How long a run may take on the local stack before a test gives up on it.
const PATIENCE: Duration = Duration::from_secs(60);
/// How long a test keeps watching for a second alert that must not come.
const QUIET: Duration = Duration::from_secs(4);

struct Stack {
    env: HashMap<String, String>,
    http: reqwest::Client,
    s3: aws_sdk_s3::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    sfn: aws_sdk_sfn::Client,
    glue: aws_sdk_glue::Client,
}

/// Alerts drained from the queue so far, shared by the tests of this binary.
static ALERTS: Mutex<Vec<Value>> = Mutex::new(Vec::new());

impl Stack {
    async fn connect() -> Stack {
        let env = local::endpoints();
        let sdk = local::sdk_config(&env).await;
        Stack {
            http: local::http_client(),
            s3: local::s3_client(&sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            sfn: aws_sdk_sfn::Client::new(&sdk),
            glue: aws_sdk_glue::Client::new(&sdk),
            env,
        }
    }

    fn inbound(&self) -> &str {
        &self.env["INBOUND_BUCKET"]
    }

    /// Puts an object into the inbound bucket; returns the version a run would pin: its
    /// version id, or its ETag.
    async fn put(&self, key: &str, body: &[u8]) -> String {
        let put = self
            .s3
            .put_object()
            .bucket(self.inbound())
            .key(key)
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .expect("PutObject");
        match put.version_id() {
            Some(id) if !id.is_empty() && id != "null" => id.to_owned(),
            _ => put.e_tag().expect("an ETag").trim_matches('"').to_owned(),
        }
    }

    /// Puts an object and returns the run id the pipeline will give it.
    async fn drop_file(&self, key: &str, body: &[u8]) -> String {
        let version = self.put(key, body).await;
        run_id(self.inbound(), key, &version)
    }

    /// How many objects the outbound bucket holds under a run's report folder.
    async fn reports_of(&self, run_id: &str, item: &HashMap<String, AttributeValue>) -> usize {
        self.s3
            .list_objects_v2()
            .bucket(&self.env["OUTBOUND_BUCKET"])
            .prefix(format!("{}/{run_id}/", &text(item, "created_at")[..10]))
            .send()
            .await
            .unwrap()
            .contents()
            .len()
    }

    async fn ledger(&self, run_id: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(&self.env["RUNS_TABLE"])
            .key("run_id", AttributeValue::S(run_id.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem")
            .item
    }

    /// Waits until the run's status is one of `statuses`, and returns the ledger item.
    async fn settled(&self, run_id: &str, statuses: &[&str]) -> HashMap<String, AttributeValue> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let item = self.ledger(run_id).await;
            if let Some(item) = &item
                && statuses.contains(&text(item, "status").as_str())
            {
                return item.clone();
            }
            assert!(
                Instant::now() < deadline,
                "run {run_id} did not reach {statuses:?}: {item:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let got = self.s3.get_object().bucket(bucket).key(key).send().await;
        match got {
            Ok(object) => Some(object.body.collect().await.unwrap().to_vec()),
            Err(_) => None,
        }
    }

    /// Waits for the first alert about `run_id`, then a while for a second one that must not
    /// come; returns all of them.
    async fn alerts_settled(&self, run_id: &str) -> Vec<Value> {
        let deadline = Instant::now() + PATIENCE;
        while self.alerts_for(run_id).await.is_empty() {
            assert!(Instant::now() < deadline, "no alert about run {run_id}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        tokio::time::sleep(QUIET).await;
        self.alerts_for(run_id).await
    }

    /// Moves every alert the queue holds into [`ALERTS`] and returns those about `run_id`.
    async fn alerts_for(&self, run_id: &str) -> Vec<Value> {
        let queue = &self.env["ALERTS_QUEUE_URL"];
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(queue)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("ReceiveMessage");
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for message in messages {
                let envelope: Value =
                    serde_json::from_str(message.body().unwrap_or("{}")).expect("an SNS envelope");
                ALERTS.lock().unwrap().push(envelope);
                self.sqs
                    .delete_message()
                    .queue_url(queue)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .expect("DeleteMessage");
            }
        }
        ALERTS
            .lock()
            .unwrap()
            .iter()
            .filter(|alert| alert["Message"].as_str().unwrap_or("").contains(run_id))
            .cloned()
            .collect()
    }

    /// Delivers an S3 event to `etl-trigger` through the Lambda Invoke API, as S3 does;
    /// panics unless the function handled it (Invoke answers 200 for a failed function too,
    /// with `X-Amz-Function-Error`).
    async fn deliver(&self, event: &Value) -> Value {
        let function = format!("{}-etl-trigger", self.env["STACK_NAME"]);
        let response = self
            .http
            .post(format!(
                "{}/2015-03-31/functions/{function}/invocations",
                self.env["AWS_ENDPOINT_URL"]
            ))
            // The local stack routes a request by the service its credential scope names; it
            // does not check signatures.
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=local/20261123/us-east-1/lambda/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .json(event)
            .send()
            .await
            .expect("Invoke");
        let status = response.status();
        let failed = response.headers().get("x-amz-function-error").cloned();
        let body: Value = response.json().await.expect("the function's answer");
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(failed, None, "etl-trigger failed: {body}");
        body
    }

    async fn executions_named(&self, name: &str) -> usize {
        let listed = self
            .sfn
            .list_executions()
            .state_machine_arn(&self.env["ETL_STATE_MACHINE_ARN"])
            .send()
            .await
            .expect("ListExecutions");
        listed
            .executions()
            .iter()
            .filter(|e| e.name() == name)
            .count()
    }

    async fn status(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.env["RUNS_URL"]))
            .send()
            .await
            .expect("the status URL answers");
        let status = response.status();
        let headers = response.headers().clone();
        (status, headers, response.json().await.expect("a JSON body"))
    }
}

fn run_id(bucket: &str, key: &str, version: &str) -> String {
    let mut digest = Sha256::new();
    for part in [bucket, key, version] {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    digest.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        Some(AttributeValue::N(n)) => n.clone(),
        other => panic!("{name} is {other:?}"),
    }
}

fn failures(item: &HashMap<String, AttributeValue>) -> Vec<(String, String)> {
    item.get("failures")
        .map(|list| {
            list.as_l()
                .unwrap()
                .iter()
                .map(|f| {
                    let f = f.as_m().unwrap();
                    (text(f, "attempt"), text(f, "error"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn hits(bytes: u64, seed: u64) -> Vec<u8> {
    let mut data = Vec::new();
    hitdata::generate::generate(&mut data, bytes, seed).unwrap();
    data
}

/// The report the engine writes for these bytes: what the CLI writes for the same file.
fn expected_report(data: &[u8]) -> Vec<u8> {
    let report = hitdata::analyze_bytes(data, hitdata::Options::default()).unwrap();
    let mut bytes = Vec::new();
    hitdata::report::render(&report.rows, &mut bytes).unwrap();
    bytes
}

fn key(name: &str) -> String {
    format!("incoming/{}", local::unique(name))
}

#[tokio::test]
async fn a_dropped_file_becomes_its_report_readable_through_the_status_api() {
    let stack = Stack::connect().await;
    let data = hits(1 << 20, 21);
    // Spaces, '+' and non-ASCII: S3 sends the key form-encoded, the pipeline decodes it.
    let key = format!("{} été+ü.tsv", key("hit data"));

    let run = stack.drop_file(&key, &data).await;
    let item = stack.settled(&run, &["succeeded"]).await;

    assert_eq!(text(&item, "key"), key);
    assert_eq!(text(&item, "attempts"), "1");
    assert_eq!(text(&item, "engine"), "lambda");
    let report_key = text(&item, "report_key");
    let day = &text(&item, "created_at")[..10];
    assert_eq!(
        report_key,
        format!("{day}/{run}/{day}_SearchKeywordPerformance.tab")
    );
    let report = stack
        .object(&stack.env["OUTBOUND_BUCKET"], &report_key)
        .await
        .expect("the report object");
    assert_eq!(report, expected_report(&data));
    let summary: Value = serde_json::from_str(&text(&item, "summary")).unwrap();
    assert!(summary["rows_read"].as_u64().unwrap() > 1000, "{summary}");

    let (status, _, body) = stack.status(&format!("/runs/{run}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "succeeded");
    assert_eq!(body["input"]["key"], key.as_str());
    assert_eq!(body["summary"]["rows_read"], summary["rows_read"]);

    let (status, headers, body) = stack.status(&format!("/runs/{run}/report")).await;
    assert_eq!(status, StatusCode::FOUND, "{body}");
    let url = body["url"].as_str().unwrap();
    assert_eq!(headers["location"], url);
    assert!(url.contains("X-Amz-Expires=3600"), "{url}");
    let fetched = stack.http.get(url).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), report);
    assert_eq!(
        text(&stack.settled(&run, &["downloaded"]).await, "status"),
        "downloaded"
    );

    let (status, _, body) = stack.status("/runs/0123456789abcdef0123456789abcdef").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "unknown_run");

    let (status, _, body) = stack.status("/runs?status=downloaded&limit=100").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed: Vec<&str> = body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&run.as_str()), "{listed:?}");
    let (status, _, body) = stack.status("/runs?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["parameters"]["limit"],
        "must be a whole number from 1 to 100"
    );
}

#[tokio::test]
async fn a_run_whose_trigger_died_before_starting_it_is_started_by_the_reconciler() {
    let stack = Stack::connect().await;
    let data = hits(200_000, 17);
    // Outside the notified prefix: only the ledger entry below knows of it.
    let key = format!("staging/{}.tsv", local::unique("orphan"));
    let etag = stack.put(&key, &data).await;
    let run = run_id(stack.inbound(), &key, &etag);
    let long_ago = "2026-01-02T03:04:05.678Z";
    let report_key = format!("2026-01-02/{run}/2026-01-02_SearchKeywordPerformance.tab");
    // What the trigger writes before it starts the workflow, as if it died right after.
    let s = |v: &str| AttributeValue::S(v.to_owned());
    stack
        .dynamodb
        .put_item()
        .table_name(&stack.env["RUNS_TABLE"])
        .item("run_id", s(&run))
        .item("ledger", s("runs"))
        .item("bucket", s(stack.inbound()))
        .item("key", s(&key))
        .item("etag", s(&etag))
        .item("size", AttributeValue::N(data.len().to_string()))
        .item("engine", s("lambda"))
        .item("status", s("queued"))
        .item("attempts", AttributeValue::N("0".into()))
        .item("created_at", s(long_ago))
        .item("report_bucket", s(&stack.env["OUTBOUND_BUCKET"]))
        .item("report_key", s(&report_key))
        .send()
        .await
        .unwrap();

    let item = stack.settled(&run, &["succeeded", "failed"]).await;

    assert_eq!(text(&item, "status"), "succeeded", "{item:?}");
    assert_eq!(text(&item, "attempts"), "1");
    let report = stack
        .object(&stack.env["OUTBOUND_BUCKET"], &report_key)
        .await
        .unwrap();
    assert_eq!(report, expected_report(&data));
}

#[tokio::test]
async fn an_empty_object_is_recorded_as_skipped() {
    let stack = Stack::connect().await;

    let run = stack.drop_file(&key("empty"), b"").await;
    let item = stack.settled(&run, &["skipped"]).await;

    assert_eq!(text(&item, "skipped_reason"), "the object is empty");
    assert_eq!(stack.executions_named(&run).await, 0);
}

#[tokio::test]
async fn a_refused_file_is_tried_twice_then_pages_on_call_once() {
    let stack = Stack::connect().await;
    let key = format!("{}.tsv", key("not hits"));

    let run = stack
        .drop_file(&key, b"name\temail\nasha\ta@example.com\n")
        .await;
    let item = stack.settled(&run, &["failed"]).await;

    assert_eq!(text(&item, "attempts"), "2");
    assert_eq!(
        failures(&item),
        [
            ("1".to_owned(), "InputRefused".to_owned()),
            ("2".to_owned(), "InputRefused".to_owned())
        ]
    );
    let alerts = stack.alerts_settled(&run).await;
    assert_eq!(alerts.len(), 1, "exactly one alert: {alerts:?}");
    let alert = &alerts[0];
    assert!(
        alert["Subject"]
            .as_str()
            .unwrap()
            .contains(&format!("FAILED run {run}")),
        "{alert}"
    );
    let message = alert["Message"].as_str().unwrap();
    for line in [
        format!("input: s3://{}/{key}", stack.inbound()),
        "engine: lambda".to_owned(),
        "attempts: 2".to_owned(),
        format!("status: {}/runs/{run}", stack.env["RUNS_URL"]),
    ] {
        assert!(message.lines().any(|l| l == line), "{line:?} in\n{message}");
    }
    assert!(
        message
            .lines()
            .any(|l| l.starts_with("attempt 1: InputRefused") && l.contains("lacks")),
        "{message}"
    );
    assert!(
        message
            .lines()
            .any(|l| l.starts_with("attempt 2: InputRefused"))
    );
}

#[tokio::test]
async fn a_run_that_succeeds_on_its_retry_keeps_the_first_error_and_pages_nobody() {
    let stack = Stack::connect().await;
    let data = hits(200_000, 5);
    let name = local::unique("late");
    // The event arrives before the object can be read: staged outside the notified prefix,
    // announced under its final key, copied there once the first attempt has failed.
    let staged = format!("staging/{name}.tsv");
    let key = format!("incoming/{name}.tsv");
    let etag = stack.put(&staged, &data).await;
    let run = run_id(stack.inbound(), &key, &etag);
    let event = s3_event(stack.inbound(), &key, data.len(), &etag);

    stack.deliver(&event).await;
    let deadline = Instant::now() + PATIENCE;
    while failures(&stack.settled(&run, &["running", "failed"]).await).is_empty() {
        assert!(Instant::now() < deadline, "the first attempt did not fail");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stack
        .s3
        .copy_object()
        .bucket(stack.inbound())
        .key(&key)
        .copy_source(format!("{}/{staged}", stack.inbound()))
        .send()
        .await
        .unwrap();
    let item = stack.settled(&run, &["succeeded", "failed"]).await;

    assert_eq!(text(&item, "status"), "succeeded", "{item:?}");
    assert_eq!(text(&item, "attempts"), "2");
    assert_eq!(
        failures(&item),
        [("1".to_owned(), "ObjectUnreadable".to_owned())]
    );
    let report = stack
        .object(&stack.env["OUTBOUND_BUCKET"], &text(&item, "report_key"))
        .await
        .unwrap();
    assert_eq!(report, expected_report(&data));
    tokio::time::sleep(QUIET).await;
    assert!(stack.alerts_for(&run).await.is_empty());
}

#[tokio::test]
async fn the_same_event_delivered_again_and_twice_at_once_is_one_run() {
    let stack = Stack::connect().await;
    let data = hits(300_000, 8);
    let key = format!("{} +dup.tsv", key("twice"));

    let run = stack.drop_file(&key, &data).await;
    let item = stack.settled(&run, &["running", "succeeded"]).await;
    let etag = text(&item, "etag");
    let event = s3_event(stack.inbound(), &key, data.len(), &etag);
    let (a, b) = tokio::join!(stack.deliver(&event), stack.deliver(&event));
    for answer in [a, b] {
        assert_eq!(answer[0]["run_id"], run.as_str(), "{answer}");
    }
    let item = stack.settled(&run, &["succeeded"]).await;
    let late = stack.deliver(&event).await;
    assert_eq!(late[0]["outcome"], "already_known", "{late}");

    assert_eq!(text(&item, "attempts"), "1");
    assert_eq!(stack.executions_named(&run).await, 1);
    assert_eq!(stack.reports_of(&run, &item).await, 1, "one report");
    assert_eq!(
        text(&stack.ledger(&run).await.unwrap(), "status"),
        "succeeded"
    );
}

#[tokio::test]
async fn two_first_deliveries_at_the_same_moment_are_one_run() {
    let stack = Stack::connect().await;
    let data = hits(200_000, 9);
    // Outside the notified prefix, so that the two deliveries below are the first the ledger sees.
    let key = format!("staging/{} é+.tsv", local::unique("race"));
    let etag = stack.put(&key, &data).await;
    let run = run_id(stack.inbound(), &key, &etag);
    assert!(stack.ledger(&run).await.is_none());
    let event = s3_event(stack.inbound(), &key, data.len(), &etag);

    let (a, b) = tokio::join!(stack.deliver(&event), stack.deliver(&event));

    for answer in [&a, &b] {
        assert_eq!(answer[0]["run_id"], run.as_str(), "{answer}");
    }
    let item = stack.settled(&run, &["succeeded", "failed"]).await;
    assert_eq!(text(&item, "status"), "succeeded", "{item:?}");
    assert_eq!(text(&item, "attempts"), "1");
    assert_eq!(text(&item, "key"), key);
    assert_eq!(stack.executions_named(&run).await, 1);
    assert_eq!(stack.reports_of(&run, &item).await, 1, "one report");
}

#[tokio::test]
async fn a_file_under_the_glue_prefix_is_processed_by_the_glue_script_to_the_same_report() {
    let stack = Stack::connect().await;
    let data = hits(400_000, 13);
    let key = format!("incoming/glue/{} ü.tsv", local::unique("glue"));

    let run = stack.drop_file(&key, &data).await;
    let item = stack.settled(&run, &["succeeded", "failed"]).await;

    assert_eq!(text(&item, "status"), "succeeded", "{item:?}");
    assert_eq!(text(&item, "engine"), "glue");
    assert!(text(&item, "glue_job_run_id").starts_with("jr_"));
    let report = stack
        .object(&stack.env["OUTBOUND_BUCKET"], &text(&item, "report_key"))
        .await
        .expect("the report the Glue job wrote");
    assert_eq!(report, expected_report(&data));
}

#[tokio::test]
async fn a_glue_run_that_fails_is_retried_once_then_pages_on_call_once() {
    let stack = Stack::connect().await;
    let key = format!("incoming/glue/{}.tsv", local::unique("glue broken"));

    let run = stack
        .drop_file(&key, b"hit_time_gmt\tip\n1\t10.0.0.1\n")
        .await;
    let item = stack.settled(&run, &["failed"]).await;

    assert_eq!(text(&item, "attempts"), "2");
    assert_eq!(
        failures(&item),
        [
            ("1".to_owned(), "GlueFAILED".to_owned()),
            ("2".to_owned(), "GlueFAILED".to_owned())
        ]
    );
    let alerts = stack.alerts_settled(&run).await;
    assert_eq!(
        alerts.len(),
        1,
        "one alert, not one per Glue event: {alerts:?}"
    );
    let message = alerts[0]["Message"].as_str().unwrap();
    assert!(message.lines().any(|l| l == "engine: glue"), "{message}");
    assert!(
        message
            .lines()
            .any(|l| l.starts_with("attempt 2: GlueFAILED") && l.contains("lacks")),
        "the script's own error: {message}"
    );
}

#[tokio::test]
async fn a_glue_run_started_by_hand_that_fails_pages_on_call_once() {
    let stack = Stack::connect().await;
    let key = format!("incoming/manual/{}.tsv", local::unique("by hand"));
    stack
        .put(
            &key,
            b"not a hit export
",
        )
        .await;

    let started = stack
        .glue
        .start_job_run()
        .job_name(&stack.env["GLUE_JOB_NAME"])
        .arguments("--input", format!("s3://{}/{key}", stack.inbound()))
        .arguments(
            "--output",
            format!("s3://{}/manual/", stack.env["OUTBOUND_BUCKET"]),
        )
        .send()
        .await
        .expect("StartJobRun");
    let job_run = started.job_run_id().unwrap();
    let run = {
        let mut digest = Sha256::new();
        digest.update(b"glue-job-run\0");
        digest.update(job_run.as_bytes());
        digest.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };

    let alerts = stack.alerts_settled(&run).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let message = alerts[0]["Message"].as_str().unwrap();
    for line in [
        format!("glue job run: {job_run}"),
        format!("input: s3://{}/{key}", stack.inbound()),
    ] {
        assert!(message.lines().any(|l| l == line), "{line:?} in\n{message}");
    }
    let item = stack.settled(&run, &["failed"]).await;
    assert_eq!(text(&item, "engine"), "glue");
}

#[tokio::test]
async fn a_run_over_a_days_parts_reads_them_as_one_export() {
    let stack = Stack::connect().await;
    let data = hits(600_000, 23);
    let header_end = data.iter().position(|&b| b == b'\n').unwrap() + 1;
    let middle = header_end
        + data[header_end + (data.len() - header_end) / 2..]
            .iter()
            .position(|&b| b == b'\n')
            .unwrap()
        + (data.len() - header_end) / 2
        + 1;
    let (header, first, second) = (
        &data[..header_end],
        &data[header_end..middle],
        &data[middle..],
    );
    let day = local::unique("parts");
    let mut files = Vec::new();
    for (index, rows) in [first, second].iter().enumerate() {
        // Outside the notified prefix: only this request makes a run of them.
        let key = format!("exports/{day}/part {index}.tsv");
        let body = [header, rows].concat();
        stack.put(&key, &body).await;
        files.push(format!("s3://{}/{key}", stack.inbound()));
    }

    let response = stack
        .http
        .post(format!("{}/runs", stack.env["RUNS_URL"]))
        .json(&json!({ "files": files }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let created: Value = response.json().await.unwrap();
    let run = created["run_id"].as_str().unwrap().to_owned();
    let item = stack.settled(&run, &["succeeded", "failed"]).await;

    assert_eq!(text(&item, "status"), "succeeded", "{item:?}");
    let report = stack
        .object(&stack.env["OUTBOUND_BUCKET"], &text(&item, "report_key"))
        .await
        .unwrap();
    assert_eq!(report, expected_report(&data), "the parts are one export");
    let again = stack
        .http
        .post(format!("{}/runs", stack.env["RUNS_URL"]))
        .json(&json!({ "files": files }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "the same files are the same run"
    );
    assert_eq!(stack.executions_named(&run).await, 1);
}

/// An ObjectCreated event as S3 sends it to a function: the key form-encoded.
fn s3_event(bucket: &str, key: &str, size: usize, etag: &str) -> Value {
    let encoded: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-23T10:15:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": encoded, "size": size, "eTag": etag}
        }
    }]})
}
