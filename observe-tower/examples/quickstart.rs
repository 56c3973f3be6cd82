//! hyper + tower with metrics, JSON logs, Sentry, traces, an admin listener and graceful
//! shutdown. Copy it whole. `cargo run -p observe-tower --example quickstart`.

use http::{Request, Response};
use hyper::body::Incoming;
use observe_tower::console::{Admin, AdminConfig};
use observe_tower::{Observe, ObserveLayer, Shutdown, server::Server};
use tower::{ServiceBuilder, service_fn};

async fn user(request: Request<Incoming>) -> Result<Response<String>, http::Error> {
    let Some(id) = request.uri().path().strip_prefix("/users/") else {
        return Response::builder().status(404).body(String::new());
    };
    tracing::info!(user.id = id, "user looked up"); // a JSON line, with the request's ids
    Ok(Response::new(format!("user {id}")))
}

fn route(request: &Request<Incoming>) -> Option<&str> {
    let users = request.uri().path().starts_with("/users/");
    users.then_some("/users/{id}")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let observe = Observe::builder().service_name("shop").build()?; // or OTEL_SERVICE_NAME
    let traces = observe.tracing().init(); // OTEL_EXPORTER_OTLP_ENDPOINT; before logging
    let logs = observe.logging().init(); // RUST_LOG; OBSERVE_LOG_FORMAT=text for a terminal
    let errors = observe.errors().init(); // SENTRY_DSN; unset: off
    let served = tokio::runtime::Runtime::new()?.block_on(serve(observe)); // gone before flush
    drop((errors, traces, logs)); // in this order: a failed send logs a line
    served
}

async fn serve(observe: Observe) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(config) = AdminConfig::from_env()? {
        // /metrics, /health/*, /observe on their own port and connection budget, never
        // stopped by the signal: probes and scrapes go on while the service drains.
        tokio::spawn(observe_tower::server::serve_admin(Admin::new(
            &observe, config,
        )?));
    }
    let layer = ObserveLayer::new(&observe).route_fn(route); // templates, never raw paths
    let service = ServiceBuilder::new().layer(layer).service(service_fn(user));
    let shutdown = Shutdown::new(&observe).drain_timeout_from_env("SHUTDOWN_TIMEOUT")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    // Accept errors (out of descriptors) are retried; slow or idle clients are cut off
    // after 10 s (`header_timeout`); at most 10,000 connections (`max_connections`).
    let server = Server::new().serve(listener, move |_peer| service.clone(), shutdown.signal());
    Ok(shutdown.drain(server).await?) // SIGTERM or Ctrl-C: readiness fails, requests get 25 s
}
