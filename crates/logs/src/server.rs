//! The standalone front end: the same [`LogsApi`] over HTTP/1.1 with keep-alive, for a
//! container fleet or a plain host. The client IP is the peer's address.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::api::{LogRequest, LogsApi};
use crate::ports::LogPublisher;

/// Serves until `shutdown` resolves; connections in progress finish their current request.
pub async fn serve<P, S>(
    listener: TcpListener,
    api: Arc<LogsApi<P>>,
    shutdown: S,
) -> std::io::Result<()>
where
    P: LogPublisher + 'static,
    S: std::future::Future<Output = ()>,
{
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let api = Arc::clone(&api);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let api = Arc::clone(&api);
                async move { Ok::<_, Infallible>(answer(&api, request, peer).await) }
            });
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    }
}

async fn answer<P: LogPublisher>(
    api: &LogsApi<P>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    // Read at most one byte over the limit: enough to know the body is too large.
    let limit = api.limits.max_body_bytes + 1;
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err)
            if err
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return crate::api::payload_too_large(api.limits.max_body_bytes)
                .map(|body| Full::new(Bytes::from(body)));
        }
        Err(_) => {
            let mut response = Response::new(Full::new(Bytes::from_static(
                br#"{"error":"invalid_body","message":"The body could not be read"}"#,
            )));
            *response.status_mut() = StatusCode::BAD_REQUEST;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            return response;
        }
    };
    let log_request = LogRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body,
        client_ip: Some(peer.ip().to_string()),
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    api.handle(log_request)
        .await
        .map(|body| Full::new(Bytes::from(body)))
}
