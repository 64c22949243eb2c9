//! Stable JSON bodies for HTTP answers: `{"error": "<code>", "message": "...", ...}`.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Map, Value};

/// A JSON response with the given status.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An error answer: a stable machine-readable `code`, a human `message`, and optional details
/// merged into the same object.
pub fn json_error(
    status: StatusCode,
    code: &str,
    message: &str,
    details: Option<Map<String, Value>>,
) -> Response<Body> {
    let mut body = Map::new();
    body.insert("error".into(), Value::from(code));
    body.insert("message".into(), Value::from(message));
    if let Some(details) = details {
        body.extend(details);
    }
    json_response(status, &Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_carries_code_message_and_details() {
        let mut details = Map::new();
        details.insert("fields".into(), serde_json::json!({"email": "bad"}));
        let response = json_error(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "no",
            Some(details),
        );

        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": "validation_failed", "message": "no", "fields": {"email": "bad"}})
        );
    }
}
