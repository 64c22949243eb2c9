//! records-api handler: function URL events in, every status code and body out, over in-memory
//! fakes of the workflow and the catalog.

mod fakes;

use std::sync::Mutex;
use std::time::Duration;

use fakes::{FakeApprovalFlow, MemoryApprovals};
use platform::Secret;

use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use records::api::{AdminKey, Approvals, RecordsApi};
use records::cursor::CursorCodec;
use records::ports::{
    CatalogError, IngestError, IngestOutcome, Page, RecordCatalog, RecordWorkflow,
};
use records::{FieldProblems, Record, RecordId, RecordInput};
use serde_json::{Value, json};

const TABLE: &str = "records-test";

struct FakeWorkflow {
    answer: Mutex<Option<Result<IngestOutcome, IngestError>>>,
    received: Mutex<Vec<RecordInput>>,
}

impl FakeWorkflow {
    fn answering(answer: Result<IngestOutcome, IngestError>) -> Self {
        Self {
            answer: Mutex::new(Some(answer)),
            received: Mutex::new(Vec::new()),
        }
    }

    fn received(&self) -> Vec<RecordInput> {
        self.received.lock().unwrap().clone()
    }
}

impl RecordWorkflow for FakeWorkflow {
    async fn ingest(&self, input: &RecordInput) -> Result<IngestOutcome, IngestError> {
        self.received.lock().unwrap().push(input.clone());
        self.answer
            .lock()
            .unwrap()
            .take()
            .expect("the workflow was called more than once")
    }
}

/// Records kept in id order, paged like a scan.
struct FakeCatalog {
    records: Vec<Record>,
    failure: Option<CatalogError>,
    calls: Mutex<Vec<(usize, Option<RecordId>)>>,
}

impl FakeCatalog {
    fn with(count: usize) -> Self {
        let mut records: Vec<Record> = (0..count).map(|i| record(&format!("user{i}"))).collect();
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Self {
            records,
            failure: None,
            calls: Mutex::new(Vec::new()),
        }
    }

    fn failing(failure: CatalogError) -> Self {
        Self {
            failure: Some(failure),
            ..Self::with(0)
        }
    }

    fn calls(&self) -> Vec<(usize, Option<RecordId>)> {
        self.calls.lock().unwrap().clone()
    }
}

impl RecordCatalog for FakeCatalog {
    async fn list(&self, limit: usize, after: Option<&RecordId>) -> Result<Page, CatalogError> {
        self.calls.lock().unwrap().push((limit, after.cloned()));
        if let Some(failure) = &self.failure {
            return Err(match failure {
                CatalogError::Throttled => CatalogError::Throttled,
                CatalogError::Unavailable(m) => CatalogError::Unavailable(m.clone()),
                CatalogError::Corrupt(m) => CatalogError::Corrupt(m.clone()),
            });
        }
        let rest: Vec<Record> = self
            .records
            .iter()
            .filter(|r| after.is_none_or(|a| r.id > *a))
            .cloned()
            .collect();
        let more = rest.len() > limit;
        let records: Vec<Record> = rest.into_iter().take(limit).collect();
        let next_after = more.then(|| records.last().unwrap().id.clone());
        Ok(Page {
            records,
            next_after,
        })
    }
}

fn record(user_name: &str) -> Record {
    let email = format!("{user_name}@example.com");
    Record {
        id: RecordId::for_fields(user_name, &email, "1234"),
        user_name: user_name.into(),
        email,
        pincode: "1234".into(),
        created_at: "2026-11-22T09:00:00.000Z".into(),
    }
}

type Api = RecordsApi<FakeWorkflow, FakeCatalog, MemoryApprovals, FakeApprovalFlow>;

fn api(workflow: FakeWorkflow, catalog: FakeCatalog) -> Api {
    RecordsApi {
        workflow,
        catalog,
        cursors: CursorCodec::new(TABLE),
        approvals: Approvals {
            store: MemoryApprovals::default(),
            workflow: FakeApprovalFlow::default(),
            admin_key: AdminKey::Given(Secret::new("admin")),
            timeout: Duration::from_secs(60),
            cursors: CursorCodec::new("approvals-test"),
        },
    }
}

fn unused_workflow() -> FakeWorkflow {
    FakeWorkflow {
        answer: Mutex::new(None),
        received: Mutex::new(Vec::new()),
    }
}

/// A function URL event from the committed fixture, with method, path and query replaced.
fn request(method: &str, path: &str, query: &str) -> Request {
    let mut event: Value =
        serde_json::from_str(include_str!("../fixtures/function-url-request.json")).unwrap();
    event["rawQueryString"] = json!(query);
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn body(response: &Response<Body>) -> Value {
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

#[tokio::test]
async fn valid_ingest_answers_200_with_the_stored_record() {
    let stored = record("asha");
    let api = api(
        FakeWorkflow::answering(Ok(IngestOutcome::Stored(stored.clone()))),
        FakeCatalog::with(0),
    );
    let event = include_str!("../fixtures/function-url-request.json");

    let response = api
        .handle(lambda_http::request::from_str(event).unwrap())
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(&response), json!({ "record": stored }));
    assert_eq!(
        api.workflow.received(),
        [RecordInput {
            user_name: Some("Asha Rao".into()),
            email: Some("asha@example.com".into()),
            pincode: Some("560001".into()),
        }]
    );
}

#[tokio::test]
async fn post_and_put_ingest_too() {
    for method in ["POST", "PUT"] {
        let api = api(
            FakeWorkflow::answering(Ok(IngestOutcome::Stored(record("a")))),
            FakeCatalog::with(0),
        );
        let response = api
            .handle(request(
                method,
                "/",
                "user_name=a&email=a@b.com&pincode=1234",
            ))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{method}");
        assert_eq!(api.workflow.received().len(), 1);
    }
}

#[tokio::test]
async fn a_refused_record_is_a_400_naming_every_failing_field() {
    let fields = FieldProblems::from([
        ("email".to_owned(), "must look right".to_owned()),
        ("pincode".to_owned(), "must be 4 to 6 digits".to_owned()),
    ]);
    let api = api(
        FakeWorkflow::answering(Ok(IngestOutcome::Rejected(fields))),
        FakeCatalog::with(0),
    );

    let response = api
        .handle(request("GET", "/", "user_name=a&email=x&pincode=1"))
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = body(&response);
    assert_eq!(body["error"], "validation_failed");
    assert_eq!(
        body["fields"],
        json!({"email": "must look right", "pincode": "must be 4 to 6 digits"})
    );
}

#[tokio::test]
async fn missing_repeated_and_unknown_parameters_are_a_400_and_nothing_runs() {
    let cases = [
        (
            "email=a@b.com&pincode=1234",
            json!({"user_name": "is required"}),
        ),
        (
            "user_name=a&user_name=b&email=a@b.com&pincode=1234",
            json!({"user_name": "is given more than once"}),
        ),
        (
            "user_name=a&email=a@b.com&pincode=1234&admin=1",
            json!({"admin": "is not a parameter of this API"}),
        ),
        (
            "limit=0",
            json!({"limit": "must be a whole number from 1 to 100"}),
        ),
        (
            "limit=101",
            json!({"limit": "must be a whole number from 1 to 100"}),
        ),
    ];
    for (query, expected) in cases {
        let api = api(unused_workflow(), FakeCatalog::with(3));

        let response = api.handle(request("GET", "/", query)).await.unwrap();

        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let body = body(&response);
        assert_eq!(body["error"], "invalid_parameters", "{query}");
        assert_eq!(body["parameters"], expected, "{query}");
        assert!(api.workflow.received().is_empty(), "{query}");
        assert!(api.catalog.calls().is_empty(), "{query}");
    }
}

#[tokio::test]
async fn post_without_parameters_names_all_three_fields() {
    let api = api(unused_workflow(), FakeCatalog::with(3));

    let response = api.handle(request("POST", "/", "")).await.unwrap();

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body(&response)["parameters"],
        json!({"email": "is required", "pincode": "is required", "user_name": "is required"})
    );
}

#[tokio::test]
async fn other_methods_get_405_with_allow() {
    for method in ["DELETE", "PATCH", "OPTIONS", "HEAD"] {
        let api = api(unused_workflow(), FakeCatalog::with(1));

        let response = api.handle(request(method, "/", "")).await.unwrap();

        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
        assert_eq!(response.headers()[header::ALLOW], "GET, POST, PUT");
        assert_eq!(body(&response)["error"], "method_not_allowed");
    }
}

#[tokio::test]
async fn paths_other_than_the_root_are_404() {
    let api = api(unused_workflow(), FakeCatalog::with(1));

    for path in ["/records/1", "//", "/approvalsx", "/approvals//"] {
        let response = api.handle(request("GET", path, "")).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body(&response)["error"], "not_found");
    }
}

#[tokio::test]
async fn listing_pages_through_every_record_exactly_once() {
    let api = api(unused_workflow(), FakeCatalog::with(60));
    let event = include_str!("../fixtures/function-url-list.json");
    let mut response = api
        .handle(lambda_http::request::from_str(event).unwrap())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut pages = 0;

    loop {
        assert_eq!(response.status(), StatusCode::OK);
        let page = body(&response);
        pages += 1;
        for r in page["records"].as_array().unwrap() {
            seen.push(r["id"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            None => break,
            Some(cursor) => {
                let query = format!("limit=25&cursor={cursor}");
                response = api.handle(request("GET", "/", &query)).await.unwrap();
            }
        }
    }

    assert_eq!(pages, 3);
    let expected: Vec<String> = api
        .catalog
        .records
        .iter()
        .map(|r| r.id.to_string())
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(api.catalog.calls()[0], (25, None));
}

#[tokio::test]
async fn a_tampered_or_foreign_cursor_is_a_400_without_reaching_the_store() {
    let foreign = CursorCodec::new("another-table").encode(&record("x").id);
    for cursor in [foreign.as_str(), "bm90IGEgY3Vyc29y", "%00"] {
        let api = api(unused_workflow(), FakeCatalog::with(3));

        let response = api
            .handle(request("GET", "/", &format!("cursor={cursor}")))
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{cursor}");
        assert_eq!(body(&response)["error"], "invalid_cursor");
        assert!(api.catalog.calls().is_empty());
    }
}

#[tokio::test]
async fn a_local_event_without_raw_query_still_reads_its_parameters() {
    let api = api(unused_workflow(), FakeCatalog::with(5));
    let event = include_str!("../fixtures/function-url-local-null-query.json");

    let response = api
        .handle(lambda_http::request::from_str(event).unwrap())
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(&response)["records"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn overload_is_a_503_with_retry_after() {
    let api = api(
        FakeWorkflow::answering(Err(IngestError::Throttled)),
        FakeCatalog::failing(CatalogError::Throttled),
    );

    let ingest = api
        .handle(request(
            "GET",
            "/",
            "user_name=a&email=a@b.com&pincode=1234",
        ))
        .await
        .unwrap();
    let list = api.handle(request("GET", "/", "")).await.unwrap();

    for response in [ingest, list] {
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(body(&response)["error"], "service_unavailable");
    }
}

#[tokio::test]
async fn internal_failures_answer_a_stable_body_without_internals() {
    let secret = "arn:aws:states:us-east-1:123456789012:execution:secret";
    let api = api(
        FakeWorkflow::answering(Err(IngestError::WorkflowFailed {
            error: secret.into(),
        })),
        FakeCatalog::failing(CatalogError::Corrupt(secret.into())),
    );

    let ingest = api
        .handle(request(
            "GET",
            "/",
            "user_name=a&email=a@b.com&pincode=1234",
        ))
        .await
        .unwrap();
    let list = api.handle(request("GET", "/", "")).await.unwrap();

    assert_eq!(ingest.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(body(&ingest)["error"], "ingest_failed");
    assert_eq!(list.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body(&list)["error"], "internal_error");
    for response in [ingest, list] {
        let text = String::from_utf8(response.body().to_vec()).unwrap();
        assert!(!text.contains("arn:aws"), "{text}");
        assert!(body(&response)["message"].is_string());
    }
}

fn html_text(response: &Response<Body>) -> String {
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    String::from_utf8(response.body().as_ref().to_vec()).unwrap()
}

#[tokio::test]
async fn a_browser_gets_the_records_as_cards_and_next_links_walk_every_page() {
    let api = api(unused_workflow(), FakeCatalog::with(5));
    let mut first = request("GET", "/", "limit=2");
    first.headers_mut().insert(
        header::ACCEPT,
        "text/html,application/xhtml+xml".parse().unwrap(),
    );
    let mut page = html_text(&api.handle(first).await.unwrap());
    let mut seen = Vec::new();
    loop {
        let cards = page.matches("<li class=\"card\">").count();
        assert!((1..=2).contains(&cards), "{page}");
        seen.extend(
            page.match_indices("<h2>")
                .map(|(at, _)| page[at + 4..].split("</h2>").next().unwrap().to_owned()),
        );
        let Some(at) = page.find("rel=\"next\" href=\"?") else {
            break;
        };
        let href = page[at + 18..]
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&");
        let response = api.handle(request("GET", "/", &href)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        page = html_text(&response);
    }
    seen.sort();
    assert_eq!(seen, ["user0", "user1", "user2", "user3", "user4"]);
}

#[tokio::test]
async fn format_belongs_to_listing_and_takes_html_or_json() {
    let api = api(unused_workflow(), FakeCatalog::with(1));
    let mut browser = request("GET", "/", "format=json");
    browser
        .headers_mut()
        .insert(header::ACCEPT, "text/html".parse().unwrap());
    let response = api.handle(browser).await.unwrap();
    assert_eq!(body(&response)["records"].as_array().unwrap().len(), 1);
    for (query, problem) in [
        ("format=xml", "must be html or json"),
        ("format=html&format=json", "is given more than once"),
        (
            "format=html&user_name=a&email=a@b.com&pincode=1234",
            "applies only to listing records",
        ),
    ] {
        let response = api.handle(request("GET", "/", query)).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body(&response)["parameters"]["format"], problem, "{query}");
    }
}
