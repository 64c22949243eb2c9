//! The approvals half of the records API: opening an approval for a half-valid submission, and
//! the admin's `GET /approvals`, `GET /approvals/{id}` and `POST /approvals/{id}`.
//!
//! Every approvals route needs the admin key, sent as `Authorization: Bearer <key>` and compared
//! through SHA-256 digests in constant time. A decision is recorded in the store first, under a
//! condition that only a pending approval meets, so of two decisions sent at once exactly one
//! wins; only the winner hands the decision to the waiting workflow.

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use platform::http::{json_error, json_response};

use crate::api::{Approvals, details, raw_query, retry_later};
use crate::approval::{
    Approval, ApprovalId, ApprovalStatus, ApprovalStore, ApprovalWorkflow, Decision, Delivery,
    Outcome, PendingPosition, Recorded, Started, StoreError, Submission, WorkflowError,
    parse_decision,
};
use crate::query;

const APPROVALS_METHODS: &str = "GET";
const APPROVAL_METHODS: &str = "GET, POST";
/// A decision body larger than this is not a decision.
const MAX_DECISION_BODY: usize = 8 * 1024;

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
                Ok(None) => pending_answer(id),
                Ok(Some(stored)) => resubmitted(&stored.approval),
                Err(err) => store_failure(&err),
            },
            Err(err) => workflow_failure(&err),
        }
    }

    pub(crate) async fn list(&self, request: &Request) -> Response<Body> {
        if request.method() != Method::GET {
            return not_allowed(APPROVALS_METHODS, "Use GET to list pending approvals");
        }
        if let Some(refused) = self.refuse_unless_admin(request) {
            return refused;
        }
        let list = match query::parse_listing(raw_query(request).as_deref()) {
            Ok(list) => list,
            Err(problems) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_parameters",
                    "One or more query parameters are repeated, unknown or out of range",
                    Some(details("parameters", &problems)),
                );
            }
        };
        let after = match list.cursor.as_deref() {
            None => None,
            Some(cursor) => match self
                .cursors
                .open(cursor)
                .ok()
                .and_then(|text| PendingPosition::from_text(&text))
            {
                Some(position) => Some(position),
                None => {
                    return json_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_cursor",
                        "the cursor was not issued by this API",
                        None,
                    );
                }
            },
        };
        match self.store.list_pending(list.limit, after.as_ref()).await {
            Ok(page) => {
                let next = page
                    .next_after
                    .map(|last| self.cursors.seal(&last.to_text()));
                json_response(
                    StatusCode::OK,
                    &json!({ "approvals": page.approvals, "next": next }),
                )
            }
            Err(err) => store_failure(&err),
        }
    }

    pub(crate) async fn one(&self, request: &Request, id: Option<&ApprovalId>) -> Response<Body> {
        let deciding = match *request.method() {
            Method::GET => false,
            Method::POST => true,
            _ => {
                return not_allowed(
                    APPROVAL_METHODS,
                    "Use GET to see an approval, POST to decide it",
                );
            }
        };
        if let Some(refused) = self.refuse_unless_admin(request) {
            return refused;
        }
        let Some(id) = id else {
            return unknown_approval();
        };
        if deciding {
            self.decide(request, id).await
        } else {
            self.show(id).await
        }
    }

    async fn show(&self, id: &ApprovalId) -> Response<Body> {
        match self.store.get(id).await {
            Ok(Some(stored)) => {
                json_response(StatusCode::OK, &json!({ "approval": stored.approval }))
            }
            Ok(None) => match self.workflow.opening(id).await {
                Ok(Some(opening)) => {
                    let approval = Approval {
                        id: id.clone(),
                        status: ApprovalStatus::Pending,
                        record: opening.submission.record,
                        problems: opening.submission.fields,
                        requested_at: opening.started_at,
                        expires_at: opening.expires_at,
                        decision: None,
                        outcome: None,
                    };
                    json_response(StatusCode::OK, &json!({ "approval": approval }))
                }
                Ok(None) => unknown_approval(),
                Err(err) => workflow_failure(&err),
            },
            Err(err) => store_failure(&err),
        }
    }

    async fn decide(&self, request: &Request, id: &ApprovalId) -> Response<Body> {
        let fields = match decision_fields(request) {
            Ok(fields) => fields,
            Err(BodyProblem::TooLarge) => {
                return json_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "A decision body is at most 8 KiB",
                    None,
                );
            }
            Err(BodyProblem::NotStrings) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_body",
                    "A JSON decision is an object of string fields",
                    None,
                );
            }
        };
        let wanted = match parse_decision(&fields) {
            Ok(wanted) => wanted,
            Err(problems) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_decision",
                    "The decision is missing fields or has fields out of range",
                    Some(details("fields", &problems)),
                );
            }
        };
        let stored = match self.store.get(id).await {
            Ok(Some(stored)) => stored,
            Ok(None) => {
                return match self.workflow.opening(id).await {
                    Ok(Some(_)) => retry_later(
                        "approval_opening",
                        "The approval is still being opened; retry shortly",
                    ),
                    Ok(None) => unknown_approval(),
                    Err(err) => workflow_failure(&err),
                };
            }
            Err(err) => return store_failure(&err),
        };
        if let Some(closed) = closed(&stored.approval) {
            return closed;
        }
        let Some(token) = stored.task_token.as_ref() else {
            return store_failure(&StoreError::Corrupt(
                "a pending approval has no task token".into(),
            ));
        };
        let decision = Decision {
            decision: wanted.decision,
            decided_by: wanted.decided_by,
            decided_at: platform::now_rfc3339(),
            note: wanted.note,
        };
        match self.store.record_decision(id, &decision).await {
            Ok(Recorded::Recorded) => {}
            Ok(Recorded::NotPending) => {
                return match self.store.get(id).await {
                    Ok(Some(now)) => closed(&now.approval).unwrap_or_else(|| {
                        retry_later("approval_busy", "The approval changed; retry shortly")
                    }),
                    Ok(None) => unknown_approval(),
                    Err(err) => store_failure(&err),
                };
            }
            Err(err) => return store_failure(&err),
        }
        match self.workflow.deliver(token, &decision).await {
            Ok(Delivery::Delivered) => {
                let mut approval = stored.approval;
                approval.status = decision.decision.status();
                approval.decision = Some(decision);
                json_response(StatusCode::OK, &json!({ "approval": approval }))
            }
            Ok(Delivery::NoLongerWaiting) => {
                if let Err(err) = self.store.mark_expired(id).await {
                    tracing::error!(error = %err, %id, "could not mark a timed-out approval expired");
                }
                expired()
            }
            Err(err) => {
                // The workflow never heard of it: take the decision back so the approval is
                // pending again, as the answer says.
                if let Err(undo) = self.store.withdraw_decision(id, &decision).await {
                    tracing::error!(error = %undo, %id, "could not withdraw an undelivered decision");
                }
                workflow_failure(&err)
            }
        }
    }

    /// `None` when the request carries the admin key.
    fn refuse_unless_admin(&self, request: &Request) -> Option<Response<Body>> {
        let Some(key) = self.admin_key.as_ref() else {
            return Some(retry_later(
                "admin_key_unavailable",
                "Approvals are unavailable: the admin key could not be read",
            ));
        };
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or("");
        let matches: bool = Sha256::digest(presented.as_bytes())
            .ct_eq(&Sha256::digest(key.expose().as_bytes()))
            .into();
        (!matches || presented.is_empty()).then(|| {
            json_error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Approvals need the admin key: send Authorization: Bearer <key>",
                None,
            )
        })
    }
}

/// The answer for a closed approval, or `None` while it is still open to a decision.
fn closed(approval: &Approval) -> Option<Response<Body>> {
    match approval.status {
        ApprovalStatus::Approved | ApprovalStatus::Rejected => {
            let mut body = Map::new();
            body.insert("decision".into(), json!(approval.decision));
            body.insert("status".into(), json!(approval.status));
            Some(json_error(
                StatusCode::CONFLICT,
                "already_decided",
                "This approval was already decided",
                Some(body),
            ))
        }
        ApprovalStatus::Expired => Some(expired()),
        ApprovalStatus::Pending if approval.expires_at <= platform::now_rfc3339() => {
            Some(expired())
        }
        ApprovalStatus::Pending => None,
    }
}

fn expired() -> Response<Body> {
    json_error(
        StatusCode::GONE,
        "approval_expired",
        "The time to decide this approval has passed; the submission was discarded",
        None,
    )
}

fn unknown_approval() -> Response<Body> {
    json_error(
        StatusCode::NOT_FOUND,
        "not_found",
        "No approval has this id",
        None,
    )
}

fn pending_answer(id: &ApprovalId) -> Response<Body> {
    let mut response = json_response(
        StatusCode::ACCEPTED,
        &json!({ "status": "pending_approval", "approval_id": id }),
    );
    if let Ok(location) = HeaderValue::from_str(&format!("/approvals/{id}")) {
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

/// The decision's fields: the query's, then the body's (form-encoded, or a JSON object of
/// strings when sent as `application/json`).
enum BodyProblem {
    TooLarge,
    NotStrings,
}

fn decision_fields(request: &Request) -> Result<Vec<(String, String)>, BodyProblem> {
    let mut fields: Vec<(String, String)> =
        form_urlencoded::parse(raw_query(request).unwrap_or_default().as_bytes())
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
    if is_json && !body.is_empty() {
        let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
            return Err(BodyProblem::NotStrings);
        };
        for (name, value) in object {
            match value {
                Value::String(text) => fields.push((name, text)),
                _ => return Err(BodyProblem::NotStrings),
            }
        }
    } else {
        fields.extend(form_urlencoded::parse(body).into_owned());
    }
    Ok(fields)
}

fn not_allowed(allowed: &'static str, message: &str) -> Response<Body> {
    let mut response = json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        message,
        None,
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allowed));
    response
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
