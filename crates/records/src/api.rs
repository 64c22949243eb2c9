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
    pub admin_key: AdminKey,
    pub timeout: Duration,
    pub cursors: CursorCodec,
}

/// Where the admin key comes from.
pub enum AdminKey {
    Given(Secret),
    /// Read on first use; while it cannot be read, approvals answer 503.
    Parameter(platform::ssm::LazyParameter),
}

impl AdminKey {
    pub(crate) async fn current(&self) -> Option<&Secret> {
        match self {
            AdminKey::Given(key) => Some(key),
            AdminKey::Parameter(parameter) => match parameter.get().await {
                Ok(key) => Some(key),
                Err(err) => {
                    tracing::error!(error = %err, "could not read the admin key; approvals are unavailable");
                    None
                }
            },
        }
    }
}

enum Route {
    Records,
    Approvals,
    Approval(Option<ApprovalId>),
    /// A trailing slash: the same resource without it, as a relative reference (the pages'
    /// relative links resolve only from the slashless path).
    Slashless(String),
}

fn route(path: &str) -> Option<Route> {
    match path {
        "" | "/" => Some(Route::Records),
        "/approvals" => Some(Route::Approvals),
        "/approvals/" => Some(Route::Slashless("../approvals".into())),
        other => {
            let id = other.strip_prefix("/approvals/")?;
            let (id, slash) = match id.strip_suffix('/') {
                Some(id) => (id, true),
                None => (id, false),
            };
            if id.is_empty() || id.contains('/') {
                return None;
            }
            Some(if slash {
                Route::Slashless(format!("../{id}"))
            } else {
                Route::Approval(RecordId::parse(id))
            })
        }
    }
}

fn slashless(target: &str, request: &Request) -> Response<Body> {
    let location = match raw_query(request).filter(|query| !query.is_empty()) {
        Some(query) => format!("{target}?{query}"),
        None => target.to_owned(),
    };
    let mut response = json_response(
        StatusCode::PERMANENT_REDIRECT,
        &json!({ "location": location }),
    );
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
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
            Route::Slashless(target) => slashless(&target, &request),
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
        let (format, query) = match take_format(query) {
            Ok(split) => split,
            Err(problems) => return invalid_parameters(&problems),
        };
        match query::parse(query.as_deref(), listing_allowed) {
            Err(problems) => invalid_parameters(&problems),
            Ok(RecordRequest::Ingest(_)) if format.is_some() => {
                invalid_parameters(&std::collections::BTreeMap::from([(
                    "format".to_owned(),
                    query::NOT_FOR_INGEST.to_owned(),
                )]))
            }
            Ok(RecordRequest::Ingest(input)) => self.ingest(&input).await,
            Ok(RecordRequest::List(list)) => self.list(&list, wants_html(format, request)).await,
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
    async fn list(&self, list: &ListRequest, html: bool) -> Response<Body> {
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
            Ok(page) if html => {
                let next = page.next_after.map(|last| self.cursors.encode(&last));
                crate::html::records_page(&page.records, next.as_deref(), list.limit)
            }
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

/// The page format a caller may ask for with `format=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Json,
}

pub const FORMAT_RULE: &str = "must be html or json";

/// Takes `format` out of a query, leaving the rest as it was sent when there was none.
pub(crate) fn take_format(
    query: Option<String>,
) -> Result<(Option<Format>, Option<String>), std::collections::BTreeMap<String, String>> {
    let Some(text) = query else {
        return Ok((None, None));
    };
    let pairs: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect();
    let formats: Vec<&str> = pairs
        .iter()
        .filter(|(name, _)| name == "format")
        .map(|(_, value)| value.as_str())
        .collect();
    let format = match formats.as_slice() {
        [] => return Ok((None, Some(text))),
        ["html"] => Format::Html,
        ["json"] => Format::Json,
        [_] => {
            return Err(std::collections::BTreeMap::from([(
                "format".to_owned(),
                FORMAT_RULE.to_owned(),
            )]));
        }
        _ => {
            return Err(std::collections::BTreeMap::from([(
                "format".to_owned(),
                query::REPEATED.to_owned(),
            )]));
        }
    };
    let mut rest = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs.iter().filter(|(name, _)| name != "format") {
        rest.append_pair(name, value);
    }
    Ok((Some(format), Some(rest.finish())))
}

/// HTML when asked for by `format=html`, or by a browser's `Accept` without a `format`.
pub(crate) fn wants_html(format: Option<Format>, request: &Request) -> bool {
    match format {
        Some(format) => format == Format::Html,
        None => platform::html::accepts_html(request),
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

pub(crate) fn method_not_allowed(allowed: &'static str, message: &str) -> Response<Body> {
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

pub(crate) fn invalid_parameters(
    problems: &std::collections::BTreeMap<String, String>,
) -> Response<Body> {
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
