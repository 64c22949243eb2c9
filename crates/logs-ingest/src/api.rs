//! The bridge's HTTP contract, independent of how requests arrive (Lambda or the server).
//!
//! `POST /api/v1/logs/{path}` with an `AppKey` header and a JSON object (one entry) or array
//! (a batch), optionally gzip-compressed:
//! - 200 `{"msg": "Logs posted Successfully"}` once the brokers acknowledged every entry;
//! - 207 when some entries of a batch were invalid, or the brokers took only some: `results`
//!   says per entry what became of it (`accepted`, `rejected` with the fields, `not_posted`, or
//!   `unknown` with the `entry_id` it would land under);
//! - 403 `{"errors": {"error_description": …, "error_type": …}}` for a missing, invalid or
//!   expired key (the body existing apps parse);
//! - 400/404/405/413/415 with `{"error": code, "message": …}`; 503 with `Retry-After` when the
//!   brokers acknowledged none of the entries.
//!
//! Every envelope carries an `entry_id`: the `Idempotency-Key` (else the request id) and a
//! digest of the stream and the entry. An app that sends an entry again with the same key
//! repeats its id, whatever else the retry carries, so a consumer can drop an entry whose
//! outcome was unknown and that landed twice.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use serde_json::{Value, json};
use time::OffsetDateTime;

use events::registry::{GlueRegistry, SchemaRegistry};

use crate::auth::{AuthFailure, Authenticator};
use crate::callbacks::{self, Callbacks};
use crate::config::{Limits, Routes};
use crate::entry::{self, BodyError, EntryErrors, Submission};
use crate::ports::{Delivery, LogPublisher, PublishError};
use crate::record::{self, Arrival};

pub const ROUTE_PREFIX: &str = "/api/v1/logs/";
pub const SUCCESS_MESSAGE: &str = "Logs posted Successfully";
const RETRY_AFTER_SECONDS: &str = "1";

/// One HTTP request, as either front end received it.
#[derive(Debug, Clone)]
pub struct LogRequest {
    pub method: Method,
    pub path: String,
    /// The query string, undecoded, without the `?`.
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub client_ip: Option<String>,
    pub request_id: String,
}

/// The bridge, built once per process: the log routes, and the ad-network callbacks when
/// configured.
pub struct LogsApi<P, R = GlueRegistry> {
    pub publisher: P,
    pub auth: Authenticator,
    pub routes: Routes,
    pub limits: Limits,
    pub mask_mobile_number: bool,
    pub callbacks: Option<Callbacks<R>>,
}

impl<P: LogPublisher, R: SchemaRegistry> LogsApi<P, R> {
    pub async fn handle(&self, request: LogRequest) -> Response<Vec<u8>> {
        self.handle_at(request, OffsetDateTime::now_utc()).await
    }

    /// As [`LogsApi::handle`], with the arrival time given (tests pin it).
    pub async fn handle_at(&self, request: LogRequest, now: OffsetDateTime) -> Response<Vec<u8>> {
        if let Some(route) = request.path.strip_prefix(callbacks::ROUTE_PREFIX) {
            return match &self.callbacks {
                Some(callbacks) => {
                    callbacks
                        .handle(&self.publisher, route, &request, &self.limits, now)
                        .await
                }
                None => error(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    "This bridge takes no ad-network callbacks",
                ),
            };
        }
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

        let idempotency_key = match idempotency_key(&request.headers) {
            Ok(key) => key.unwrap_or(&request.request_id),
            Err(message) => {
                return error(StatusCode::BAD_REQUEST, "invalid_idempotency_key", message);
            }
        };
        let arrival = Arrival {
            received_at: logs::envelope::timestamp(now),
            path: stream,
            request_id: &request.request_id,
            client_ip: request.client_ip.as_deref(),
        };
        let (values, single) = match &submission {
            Submission::Single(value) => (std::slice::from_ref(value), true),
            Submission::Batch(values) => (values.as_slice(), false),
        };
        let mut ids = record::EntryIds::new(idempotency_key, stream);
        let mut entries = Vec::with_capacity(values.len());
        let mut records = Vec::with_capacity(values.len());
        for value in values {
            let fields = match entry::check(value, &self.limits) {
                Ok(fields) => fields,
                Err(errors) => {
                    entries.push(Entry::Rejected(errors));
                    continue;
                }
            };
            let wrapped = ids.next(fields).and_then(|id| {
                record::wrap(fields, &arrival, &id, self.mask_mobile_number).map(|out| (id, out))
            });
            match wrapped {
                Ok((id, out)) => {
                    entries.push(Entry::Valid(id, None));
                    records.push(out);
                }
                Err(err) => {
                    tracing::error!(error = %err, "an entry could not be wrapped");
                    return error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal_error",
                        "The entries could not be prepared; nothing was posted",
                    );
                }
            }
        }
        if records.is_empty() {
            return match entries.pop() {
                Some(Entry::Rejected(errors)) if single => error_with(
                    StatusCode::BAD_REQUEST,
                    "invalid_entry",
                    "The entry is invalid; nothing was posted",
                    "fields",
                    json!(errors),
                ),
                last => {
                    entries.extend(last);
                    error_with(
                        StatusCode::BAD_REQUEST,
                        "invalid_entries",
                        "Every entry is invalid; nothing was posted",
                        "results",
                        results(&entries),
                    )
                }
            };
        }
        let deliveries = self.publisher.publish(topic, records).await;
        let mut deliveries = deliveries.into_iter();
        for entry in &mut entries {
            if let Entry::Valid(_, delivery) = entry {
                // A publisher that answers fewer outcomes than records is treated as not knowing.
                *delivery = Some(deliveries.next().unwrap_or_else(|| {
                    Delivery::Unknown(PublishError::Unavailable("no outcome".into()))
                }));
            }
        }
        answer(&entries, single, topic)
    }
}

/// One entry of a request, and what became of it.
#[derive(Debug)]
enum Entry {
    Rejected(EntryErrors),
    /// Valid, with the id it is produced under and, once published, its delivery.
    Valid(String, Option<Delivery>),
}

impl Entry {
    fn delivery(&self) -> Option<&Delivery> {
        match self {
            Entry::Valid(_, delivery) => delivery.as_ref(),
            Entry::Rejected(_) => None,
        }
    }
}

/// The answer once every valid entry has its outcome.
///
/// - every valid entry acknowledged: 200, or 207 naming the invalid ones;
/// - none acknowledged and none possibly landed: 503, nothing was posted;
/// - otherwise 207 (or 503 when none is known to have landed), each entry's status given:
///   `not_posted` entries are safe to send again, `unknown` ones may have landed; each valid
///   entry carries its `entry_id`, which the same entry sent again with the same
///   `Idempotency-Key` keeps.
fn answer(entries: &[Entry], single: bool, topic: &str) -> Response<Vec<u8>> {
    let count = |f: fn(&Delivery) -> bool| {
        entries
            .iter()
            .filter_map(Entry::delivery)
            .filter(|d| f(d))
            .count()
    };
    let valid = entries
        .iter()
        .filter(|e| matches!(e, Entry::Valid(..)))
        .count();
    let rejected = entries.len() - valid;
    let accepted = count(|d| matches!(d, Delivery::Acknowledged));
    let unknown = count(|d| matches!(d, Delivery::Unknown(_)));
    if accepted == valid {
        return if rejected == 0 {
            json_response(StatusCode::OK, &json!({ "msg": SUCCESS_MESSAGE }))
        } else {
            json_response(
                StatusCode::MULTI_STATUS,
                &json!({
                    "msg": "Some logs were posted; the others are invalid",
                    "accepted": accepted,
                    "rejected": rejected,
                    "results": results(entries),
                }),
            )
        };
    }
    let first_failure = entries
        .iter()
        .filter_map(Entry::delivery)
        .find_map(|d| match d {
            Delivery::NotSent(err) | Delivery::Unknown(err) => Some(err),
            Delivery::Acknowledged => None,
        });
    tracing::warn!(
        topic,
        entries = valid,
        accepted,
        unknown,
        error = %first_failure.map(ToString::to_string).unwrap_or_default(),
        "publish failed in part or whole"
    );
    let response = if accepted == 0 && unknown == 0 {
        let (code, message) = match first_failure {
            Some(PublishError::Backpressure) => (
                "overloaded",
                "Too many logs are in flight; nothing was posted, retry shortly",
            ),
            _ => (
                "broker_unavailable",
                "The log brokers cannot be reached; nothing was posted, retry shortly",
            ),
        };
        if single {
            error(StatusCode::SERVICE_UNAVAILABLE, code, message)
        } else {
            error_with(
                StatusCode::SERVICE_UNAVAILABLE,
                code,
                message,
                "results",
                results(entries),
            )
        }
    } else if accepted == 0 {
        error_with(
            StatusCode::SERVICE_UNAVAILABLE,
            "broker_unavailable",
            "The log brokers did not acknowledge in time; the entries may still land. Send them \
             again with the same Idempotency-Key: a copy that lands twice keeps its entry_id",
            "results",
            results(entries),
        )
    } else {
        json_response(
            StatusCode::MULTI_STATUS,
            &json!({
                "msg": "Some logs were posted; send the entries not_posted or unknown again, \
                        with the same Idempotency-Key",
                "accepted": accepted,
                "rejected": rejected,
                "results": results(entries),
            }),
        )
    };
    retry_later(response)
}

/// The answer with `Retry-After`: for a 503 the client may send again shortly.
pub(crate) fn retry_later(mut response: Response<Vec<u8>>) -> Response<Vec<u8>> {
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECONDS),
    );
    response
}

fn results(entries: &[Entry]) -> Value {
    Value::Array(
        entries
            .iter()
            .enumerate()
            .map(|(index, entry)| match entry {
                Entry::Rejected(fields) => {
                    json!({"index": index, "status": "rejected", "fields": fields})
                }
                Entry::Valid(id, delivery) => {
                    let status = match delivery {
                        Some(Delivery::Acknowledged) => "accepted",
                        Some(Delivery::NotSent(_)) => "not_posted",
                        Some(Delivery::Unknown(_)) | None => "unknown",
                    };
                    json!({"index": index, "status": status, "entry_id": id})
                }
            })
            .collect(),
    )
}

/// The client's `Idempotency-Key`: 1 to 128 visible ASCII characters, or none.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, &'static str> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if (1..=128).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(key))
        }
        _ => Err("Idempotency-Key must be 1 to 128 visible ASCII characters"),
    }
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

/// The contract's error answer, `{"error": code, "message": …}`, for either front end.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response<Vec<u8>> {
    json_response(status, &json!({"error": code, "message": message}))
}

/// An error answer with one more member naming the details (`fields`, `results`).
pub(crate) fn error_with(
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

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response<Vec<u8>> {
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
