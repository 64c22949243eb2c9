//! The Lambda front end: an API Gateway HTTP API (or function URL) event into a [`LogRequest`],
//! the answer back out.

use bytes::Bytes;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::api::{LogRequest, LogsApi};
use crate::ports::LogPublisher;
use events::registry::SchemaRegistry;

/// Converts the Lambda event's request; the request id and client IP come from its context.
pub fn log_request(request: Request) -> LogRequest {
    let (client_ip, context_request_id) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            (context.http.source_ip.clone(), context.request_id.clone())
        }
        _ => (None, None),
    };
    let request_id = context_request_id
        .or_else(|| {
            request
                .lambda_context_ref()
                .map(|context| context.request_id.clone())
        })
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let (parts, body) = request.into_parts();
    let body = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    LogRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
        client_ip,
        request_id,
    }
}

/// The Lambda handler: one request in, one answer out; errors are answers, never `Err`.
pub async fn handle<P: LogPublisher, R: SchemaRegistry>(
    api: &LogsApi<P, R>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let response = api.handle(log_request(request)).await;
    let (parts, body) = response.into_parts();
    let body = match String::from_utf8(body) {
        Ok(text) => Body::Text(text),
        Err(binary) => Body::Binary(binary.into_bytes()),
    };
    Ok(Response::from_parts(parts, body))
}
