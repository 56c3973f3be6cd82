//! An axum service observed by observe: `cargo run -p observe-examples --bin axum-service`.
//!
//! Listens on `LISTEN_ADDR` (default 127.0.0.1:3000), and on
//! `OBSERVE_ADMIN_ADDR` (default 127.0.0.1:9464) for `/metrics`, the health
//! probes, the status page `/observe` and the runtime log level. With
//! `OBSERVE_ADMIN_ADDR=off`, `/metrics` is served on the public port.

use observe_core::Observe;
use observe_examples::shop::{CheckoutV2, Shop};
use observe_examples::{axum_app, listen_addr};

fn main() -> std::process::ExitCode {
    // `rules`, `dashboard`, `judge`, `analysis`, `slos`: what Prometheus,
    // Grafana and a deploy pipeline need, from the same SLOs (observe-cli);
    // judge's exit code gates a pipeline (0 continue, 1 roll back, 3 wait).
    if std::env::args_os().len() > 1 {
        return observe_cli::run(&observe_examples::slos());
    }
    // A bad setting stops the service with its message, not a Debug dump.
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("axum-service: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let observe = Observe::builder()
        .service_name("shop")
        .service_version(env!("CARGO_PKG_VERSION"))
        // build() reads OTEL_RESOURCE_ATTRIBUTES, which wins (service.version=1.5.0,
        // deployment.track=canary): a deploy tool labels a canary without
        // a rebuild; the judge tells the two apart through target_info.
        // OBSERVE_NATIVE_HISTOGRAMS=1: latency as a native histogram too,
        // for a Prometheus that scrapes protobuf (text scrapers see no
        // change); a bad value stops start-up with its message.
        // Set by build.rs from `git rev-parse`; OBSERVE_GIT_COMMIT at run
        // time wins when the build had no git checkout.
        .git_commit(option_env!("OBSERVE_BUILD_GIT_COMMIT").unwrap_or_default())
        // Probes and scrapes would dilute the real traffic's latency.
        .exclude_route("/health")
        .exclude_route("/metrics")
        .build()?;
    // SIGTERM (every deploy) or Ctrl-C: stop accepting, give requests in
    // flight SHUTDOWN_TIMEOUT seconds (default 25) to finish. Read first, so
    // a bad value stops start-up.
    let shutdown = observe_core::shutdown::Shutdown::new(&observe)
        .drain_timeout_from_env("SHUTDOWN_TIMEOUT")?;
    // JSON lines on stdout (OBSERVE_LOG_FORMAT=text for a terminal).
    // Spans to OTEL_EXPORTER_OTLP_ENDPOINT when set; trace ids in logs
    // either way. Before logging: logging installs the subscriber.
    let traces = observe.tracing().try_init()?;
    let logs = observe.logging().try_init()?;
    // Panics, 5xx and ERROR lines go to Sentry when SENTRY_DSN is set.
    let errors = observe.errors().try_init()?;
    // With OTEL_METRICS_EXPORTER=otlp, what /metrics serves is also pushed
    // to the OTLP endpoint every OTEL_METRIC_EXPORT_INTERVAL (and
    // OTEL_LOGS_EXPORTER=otlp sends the log lines there).
    let metrics = observe.metrics_export().try_init()?;
    // With OBSERVE_CLICKHOUSE_URL, one row per request event in ClickHouse.
    let rows = observe.clickhouse().try_init()?;

    // The runtime is ours rather than `#[tokio::main]`'s so it can be shut
    // down before the guards below flush.
    let runtime = tokio::runtime::Runtime::new()?;
    let served = runtime.block_on(serve(observe, shutdown));
    // Requests abandoned at the drain timeout are still tasks: dropping
    // them records each as cancelled, while logging still runs.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    // Flush in this order: a failed Sentry or OTLP send logs a line, so
    // logging goes last.
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
    // Demo knobs that make a bad canary (SHOP_FAULT_RATE, SHOP_DB_DELAY_MS).
    shop.inject(observe_examples::shop::Faults::from_env()?);
    // GET /relay/{id} asks another instance: a trace across two processes.
    if let Ok(upstream) = std::env::var("SHOP_UPSTREAM") {
        shop.set_upstream(&observe, &upstream)?;
    }

    // /metrics, /health/live, /health/ready, the status page at /observe
    // and the runtime log level, on their own listener (OBSERVE_ADMIN_ADDR,
    // default 127.0.0.1:9464); with it off, /metrics on the public port.
    let app = match observe_examples::admin(&observe, &shop)? {
        Some(admin) => {
            let listener = observe_examples::bind_admin(&admin).await?;
            // observe's admin server (its own connection budget and head
            // timeout). No shutdown signal: probes (503 while draining) and
            // scrapes go on while the service drains, until the runtime stops.
            tokio::spawn(observe_axum::server::serve_admin_on(listener, admin));
            axum_app::app_without_metrics(&observe, shop)
        }
        None => axum_app::app(&observe, shop),
    };

    let listener = tokio::net::TcpListener::bind(listen_addr()).await?;
    tracing::info!(server.address = %listener.local_addr()?, "listening");
    // observe's server rather than axum::serve: accept errors are retried,
    // and heads that do not arrive in 10 s and idle connections are closed.
    let server = observe_axum::server::Server::new().serve(
        listener,
        move |_peer| app.clone(),
        shutdown.signal(),
    );
    // Until every request finished, or the drain timeout passed (a WARN
    // line says how many were abandoned; still a clean exit: the stop was
    // asked for, and the orchestrator would SIGKILL us soon anyway).
    shutdown.drain(server).await?;
    Ok(())
}
