//! A gRPC service (tonic's generated server, hyper HTTP/2) observed by
//! observe's tower layer: `cargo run -p observe-examples --bin grpc-service`.
//!
//! Serves `shop.v1.Users` (examples/proto/shop.proto) on `LISTEN_ADDR`
//! (default 127.0.0.1:50051), and on `OBSERVE_ADMIN_ADDR` (default
//! 127.0.0.1:9464, `off` for none) `/metrics`, the health probes, the status
//! page and the runtime log level. Calls are recorded as
//! `rpc_server_duration_seconds{rpc_service,rpc_method,rpc_grpc_status_code}`.

use observe_core::Observe;
use observe_examples::grpc;
use observe_examples::shop::{CheckoutV2, Shop};

fn main() -> std::process::ExitCode {
    // `rules`, `judge`, `slos`, ...: observe-cli's commands on this
    // service's SLOs.
    if std::env::args_os().len() > 1 {
        return observe_cli::run(&observe_examples::grpc_slos());
    }
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("grpc-service: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let observe = Observe::builder()
        .service_name("shop-grpc")
        .service_version(env!("CARGO_PKG_VERSION"))
        .git_commit(option_env!("OBSERVE_BUILD_GIT_COMMIT").unwrap_or_default())
        .build()?;
    let shutdown = observe_core::shutdown::Shutdown::new(&observe)
        .drain_timeout_from_env("SHUTDOWN_TIMEOUT")?;
    let traces = observe.tracing().try_init()?;
    let logs = observe.logging().try_init()?;
    let errors = observe.errors().try_init()?;
    // With OTEL_METRICS_EXPORTER=otlp, what /metrics serves is also pushed
    // to the OTLP endpoint every OTEL_METRIC_EXPORT_INTERVAL (and
    // OTEL_LOGS_EXPORTER=otlp sends the log lines there).
    let metrics = observe.metrics_export().try_init()?;
    // With OBSERVE_CLICKHOUSE_URL, one row per request event in ClickHouse.
    let rows = observe.clickhouse().try_init()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let served = runtime.block_on(serve(observe, shutdown));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    // A failed Sentry or OTLP send logs a line, so logging goes last.
    drop(errors);
    drop(traces);
    // The last push and insert, while logging can still report a failure.
    drop(metrics);
    drop(rows);
    drop(logs);
    served
}

async fn serve(
    observe: Observe,
    shutdown: observe_core::shutdown::Shutdown,
) -> Result<(), Box<dyn std::error::Error>> {
    let shop = Shop::new(&observe, CheckoutV2::from_env()?)?;
    shop.inject(observe_examples::shop::Faults::from_env()?);
    if let Some(admin) =
        observe_examples::admin_serving(&observe, &shop, &observe_examples::grpc_slos())?
    {
        let listener = observe_examples::bind_admin(&admin).await?;
        tokio::spawn(observe_examples::tower_app::serve_admin(listener, admin));
    }
    let addr = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:50051".to_string());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(server.address = %listener.local_addr()?, "listening");
    let server = grpc::serve_until(listener, observe, shop, shutdown.signal());
    shutdown.drain(server).await?;
    Ok(())
}
