//! The records-api handler: the function URL's HTTP at the edge, one domain call in the middle.

use std::time::Duration;

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Error, Request, RequestExt, Response};
use serde_json::{Map, Value, json};

use platform::Secret;
use platform::http::{json_error, json_response};

use crate::approval::{ApprovalId, ApprovalStore, ApprovalWorkflow};
use crate::cursor::CursorCodec;
use crate::ports::{CatalogError, IngestError, IngestOutcome, RecordCatalog, RecordWorkflow};
use crate::query::{self, ListRequest, RecordRequest};
use crate::record::{RecordId, RecordInput};

pub const ALLOWED_METHODS: &str = "GET, POST, PUT";
const RETRY_AFTER_SECONDS: &str = "1";

/// Everything the records API depends on, built once per sandbox.
pub struct RecordsApi<W, C, S, F> {
    pub workflow: W,
    pub catalog: C,
    pub cursors: CursorCodec,
    pub approvals: Approvals<S, F>,
}

/// The approvals half: where approvals are kept, the workflow that waits on them, the admin key,
/// and how long an admin has.
pub struct Approvals<S, F> {
    pub store: S,
    pub workflow: F,
    /// `None` when the key could not be read at start: decisions are then refused with a 503.
    pub admin_key: Option<Secret>,
    pub timeout: Duration,
    pub cursors: CursorCodec,
}

enum Route {
    Records,
    Approvals,
    Approval(Option<ApprovalId>),
}

fn route(path: &str) -> Option<Route> {
    match path {
        "" | "/" => Some(Route::Records),
        "/approvals" | "/approvals/" => Some(Route::Approvals),
        other => other
            .strip_prefix("/approvals/")
            .map(|id| id.strip_suffix('/').unwrap_or(id))
            .filter(|id| !id.is_empty() && !id.contains('/'))
            .map(|id| Route::Approval(RecordId::parse(id))),
    }
}

impl<W, C, S, F> RecordsApi<W, C, S, F>
where
    W: RecordWorkflow + Sync,
    C: RecordCatalog + Sync,
    S: ApprovalStore + Sync,
    F: ApprovalWorkflow + Sync,
{
    pub async fn handle(&self, request: Request) -> Result<Response<Body>, Error> {
        let Some(route) = route(request.uri().path()) else {
            return Ok(json_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "Records are served at '/', approvals at '/approvals'",
                None,
            ));
        };
        Ok(match route {
            Route::Records => self.records(&request).await,
            Route::Approvals => self.approvals.list(&request).await,
            Route::Approval(id) => self.approvals.one(&request, id.as_ref()).await,
        })
    }

    async fn records(&self, request: &Request) -> Response<Body> {
        let listing_allowed = match *request.method() {
            Method::GET => true,
            Method::POST | Method::PUT => false,
            _ => {
                return method_not_allowed(
                    ALLOWED_METHODS,
                    "Use GET to list or ingest, POST or PUT to ingest",
                );
            }
        };
        let query = raw_query(request);
        match query::parse(query.as_deref(), listing_allowed) {
            Err(problems) => invalid_parameters(&problems),
            Ok(RecordRequest::Ingest(input)) => self.ingest(&input).await,
            Ok(RecordRequest::List(list)) => self.list(&list).await,
        }
    }

    async fn ingest(&self, input: &RecordInput) -> Response<Body> {
        match self.workflow.ingest(input).await {
            Ok(IngestOutcome::Stored(record)) => {
                json_response(StatusCode::OK, &json!({ "record": record }))
            }
            Ok(IngestOutcome::Rejected(fields)) => json_error(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                "One or more fields are invalid; nothing was stored",
                Some(details("fields", &fields)),
            ),
            Ok(IngestOutcome::NeedsApproval(submission)) => self.approvals.open(&submission).await,
            Err(err) => ingest_failure(&err),
        }
    }
    async fn list(&self, list: &ListRequest) -> Response<Body> {
        let after = match list.cursor.as_deref().map(|c| self.cursors.decode(c)) {
            None => None,
            Some(Ok(id)) => Some(id),
            Some(Err(foreign)) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_cursor",
                    &foreign.to_string(),
                    None,
                );
            }
        };
        match self.catalog.list(list.limit, after.as_ref()).await {
            Ok(page) => {
                let next = page.next_after.map(|last| self.cursors.encode(&last));
                json_response(
                    StatusCode::OK,
                    &json!({ "records": page.records, "next": next }),
                )
            }
            Err(err) => catalog_failure(&err),
        }
    }
}

/// The query exactly as sent. Function URLs always carry `rawQueryString`; some local emulators
/// send only the parsed map, which is rebuilt here so repeated parameters stay visible.
pub(crate) fn raw_query(request: &Request) -> Option<String> {
    if let Some(query) = request.uri().query() {
        return Some(query.to_owned());
    }
    let parameters = request.query_string_parameters();
    if parameters.is_empty() {
        return None;
    }
    let mut rebuilt = form_urlencoded::Serializer::new(String::new());
    for (name, value) in parameters.iter() {
        rebuilt.append_pair(name, value);
    }
    Some(rebuilt.finish())
}

pub(crate) fn details(
    key: &str,
    problems: &std::collections::BTreeMap<String, String>,
) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(key.into(), json!(problems));
    map
}

fn method_not_allowed(allowed: &'static str, message: &str) -> Response<Body> {
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

fn invalid_parameters(problems: &std::collections::BTreeMap<String, String>) -> Response<Body> {
    json_error(
        StatusCode::BAD_REQUEST,
        "invalid_parameters",
        "One or more query parameters are missing, repeated, unknown or out of range",
        Some(details("parameters", problems)),
    )
}

pub(crate) fn retry_later(code: &str, message: &str) -> Response<Body> {
    let mut response = json_error(StatusCode::SERVICE_UNAVAILABLE, code, message, None);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECONDS),
    );
    response
}

fn ingest_failure(err: &IngestError) -> Response<Body> {
    tracing::error!(error = %err, "ingest failed");
    match err {
        IngestError::Throttled | IngestError::Unavailable(_) => retry_later(
            "service_unavailable",
            "The record could not be processed right now; retry shortly",
        ),
        IngestError::WorkflowFailed { .. } | IngestError::UnexpectedOutput(_) => json_error(
            StatusCode::BAD_GATEWAY,
            "ingest_failed",
            "The record could not be stored; retrying the same request is safe",
            None,
        ),
    }
}

fn catalog_failure(err: &CatalogError) -> Response<Body> {
    tracing::error!(error = %err, "listing failed");
    match err {
        CatalogError::Throttled | CatalogError::Unavailable(_) => retry_later(
            "service_unavailable",
            "Records could not be listed right now; retry shortly",
        ),
        CatalogError::Corrupt(_) => json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Records could not be listed",
            None,
        ),
    }
}
