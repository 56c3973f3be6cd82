//! An actix-web service observed by observe: `cargo run -p observe-examples --bin actix-service`.
//!
//! Listens on `LISTEN_ADDR` (default 127.0.0.1:3000) with `/metrics` on the
//! same port. With `OBSERVE_METRICS_ADDR` set, `/metrics` moves to that
//! listener instead, so it need not be public.

use actix_web::{App, HttpServer};
use observe_core::Observe;
use observe_examples::shop::{CheckoutV2, Shop};
use observe_examples::{actix_app, listen_addr};

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
            eprintln!("actix-service: {error}");
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
    // a bad value stops start-up. (observe_axum's Shutdown needs only
    // tokio, which actix-web runs on, not axum.)
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

    // The system is ours rather than `#[actix_web::main]`'s so it is gone,
    // and every request with it, before the guards below flush.
    let served = actix_web::rt::System::new().block_on(serve(observe, shutdown));
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
    let admin = observe_examples::admin(&observe, &shop)?;
    let metrics_server = match &admin {
        Some(admin) => {
            let listener = std::net::TcpListener::bind(admin.addr())?;
            tracing::info!(
                server.address = %listener.local_addr()?,
                "{}",
                observe_examples::ADMIN_LISTENING
            );
            // observe's admin server: its own connection budget and head
            // timeout; stopped below, after the service drained.
            Some(observe_actix::serve_admin_on(listener, admin)?)
        }
        None => None,
    };

    let app_observe = observe.clone();
    let with_metrics = admin.is_none();
    let server = HttpServer::new(move || {
        let app = App::new().configure(actix_app::routes(shop.clone()));
        let app = app.configure(|cfg| {
            if with_metrics {
                cfg.service(observe_actix::metrics_endpoint(&app_observe));
            }
        });
        // Wrapped last, so it is the outermost middleware: it sees every
        // resource and the default service, and contains handler panics.
        app.wrap(observe_actix::ObserveLayer::new(&app_observe))
    })
    // Stop a request whose client hung up, as hyper does, instead of running
    // its handler to the end for nobody; observe records it as cancelled.
    .h1_allow_half_closed(false)
    // actix-web's default workers, each capped so a flood leaves
    // descriptors for the admin listener's probes.
    .max_connections(observe_core::console::public_connection_budget() / default_workers())
    // Our signals, not actix-web's: its SIGINT drops requests in flight,
    // and a server stopping on its own signal stops the whole System 300 ms
    // later, with the other server's requests.
    .disable_signals()
    // The deadline below stops the workers; actix-web's own drain timeout
    // (checked once a second) is a backstop, one second later.
    .shutdown_timeout(shutdown.timeout().as_secs().saturating_add(1))
    .bind(listen_addr())?;
    tracing::info!(server.address = %server.addrs()[0], "listening");
    let server = server.run();

    let app = server.handle();
    let metrics = metrics_server.as_ref().map(|server| server.handle());
    let stopping = shutdown.clone();
    actix_web::rt::spawn(async move {
        stopping.signal().await;
        // Graceful: stop accepting, let requests in flight finish.
        app.stop(true).await;
        // /metrics last, so scrapes go on while the service drains.
        if let Some(metrics) = metrics {
            metrics.stop(true).await;
        }
    });
    // At the drain timeout: say how many requests are abandoned, then stop
    // the workers' arbiters, which drops them (recorded as cancelled).
    let deadline = shutdown.clone();
    actix_web::rt::spawn(async move {
        deadline.deadline().await;
        deadline.warn_abandoned();
        actix_web::rt::System::current().stop();
    });

    match metrics_server {
        Some(metrics) => {
            let (app, metrics) = tokio::join!(server, metrics);
            app?;
            metrics?;
        }
        None => server.await?,
    }
    Ok(())
}

/// The number of workers actix-web starts by default: the available
/// parallelism (2 when unknown).
fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}
