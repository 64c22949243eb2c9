//! records-api's approvals: a half-valid submission in, the admin's routes and every status they
//! answer, over in-memory fakes of the ingest workflow, the approval store and the approval
//! workflow.

mod fakes;

use std::time::Duration;

use fakes::{FakeApprovalFlow, MemoryApprovals};
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use platform::Secret;
use records::api::{AdminKey, Approvals, RecordsApi};
use records::approval::{
    Approval, ApprovalStatus, Delivery, Opening, Outcome, Ruling, StoreError, StoredApproval,
    Submission, WorkflowError,
};
use records::cursor::CursorCodec;
use records::ports::{
    CatalogError, IngestError, IngestOutcome, Page, RecordCatalog, RecordWorkflow,
};
use records::rules::PINCODE_MALFORMED;
use records::{FieldProblems, Record, RecordId, RecordInput};
use serde_json::{Value, json};

const KEY: &str = "the-admin-key";

/// Answers every ingest with the verdict the rules give, as the state machine would.
struct RulesWorkflow;

impl RecordWorkflow for RulesWorkflow {
    async fn ingest(&self, input: &RecordInput) -> Result<IngestOutcome, IngestError> {
        Ok(
            match records::rules::validate(input, "2026-12-01T10:00:00.000Z") {
                records::Verdict::Valid { record, .. } => IngestOutcome::Stored(record),
                records::Verdict::NeedsApproval { record, fields, .. } => {
                    IngestOutcome::NeedsApproval(Submission { record, fields })
                }
                records::Verdict::Invalid { fields, .. } => IngestOutcome::Rejected(fields),
            },
        )
    }
}

struct NoCatalog;

impl RecordCatalog for NoCatalog {
    async fn list(&self, _: usize, _: Option<&RecordId>) -> Result<Page, CatalogError> {
        panic!("the records listing is not part of these tests")
    }
}

type Api = RecordsApi<RulesWorkflow, NoCatalog, MemoryApprovals, FakeApprovalFlow>;

fn api() -> Api {
    RecordsApi {
        workflow: RulesWorkflow,
        catalog: NoCatalog,
        cursors: CursorCodec::new("records"),
        approvals: Approvals {
            store: MemoryApprovals::default(),
            workflow: FakeApprovalFlow::default(),
            admin_key: AdminKey::Given(Secret::new(KEY)),
            timeout: Duration::from_secs(600),
            cursors: CursorCodec::new("approvals"),
        },
    }
}

fn request(method: &str, path: &str, query: &str, key: Option<&str>, body: &str) -> Request {
    let mut event: Value =
        serde_json::from_str(include_str!("../fixtures/function-url-request.json")).unwrap();
    event["rawQueryString"] = json!(query);
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    if let Some(key) = key {
        event["headers"]["authorization"] = json!(format!("Bearer {key}"));
    }
    event["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
    event["body"] = json!(body);
    event["isBase64Encoded"] = json!(false);
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn admin(method: &str, path: &str, body: &str) -> Request {
    request(method, path, "", Some(KEY), body)
}

fn body(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

/// What the workflow's first step writes: the submission, pending, with its token.
fn opened(api: &Api, submission: &Submission, requested_at: &str, expires_at: &str) {
    api.approvals.store.insert(StoredApproval {
        approval: Approval {
            id: submission.record.id.clone(),
            status: ApprovalStatus::Pending,
            record: submission.record.clone(),
            problems: submission.fields.clone(),
            requested_at: requested_at.into(),
            expires_at: expires_at.into(),
            decision: None,
            outcome: None,
        },
        task_token: Some(Secret::new(format!("token-{}", submission.record.id))),
    });
}

async fn submit_half_valid(api: &Api, name: &str) -> (StatusCode, Value) {
    let query = format!("user_name={name}&email={name}@example.com&pincode=56-001");
    let response = api
        .handle(request("GET", "/", &query, None, ""))
        .await
        .unwrap();
    (response.status(), body(&response))
}

fn started(api: &Api) -> Vec<Submission> {
    let started = api.approvals.workflow.started.lock().unwrap();
    started.iter().map(|(s, _)| s.clone()).collect()
}

#[tokio::test]
async fn a_half_valid_submission_is_accepted_for_approval_and_its_workflow_started() {
    let api = api();
    let response = api
        .handle(request(
            "GET",
            "/",
            "user_name=Asha&email=asha@example.com&pincode=56-001",
            None,
            "",
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let id = RecordId::for_fields("Asha", "asha@example.com", "56-001");
    assert_eq!(
        body(&response),
        json!({"status": "pending_approval", "approval_id": id})
    );
    assert_eq!(
        response.headers()[header::LOCATION],
        format!("approvals/{id}")
    );
    let runs = api.approvals.workflow.started.lock().unwrap().clone();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].0.record.pincode, "56-001");
    assert_eq!(
        runs[0].0.fields,
        FieldProblems::from([("pincode".into(), PINCODE_MALFORMED.into())])
    );
    assert_eq!(runs[0].1, Duration::from_secs(600));
}

#[tokio::test]
async fn the_same_submission_again_is_the_same_approval_whatever_became_of_it() {
    let api = api();
    let (status, first) = submit_half_valid(&api, "asha").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let submission = started(&api)[0].clone();
    // Sent again while its workflow runs but before it wrote the approval, and after.
    api.approvals.workflow.opening.lock().unwrap().insert(
        submission.record.id.clone(),
        Opening {
            submission: submission.clone(),
            started_at: "2026-12-01T10:00:00.000Z".into(),
            expires_at: "2999-01-01T00:00:00.000Z".into(),
        },
    );
    let (status, again) = submit_half_valid(&api, "asha").await;
    assert_eq!((status, &again), (StatusCode::ACCEPTED, &first));
    opened(
        &api,
        &submission,
        "2026-12-01T10:00:00.000Z",
        "2999-01-01T00:00:00.000Z",
    );
    let (status, again) = submit_half_valid(&api, "asha").await;
    assert_eq!((status, &again), (StatusCode::ACCEPTED, &first));

    let id = submission.record.id.clone();
    let set = |status, outcome| {
        let mut items = api.approvals.store.items.lock().unwrap();
        let stored = items.get_mut(&id).unwrap();
        stored.approval.status = status;
        stored.approval.outcome = outcome;
    };
    set(ApprovalStatus::Approved, Some(Outcome::Stored));
    let (status, stored) = submit_half_valid(&api, "asha").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored["record"], json!(submission.record));

    set(ApprovalStatus::Rejected, Some(Outcome::Discarded));
    let (status, refused) = submit_half_valid(&api, "asha").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["error"], "validation_failed");
    assert_eq!(refused["approval"]["status"], "rejected");
    assert_eq!(refused["fields"]["pincode"], PINCODE_MALFORMED);
}

#[tokio::test]
async fn a_workflow_that_ended_without_opening_its_approval_is_a_502_not_a_pending_forever() {
    let api = api();
    let (status, _) = submit_half_valid(&api, "asha").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // The same again: the execution exists but no longer runs, and wrote no approval.
    let (status, answer) = submit_half_valid(&api, "asha").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(answer["error"], "approval_failed");
}

#[tokio::test]
async fn fully_invalid_submissions_stay_a_400_and_start_nothing() {
    let api = api();
    for query in [
        "user_name=&email=a@b.com&pincode=12",
        "user_name=A&email=nope&pincode=12",
    ] {
        let response = api
            .handle(request("GET", "/", query, None, ""))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    assert!(started(&api).is_empty());
}

#[tokio::test]
async fn every_approvals_route_needs_the_admin_key() {
    let api = api();
    let id = RecordId::for_fields("a", "b", "c");
    for (method, path) in [
        ("GET", "/approvals".to_owned()),
        ("GET", format!("/approvals/{id}")),
        ("POST", format!("/approvals/{id}")),
    ] {
        for key in [None, Some("wrong"), Some(""), Some("the-admin-ke")] {
            let response = api
                .handle(request(
                    method,
                    &path,
                    "",
                    key,
                    "decision=approve&decided_by=x",
                ))
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{method} {path} {key:?}"
            );
            assert_eq!(body(&response)["error"], "forbidden");
        }
    }
}

#[tokio::test]
async fn the_admin_key_is_read_on_first_use_and_a_failed_read_is_tried_again() {
    use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
    use aws_sdk_ssm::types::Parameter;
    use platform::mocks::{mock, service_error};

    let reads = mock!(aws_sdk_ssm::Client::get_parameter)
        .sequence()
        .http_response(|| service_error(400, "AccessDeniedException"))
        .output(|| {
            GetParameterOutput::builder()
                .parameter(Parameter::builder().name("/admin").value(KEY).build())
                .build()
        })
        .build();
    let client = platform::mocked_client!(aws_sdk_ssm, &[&reads]);
    let mut api = api();
    api.approvals.admin_key =
        AdminKey::Parameter(platform::ssm::LazyParameter::new(client, "/admin"));
    assert_eq!(reads.num_calls(), 0, "nothing is read before it is needed");
    let response = api.handle(admin("GET", "/approvals", "")).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body(&response)["error"], "admin_key_unavailable");
    for _ in 0..2 {
        let response = api.handle(admin("GET", "/approvals", "")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(
        reads.num_calls(),
        2,
        "read again after the failure, then kept"
    );
}

#[tokio::test]
async fn pending_approvals_page_oldest_first_each_exactly_once() {
    let api = api();
    for n in 0..23 {
        let submission = Submission {
            record: Record {
                id: RecordId::for_fields(&format!("user{n}"), "a@b.com", "12"),
                user_name: format!("user{n}"),
                email: "a@b.com".into(),
                pincode: "12".into(),
                created_at: "2026-12-01T10:00:00.000Z".into(),
            },
            fields: FieldProblems::from([("pincode".into(), PINCODE_MALFORMED.into())]),
        };
        // Two share each second, so the id breaks the tie.
        let at = format!("2026-12-01T10:00:{:02}.000Z", n / 2);
        opened(&api, &submission, &at, "2999-01-01T00:00:00.000Z");
    }
    let decided = RecordId::for_fields("user5", "a@b.com", "12");
    api.approvals
        .store
        .items
        .lock()
        .unwrap()
        .get_mut(&decided)
        .unwrap()
        .approval
        .status = ApprovalStatus::Rejected;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=10&cursor={c}"),
            None => "limit=10".into(),
        };
        let response = api
            .handle(request("GET", "/approvals", &query, Some(KEY), ""))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let page = body(&response);
        for approval in page["approvals"].as_array().unwrap() {
            assert!(approval.get("task_token").is_none(), "{approval}");
            seen.push(approval["requested_at"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 22);
    assert!(seen.windows(2).all(|w| w[0] <= w[1]));

    let foreign = CursorCodec::new("records").seal("2026-12-01T10:00:00.000Z|x");
    let response = api
        .handle(request(
            "GET",
            "/approvals",
            &format!("cursor={foreign}"),
            Some(KEY),
            "",
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(&response)["error"], "invalid_cursor");
    let response = api
        .handle(request("GET", "/approvals", "status=all", Some(KEY), ""))
        .await
        .unwrap();
    assert_eq!(
        body(&response)["parameters"]["status"],
        "is not a parameter of this API"
    );
}

#[tokio::test]
async fn an_approval_is_shown_without_its_token_and_unknown_ids_are_404() {
    let api = api();
    let (_, answer) = submit_half_valid(&api, "asha").await;
    let id = answer["approval_id"].as_str().unwrap().to_owned();
    let submission = started(&api)[0].clone();

    // Started, but its first step has not written the approval yet.
    api.approvals.workflow.opening.lock().unwrap().insert(
        submission.record.id.clone(),
        Opening {
            submission: submission.clone(),
            started_at: "2026-12-01T10:00:00.000Z".into(),
            expires_at: "2026-12-01T10:10:00.000Z".into(),
        },
    );
    let response = api
        .handle(admin("GET", &format!("/approvals/{id}"), ""))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(&response)["approval"]["status"], "pending");
    let response = api
        .handle(admin(
            "POST",
            &format!("/approvals/{id}"),
            "decision=approve&decided_by=ops",
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key(header::RETRY_AFTER));

    opened(
        &api,
        &submission,
        "2026-12-01T10:00:00.000Z",
        "2999-01-01T00:00:00.000Z",
    );
    let response = api
        .handle(admin("GET", &format!("/approvals/{id}"), ""))
        .await
        .unwrap();
    let shown = body(&response);
    assert_eq!(shown["approval"]["record"], json!(submission.record));
    assert_eq!(shown["approval"]["problems"]["pincode"], PINCODE_MALFORMED);
    assert!(!shown.to_string().contains("token-"), "{shown}");

    for path in [
        format!("/approvals/{}", RecordId::for_fields("x", "y", "z")),
        "/approvals/not-an-id".into(),
        format!("/approvals/{id}/extra"),
    ] {
        let response = api.handle(admin("GET", &path, "")).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let response = api
        .handle(admin("DELETE", &format!("/approvals/{id}"), ""))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "GET, POST");
}

async fn pending_one(api: &Api, expires_at: &str) -> (String, Submission) {
    let (_, answer) = submit_half_valid(api, "asha").await;
    let submission = started(api)[0].clone();
    opened(api, &submission, "2026-12-01T10:00:00.000Z", expires_at);
    (
        answer["approval_id"].as_str().unwrap().to_owned(),
        submission,
    )
}

#[tokio::test]
async fn an_approve_is_recorded_with_who_and_handed_to_the_workflow_once() {
    let api = api();
    let (id, submission) = pending_one(&api, "2999-01-01T00:00:00.000Z").await;
    let response = api
        .handle(admin(
            "POST",
            &format!("/approvals/{id}"),
            "decision=approve&decided_by=Priya&note=called+the+customer",
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer = body(&response);
    assert_eq!(answer["approval"]["status"], "approved");
    assert_eq!(answer["approval"]["decision"]["decided_by"], "Priya");
    assert_eq!(
        answer["approval"]["decision"]["note"],
        "called the customer"
    );

    let delivered = api.approvals.workflow.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].0, format!("token-{}", submission.record.id));
    assert_eq!(delivered[0].1.decision, Ruling::Approve);
    assert_eq!(
        api.approvals.store.status(&submission.record.id),
        Some(ApprovalStatus::Approved)
    );

    let response = api
        .handle(admin(
            "POST",
            &format!("/approvals/{id}"),
            "decision=reject&decided_by=Sam",
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let conflict = body(&response);
    assert_eq!(conflict["error"], "already_decided");
    assert_eq!(conflict["decision"]["decision"], "approve");
    assert_eq!(conflict["decision"]["decided_by"], "Priya");
    assert_eq!(api.approvals.workflow.delivered.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn of_two_decisions_at_once_exactly_one_wins() {
    let api = api();
    let (id, _) = pending_one(&api, "2999-01-01T00:00:00.000Z").await;
    let path = format!("/approvals/{id}");
    let (a, b) = tokio::join!(
        api.handle(admin("POST", &path, "decision=approve&decided_by=A")),
        api.handle(admin("POST", &path, "decision=approve&decided_by=B")),
    );
    let mut statuses = [a.unwrap().status(), b.unwrap().status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    assert_eq!(api.approvals.workflow.delivered.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_decision_after_the_time_ran_out_is_410_and_nothing_is_delivered() {
    let api = api();
    let (id, _) = pending_one(&api, "2026-12-01T10:10:00.000Z").await;
    let response = api
        .handle(admin(
            "POST",
            &format!("/approvals/{id}"),
            "decision=approve&decided_by=A",
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::GONE);
    assert_eq!(body(&response)["error"], "approval_expired");
    assert!(api.approvals.workflow.delivered.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_decision_whose_delivery_went_unconfirmed_is_kept_and_sent_again_by_its_author() {
    let api = api();
    let (id, submission) = pending_one(&api, "2999-01-01T00:00:00.000Z").await;
    let path = format!("/approvals/{id}");
    // The answer to SendTaskSuccess was lost: the task may or may not have taken it.
    *api.approvals.workflow.delivery.lock().unwrap() =
        Err(WorkflowError::Unavailable("operation timed out".into()));
    let response = api
        .handle(admin("POST", &path, "decision=approve&decided_by=A"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body(&response)["error"], "decision_unconfirmed");
    assert_eq!(
        api.approvals.store.status(&submission.record.id),
        Some(ApprovalStatus::Approved),
        "kept: it may have been delivered"
    );

    // Someone else's decision does not replace it.
    *api.approvals.workflow.delivery.lock().unwrap() = Ok(Delivery::Delivered);
    let response = api
        .handle(admin("POST", &path, "decision=reject&decided_by=B"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(body(&response)["decision"]["decided_by"], "A");

    // The same decision again: the task took the first one and no longer waits, before its
    // deadline, so the first delivery went through.
    *api.approvals.workflow.delivery.lock().unwrap() = Ok(Delivery::NoLongerWaiting);
    let response = api
        .handle(admin("POST", &path, "decision=approve&decided_by=A"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(&response)["approval"]["status"], "approved");
    let delivered = api.approvals.workflow.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 2);
    assert_eq!(
        delivered[0].1, delivered[1].1,
        "the same decision, sent twice"
    );
}

#[tokio::test]
async fn a_decision_the_workflow_refused_is_withdrawn_and_can_be_sent_again() {
    let api = api();
    let (id, submission) = pending_one(&api, "2999-01-01T00:00:00.000Z").await;
    *api.approvals.workflow.delivery.lock().unwrap() = Err(WorkflowError::Throttled);
    let path = format!("/approvals/{id}");
    let response = api
        .handle(admin("POST", &path, "decision=approve&decided_by=A"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        api.approvals.store.status(&submission.record.id),
        Some(ApprovalStatus::Pending)
    );
    *api.approvals.workflow.delivery.lock().unwrap() = Ok(Delivery::Delivered);
    let response = api
        .handle(admin("POST", &path, "decision=approve&decided_by=A"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_bad_decision_is_a_400_naming_the_fields_and_json_bodies_work_too() {
    let api = api();
    let (id, _) = pending_one(&api, "2999-01-01T00:00:00.000Z").await;
    let path = format!("/approvals/{id}");
    let response = api
        .handle(admin("POST", &path, "decision=yes"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let refused = body(&response);
    assert_eq!(refused["error"], "invalid_decision");
    assert!(refused["fields"]["decision"].is_string());
    assert!(refused["fields"]["decided_by"].is_string());

    let mut json_request = admin(
        "POST",
        &path,
        r#"{"decision": "reject", "decided_by": "Sam"}"#,
    );
    json_request
        .headers_mut()
        .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
    let response = api.handle(json_request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(&response)["approval"]["status"], "rejected");

    let mut not_strings = admin("POST", &path, r#"{"decision": 1}"#);
    not_strings
        .headers_mut()
        .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
    let response = api.handle(not_strings).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

fn page_text(response: &Response<Body>) -> String {
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    assert!(
        response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    String::from_utf8(response.body().as_ref().to_vec()).unwrap()
}

fn browser(method: &str, path: &str, query: &str, body: &str) -> Request {
    let mut request = request(method, path, query, None, body);
    request
        .headers_mut()
        .insert(header::ACCEPT, "text/html,*/*;q=0.8".parse().unwrap());
    request
}

#[tokio::test]
async fn a_browser_is_asked_for_the_key_and_a_wrong_one_is_refused_on_the_page() {
    let api = api();
    let response = api
        .handle(browser("GET", "/approvals", "", ""))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let form = page_text(&response);
    assert!(
        form.contains("name=\"admin_key\" type=\"password\""),
        "{form}"
    );

    // The key is never taken from the query, where it would be logged.
    for (query, form) in [
        ("", "format=html&admin_key=wrong&decided_by=Priya"),
        (&*format!("admin_key={KEY}"), "format=html&decided_by=Priya"),
    ] {
        let response = api
            .handle(browser("POST", "/approvals", query, form))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{query} {form}");
        assert!(page_text(&response).contains("That admin key is not right."));
    }
    let response = api
        .handle(browser(
            "POST",
            "/approvals",
            "",
            &format!("format=html&admin_key={KEY}&decided_by=+"),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(page_text(&response).contains("Give your name"));
}

#[tokio::test]
async fn the_page_lists_pending_approvals_escaped_and_its_button_decides_one() {
    let api = api();
    let response = api
        .handle(request(
            "GET",
            "/",
            "user_name=%3Cb%3Easha%3C%2Fb%3E&email=asha@example.com&pincode=56-001",
            None,
            "",
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let id = body(&response)["approval_id"].as_str().unwrap().to_owned();
    let submission = started(&api)[0].clone();
    opened(
        &api,
        &submission,
        "2026-12-01T10:00:00.000Z",
        "2999-01-01T00:00:00.000Z",
    );

    let form = format!("format=html&admin_key={KEY}&decided_by=Priya");
    let response = api
        .handle(browser("POST", "/approvals", "", &form))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let listing = page_text(&response);
    assert!(listing.contains("&lt;b&gt;asha&lt;/b&gt;"), "{listing}");
    assert!(!listing.contains("<b>asha"));
    assert!(listing.contains(&format!("action=\"approvals/{id}\"")));
    assert!(listing.contains("<dd class=\"problem\">56-001</dd>"));
    assert!(listing.contains("value=\"approve\">Approve</button>"));

    let response = api
        .handle(browser(
            "POST",
            &format!("/approvals/{id}"),
            "",
            &format!("{form}&decision=approve&note="),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let after = page_text(&response);
    assert!(
        after.contains("Approved: &lt;b&gt;asha&lt;/b&gt;&#39;s submission is being stored."),
        "{after}"
    );
    assert!(after.contains("action=\"../approvals\""));
    assert_eq!(api.approvals.workflow.delivered.lock().unwrap().len(), 1);
    let decided = api.approvals.store.stored(&submission.record.id).unwrap();
    assert_eq!(decided.approval.status, ApprovalStatus::Approved);
    assert_eq!(decided.approval.decision.unwrap().decided_by, "Priya");

    // The same button again: the page says who decided first, with the 409.
    let response = api
        .handle(browser(
            "POST",
            &format!("/approvals/{id}"),
            "",
            &format!("format=html&admin_key={KEY}&decided_by=Sam&decision=reject"),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(page_text(&response).contains("Already decided: approved by Priya at "));
    assert_eq!(api.approvals.workflow.delivered.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn format_json_overrides_a_browser_accept_header() {
    let api = api();
    let mut asking = request("GET", "/approvals", "format=json", Some(KEY), "");
    asking
        .headers_mut()
        .insert(header::ACCEPT, "text/html".parse().unwrap());
    let response = api.handle(asking).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(body(&response)["approvals"].is_array());
    let response = api
        .handle(request("GET", "/approvals", "format=pdf", Some(KEY), ""))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body(&response)["parameters"]["format"],
        "must be html or json"
    );
}

#[tokio::test]
async fn a_trailing_slash_is_redirected_relatively_so_links_resolve_under_any_prefix() {
    let api = api();
    let id = RecordId::for_fields("a", "b", "c");
    for (path, query, location) in [
        (
            "/approvals/",
            "format=html",
            "../approvals?format=html".to_owned(),
        ),
        (&*format!("/approvals/{id}/"), "", format!("../{id}")),
    ] {
        let response = api
            .handle(request("GET", path, query, None, ""))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT, "{path}");
        assert_eq!(response.headers()[header::LOCATION], *location, "{path}");
    }
}

#[tokio::test]
async fn a_resent_decision_is_never_withdrawn_and_the_same_decision_once_acted_on_is_a_200() {
    let api = api();
    let (id, submission) = pending_one(&api, "2999-01-01T00:00:00.000Z").await;
    let path = format!("/approvals/{id}");
    *api.approvals.workflow.delivery.lock().unwrap() =
        Err(WorkflowError::Unavailable("operation timed out".into()));
    let response = api
        .handle(admin("POST", &path, "decision=approve&decided_by=A"))
        .await
        .unwrap();
    assert_eq!(body(&response)["error"], "decision_unconfirmed");
    // Sent again and throttled: the first send may have landed, so it stays recorded.
    *api.approvals.workflow.delivery.lock().unwrap() = Err(WorkflowError::Throttled);
    let response = api
        .handle(admin("POST", &path, "decision=approve&decided_by=A"))
        .await
        .unwrap();
    assert_eq!(body(&response)["error"], "decision_unconfirmed");
    assert_eq!(
        api.approvals.store.status(&submission.record.id),
        Some(ApprovalStatus::Approved)
    );
    // The workflow stored the record: the same decision again is done, another is a conflict.
    api.approvals
        .store
        .items
        .lock()
        .unwrap()
        .get_mut(&submission.record.id)
        .unwrap()
        .approval
        .outcome = Some(Outcome::Stored);
    let response = api
        .handle(admin("POST", &path, "decision=approve&decided_by=A"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(&response)["approval"]["outcome"], "stored");
    let response = api
        .handle(admin("POST", &path, "decision=reject&decided_by=B"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(api.approvals.workflow.delivered.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn the_page_keeps_a_done_decision_said_when_the_list_cannot_be_read() {
    let api = api();
    let (id, _) = pending_one(&api, "2999-01-01T00:00:00.000Z").await;
    *api.approvals.store.list_failure.lock().unwrap() = Some(StoreError::Throttled);
    let response = api
        .handle(browser(
            "POST",
            &format!("/approvals/{id}"),
            "",
            &format!("format=html&admin_key={KEY}&decided_by=Priya&decision=reject"),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page = page_text(&response);
    assert!(
        page.contains("Rejected: asha&#39;s submission was discarded."),
        "{page}"
    );
    assert!(page.contains("The pending list could not be read right now"));
}

#[tokio::test]
async fn an_unconfirmed_decision_on_the_page_offers_to_send_it_again() {
    let api = api();
    let (id, _) = pending_one(&api, "2999-01-01T00:00:00.000Z").await;
    *api.approvals.workflow.delivery.lock().unwrap() =
        Err(WorkflowError::Unavailable("connection reset".into()));
    let form = format!("format=html&admin_key={KEY}&decided_by=Priya&decision=approve");
    let response = api
        .handle(browser("POST", &format!("/approvals/{id}"), "", &form))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let page = page_text(&response);
    assert!(
        page.contains(&format!("<form method=\"post\" action=\"{id}\">")),
        "{page}"
    );
    assert!(page.contains("name=\"decision\" value=\"approve\""));
    assert!(page.contains("Send the same decision again"));
    *api.approvals.workflow.delivery.lock().unwrap() = Ok(Delivery::Delivered);
    let response = api
        .handle(browser("POST", &format!("/approvals/{id}"), "", &form))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(page_text(&response).contains("Approved: asha&#39;s submission is being stored."));
}

#[tokio::test]
async fn the_same_decision_after_the_approval_expired_is_410_not_done() {
    let api = api();
    let (id, submission) = pending_one(&api, "2999-01-01T00:00:00.000Z").await;
    let path = format!("/approvals/{id}");
    *api.approvals.workflow.delivery.lock().unwrap() =
        Err(WorkflowError::Unavailable("operation timed out".into()));
    let response = api
        .handle(admin("POST", &path, "decision=approve&decided_by=A"))
        .await
        .unwrap();
    assert_eq!(body(&response)["error"], "decision_unconfirmed");
    // The wait timed out after all: the workflow's Expire step kept the decision it never took.
    {
        let mut items = api.approvals.store.items.lock().unwrap();
        let stored = items.get_mut(&submission.record.id).unwrap();
        stored.approval.status = ApprovalStatus::Expired;
        stored.approval.outcome = Some(Outcome::Discarded);
    }
    let response = api
        .handle(admin("POST", &path, "decision=approve&decided_by=A"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::GONE);
    assert_eq!(body(&response)["error"], "approval_expired");
}
