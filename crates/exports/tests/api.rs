//! exports-api handler tests: requests as clients send them, with in-memory fakes.

mod fakes;

use exports::api::ExportsApi;
use exports::export::Status;
use fakes::{Ledger, Queue, Signer};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-12-03 10:00:00 UTC);

fn api(queue_down: bool) -> ExportsApi<Ledger, Queue, Signer> {
    ExportsApi {
        ledger: Ledger::default(),
        queue: Queue {
            down: queue_down,
            ..Queue::default()
        },
        presigner: Signer,
    }
}

fn request(method: Method, path: &str, body: &str) -> Request {
    lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

async fn call(api: &ExportsApi<Ledger, Queue, Signer>, request: Request) -> (StatusCode, Value) {
    let response = api.handle_at(request, NOW).await;
    let status = response.status();
    (status, serde_json::from_slice(response.body()).unwrap())
}

fn asked(from: &str, to: &str) -> String {
    json!({"app_id": "com.example.game", "from": from, "to": to, "email": "ops@example.com"})
        .to_string()
}

#[tokio::test]
async fn an_export_is_queued_and_the_same_request_while_queued_is_the_same_export() {
    let api = api(false);
    let (status, first) = call(
        &api,
        request(Method::POST, "/exports", &asked("2026-11-20", "2026-12-03")),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(first["status"], "queued");
    let (status, again) = call(
        &api,
        request(Method::POST, "/exports", &asked("2026-11-20", "2026-12-03")),
    )
    .await;
    assert_eq!((status, &again), (StatusCode::ACCEPTED, &first));
    let id = first["export_id"].as_str().unwrap();
    assert_eq!(
        *api.queue.sent.lock().unwrap(),
        [id, id],
        "the same export queued again, in case the first request died before queueing it"
    );

    let (status, report) = call(&api, request(Method::GET, &format!("/exports/{id}"), "")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            report["status"].as_str(),
            report["from"].as_str(),
            report["to"].as_str()
        ),
        (Some("queued"), Some("2026-11-20"), Some("2026-12-03"))
    );
    assert!(
        report.get("email").is_none() && report.get("url").is_none(),
        "{report}"
    );

    // Once it runs, the same request is a new export.
    api.ledger.requests.lock().unwrap().clear();
    let (_, later) = call(
        &api,
        request(Method::POST, "/exports", &asked("2026-11-20", "2026-12-03")),
    )
    .await;
    assert_ne!(later["export_id"], first["export_id"]);
}

#[tokio::test]
async fn fifteen_days_the_future_and_bad_bodies_are_refused_and_nothing_is_queued() {
    let api = api(false);
    let (status, body) = call(
        &api,
        request(Method::POST, "/exports", &asked("2026-11-19", "2026-12-03")),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_export"))
    );
    assert!(
        body["fields"]["to"]
            .as_str()
            .unwrap()
            .contains("at most 14 days"),
        "{body}"
    );
    let (_, body) = call(
        &api,
        request(Method::POST, "/exports", &asked("2026-12-01", "2026-12-04")),
    )
    .await;
    assert_eq!(body["fields"]["to"], "after today (2026-12-03)");
    let (status, body) = call(&api, request(Method::POST, "/exports", "[1]")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body"))
    );
    let (status, _) = call(&api, request(Method::POST, "/exports", &"x".repeat(5000))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let mut form = request(Method::POST, "/exports", "app_id=a");
    form.headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    assert_eq!(call(&api, form).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(api.queue.sent.lock().unwrap().is_empty());
    assert!(api.ledger.exports.lock().unwrap().is_empty());
}

#[tokio::test]
async fn unknown_exports_paths_and_methods_get_their_own_answers() {
    let api = api(false);
    let (status, body) = call(
        &api,
        request(
            Method::GET,
            "/exports/0f0e4c1a-9a43-4bd5-8c6d-2d8f0c1d2e3f",
            "",
        ),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_export"))
    );
    assert_eq!(
        call(&api, request(Method::GET, "/exports/..%2F", ""))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&api, request(Method::GET, "/elsewhere", "")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&api, request(Method::GET, "/exports", "")).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        call(&api, request(Method::DELETE, "/exports/x", ""))
            .await
            .0,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn a_ready_export_comes_with_a_url_valid_for_an_hour() {
    let api = api(false);
    let id = "0f0e4c1a-9a43-4bd5-8c6d-2d8f0c1d2e3f";
    let mut ready = fakes::export(id, Status::Ready, "2026-11-20", "2026-12-03");
    ready.rows = Some(42);
    api.ledger.insert(ready);
    let (status, body) = call(&api, request(Method::GET, &format!("/exports/{id}"), "")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["rows"], 42);
    assert_eq!(
        body["url"],
        format!("https://exports.example/exports/{id}.csv?X-Amz-Expires=3600")
    );
    assert!(body["url_expires_at"].is_string());
}

#[tokio::test]
async fn a_queue_that_is_down_is_a_503_and_the_export_is_marked_failed() {
    let api = api(true);
    let (status, body) = call(
        &api,
        request(Method::POST, "/exports", &asked("2026-11-20", "2026-11-21")),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable"))
    );
    let exports = api.ledger.exports.lock().unwrap();
    let export = exports.values().next().unwrap();
    assert_eq!(export.status, Status::Failed);
    assert!(
        export
            .error
            .as_deref()
            .unwrap()
            .contains("could not be queued")
    );
}

fn page_request(method: Method, path: &str, form: &str) -> Request {
    lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap()
}

fn page_text(response: &lambda_http::Response<Body>) -> String {
    String::from_utf8(response.body().as_ref().to_vec()).unwrap()
}

#[tokio::test]
async fn the_form_posts_an_export_and_the_browser_is_sent_to_its_page() {
    let api = api(false);
    let form = api.handle_at(page_request(Method::GET, "/", ""), NOW).await;
    assert_eq!(form.status(), StatusCode::OK);
    let html = page_text(&form);
    assert!(
        html.contains("<form method=\"post\" action=\"exports\">"),
        "{html}"
    );
    assert!(html.contains("name=\"from\" type=\"date\" value=\"2026-11-27\""));
    assert!(html.contains("name=\"to\" type=\"date\" value=\"2026-12-03\""));

    let posted = api
        .handle_at(
            page_request(
                Method::POST,
                "/exports",
                "app_id=com.example.game&from=2026-11-20&to=2026-12-03&email=ops%40example.com",
            ),
            NOW,
        )
        .await;
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    let location = posted.headers()["location"].to_str().unwrap().to_owned();
    let id = location
        .strip_prefix("exports/")
        .expect("a relative location");
    assert_eq!(api.queue.sent.lock().unwrap().as_slice(), [id.to_owned()]);

    let status = api
        .handle_at(
            page_request(Method::GET, &format!("/exports/{id}"), ""),
            NOW,
        )
        .await;
    assert_eq!(status.status(), StatusCode::OK);
    assert_eq!(status.headers()["refresh"], "5");
    let html = page_text(&status);
    assert!(html.contains("<dd id=\"status\">queued</dd>"), "{html}");
    assert!(
        !html.contains("ops@example.com"),
        "the page does not show the address"
    );
}

#[tokio::test]
async fn a_refused_form_is_shown_again_with_its_values_and_nothing_is_queued() {
    let api = api(false);
    let refused = api
        .handle_at(
            page_request(
                Method::POST,
                "/exports",
                "app_id=%3Cscript%3Ealert(1)%3C%2Fscript%3E&from=2026-11-19&to=2026-12-03&email=",
            ),
            NOW,
        )
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let html = page_text(&refused);
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("value=\"&lt;script&gt;alert(1)&lt;/script&gt;\""));
    assert!(html.contains("id=\"to-problem\">the period is at most 14 days"));
    assert!(html.contains("id=\"email-problem\">required</p>"));
    assert!(api.queue.sent.lock().unwrap().is_empty());

    let unknown = api
        .handle_at(
            page_request(
                Method::GET,
                "/exports/0f0e4c1a-9a43-4bd5-8c6d-2d8f0c1d2e3f",
                "",
            ),
            NOW,
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(page_text(&unknown).contains("No export has this id"));
}
