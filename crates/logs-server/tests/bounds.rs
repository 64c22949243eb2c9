//! The server's bounds over real loopback connections, with a broker fake that acknowledges
//! after a pause: idle and slow clients do not stop others being served, and a shutdown lets a
//! request in progress finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use logs_ingest::api::LogsApi;
use logs_ingest::auth::Authenticator;
use logs_ingest::config::{Limits, Routes};
use logs_ingest::ports::{Delivery, LogPublisher};
use logs_ingest::record::OutRecord;
use logs_server::server::{Bounds, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

const KEY: &str = "bounds-key";

/// Acknowledges every record after `pause`, counting them.
struct SlowBroker {
    pause: Duration,
    acknowledged: AtomicUsize,
}

impl LogPublisher for SlowBroker {
    async fn publish(&self, _topic: &str, records: Vec<OutRecord>) -> Vec<Delivery> {
        tokio::time::sleep(self.pause).await;
        self.acknowledged.fetch_add(records.len(), Ordering::SeqCst);
        vec![Delivery::Acknowledged; records.len()]
    }
}

struct Server {
    address: String,
    api: Arc<LogsApi<SlowBroker>>,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(bounds: Bounds, pause: Duration) -> Server {
    let api = Arc::new(LogsApi {
        publisher: SlowBroker {
            pause,
            acknowledged: AtomicUsize::new(0),
        },
        auth: Authenticator::new(&[KEY.into()], None).unwrap(),
        routes: Routes::parse("app=mobile-logs").unwrap(),
        limits: Limits::default(),
        mask_mobile_number: true,
        callbacks: None,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(serve(listener, Arc::clone(&api), bounds, async {
        let _ = stopped.await;
    }));
    Server {
        address,
        api,
        stop: Some(stop),
        done,
    }
}

/// One POST on a fresh connection; the status code, or None when the server closed first.
async fn post(address: &str, body: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(address).await.ok()?;
    let request = format!(
        "POST /api/v1/logs/app HTTP/1.1\r\nHost: x\r\nAppKey: {KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.ok()?;
    read_status(&mut stream).await
}

async fn read_status(stream: &mut TcpStream) -> Option<u16> {
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1)?.parse().ok()
}

#[tokio::test]
async fn a_thousand_idle_connections_and_a_slow_header_do_not_stop_normal_requests() {
    let server = start(
        Bounds {
            header_read: Duration::from_millis(300),
            ..Bounds::default()
        },
        Duration::ZERO,
    )
    .await;
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(TcpStream::connect(&server.address).await.unwrap());
    }
    let mut slow = TcpStream::connect(&server.address).await.unwrap();
    slow.write_all(b"POST /api/v1/logs/app HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();

    let statuses = futures_of_posts(&server.address, 20).await;

    assert_eq!(statuses, vec![Some(200); 20]);
    // The head never finished: the server gives up on it instead of holding the connection.
    let closed = tokio::time::timeout(Duration::from_secs(5), read_status(&mut slow)).await;
    assert!(closed.is_ok(), "the slow-header connection is closed");
    assert_eq!(server.api.publisher.acknowledged.load(Ordering::SeqCst), 20);
    drop(idle);
}

async fn futures_of_posts(address: &str, count: usize) -> Vec<Option<u16>> {
    let mut tasks = Vec::new();
    for n in 0..count {
        let address = address.to_owned();
        tasks.push(tokio::spawn(async move {
            post(&address, &format!(r#"{{"desc":"entry {n}"}}"#)).await
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_a_408_and_nothing_is_posted() {
    let server = start(
        Bounds {
            body_read: Duration::from_millis(200),
            ..Bounds::default()
        },
        Duration::ZERO,
    )
    .await;
    let mut stream = TcpStream::connect(&server.address).await.unwrap();
    stream
        .write_all(
            format!("POST /api/v1/logs/app HTTP/1.1\r\nHost: x\r\nAppKey: {KEY}\r\nContent-Length: 100\r\n\r\n{{\"desc\"")
                .as_bytes(),
        )
        .await
        .unwrap();

    let status = tokio::time::timeout(Duration::from_secs(5), read_status(&mut stream))
        .await
        .expect("an answer");

    assert_eq!(status, Some(408));
    assert_eq!(server.api.publisher.acknowledged.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_shutdown_lets_requests_in_progress_finish_and_then_returns() {
    let mut server = start(Bounds::default(), Duration::from_millis(500)).await;
    let in_progress = {
        let address = server.address.clone();
        tokio::spawn(async move { post(&address, r#"{"desc":"in flight"}"#).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;

    server.stop.take().unwrap().send(()).unwrap();

    assert_eq!(in_progress.await.unwrap(), Some(200));
    tokio::time::timeout(Duration::from_secs(5), &mut server.done)
        .await
        .expect("serve returns once the connection closed")
        .unwrap()
        .unwrap();
    assert_eq!(server.api.publisher.acknowledged.load(Ordering::SeqCst), 1);
    assert!(
        TcpStream::connect(&server.address).await.is_err(),
        "no longer accepting"
    );
}

/// Writes one keep-alive POST and reads its answer, leaving the connection open.
async fn post_keep_alive(stream: &mut TcpStream, body: &str) -> u16 {
    let request = format!(
        "POST /api/v1/logs/app HTTP/1.1\r\nHost: x\r\nAppKey: {KEY}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    head.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn past_the_connection_limit_a_client_waits_until_a_connection_closes() {
    let server = start(
        Bounds {
            max_connections: 2,
            ..Bounds::default()
        },
        Duration::ZERO,
    )
    .await;
    let mut first = TcpStream::connect(&server.address).await.unwrap();
    let mut second = TcpStream::connect(&server.address).await.unwrap();
    assert_eq!(post_keep_alive(&mut first, "{}").await, 200);
    assert_eq!(post_keep_alive(&mut second, "{}").await, 200);

    let third = {
        let address = server.address.clone();
        tokio::spawn(async move { post(&address, r#"{"desc":"third"}"#).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !third.is_finished(),
        "two connections are open: the third waits"
    );
    drop(first);

    let status = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("served once a connection closed")
        .unwrap();
    assert_eq!(status, Some(200));
    drop(second);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_does_not_hold_up_a_shutdown() {
    let mut server = start(
        Bounds {
            drain: Duration::from_secs(60),
            ..Bounds::default()
        },
        Duration::ZERO,
    )
    .await;
    let mut idle = TcpStream::connect(&server.address).await.unwrap();
    assert_eq!(post_keep_alive(&mut idle, "{}").await, 200);

    server.stop.take().unwrap().send(()).unwrap();

    tokio::time::timeout(Duration::from_secs(5), &mut server.done)
        .await
        .expect("serve returns without waiting for the drain deadline")
        .unwrap()
        .unwrap();
    let mut rest = Vec::new();
    let read = idle.read_to_end(&mut rest).await.unwrap();
    assert_eq!(read, 0, "the server closed the idle connection");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let server = start(
        Bounds {
            header_read: Duration::from_millis(300),
            ..Bounds::default()
        },
        Duration::ZERO,
    )
    .await;
    let mut idle = TcpStream::connect(&server.address).await.unwrap();
    assert_eq!(post_keep_alive(&mut idle, "{}").await, 200);

    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut rest)).await;

    assert!(matches!(closed, Ok(Ok(0))), "{closed:?}");
}
