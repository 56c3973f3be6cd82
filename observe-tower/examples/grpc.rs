//! A tonic gRPC server (the standard health service) with metrics, JSON logs, Sentry, traces,
//! an admin listener and graceful shutdown. `cargo run -p observe-tower --example grpc`.

use observe_tower::console::{Admin, AdminConfig};
use observe_tower::{Observe, ObserveLayer, Shutdown, server::Server};
use tonic_health::ServingStatus;
use tower::ServiceBuilder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let observe = Observe::builder().service_name("shop-grpc").build()?; // or OTEL_SERVICE_NAME
    let traces = observe.tracing().init(); // OTEL_EXPORTER_OTLP_ENDPOINT; before logging
    let logs = observe.logging().init(); // RUST_LOG; OBSERVE_LOG_FORMAT=text for a terminal
    let errors = observe.errors().init(); // SENTRY_DSN; unset: off
    let served = tokio::runtime::Runtime::new()?.block_on(serve(observe)); // gone before flush
    drop((errors, traces, logs)); // in this order: a failed send logs a line
    served
}

async fn serve(observe: Observe) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(config) = AdminConfig::from_env()? {
        // /metrics, /health/*, /observe on their own port and connection budget.
        tokio::spawn(observe_tower::server::serve_admin(Admin::new(
            &observe, config,
        )?));
    }
    let (health, server) = tonic_health::server::health_reporter();
    // No route function: a gRPC call is named by its `/package.Service/Method`.
    let service = ServiceBuilder::new()
        .layer(ObserveLayer::new(&observe))
        .service(server);
    let shutdown = Shutdown::new(&observe).drain_timeout_from_env("SHUTDOWN_TIMEOUT")?;
    let stop = shutdown.signal();
    let stopping = async move {
        stop.await; // SIGTERM or Ctrl-C: gRPC clients see NOT_SERVING while calls finish
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
    };
    // HTTP/2 for gRPC, HTTP/1.1 for probes; accept errors are retried, slow clients cut off.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:50051").await?;
    let server = Server::new().serve(listener, move |_peer| service.clone(), stopping);
    Ok(shutdown.drain(server).await?)
}
