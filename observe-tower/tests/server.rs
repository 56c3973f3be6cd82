//! observe-tower's server on loopback: heads that never complete and idle
//! connections are closed, the connection cap holds further clients in the
//! backlog, and shutdown lets the request in progress finish.

#![cfg(feature = "server")]
// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use observe_tower::server::Server;
use tower::service_fn;

/// Told when a `/slow` request is in its handler.
static SLOW_STARTED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Answers `/slow` after 300 ms, anything else at once.
async fn answer(request: Request<Incoming>) -> Result<Response<String>, std::convert::Infallible> {
    if request.uri().path() == "/slow" {
        SLOW_STARTED.notify_one();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(Response::new(format!("hello {}", request.uri().path())))
}

/// Serves `server` on a loopback port until `stop` is sent; the address and
/// the task that ends when `serve` returns.
async fn spawn(
    server: Server,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        let _ = server
            .serve(listener, |_| service_fn(answer), shutdown)
            .await;
    });
    (addr, stop, task)
}

/// Reads until the server closes the connection (`Some`, with what it
/// sent) or `wait` passes (`None`).
fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
        // Reset by the server: closed too.
        Err(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_and_idle_connections_are_closed() {
    let (addr, _stop, _task) =
        spawn(Server::new().header_timeout(Duration::from_millis(200))).await;
    tokio::task::spawn_blocking(move || {
        // Sends nothing at all.
        let mut silent = TcpStream::connect(addr).unwrap();
        // Half a request head (slowloris).
        let mut half = TcpStream::connect(addr).unwrap();
        half.write_all(b"GET / HTTP/1.1\r\nhost: t\r\n").unwrap();
        // One request, then idle on keep-alive.
        let mut idle = TcpStream::connect(addr).unwrap();
        idle.write_all(b"GET /once HTTP/1.1\r\nhost: t\r\n\r\n")
            .unwrap();
        for (name, stream) in [("silent", &mut silent), ("half", &mut half)] {
            let closed = read_until_closed(stream, Duration::from_secs(20));
            assert!(closed.is_some(), "{name} connection left open");
        }
        let answer = read_until_closed(&mut idle, Duration::from_secs(20)).expect("idle closed");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("hello /once"), "{answer}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_holds_further_clients_until_one_closes() {
    let (addr, _stop, _task) = spawn(Server::new().max_connections(1)).await;
    tokio::task::spawn_blocking(move || {
        let mut first = TcpStream::connect(addr).unwrap();
        first
            .write_all(b"GET /first HTTP/1.1\r\nhost: t\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 512];
        let n = first.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).ends_with("hello /first"));
        // The kernel completes the second connect; the server does not take
        // it while the first is open.
        let mut second = TcpStream::connect(addr).unwrap();
        second
            .write_all(b"GET /second HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
            .unwrap();
        assert_eq!(
            read_until_closed(&mut second, Duration::from_millis(500)),
            None,
            "served past the cap"
        );
        drop(first);
        let answer = read_until_closed(&mut second, Duration::from_secs(20)).expect("served");
        assert!(answer.ends_with("hello /second"), "{answer}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_refuses_new_connections_and_finishes_the_request_in_progress() {
    let (addr, stop, task) = spawn(Server::new()).await;
    let in_progress = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nhost: t\r\n\r\n")
            .unwrap();
        read_until_closed(&mut stream, Duration::from_secs(20))
    });
    // The request is in its handler (300 ms) when shutdown begins.
    SLOW_STARTED.notified().await;
    stop.send(()).unwrap();
    let answer = in_progress.await.unwrap().expect("closed after its answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("hello /slow"), "{answer}");
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("serve returns once every connection closed")
        .unwrap();
    assert!(TcpStream::connect(addr).is_err(), "still accepting");
}
