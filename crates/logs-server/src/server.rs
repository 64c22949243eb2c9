//! The standalone front end: the same [`LogsApi`] over HTTP/1.1 with keep-alive, for a
//! container fleet or a plain host. The client IP is the peer's address.
//!
//! Bounded, so that slow or idle clients cannot take it down: a request's head must arrive
//! within [`Bounds::header_read`] (hyper only enforces that when given a timer), its body
//! within [`Bounds::body_read`] (else 408), at most [`Bounds::max_connections`] connections are
//! open (further ones wait in the listen backlog), and on shutdown connections finish their
//! request in progress and close, for at most [`Bounds::drain`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use events::registry::SchemaRegistry;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use logs_ingest::api::{LogRequest, LogsApi, error, payload_too_large};
use logs_ingest::ports::LogPublisher;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The server's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub header_read: Duration,
    pub body_read: Duration,
    pub max_connections: usize,
    pub drain: Duration,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            header_read: Duration::from_secs(5),
            body_read: Duration::from_secs(10),
            max_connections: 10_000,
            drain: Duration::from_secs(10),
        }
    }
}

/// Serves until `shutdown` resolves, then stops accepting, lets every open connection finish
/// the request it is serving, and returns once they closed or `bounds.drain` passed.
pub async fn serve<P, R, S>(
    listener: TcpListener,
    api: Arc<LogsApi<P, R>>,
    bounds: Bounds,
    shutdown: S,
) -> std::io::Result<()>
where
    P: LogPublisher + 'static,
    R: SchemaRegistry + 'static,
    S: std::future::Future<Output = ()>,
{
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(bounds.max_connections));
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: pause rather than spin or stop serving.
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let api = Arc::clone(&api);
        let service = service_fn(move |request| {
            let api = Arc::clone(&api);
            async move { Ok::<_, Infallible>(answer(&api, request, peer, bounds.body_read).await) }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(bounds.header_read)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(bounds.drain) => {
            tracing::warn!("connections still open after the drain deadline");
        }
    }
    Ok(())
}

async fn answer<P: LogPublisher, R: SchemaRegistry>(
    api: &LogsApi<P, R>,
    request: Request<Incoming>,
    peer: SocketAddr,
    body_read: Duration,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    // Read at most one byte over the limit: enough to know the body is too large.
    let limit = api.limits.max_body_bytes + 1;
    let body = match tokio::time::timeout(body_read, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(err))
            if err
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return full(payload_too_large(api.limits.max_body_bytes));
        }
        Ok(Err(_)) => {
            return full(error(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "The body could not be read",
            ));
        }
        Err(_) => {
            let mut response = full(error(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "The body did not arrive in time",
            ));
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
    };
    let log_request = LogRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
        client_ip: Some(peer.ip().to_string()),
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    full(api.handle(log_request).await)
}

fn full(response: Response<Vec<u8>>) -> Response<Full<Bytes>> {
    response.map(|body| Full::new(Bytes::from(body)))
}
