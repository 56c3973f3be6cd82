//! Graceful shutdown with a real axum server.

#![cfg(feature = "shutdown")]
// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use observe_axum::{Observe, ObserveLayer, Shutdown};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

fn observe() -> Observe {
    Observe::builder().service_name("shop").build().unwrap()
}

/// A real axum server: the request in flight at the signal is answered,
/// the listener is closed, and the count read at the deadline sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_is_answered_and_counted() {
    let observe = observe();
    let entered = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let app = {
        let (entered, release) = (Arc::clone(&entered), Arc::clone(&release));
        Router::new()
            .route(
                "/slow",
                get(move || async move {
                    entered.notify_one();
                    release.notified().await;
                    "done"
                }),
            )
            .layer(ObserveLayer::new(&observe))
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new(&observe);
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown.signal());
    let server = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { shutdown.drain(server).await }
    });

    let request = tokio::spawn(async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nhost: t\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    });
    entered.notified().await;
    assert_eq!(observe.requests_in_flight(), 1);
    shutdown.trigger();
    // Poll, with a deadline, until the listener is closed.
    let closed_by = Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            Instant::now() < closed_by,
            "still accepting after the signal"
        );
        tokio::task::yield_now().await;
    }
    release.notify_one();
    let response = request.await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    server.await.unwrap().unwrap();
    assert_eq!(observe.requests_in_flight(), 0);
}
