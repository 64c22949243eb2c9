//! The approvals half of the records API: opening an approval for a half-valid submission, and
//! the admin's `GET /approvals`, `GET /approvals/{id}` and `POST /approvals/{id}`.
//!
//! Every approvals route needs the admin key, sent as `Authorization: Bearer <key>` by API callers
//! or, from the HTML page, as the `admin_key` field of a form body (never in the query, which
//! ends up in access logs); it is compared through SHA-256 digests in constant time. A decision is recorded in the store first, under a
//! condition that only a pending approval meets, so of two decisions sent at once exactly one
//! wins; only the winner hands the decision to the waiting workflow.

use std::collections::BTreeMap;

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use platform::http::{json_error, json_response};

use crate::api::{
    Approvals, Format, details, invalid_parameters, method_not_allowed, raw_query, retry_later,
    take_format, wants_html,
};
use crate::approval::{
    Approval, ApprovalId, ApprovalStatus, ApprovalStore, ApprovalWorkflow, Decision,
    DecisionRequest, Delivery, Outcome, PendingPosition, Recorded, Ruling, Started, StoreError,
    Submission, WorkflowError, parse_decision,
};
use crate::html::{self, Notice, Place, Resend};
use crate::query::{self, ListRequest};

const APPROVALS_METHODS: &str = "GET, POST";
/// A decision body larger than this is not a decision.
const MAX_DECISION_BODY: usize = 8 * 1024;
/// The form field that carries the admin key from the HTML page.
const KEY_FIELD: &str = "admin_key";
const FORMAT_FIELD: &str = "format";

impl<S, F> Approvals<S, F>
where
    S: ApprovalStore + Sync,
    F: ApprovalWorkflow + Sync,
{
    /// A half-valid submission: start its workflow, or find the approval it already has.
    pub(crate) async fn open(&self, submission: &Submission) -> Response<Body> {
        let id = &submission.record.id;
        match self.workflow.start(submission, self.timeout).await {
            Ok(Started::Started) => pending_answer(id),
            Ok(Started::AlreadyExists) => match self.store.get(id).await {
                // Not written yet: pending while its workflow runs; a workflow that ended
                // without writing it failed before it could ask anyone.
                Ok(None) => match self.workflow.opening(id).await {
                    Ok(Some(_)) => pending_answer(id),
                    Ok(None) => json_error(
                        StatusCode::BAD_GATEWAY,
                        "approval_failed",
                        "The approval for this submission could not be opened",
                        None,
                    ),
                    Err(err) => workflow_failure(&err),
                },
                Ok(Some(stored)) => resubmitted(&stored.approval),
                Err(err) => store_failure(&err),
            },
            Err(err) => workflow_failure(&err),
        }
    }

    /// `GET /approvals`: the pending approvals as JSON, or for a browser the form that asks for
    /// the key; `POST /approvals`: that form sent, answered with the pending approvals' page.
    pub(crate) async fn list(&self, request: &Request) -> Response<Body> {
        match *request.method() {
            Method::GET => {}
            Method::POST => return self.list_page(request).await,
            _ => {
                return method_not_allowed(
                    APPROVALS_METHODS,
                    "Use GET to list pending approvals, POST for the page's form",
                );
            }
        }
        let (format, query) = match take_format(raw_query(request)) {
            Ok(split) => split,
            Err(problems) => return invalid_parameters(&problems),
        };
        if wants_html(format, request) {
            return html::key_form(StatusCode::OK, Place::Listing, None);
        }
        if let Err(denied) = self.admit(bearer(request)).await {
            return denied.json();
        }
        let list = match query::parse_listing(query.as_deref()) {
            Ok(list) => list,
            Err(problems) => return invalid_parameters(&problems),
        };
        match self.pending(&list).await {
            Ok((approvals, next)) => json_response(
                StatusCode::OK,
                &json!({ "approvals": approvals, "next": next }),
            ),
            Err(refusal) => refusal.json(),
        }
    }

    /// The page's form: the key, the admin's name, and a cursor when paging.
    async fn list_page(&self, request: &Request) -> Response<Body> {
        let form = match PageForm::read(request) {
            Ok(form) => form,
            Err(problem) => return problem.json(),
        };
        let Some(admin) = self.page_admin(&form).await else {
            return self.refused_page(&form, Place::Listing).await;
        };
        let list = match query::parse_listing(Some(&form.rest_as_query())) {
            Ok(list) => list,
            Err(problems) => {
                return html::key_form(
                    StatusCode::BAD_REQUEST,
                    Place::Listing,
                    Some(&describe(&problems)),
                );
            }
        };
        self.page(StatusCode::OK, Place::Listing, &admin, &list, None)
            .await
    }

    /// One page of pending approvals, and the cursor of the next.
    async fn pending(
        &self,
        list: &ListRequest,
    ) -> Result<(Vec<Approval>, Option<String>), Refusal> {
        let after = match list.cursor.as_deref() {
            None => None,
            Some(cursor) => Some(
                self.cursors
                    .open(cursor)
                    .ok()
                    .and_then(|text| PendingPosition::from_text(&text))
                    .ok_or(Refusal::BadCursor)?,
            ),
        };
        let page = self
            .store
            .list_pending(list.limit, after.as_ref())
            .await
            .map_err(Refusal::Store)?;
        let next = page
            .next_after
            .map(|last| self.cursors.seal(&last.to_text()));
        Ok((page.approvals, next))
    }

    /// The pending approvals' page, with what the last action did above it.
    async fn page(
        &self,
        status: StatusCode,
        from: Place,
        admin: &PageAdmin,
        list: &ListRequest,
        done: Option<Notice>,
    ) -> Response<Body> {
        let mut notices: Vec<Notice> = done.into_iter().collect();
        let (status, approvals, next) = match self.pending(list).await {
            Ok((approvals, next)) => (status, approvals, next),
            // What was done stays said, and keeps its status; the list is said to be missing.
            Err(refusal) => {
                let failed = refusal.json().status();
                notices.push(Notice {
                    text: match refusal {
                        Refusal::BadCursor => refusal.message(),
                        _ => "The pending list could not be read right now; reload in a moment."
                            .into(),
                    },
                    error: true,
                    resend: None,
                });
                let status = if notices.len() > 1 { status } else { failed };
                (status, Vec::new(), None)
            }
        };
        html::approvals_page(
            status,
            from,
            &approvals,
            next.as_deref(),
            &admin.key,
            &admin.name,
            &notices,
        )
    }

    pub(crate) async fn one(&self, request: &Request, id: Option<&ApprovalId>) -> Response<Body> {
        match *request.method() {
            Method::GET => {}
            Method::POST => return self.decide(request, id).await,
            _ => {
                return method_not_allowed(
                    APPROVALS_METHODS,
                    "Use GET to see an approval, POST to decide it",
                );
            }
        }
        if let Err(denied) = self.admit(bearer(request)).await {
            return denied.json();
        }
        let Some(id) = id else {
            return Refusal::Unknown.json();
        };
        match self.show(id).await {
            Ok(approval) => json_response(StatusCode::OK, &json!({ "approval": approval })),
            Err(refusal) => refusal.json(),
        }
    }

    async fn show(&self, id: &ApprovalId) -> Result<Approval, Refusal> {
        match self.store.get(id).await.map_err(Refusal::Store)? {
            Some(stored) => Ok(stored.approval),
            None => match self.workflow.opening(id).await.map_err(Refusal::Workflow)? {
                Some(opening) => Ok(Approval {
                    id: id.clone(),
                    status: ApprovalStatus::Pending,
                    record: opening.submission.record,
                    problems: opening.submission.fields,
                    requested_at: opening.started_at,
                    expires_at: opening.expires_at,
                    decision: None,
                    outcome: None,
                }),
                None => Err(Refusal::Unknown),
            },
        }
    }

    /// `POST /approvals/{id}`: a decision, from an API caller (answered in JSON) or from the
    /// page's buttons (answered with the page, the outcome above the list).
    async fn decide(&self, request: &Request, id: Option<&ApprovalId>) -> Response<Body> {
        let form = match PageForm::read(request) {
            Ok(form) => form,
            // An unreadable body is described only to whoever holds the key.
            Err(problem) => {
                return match self.admit(bearer(request)).await {
                    Ok(()) => problem.json(),
                    Err(denied) => denied.json(),
                };
            }
        };
        if !form.html {
            if let Err(denied) = self.admit(bearer(request).or(form.key.as_deref())).await {
                return denied.json();
            }
            return match self.decide_fields(id, &form.rest).await {
                Ok(approval) => json_response(StatusCode::OK, &json!({ "approval": approval })),
                Err(refusal) => refusal.json(),
            };
        }
        let Some(admin) = self.page_admin(&form).await else {
            return self.refused_page(&form, Place::Approval).await;
        };
        let (status, notice) = match self.decide_fields(id, &form.rest).await {
            Ok(approval) => (
                StatusCode::OK,
                Notice {
                    text: match approval.status {
                        ApprovalStatus::Approved => format!(
                            "Approved: {}'s submission is being stored.",
                            approval.record.user_name
                        ),
                        _ => format!(
                            "Rejected: {}'s submission was discarded.",
                            approval.record.user_name
                        ),
                    },
                    error: false,
                    resend: None,
                },
            ),
            Err(refusal) => (
                refusal.json().status(),
                Notice {
                    text: refusal.message(),
                    error: true,
                    resend: match (&refusal, id, form.ruling()) {
                        (Refusal::Undelivered(_), Some(id), Some(decision)) => Some(Resend {
                            approval: id.to_string(),
                            decision,
                        }),
                        _ => None,
                    },
                },
            ),
        };
        let first = ListRequest {
            limit: query::DEFAULT_LIMIT,
            cursor: None,
        };
        self.page(status, Place::Approval, &admin, &first, Some(notice))
            .await
    }

    async fn decide_fields(
        &self,
        id: Option<&ApprovalId>,
        fields: &[(String, String)],
    ) -> Result<Approval, Refusal> {
        let id = id.ok_or(Refusal::Unknown)?;
        let wanted = parse_decision(fields).map_err(Refusal::Invalid)?;
        self.decide_one(id, wanted).await
    }

    /// Records a decision, then hands it to the waiting workflow.
    ///
    /// A decision is withdrawn only when Step Functions answered that it did not take it. When
    /// the answer was lost (a timeout, a dropped connection) the decision stays recorded, the
    /// caller is told to retry, and the same decision sent again is delivered again: a task
    /// that already took it answers that it no longer waits, which before the deadline can only
    /// mean it was delivered.
    async fn decide_one(
        &self,
        id: &ApprovalId,
        wanted: DecisionRequest,
    ) -> Result<Approval, Refusal> {
        let stored = match self.store.get(id).await.map_err(Refusal::Store)? {
            Some(stored) => stored,
            None => {
                return match self.workflow.opening(id).await.map_err(Refusal::Workflow)? {
                    Some(_) => Err(Refusal::Opening),
                    None => Err(Refusal::Unknown),
                };
            }
        };
        // The same decision again, after the workflow acted on it: done already.
        if let Some(done) = acted_on(&stored.approval, &wanted) {
            return Ok(done);
        }
        let Some(token) = stored.task_token.as_ref() else {
            return Err(Refusal::Store(StoreError::Corrupt(
                "a pending approval has no task token".into(),
            )));
        };
        let (decision, again) = match unconfirmed(&stored.approval, &wanted) {
            Some(recorded) => (recorded.clone(), true),
            None => {
                if let Some(closed) = closed(&stored.approval) {
                    return Err(closed);
                }
                let decision = Decision {
                    decision: wanted.decision,
                    decided_by: wanted.decided_by,
                    decided_at: platform::now_rfc3339(),
                    note: wanted.note,
                };
                match self
                    .store
                    .record_decision(id, &decision, token)
                    .await
                    .map_err(Refusal::Store)?
                {
                    Recorded::Recorded => (decision, false),
                    Recorded::NotPending => {
                        return match self.store.get(id).await.map_err(Refusal::Store)? {
                            Some(now) => Err(closed(&now.approval).unwrap_or(Refusal::Busy)),
                            None => Err(Refusal::Unknown),
                        };
                    }
                }
            }
        };
        let mut approval = stored.approval;
        match self.workflow.deliver(token, &decision).await {
            Ok(Delivery::Delivered) => {}
            Ok(Delivery::NoLongerWaiting) if approval.expires_at <= platform::now_rfc3339() => {
                // The workflow's own timeout path marks the approval expired.
                return Err(Refusal::Expired);
            }
            Ok(Delivery::NoLongerWaiting) => match self.store.get(id).await {
                Ok(Some(now)) if now.approval.status == ApprovalStatus::Expired => {
                    return Err(Refusal::Expired);
                }
                Ok(_) => {}
                Err(err) => return Err(Refusal::Undelivered(err.to_string())),
            },
            // Step Functions answered and did not take it. Only a first delivery is taken back:
            // an earlier, unconfirmed one may have landed.
            Err(err @ (WorkflowError::Throttled | WorkflowError::Refused(_))) if !again => {
                return match self.store.withdraw_decision(id, &decision, token).await {
                    Ok(true) => Err(Refusal::Workflow(err)),
                    // The workflow moved on (a retried first step took the decision over).
                    Ok(false) => Err(Refusal::Undelivered(err.to_string())),
                    Err(undo) => {
                        tracing::error!(error = %undo, %id, "could not withdraw an undelivered decision");
                        Err(Refusal::Undelivered(err.to_string()))
                    }
                };
            }
            Err(err) => return Err(Refusal::Undelivered(err.to_string())),
        }
        approval.status = decision.decision.status();
        approval.decision = Some(decision);
        Ok(approval)
    }

    /// The admin behind a page's form, when the form carries the right key and a name.
    async fn page_admin(&self, form: &PageForm) -> Option<PageAdmin> {
        let key = form.key.as_deref()?;
        let name = form.name.as_deref()?;
        self.admit(Some(key)).await.is_ok().then(|| PageAdmin {
            key: key.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The key form again, saying why the page was not shown.
    async fn refused_page(&self, form: &PageForm, from: Place) -> Response<Body> {
        let (status, problem) = match self.admit(form.key.as_deref()).await {
            Err(Denied::Unavailable) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Approvals are unavailable: the admin key could not be read.",
            ),
            Err(Denied::Refused) => (StatusCode::FORBIDDEN, "That admin key is not right."),
            Ok(()) => (
                StatusCode::BAD_REQUEST,
                "Give your name (1 to 64 characters): decisions are signed with it.",
            ),
        };
        html::key_form(status, from, Some(problem))
    }

    /// Whether `presented` is the admin key.
    async fn admit(&self, presented: Option<&str>) -> Result<(), Denied> {
        let Some(key) = self.admin_key.current().await else {
            return Err(Denied::Unavailable);
        };
        let presented = presented.map(str::trim).unwrap_or("");
        let matches: bool = Sha256::digest(presented.as_bytes())
            .ct_eq(&Sha256::digest(key.expose().as_bytes()))
            .into();
        if matches && !presented.is_empty() {
            Ok(())
        } else {
            Err(Denied::Refused)
        }
    }
}

/// Why a caller was not let in.
enum Denied {
    Refused,
    Unavailable,
}

impl Denied {
    fn json(&self) -> Response<Body> {
        match self {
            Denied::Unavailable => retry_later(
                "admin_key_unavailable",
                "Approvals are unavailable: the admin key could not be read",
            ),
            Denied::Refused => json_error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Approvals need the admin key: send Authorization: Bearer <key>",
                None,
            ),
        }
    }
}

fn bearer(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
}

/// Who is using the page: the key they gave and the name they sign with.
struct PageAdmin {
    key: String,
    name: String,
}

/// Why an approvals call was not done, answered in JSON or as a notice on the page.
enum Refusal {
    Invalid(BTreeMap<String, String>),
    BadCursor,
    Unknown,
    Opening,
    Busy,
    Decided(Box<Approval>),
    Expired,
    Store(StoreError),
    Workflow(WorkflowError),
    /// Recorded, but whether the workflow took it is not known: the same decision can be sent
    /// again.
    Undelivered(String),
}

impl Refusal {
    fn json(&self) -> Response<Body> {
        match self {
            Refusal::Invalid(problems) => json_error(
                StatusCode::BAD_REQUEST,
                "invalid_decision",
                "The decision is missing fields or has fields out of range",
                Some(details("fields", problems)),
            ),
            Refusal::BadCursor => json_error(
                StatusCode::BAD_REQUEST,
                "invalid_cursor",
                &crate::cursor::ForeignCursor.to_string(),
                None,
            ),
            Refusal::Unknown => json_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "No approval has this id",
                None,
            ),
            Refusal::Opening => retry_later(
                "approval_opening",
                "The approval is still being opened; retry shortly",
            ),
            Refusal::Busy => retry_later("approval_busy", "The approval changed; retry shortly"),
            Refusal::Decided(approval) => {
                let mut body = Map::new();
                body.insert("decision".into(), json!(approval.decision));
                body.insert("status".into(), json!(approval.status));
                json_error(
                    StatusCode::CONFLICT,
                    "already_decided",
                    "This approval was already decided",
                    Some(body),
                )
            }
            Refusal::Expired => json_error(
                StatusCode::GONE,
                "approval_expired",
                "The time to decide this approval has passed; the submission was discarded",
                None,
            ),
            Refusal::Store(err) => store_failure(err),
            Refusal::Workflow(err) => workflow_failure(err),
            Refusal::Undelivered(reason) => {
                tracing::error!(%reason, "a recorded decision's delivery is unconfirmed");
                retry_later(
                    "decision_unconfirmed",
                    "The decision is recorded but the workflow did not confirm it; send the same \
                     decision again",
                )
            }
        }
    }

    /// The same, said to a person on the page.
    fn message(&self) -> String {
        match self {
            Refusal::Invalid(problems) => format!("Not decided: {}.", describe(problems)),
            Refusal::BadCursor => "That page link is not valid.".into(),
            Refusal::Unknown => "No approval has this id.".into(),
            Refusal::Opening | Refusal::Busy => {
                "This approval is still changing; try again in a moment.".into()
            }
            Refusal::Decided(approval) => match &approval.decision {
                Some(decision) => format!(
                    "Already decided: {} by {} at {}.",
                    match decision.decision {
                        Ruling::Approve => "approved",
                        Ruling::Reject => "rejected",
                    },
                    decision.decided_by,
                    decision.decided_at
                ),
                None => "Already decided.".into(),
            },
            Refusal::Expired => {
                "Too late: the time to decide has passed and the submission was discarded.".into()
            }
            Refusal::Undelivered(_) => {
                "The decision is recorded, but the workflow did not confirm it: send it again."
                    .into()
            }
            Refusal::Store(_) | Refusal::Workflow(_) => {
                "Approvals could not be reached right now; try again shortly.".into()
            }
        }
    }
}

/// Problems with named fields, as one sentence.
fn describe(problems: &BTreeMap<String, String>) -> String {
    problems
        .iter()
        .map(|(name, why)| format!("{name} {why}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The approval, when `wanted` is the decision it already carries and its workflow has acted on
/// it (an outcome is recorded): sending the same decision twice is not a conflict.
fn acted_on(approval: &Approval, wanted: &DecisionRequest) -> Option<Approval> {
    let recorded = approval.decision.as_ref()?;
    let as_decided = matches!(
        (approval.status, approval.outcome),
        (ApprovalStatus::Approved, Some(Outcome::Stored))
            | (ApprovalStatus::Rejected, Some(Outcome::Discarded))
    );
    (as_decided && recorded.decision == wanted.decision && recorded.decided_by == wanted.decided_by)
        .then(|| approval.clone())
}

/// The decision already recorded on an approval that has no outcome yet, when `wanted` is that
/// same decision sent again: its delivery may not have been confirmed, so it is delivered again.
fn unconfirmed<'a>(approval: &'a Approval, wanted: &DecisionRequest) -> Option<&'a Decision> {
    let recorded = approval.decision.as_ref()?;
    (approval.outcome.is_none()
        && matches!(
            approval.status,
            ApprovalStatus::Approved | ApprovalStatus::Rejected
        )
        && recorded.decision == wanted.decision
        && recorded.decided_by == wanted.decided_by)
        .then_some(recorded)
}

/// Why a closed approval takes no decision, or `None` while it is still open to one.
fn closed(approval: &Approval) -> Option<Refusal> {
    match approval.status {
        ApprovalStatus::Approved | ApprovalStatus::Rejected => {
            Some(Refusal::Decided(Box::new(approval.clone())))
        }
        ApprovalStatus::Expired => Some(Refusal::Expired),
        // The workflow already acted: nothing is left to decide.
        ApprovalStatus::Pending if approval.outcome.is_some() => {
            Some(Refusal::Decided(Box::new(approval.clone())))
        }
        ApprovalStatus::Pending if approval.expires_at <= platform::now_rfc3339() => {
            Some(Refusal::Expired)
        }
        ApprovalStatus::Pending => None,
    }
}

fn pending_answer(id: &ApprovalId) -> Response<Body> {
    let mut response = json_response(
        StatusCode::ACCEPTED,
        &json!({ "status": "pending_approval", "approval_id": id }),
    );
    // Relative to the ingest at the URL's root, so it holds under any prefix.
    if let Ok(location) = HeaderValue::from_str(&format!("approvals/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// The same half-valid submission again: the approval it already has decides the answer.
fn resubmitted(approval: &Approval) -> Response<Body> {
    match (approval.status, approval.outcome) {
        (ApprovalStatus::Approved, Some(Outcome::Stored)) => {
            json_response(StatusCode::OK, &json!({ "record": approval.record }))
        }
        (ApprovalStatus::Pending | ApprovalStatus::Approved, _) => {
            let mut response = pending_answer(&approval.id);
            if approval.status == ApprovalStatus::Approved {
                *response.body_mut() = Body::from(
                    json!({ "status": "approved", "approval_id": approval.id }).to_string(),
                );
            }
            response
        }
        (ApprovalStatus::Rejected | ApprovalStatus::Expired, _) => {
            let mut body = Map::new();
            body.insert("fields".into(), json!(approval.problems));
            body.insert(
                "approval".into(),
                json!({ "id": approval.id, "status": approval.status }),
            );
            json_error(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                "This submission was refused on review; nothing was stored",
                Some(body),
            )
        }
    }
}

/// A form sent to the approvals routes: the query's fields, then the body's (form-encoded, or a
/// JSON object of strings when sent as `application/json`). The admin key is taken from the
/// body only; `format=html` asks for the page as the answer.
struct PageForm {
    key: Option<String>,
    /// `decided_by`, when it is a name a decision can be signed with.
    name: Option<String>,
    html: bool,
    /// Every other field, in order, `decided_by` included.
    rest: Vec<(String, String)>,
}

enum BodyProblem {
    TooLarge,
    NotStrings,
    Format(BTreeMap<String, String>),
}

impl BodyProblem {
    fn json(&self) -> Response<Body> {
        match self {
            BodyProblem::TooLarge => json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "A decision body is at most 8 KiB",
                None,
            ),
            BodyProblem::NotStrings => json_error(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "A JSON body is an object of string fields",
                None,
            ),
            BodyProblem::Format(problems) => invalid_parameters(problems),
        }
    }
}

impl PageForm {
    fn read(request: &Request) -> Result<PageForm, BodyProblem> {
        let (format, query) = take_format(raw_query(request)).map_err(BodyProblem::Format)?;
        let mut rest: Vec<(String, String)> =
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let body = request.body().as_ref();
        if body.len() > MAX_DECISION_BODY {
            return Err(BodyProblem::TooLarge);
        }
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.trim_start().starts_with("application/json"));
        let mut body_fields = Vec::new();
        if is_json && !body.is_empty() {
            let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
                return Err(BodyProblem::NotStrings);
            };
            for (name, value) in object {
                match value {
                    Value::String(text) => body_fields.push((name, text)),
                    _ => return Err(BodyProblem::NotStrings),
                }
            }
        } else {
            body_fields.extend(form_urlencoded::parse(body).into_owned());
        }
        let mut key = None;
        let mut html = format == Some(Format::Html);
        for (name, value) in body_fields {
            match (name.as_str(), value.as_str()) {
                (KEY_FIELD, _) if key.is_none() => key = Some(value),
                (FORMAT_FIELD, "html") => html = true,
                (FORMAT_FIELD, "json") => {}
                (FORMAT_FIELD, _) => {
                    return Err(BodyProblem::Format(BTreeMap::from([(
                        FORMAT_FIELD.to_owned(),
                        crate::api::FORMAT_RULE.to_owned(),
                    )])));
                }
                _ => rest.push((name, value)),
            }
        }
        let name = rest
            .iter()
            .find(|(name, _)| name == "decided_by")
            .map(|(_, value)| value.trim())
            .filter(|name| crate::approval::signable(name))
            .map(str::to_owned);
        Ok(PageForm {
            key,
            name,
            html,
            rest,
        })
    }

    /// The decision the form asks for, as the page's buttons send it.
    fn ruling(&self) -> Option<&'static str> {
        self.rest
            .iter()
            .find(|(name, _)| name == "decision")
            .and_then(|(_, value)| match value.as_str() {
                "approve" => Some("approve"),
                "reject" => Some("reject"),
                _ => None,
            })
    }

    /// The fields other than the admin's name, as a query for the listing's parser.
    fn rest_as_query(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in self.rest.iter().filter(|(name, _)| name != "decided_by") {
            query.append_pair(name, value);
        }
        query.finish()
    }
}

fn store_failure(err: &StoreError) -> Response<Body> {
    tracing::error!(error = %err, "approval store failed");
    match err {
        StoreError::Throttled | StoreError::Unavailable(_) => retry_later(
            "service_unavailable",
            "Approvals could not be reached right now; retry shortly",
        ),
        StoreError::Corrupt(_) => json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "The approval could not be read",
            None,
        ),
    }
}

fn workflow_failure(err: &WorkflowError) -> Response<Body> {
    tracing::error!(error = %err, "approval workflow failed");
    match err {
        WorkflowError::Throttled | WorkflowError::Unavailable(_) => retry_later(
            "service_unavailable",
            "The approval could not be processed right now; retry shortly",
        ),
        WorkflowError::Refused(_) => json_error(
            StatusCode::BAD_GATEWAY,
            "approval_failed",
            "The approval workflow refused the call; retrying the same request is safe",
            None,
        ),
    }
}
