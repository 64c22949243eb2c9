//! The log bridge as a standalone server: the Lambda function's handler behind HTTP/1.1,
//! configured by the same environment, plus `LOGS_LISTEN` (default 127.0.0.1:8080),
//! `LOGS_HEADER_TIMEOUT_SECONDS` (5) and `LOGS_MAX_CONNECTIONS` (10 000).

use std::sync::Arc;
use std::time::Duration;

use logs_ingest::bridge;
use logs_ingest::config::Serving;
use logs_server::server;

// A request allocates a few dozen small buffers, some freed on the producer's delivery thread;
// glibc's allocator took about a seventh of the server's time, part of it on contended arena
// locks. mimalloc's per-thread heaps cut the server's CPU per request by about a tenth.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    platform::init_tracing();
    let listen = std::env::var("LOGS_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let api = Arc::new(bridge::from_env(Serving::Concurrent).await?);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("logs-server listening on http://{}", listener.local_addr()?);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let shutdown = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    let defaults = server::Bounds::default();
    let bounds = server::Bounds {
        header_read: Duration::from_secs(platform::env_number(
            "LOGS_HEADER_TIMEOUT_SECONDS",
            defaults.header_read.as_secs(),
        )?),
        max_connections: usize::try_from(platform::env_number(
            "LOGS_MAX_CONNECTIONS",
            defaults.max_connections as u64,
        )?)?,
        ..defaults
    };
    server::serve(listener, Arc::clone(&api), bounds, shutdown).await?;
    // Every request answered has had its outcome; this only sends what a cut-off one queued.
    let flushing = Arc::clone(&api);
    tokio::task::spawn_blocking(move || flushing.publisher.flush(Duration::from_secs(5))).await?;
    Ok(())
}
