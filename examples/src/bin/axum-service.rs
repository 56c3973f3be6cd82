//! An axum service observed by observe: `cargo run -p observe-examples --bin axum-service`.
//!
//! Listens on `LISTEN_ADDR` (default 127.0.0.1:3000) with `/metrics` on the
//! same port. With `OBSERVE_METRICS_ADDR` set (e.g. 127.0.0.1:9464),
//! `/metrics` moves to that listener instead, so it need not be public.

use observe_core::Observe;
use observe_examples::shop::{CheckoutV2, Shop};
use observe_examples::{axum_app, listen_addr};

fn main() -> std::process::ExitCode {
    // `rules` and `dashboard` print what Prometheus and Grafana need, only.
    // A bad setting stops the service with its message, not a Debug dump.
    match observe_examples::print_artifacts().unwrap_or_else(run) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("axum-service: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let observe = Observe::builder()
        .service_name("shop")
        .service_version(env!("CARGO_PKG_VERSION"))
        // Set by build.rs from `git rev-parse`; OBSERVE_GIT_COMMIT at run
        // time wins when the build had no git checkout.
        .git_commit(option_env!("OBSERVE_BUILD_GIT_COMMIT").unwrap_or_default())
        // Probes and scrapes would dilute the real traffic's latency.
        .exclude_route("/health")
        .exclude_route("/metrics")
        .build()?;
    // JSON lines on stdout (OBSERVE_LOG_FORMAT=text for a terminal); the
    // guard flushes what is queued when main returns.
    // Spans to OTEL_EXPORTER_OTLP_ENDPOINT when set; trace ids in logs
    // either way. Before logging: logging installs the subscriber.
    let _traces = observe.tracing().init()?;
    let _logs = observe.logging().init()?;
    // Panics, 5xx and ERROR lines go to Sentry when SENTRY_DSN is set.
    let _errors = observe.errors().init()?;
    let shop = Shop::new(&observe, CheckoutV2::from_env()?)?;
    // GET /relay/{id} asks another instance: a trace across two processes.
    if let Ok(upstream) = std::env::var("SHOP_UPSTREAM") {
        shop.set_upstream(&observe, &upstream)?;
    }

    let app = match std::env::var("OBSERVE_METRICS_ADDR") {
        Ok(metrics_addr) => {
            let listener = tokio::net::TcpListener::bind(&metrics_addr).await?;
            tracing::info!(address = %listener.local_addr()?, "serving /metrics");
            let metrics = observe_axum::metrics_router::<()>(&observe);
            tokio::spawn(async move { axum::serve(listener, metrics).await });
            axum_app::app_without_metrics(&observe, shop)
        }
        Err(_) => axum_app::app(&observe, shop),
    };

    let listener = tokio::net::TcpListener::bind(listen_addr()).await?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
