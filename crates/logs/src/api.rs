//! The bridge's HTTP contract, independent of how requests arrive (Lambda or the server).
//!
//! `POST /api/v1/logs/{path}` with an `AppKey` header and a JSON object (one entry) or array
//! (a batch), optionally gzip-compressed:
//! - 200 `{"msg": "Logs posted Successfully"}` once the brokers acknowledged every entry;
//! - 207 when some entries of a batch were invalid: the valid ones are produced, `results` says
//!   which were accepted and why the others were not;
//! - 403 `{"errors": {"error_description": …, "error_type": …}}` for a missing, invalid or
//!   expired key (the body existing apps parse);
//! - 400/404/405/413/415 with `{"error": code, "message": …}`; 503 with `Retry-After` when the
//!   brokers do not acknowledge in time.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::auth::{AuthFailure, Authenticator};
use crate::config::{Limits, Routes};
use crate::entry::{self, BodyError, EntryErrors, Submission};
use crate::envelope::{self, Arrival, OutRecord};
use crate::ports::{LogPublisher, PublishError};

pub const ROUTE_PREFIX: &str = "/api/v1/logs/";
pub const SUCCESS_MESSAGE: &str = "Logs posted Successfully";
const RETRY_AFTER_SECONDS: &str = "1";

/// One HTTP request, as either front end received it.
#[derive(Debug, Clone)]
pub struct LogRequest {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub client_ip: Option<String>,
    pub request_id: String,
}

/// The bridge, built once per process.
pub struct LogsApi<P> {
    pub publisher: P,
    pub auth: Authenticator,
    pub routes: Routes,
    pub limits: Limits,
    pub mask_mobile_number: bool,
}

impl<P: LogPublisher> LogsApi<P> {
    pub async fn handle(&self, request: LogRequest) -> Response<Vec<u8>> {
        self.handle_at(request, OffsetDateTime::now_utc()).await
    }

    /// As [`LogsApi::handle`], with the arrival time given (tests pin it).
    pub async fn handle_at(&self, request: LogRequest, now: OffsetDateTime) -> Response<Vec<u8>> {
        let Some(stream) = request.path.strip_prefix(ROUTE_PREFIX) else {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                "Logs are posted to /api/v1/logs/{path}",
            );
        };
        if request.method != Method::POST {
            let mut response = error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Logs are posted with POST",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        if let Err(failure) = self
            .auth
            .check(request.headers.get("appkey").map(HeaderValue::as_bytes))
        {
            return forbidden(&failure);
        }
        let Some(topic) = self.routes.topic(stream) else {
            let known: Vec<&str> = self.routes.paths().collect();
            return error(
                StatusCode::NOT_FOUND,
                "unknown_stream",
                &format!(
                    "No log stream is named '{stream}'; known: {}",
                    known.join(", ")
                ),
            );
        };
        let encoding = request
            .headers
            .get(header::CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap_or("(not text)"));
        let submission = match entry::decode_body(&request.body, encoding, &self.limits)
            .and_then(|body| entry::parse(&body, &self.limits))
        {
            Ok(submission) => submission,
            Err(problem) => return body_error(&problem),
        };

        let arrival = Arrival {
            received_at: envelope::timestamp(now),
            path: stream,
            request_id: &request.request_id,
            client_ip: request.client_ip.as_deref(),
        };
        let wrap =
            |value: &Value| envelope::wrap(entry::fields(value), &arrival, self.mask_mobile_number);
        match submission {
            Submission::Single(value) => match entry::check(&value, &self.limits) {
                Err(errors) => error_with(
                    StatusCode::BAD_REQUEST,
                    "invalid_entry",
                    "The entry is invalid; nothing was posted",
                    "fields",
                    json!(errors),
                ),
                Ok(()) => self.publish(topic, vec![wrap(&value)], None).await,
            },
            Submission::Batch(values) => {
                let checks: Vec<Result<(), EntryErrors>> = values
                    .iter()
                    .map(|value| entry::check(value, &self.limits))
                    .collect();
                let records: Vec<OutRecord> = values
                    .iter()
                    .zip(&checks)
                    .filter(|(_, check)| check.is_ok())
                    .map(|(value, _)| wrap(value))
                    .collect();
                if records.is_empty() {
                    return error_with(
                        StatusCode::BAD_REQUEST,
                        "invalid_entries",
                        "Every entry is invalid; nothing was posted",
                        "results",
                        results(&checks),
                    );
                }
                let partial = checks.iter().any(Result::is_err).then_some(checks);
                self.publish(topic, records, partial).await
            }
        }
    }

    async fn publish(
        &self,
        topic: &str,
        records: Vec<OutRecord>,
        partial: Option<Vec<Result<(), EntryErrors>>>,
    ) -> Response<Vec<u8>> {
        let count = records.len();
        match self.publisher.publish(topic, records).await {
            Err(err) => {
                tracing::warn!(topic, entries = count, error = %err, "publish failed");
                let (code, message) = match err {
                    PublishError::Backpressure => (
                        "overloaded",
                        "Too many logs are in flight; nothing was posted, retry shortly",
                    ),
                    PublishError::Unavailable(_) => (
                        "broker_unavailable",
                        "The log brokers did not acknowledge; retry shortly",
                    ),
                };
                let mut response = error(StatusCode::SERVICE_UNAVAILABLE, code, message);
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECONDS),
                );
                response
            }
            Ok(()) => match partial {
                None => json_response(StatusCode::OK, &json!({ "msg": SUCCESS_MESSAGE })),
                Some(checks) => {
                    let rejected = checks.iter().filter(|c| c.is_err()).count();
                    json_response(
                        StatusCode::MULTI_STATUS,
                        &json!({
                            "msg": "Some logs were posted; the others are invalid",
                            "accepted": checks.len() - rejected,
                            "rejected": rejected,
                            "results": results(&checks),
                        }),
                    )
                }
            },
        }
    }
}

fn results(checks: &[Result<(), EntryErrors>]) -> Value {
    Value::Array(
        checks
            .iter()
            .enumerate()
            .map(|(index, check)| match check {
                Ok(()) => json!({"index": index, "status": "accepted"}),
                Err(fields) => json!({"index": index, "status": "rejected", "fields": fields}),
            })
            .collect(),
    )
}

/// The 413 for a body over the limit (front ends that stop reading early answer it directly).
pub fn payload_too_large(limit: usize) -> Response<Vec<u8>> {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        &format!("The body is over {limit} bytes (also checked after decompression)"),
    )
}

fn body_error(problem: &BodyError) -> Response<Vec<u8>> {
    match problem {
        BodyError::TooLarge { limit } => payload_too_large(*limit),
        BodyError::TooManyEntries { limit } => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_entries",
            &format!("A request carries at most {limit} entries"),
        ),
        BodyError::UnsupportedEncoding(encoding) => error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            &format!("Content-Encoding '{encoding}' is not supported; use gzip or none"),
        ),
        BodyError::BadCompression => error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "The body is not valid gzip although Content-Encoding says so",
        ),
        BodyError::Malformed(message) => error(StatusCode::BAD_REQUEST, "invalid_body", message),
        BodyError::Empty => error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "An array body must hold at least one entry",
        ),
    }
}

/// The contract's 403 body, spaced as existing apps have always received it.
fn forbidden(failure: &AuthFailure) -> Response<Vec<u8>> {
    let description = Value::from(failure.description()).to_string();
    let error_type = Value::from(failure.error_type()).to_string();
    let body = format!(
        r#"{{"errors":{{"error_description": {description}, "error_type": {error_type}}}}}"#
    );
    raw_json(StatusCode::FORBIDDEN, body.into_bytes())
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Vec<u8>> {
    json_response(status, &json!({"error": code, "message": message}))
}

/// An error answer with one more member naming the details (`fields`, `results`).
fn error_with(
    status: StatusCode,
    code: &str,
    message: &str,
    detail: &str,
    value: Value,
) -> Response<Vec<u8>> {
    let mut body = json!({"error": code, "message": message});
    body[detail] = value;
    json_response(status, &body)
}

fn json_response(status: StatusCode, body: &Value) -> Response<Vec<u8>> {
    raw_json(
        status,
        serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec()),
    )
}

fn raw_json(status: StatusCode, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
