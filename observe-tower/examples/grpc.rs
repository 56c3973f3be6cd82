//! A tonic gRPC server (the standard health service) with metrics, JSON logs, Sentry, traces,
//! an admin listener and graceful shutdown. `cargo run -p observe-tower --example grpc`.

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::{conn::auto, graceful::GracefulShutdown};
use hyper_util::service::TowerToHyperService;
use observe_tower::console::{Admin, AdminConfig};
use observe_tower::{Observe, ObserveLayer, Shutdown};
use std::{future::Future, net::SocketAddr, time::Duration};
use tonic_health::ServingStatus;
use tower::{Service, ServiceBuilder};

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
        let admin = Admin::new(&observe, config)?; // /metrics, /health/*, /observe: own port
        let listener = tokio::net::TcpListener::bind(admin.addr()).await?;
        let endpoints = move |peer| observe_tower::admin_endpoints(&admin).peer(peer);
        tokio::spawn(accept(listener, endpoints, std::future::pending()));
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:50051").await?;
    let server = accept(listener, move |_| service.clone(), stopping);
    Ok(shutdown.drain(server).await?)
}

async fn accept<S, B>(
    listener: tokio::net::TcpListener,
    service_for: impl Fn(SocketAddr) -> S,
    stop: impl Future<Output = ()>,
) -> Result<(), std::convert::Infallible>
where
    S: Service<Request<Incoming>, Response = Response<B>, Error: std::error::Error + Send + Sync>,
    S: Clone + Send + 'static,
    S::Future: Send,
    B: http_body::Body<Data: Send, Error: std::error::Error + Send + Sync> + Send + 'static,
{
    let (connections, mut stop) = (GracefulShutdown::new(), std::pin::pin!(stop));
    let mut http = auto::Builder::new(TokioExecutor::new()); // HTTP/2 for gRPC, 1.1 for probes
    http.http1().timer(TokioTimer::new()); // then hyper closes connections whose headers take 30 s
    loop {
        let accepted = tokio::select! { () = &mut stop => break, a = listener.accept() => a };
        let Ok((stream, peer)) = accepted.inspect_err(|e| tracing::warn!(%e, "accept")) else {
            // E.g. out of file descriptors: back off, never give up.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let service = TowerToHyperService::new(service_for(peer));
        let connection = http
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        tokio::spawn(connections.watch(connection));
    }
    drop(listener); // refuse new connections at once
    connections.shutdown().await; // idle ones close now, busy ones after their calls
    Ok(())
}
