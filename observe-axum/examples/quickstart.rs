//! An axum service with metrics, JSON logs, error tracking, traces, an
//! admin listener and graceful shutdown. Copy this file whole:
//! `cargo run -p observe-axum --example quickstart`, then
//! `curl localhost:3000/users/7` and `curl localhost:9464/metrics`.

use axum::{Router, extract::Path, routing::get};
use observe_axum::console::{Admin, AdminConfig};
use observe_axum::server::{self, Server};
use observe_axum::{Observe, ObserveLayer, Shutdown};

async fn user(Path(id): Path<u64>) -> String {
    tracing::info!(user.id = id, "user looked up"); // a JSON line, with the request's ids
    format!("user {id}")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let observe = Observe::builder()
        .service_name("shop") // OTEL_SERVICE_NAME when the code names none
        .service_version(env!("CARGO_PKG_VERSION"))
        .build()?;
    // Tracing before logging: logging's subscriber carries the span layer.
    let traces = observe.tracing().init(); // OTEL_EXPORTER_OTLP_ENDPOINT; unset: ids only
    let logs = observe.logging().init(); // RUST_LOG; OBSERVE_LOG_FORMAT=text for a terminal
    let errors = observe.errors().init(); // SENTRY_DSN; unset: off
    // Our own runtime, so requests are gone before the guards flush.
    let runtime = tokio::runtime::Runtime::new()?;
    let served = runtime.block_on(serve(observe));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    drop((errors, traces, logs)); // in this order: a failed send logs a line
    served
}

async fn serve(observe: Observe) -> Result<(), Box<dyn std::error::Error>> {
    // /metrics, /health/*, the status page /observe and the log level on
    // their own port and connection budget, not the public one
    // (OBSERVE_ADMIN_ADDR; `off` for none). Not stopped by the signal:
    // probes and scrapes go on while the service drains.
    if let Some(config) = AdminConfig::from_env()? {
        tokio::spawn(server::serve_admin(Admin::new(&observe, config)?));
    }
    let app = Router::new()
        .route("/users/{id}", get(user))
        // Last, with `layer`: it then sees every route's template and the 404s.
        .layer(ObserveLayer::new(&observe));
    // SIGTERM or Ctrl-C: readiness fails, requests in flight get 25 s.
    let shutdown = Shutdown::new(&observe).drain_timeout_from_env("SHUTDOWN_TIMEOUT")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    // Unlike axum::serve: accept errors (out of descriptors) are retried, and
    // clients that send no complete request head in 10 s are cut off.
    let server = Server::new().serve(listener, move |_peer| app.clone(), shutdown.signal());
    Ok(shutdown.drain(server).await?)
}
