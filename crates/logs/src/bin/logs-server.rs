//! The log bridge as a standalone server: the Lambda function's handler behind HTTP/1.1,
//! configured by the same environment, plus `LOGS_LISTEN` (default 127.0.0.1:8080).

use std::sync::Arc;
use std::time::Duration;

use logs::bridge;

// A request allocates a few dozen small buffers, some freed on the producer's delivery thread;
// glibc's allocator took about a seventh of the server's time, part of it on contended arena
// locks. mimalloc's per-thread heaps cut the server's CPU per request by about a tenth.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    platform::init_tracing();
    let listen = std::env::var("LOGS_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let api = Arc::new(bridge::from_env(logs::config::Serving::Concurrent).await?);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("logs-server listening on http://{}", listener.local_addr()?);
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    logs::server::serve(listener, Arc::clone(&api), shutdown).await?;
    api.publisher.flush(Duration::from_secs(5));
    Ok(())
}
