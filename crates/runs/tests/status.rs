//! The run status API against in-memory ports: every route and status code.

mod support;

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request};
use runs::run::{Engine, InputObject, ObjectVersion, Run, RunStatus};
use runs::status::StatusApi;
use runs::status::StatusSettings;
use serde_json::Value;
use support::{FakeLedger, FakeLinks, FakeObjects, FakeWorkflow};

const NOW: &str = "2026-11-23T12:00:00.000Z";

fn run(status: RunStatus) -> Run {
    let mut run = Run::queued(
        InputObject {
            bucket: "in".into(),
            key: format!("incoming/{}.tsv", status.as_str()),
            version: ObjectVersion::Etag("e".into()),
            size: 5,
        },
        Engine::Lambda,
        "out",
        "2026-11-23T10:00:00.000Z",
    );
    run.status = status;
    if status == RunStatus::Succeeded {
        run.attempts = 1;
        run.summary = Some(r#"{"rows_read": 3, "keywords": 1}"#.into());
    }
    run
}

type Api = StatusApi<FakeLedger, FakeLinks, FakeWorkflow, FakeObjects>;

fn api_with(catalog: FakeLedger) -> Api {
    StatusApi {
        catalog,
        links: FakeLinks,
        workflow: FakeWorkflow::default(),
        objects: FakeObjects::default(),
        settings: StatusSettings {
            inbound_bucket: "in".into(),
            outbound_bucket: "out".into(),
            lambda_max_bytes: 1000,
        },
    }
}

fn request(method: Method, path: &str) -> Request {
    lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .body(Body::Empty)
        .unwrap()
}

async fn call(api: &Api, method: Method, path: &str) -> (StatusCode, Value, Option<String>) {
    let response = api.handle(&request(method, path), NOW).await;
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = serde_json::from_slice(response.body().as_ref()).unwrap();
    (response.status(), body, location)
}

#[tokio::test]
async fn a_run_reads_back_with_its_status_summary_and_input() {
    let succeeded = run(RunStatus::Succeeded);
    let api = api_with(FakeLedger::with([succeeded.clone()]));

    let (status, body, _) = call(&api, Method::GET, &format!("/runs/{}", succeeded.run_id)).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "succeeded");
    assert_eq!(body["attempts"], 1);
    assert_eq!(body["input"]["uri"], "s3://in/incoming/succeeded.tsv");
    assert_eq!(body["summary"]["rows_read"], 3);
    assert_eq!(body["report"]["key"], succeeded.report.key.as_str());
    assert_eq!(
        api.catalog.run(&succeeded.run_id).unwrap().status,
        RunStatus::Succeeded,
        "reading the status changes nothing"
    );
}

#[tokio::test]
async fn the_report_link_is_presigned_for_an_hour_and_marks_the_run_downloaded() {
    let succeeded = run(RunStatus::Succeeded);
    let api = api_with(FakeLedger::with([succeeded.clone()]));

    let (status, body, location) = call(
        &api,
        Method::GET,
        &format!("/runs/{}/report", succeeded.run_id),
    )
    .await;

    assert_eq!(status, StatusCode::FOUND);
    let url = body["url"].as_str().unwrap();
    assert_eq!(location.as_deref(), Some(url));
    assert!(
        url.contains(&succeeded.report.key) && url.contains("X-Amz-Expires=3600"),
        "{url}"
    );
    assert_eq!(body["expires_in_seconds"], 3600);
    let stored = api.catalog.run(&succeeded.run_id).unwrap();
    assert_eq!(stored.status, RunStatus::Downloaded);
    assert_eq!(stored.downloaded_at.as_deref(), Some(NOW));

    let (again, _, _) = call(
        &api,
        Method::GET,
        &format!("/runs/{}/report", succeeded.run_id),
    )
    .await;
    assert_eq!(
        again,
        StatusCode::FOUND,
        "a downloaded report can be fetched again"
    );
}

#[tokio::test]
async fn a_run_without_a_report_answers_409_with_its_status() {
    let running = run(RunStatus::Running);
    let api = api_with(FakeLedger::with([running.clone()]));

    let (status, body, location) = call(
        &api,
        Method::GET,
        &format!("/runs/{}/report", running.run_id),
    )
    .await;

    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "report_not_ready");
    assert_eq!(body["status"], "running");
    assert_eq!(location, None);
}

#[tokio::test]
async fn unknown_runs_and_other_paths_are_404s_other_methods_405() {
    let api = api_with(FakeLedger::default());

    let unknown = "0123456789abcdef0123456789abcdef";
    let (status, body, _) = call(&api, Method::GET, &format!("/runs/{unknown}")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_run"))
    );
    assert_eq!(body["run_id"], unknown);

    for path in [
        "/",
        "/run",
        "/runs/not-a-run-id",
        &format!("/runs/{unknown}/other"),
    ] {
        let (status, body, _) = call(&api, Method::GET, path).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{path}"
        );
    }

    let response = api
        .handle(&request(Method::DELETE, &format!("/runs/{unknown}")), NOW)
        .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "GET");
}

#[tokio::test]
async fn a_ledger_outage_is_a_503_to_retry() {
    let api = api_with(FakeLedger::default());
    *api.catalog.failing.lock().unwrap() = Some(runs::ports::LedgerError::Throttled);

    let (status, body, _) = call(&api, Method::GET, "/runs/0123456789abcdef0123456789abcdef").await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "service_unavailable");
}

fn created(name: &str, status: RunStatus, created_at: &str) -> Run {
    let mut run = run(status);
    run.input.key = format!("incoming/{name}.tsv");
    run.run_id = runs::run::RunId::for_object(&run.input);
    run.created_at = created_at.into();
    run
}

#[tokio::test]
async fn runs_are_listed_newest_first_a_page_at_a_time_and_by_status() {
    let runs: Vec<Run> = (0..5)
        .map(|i| {
            let status = if i % 2 == 0 {
                RunStatus::Succeeded
            } else {
                RunStatus::Failed
            };
            created(
                &format!("r{i}"),
                status,
                &format!("2026-11-23T10:0{i}:00.000Z"),
            )
        })
        .collect();
    let api = api_with(FakeLedger::with(runs.clone()));

    let mut seen = Vec::new();
    let mut path = "/runs?limit=2".to_owned();
    loop {
        let (status, body, _) = call(&api, Method::GET, &path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen.extend(
            body["runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["input"]["key"].as_str().unwrap().to_owned()),
        );
        match body["next"].as_str() {
            Some(cursor) => path = format!("/runs?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "incoming/r4.tsv",
            "incoming/r3.tsv",
            "incoming/r2.tsv",
            "incoming/r1.tsv",
            "incoming/r0.tsv"
        ]
    );

    let (_, body, _) = call(&api, Method::GET, "/runs?status=failed").await;
    let failed: Vec<_> = body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["failed", "failed"]);
    assert_eq!(body["next"], Value::Null);
}

#[tokio::test]
async fn bad_listing_parameters_are_named_in_one_400() {
    let api = api_with(FakeLedger::default());

    let (status, body, _) = call(
        &api,
        Method::GET,
        "/runs?status=lost&limit=0&debug=1&limit=3",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_parameters");
    let named: Vec<_> = body["parameters"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(named, ["debug", "limit", "status"]);

    let (status, body, _) = call(&api, Method::GET, "/runs?cursor=bm90LWEtY3Vyc29y").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_cursor"))
    );
}

fn with_objects(api: Api, objects: &[(&str, u64)]) -> Api {
    for (key, size) in objects {
        api.objects.objects.lock().unwrap().insert(
            ("in".into(), (*key).into()),
            runs::ports::ObjectHead {
                size: *size,
                version: ObjectVersion::Etag(format!("etag-{key}")),
            },
        );
    }
    api
}

fn post(body: &str) -> Request {
    lambda_http::http::Request::builder()
        .method(Method::POST)
        .uri("/runs")
        .body(Body::Text(body.into()))
        .unwrap()
}

async fn create(api: &Api, body: &str) -> (StatusCode, Value) {
    let response = api.handle(&post(body), NOW).await;
    (
        response.status(),
        serde_json::from_slice(response.body().as_ref()).unwrap(),
    )
}

#[tokio::test]
async fn a_run_over_several_files_is_queued_started_and_the_same_request_is_the_same_run() {
    let api = with_objects(
        api_with(FakeLedger::default()),
        &[("day/part-2.tsv", 300), ("day/part-1.tsv", 200)],
    );
    let body = r#"{"files": ["s3://in/day/part-2.tsv", "s3://in/day/part-1.tsv"]}"#;

    let (status, run) = create(&api, body).await;
    let (again, same) = create(&api, body).await;

    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    assert_eq!(run["status"], "queued");
    assert_eq!(run["input"]["size"], 500);
    let files: Vec<_> = run["files_to_process"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        ["day/part-2.tsv", "day/part-1.tsv"],
        "in the order given"
    );
    assert_eq!(again, StatusCode::OK);
    assert_eq!(same["run_id"], run["run_id"]);
    assert_eq!(api.workflow.executions(), 1);
    let started = api.workflow.starts.lock().unwrap()[0].clone();
    assert_eq!(started.parts.len(), 2);
    assert_eq!(
        started.parts[1].version,
        ObjectVersion::Etag("etag-day/part-1.tsv".into())
    );
}

#[tokio::test]
async fn files_that_are_missing_empty_elsewhere_or_repeated_are_named_in_one_400() {
    let api = with_objects(
        api_with(FakeLedger::default()),
        &[("a.tsv", 10), ("empty.tsv", 0)],
    );

    let (status, body) = create(
        &api,
        r#"{"files": ["s3://in/a.tsv", "s3://other/b.tsv", "s3://in/missing.tsv", "s3://in/a.tsv", "s3://in/empty.tsv"]}"#,
    )
    .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_files");
    assert_eq!(
        body["files"],
        serde_json::json!({
            "s3://other/b.tsv": "is not an object of s3://in/",
            "s3://in/missing.tsv": "does not exist",
            "s3://in/a.tsv": "is given more than once",
            "s3://in/empty.tsv": "is empty",
        })
    );
    assert!(
        api.catalog.runs.lock().unwrap().is_empty(),
        "nothing recorded"
    );
    assert!(api.workflow.starts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_a_list_of_files_or_too_large_a_run_is_a_400() {
    let api = with_objects(
        api_with(FakeLedger::default()),
        &[("a.tsv", 600), ("b.tsv", 600)],
    );

    for body in [
        "",
        "[]",
        r#"{"files": []}"#,
        r#"{"files": "s3://in/a.tsv"}"#,
        r#"{"files": [1]}"#,
    ] {
        let (status, answer) = create(&api, body).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_body")),
            "{body}"
        );
    }
    let (status, answer) = create(&api, r#"{"files": ["s3://in/a.tsv", "s3://in/b.tsv"]}"#).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("too_large"))
    );
    assert_eq!(answer["bytes"], 1200);
}

#[tokio::test]
async fn a_ledger_that_refuses_the_request_is_a_500_not_a_retry() {
    let api = api_with(FakeLedger::default());
    *api.catalog.failing.lock().unwrap() = Some(runs::ports::LedgerError::Refused(
        "AccessDeniedException".into(),
    ));

    let (status, body, _) = call(&api, Method::GET, "/runs/0123456789abcdef0123456789abcdef").await;

    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"], "internal_error");
    assert!(
        !body.to_string().contains("AccessDenied"),
        "no internals: {body}"
    );
}
