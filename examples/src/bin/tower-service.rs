//! A hyper 1 service with observe's tower layer and no router:
//! `cargo run -p observe-examples --bin tower-service`.
//!
//! Listens on `LISTEN_ADDR` (default 127.0.0.1:3000), `/metrics` included.

use observe_core::Observe;
use observe_examples::shop::{CheckoutV2, Shop};
use observe_examples::{listen_addr, tower_app};

fn main() -> std::process::ExitCode {
    // `rules` and `dashboard` print what Prometheus and Grafana need, only.
    // A bad setting stops the service with its message, not a Debug dump.
    match observe_examples::print_artifacts().unwrap_or_else(run) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tower-service: {error}");
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
    let listener = tokio::net::TcpListener::bind(listen_addr()).await?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    tokio::select! {
        served = tower_app::serve(listener, observe, shop) => served?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
