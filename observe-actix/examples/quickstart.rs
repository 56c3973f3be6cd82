//! An actix-web service with metrics, JSON logs, error tracking, traces,
//! an admin listener and graceful shutdown. Copy this file whole:
//! `cargo run -p observe-actix --example quickstart`, then
//! `curl localhost:3000/users/7` and `curl localhost:9464/metrics`.

use actix_web::{App, HttpServer, rt, web};
use observe_actix::console::{self, Admin, AdminConfig};
use observe_actix::{Observe, ObserveLayer, Shutdown};

async fn user(id: web::Path<u64>) -> String {
    tracing::info!(user.id = *id, "user looked up"); // a JSON line, with the request's ids
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
    // Our own System, so requests are gone before the guards flush.
    let served = rt::System::new().block_on(serve(observe));
    drop((errors, traces, logs)); // in this order: a failed send logs a line
    served
}

async fn serve(observe: Observe) -> Result<(), Box<dyn std::error::Error>> {
    // /metrics, /health/*, the status page /observe and the log level on
    // their own port, not the public one (OBSERVE_ADMIN_ADDR; `off` for none).
    // Its own server: 64 connections, 5 s to send a request head. Not stopped
    // by the signal: probes and scrapes go on while the service drains.
    if let Some(config) = AdminConfig::from_env()? {
        rt::spawn(observe_actix::serve_admin(&Admin::new(&observe, config)?)?);
    }
    let shutdown = Shutdown::new(&observe).drain_timeout_from_env("SHUTDOWN_TIMEOUT")?;
    let server = HttpServer::new(move || {
        App::new()
            .route("/users/{id}", web::get().to(user))
            // Registered last, so it is outermost: every route and the 404s.
            .wrap(ObserveLayer::new(&observe))
    })
    .h1_allow_half_closed(false) // a client that hung up cancels its request, as on hyper
    .workers(2) // one runtime each; as many as the cores the service is given
    .max_connections(console::public_connection_budget() / 2) // per worker: fds left for probes
    .disable_signals() // observe's Shutdown listens: readiness fails first
    .shutdown_timeout(shutdown.timeout().as_secs() + 1) // a backstop to the deadline below
    .bind("127.0.0.1:3000")?
    .run();
    let (handle, stopping, deadline) = (server.handle(), shutdown.clone(), shutdown.clone());
    rt::spawn(async move {
        stopping.signal().await; // SIGTERM or Ctrl-C
        handle.stop(true).await; // stop accepting, let requests in flight finish
    });
    rt::spawn(async move {
        deadline.deadline().await; // SHUTDOWN_TIMEOUT, default 25 s
        deadline.warn_abandoned();
        rt::System::current().stop();
    });
    Ok(server.await?)
}
