//! hyper + tower with metrics, JSON logs, Sentry, traces, an admin listener and graceful
//! shutdown. Copy it whole. `cargo run -p observe-tower --example quickstart`.

use http::{Request, Response};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::{server::graceful::GracefulShutdown, service::TowerToHyperService};
use observe_tower::console::{Admin, AdminConfig};
use observe_tower::{Observe, ObserveLayer, Shutdown};
use std::{convert::Infallible, future::Future, net::SocketAddr, time::Duration};
use tower::{Service, ServiceBuilder, service_fn};

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
        let admin = Admin::new(&observe, config)?; // /metrics, /health/*, /observe: own port
        let listener = tokio::net::TcpListener::bind(admin.addr()).await?;
        let endpoints = move |peer| observe_tower::admin_endpoints(&admin).peer(peer);
        tokio::spawn(accept(listener, endpoints, std::future::pending()));
    }
    let layer = ObserveLayer::new(&observe).route_fn(route); // templates, never raw paths
    let service = ServiceBuilder::new().layer(layer).service(service_fn(user));
    let shutdown = Shutdown::new(&observe).drain_timeout_from_env("SHUTDOWN_TIMEOUT")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    let server = accept(listener, move |_| service.clone(), shutdown.signal());
    Ok(shutdown.drain(server).await?) // SIGTERM or Ctrl-C: readiness fails, requests get 25 s
}

async fn accept<S, B>(
    listener: tokio::net::TcpListener,
    service_for: impl Fn(SocketAddr) -> S,
    stop: impl Future<Output = ()>,
) -> Result<(), Infallible>
where
    S: Service<Request<Incoming>, Response = Response<B>, Error: std::error::Error + Send + Sync>,
    S: Clone + Send + 'static,
    S::Future: Send,
    B: http_body::Body<Data: Send, Error: std::error::Error + Send + Sync> + Send + 'static,
{
    let (connections, mut stop) = (GracefulShutdown::new(), std::pin::pin!(stop));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()); // then hyper closes connections whose headers take 30 s
    loop {
        let accepted = tokio::select! { () = &mut stop => break, a = listener.accept() => a };
        let Ok((stream, peer)) = accepted.inspect_err(|e| tracing::warn!(%e, "accept")) else {
            // E.g. out of file descriptors: back off, never give up.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let service = TowerToHyperService::new(service_for(peer));
        let connection = http.serve_connection(TokioIo::new(stream), service);
        tokio::spawn(connections.watch(connection));
    }
    drop(listener); // refuse new connections at once
    connections.shutdown().await; // idle ones close now, busy ones after their response
    Ok(())
}
