//! exports-api: `POST /exports` asks for an export, `GET /exports/{id}` tells how it is going
//! and, once it is ready, gives a presigned URL of its CSV valid for an hour. In JSON for
//! programs; for a browser, the form at `/` posts form-encoded, is answered `303 See Other` to
//! the export's page, and every answer to it is a page.

use std::collections::BTreeMap;
use std::time::Duration;

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use platform::html::{accepts_html, see_other};
use platform::http::{json_error, json_response};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::export::{Export, Status, valid_export_id};
use crate::html;
use crate::ports::{Created, ExportLedger, ExportQueue, Presigner, ServiceError};
use crate::request::{ExportRequest, Problems};

/// How long the URL of a ready export is valid.
pub const URL_VALID_FOR: Duration = Duration::from_secs(3600);
/// The largest request body read.
const BODY_LIMIT: usize = 4096;

pub struct ExportsApi<L, Q, P> {
    pub ledger: L,
    pub queue: Q,
    pub presigner: P,
}

enum Route<'a> {
    Form,
    Exports,
    Export(&'a str),
}

fn route(path: &str) -> Option<Route<'_>> {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    if path.is_empty() || path == "/" {
        return Some(Route::Form);
    }
    match path.strip_prefix("/exports") {
        Some("") => Some(Route::Exports),
        Some(rest) => rest
            .strip_prefix('/')
            .filter(|id| !id.contains('/'))
            .map(Route::Export),
        None => None,
    }
}

fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut response = json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &format!("Use {allow}"),
        None,
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

fn unavailable(err: &ServiceError, as_page: bool) -> Response<Body> {
    tracing::warn!(error = %err, "a service the exports depend on failed");
    const MESSAGE: &str = "Exports are unavailable for a moment; try again";
    let mut response = if as_page {
        html::problem_page(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", MESSAGE)
    } else {
        json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            MESSAGE,
            None,
        )
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

fn invalid(problems: &Problems) -> Response<Body> {
    let fields: Map<String, Value> = problems
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    json_error(
        StatusCode::BAD_REQUEST,
        "invalid_export",
        "The export request is invalid; nothing was queued",
        Some(Map::from_iter([(
            "fields".to_owned(),
            Value::Object(fields),
        )])),
    )
}

impl<L: ExportLedger, Q: ExportQueue, P: Presigner> ExportsApi<L, Q, P> {
    pub async fn handle(&self, request: Request) -> Result<Response<Body>, lambda_http::Error> {
        Ok(self.handle_at(request, OffsetDateTime::now_utc()).await)
    }

    pub async fn handle_at(&self, request: Request, now: OffsetDateTime) -> Response<Body> {
        let as_page = accepts_html(&request);
        match route(request.uri().path()) {
            Some(Route::Form) if matches!(*request.method(), Method::GET | Method::HEAD) => {
                form(StatusCode::OK, &html::fresh_values(now.date()), now)
            }
            Some(Route::Form) => method_not_allowed("GET"),
            None => json_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "Exports are asked for at POST /exports and followed at GET /exports/{id}",
                None,
            ),
            Some(Route::Exports) if request.method() == Method::POST => {
                self.create(&request, now).await
            }
            Some(Route::Exports) if as_page && request.method() == Method::GET => {
                form(StatusCode::OK, &html::fresh_values(now.date()), now)
            }
            Some(Route::Exports) => method_not_allowed("POST"),
            Some(Route::Export(id)) if request.method() == Method::GET => {
                self.status(id, as_page).await
            }
            Some(Route::Export(_)) => method_not_allowed("GET"),
        }
    }

    async fn create(&self, request: &Request, now: OffsetDateTime) -> Response<Body> {
        let from_form = content_type(request).as_deref() == Some(FORM);
        let values = match body_values(request, from_form) {
            Ok(values) => values,
            Err(response) => return *response,
        };
        let asked = match ExportRequest::parse(&values, now.date()) {
            Ok(asked) => asked,
            Err(problems) if from_form => {
                let given = values
                    .into_iter()
                    .filter_map(|(name, value)| Some((name, value.as_str()?.to_owned())))
                    .collect();
                return html::form_page(StatusCode::BAD_REQUEST, &given, &problems, now.date());
            }
            Err(problems) => return invalid(&problems),
        };
        let accepted = |export: &Export| {
            if from_form {
                see_other(&format!("exports/{}", export.export_id))
            } else {
                accepted(export)
            }
        };
        let export = Export {
            export_id: uuid::Uuid::new_v4().to_string(),
            app_id: asked.app_id.clone(),
            from: asked.from.to_string(),
            to: asked.to.to_string(),
            email: asked.email.clone(),
            status: Status::Queued,
            requested_at: platform::now_rfc3339(),
            started_at: None,
            finished_at: None,
            rows: None,
            error: None,
        };
        match self.ledger.create(&export, &asked.request_key()).await {
            // Queued again: if the request that created it died before queueing it, this is
            // what gets it run. The queue drops a copy sent within its deduplication window,
            // and the worker skips an export already over.
            Ok(Created::Existing(existing)) => {
                match self.queue.enqueue(&existing.export_id).await {
                    Ok(()) => accepted(&existing),
                    Err(err) => unavailable(&err, from_form),
                }
            }
            Ok(Created::New) => match self.queue.enqueue(&export.export_id).await {
                Ok(()) => accepted(&export),
                Err(err) => {
                    let reason = format!("could not be queued: {err}");
                    if let Err(err) = self
                        .ledger
                        .fail(&export.export_id, &reason, &platform::now_rfc3339())
                        .await
                    {
                        tracing::warn!(export_id = %export.export_id, error = %err, "could not mark the unqueued export failed");
                    }
                    unavailable(&err, from_form)
                }
            },
            Err(err) => unavailable(&err, from_form),
        }
    }

    async fn status(&self, id: &str, as_page: bool) -> Response<Body> {
        let unknown = || {
            const MESSAGE: &str = "No export has this id";
            if as_page {
                html::problem_page(StatusCode::NOT_FOUND, "Unknown export", MESSAGE)
            } else {
                json_error(StatusCode::NOT_FOUND, "unknown_export", MESSAGE, None)
            }
        };
        if !valid_export_id(id) {
            return unknown();
        }
        let export = match self.ledger.get(id).await {
            Ok(Some(export)) => export,
            Ok(None) => return unknown(),
            Err(err) => return unavailable(&err, as_page),
        };
        let download = if export.status == Status::Ready {
            match self.presigner.url(&export.key(), URL_VALID_FOR).await {
                Ok(url) => Some((url, platform::rfc3339_after_now(URL_VALID_FOR))),
                Err(err) => return unavailable(&err, as_page),
            }
        } else {
            None
        };
        if as_page {
            let download = download.as_ref().map(|(u, e)| (u.as_str(), e.as_str()));
            return html::status_page(&export, download);
        }
        let mut body = serde_json::to_value(&export).unwrap_or_default();
        if let Some((url, expires_at)) = download {
            body["url"] = Value::from(url);
            body["url_expires_at"] = Value::from(expires_at);
        }
        json_response(StatusCode::OK, &body)
    }
}

fn accepted(export: &Export) -> Response<Body> {
    let mut response = json_response(
        StatusCode::ACCEPTED,
        &json!({ "export_id": export.export_id, "status": export.status }),
    );
    if let Ok(location) = HeaderValue::from_str(&format!("/exports/{}", export.export_id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// The form at `/`, with the given values.
fn form(
    status: StatusCode,
    given: &BTreeMap<String, String>,
    now: OffsetDateTime,
) -> Response<Body> {
    html::form_page(status, given, &Problems::new(), now.date())
}

const FORM: &str = "application/x-www-form-urlencoded";

fn content_type(request: &Request) -> Option<String> {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// The named values of a JSON object body, or of the form's fields.
fn body_values(
    request: &Request,
    from_form: bool,
) -> Result<Vec<(String, Value)>, Box<Response<Body>>> {
    if !from_form
        && !matches!(
            content_type(request).as_deref(),
            None | Some("application/json")
        )
    {
        return Err(Box::new(json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the export request as a JSON object (Content-Type: application/json)",
            None,
        )));
    }
    let bytes: &[u8] = request.body().as_ref();
    let invalid_body =
        |message: &str| json_error(StatusCode::BAD_REQUEST, "invalid_body", message, None);
    if bytes.len() > BODY_LIMIT {
        return Err(Box::new(json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            &format!("An export request is at most {BODY_LIMIT} bytes"),
            None,
        )));
    }
    if from_form {
        return Ok(form_urlencoded::parse(bytes)
            .map(|(name, value)| (name.into_owned(), Value::from(value.into_owned())))
            .collect());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object.into_iter().collect()),
        Ok(_) => Err(Box::new(invalid_body("The body must be a JSON object"))),
        Err(err) => Err(Box::new(invalid_body(&format!(
            "The body is not JSON: {err}"
        )))),
    }
}
