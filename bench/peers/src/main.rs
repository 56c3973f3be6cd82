//! `peer-server <mode> <addr>`: bench-server's handler (bench/src/main.rs:
//! `GET /users/{id}` answering a short JSON object) behind one of the
//! crates observe is measured against, set up as their documentation
//! shows, so `bench/instructions.sh` and `bench/run.sh` measure them in the
//! same run as observe. Modes:
//!
//! - `axum-prometheus`: axum-prometheus' layer and its `/metrics`;
//! - `actix-web-prom`: actix-web-prom's middleware and its `/metrics`;
//! - `tracelayer-json`: tower-http's `TraceLayer` at INFO with
//!   tracing-subscriber's JSON lines on stdout, and the handler's own line
//!   (what observe's `logged` writes);
//! - `hand-rolled`: axum-prometheus, the `TraceLayer` JSON lines,
//!   sentry-tower's layers (Sentry set up, no error happening) and
//!   tracing-opentelemetry with an OTLP exporter and every trace sampled
//!   out: what observe's `full` does, assembled by hand;
//! - `otel-tower`: OpenTelemetry's contrib tower layer
//!   (opentelemetry-instrumentation-tower, metrics only) with the
//!   OpenTelemetry Prometheus exporter on `/metrics`.
//!
//! - `axum-bare`, `actix-bare`: the handler alone, in this binary: the peers
//!   turn on more of axum's features than bench-server has (feature
//!   unification), so their ratios are taken against these.
//!
//! `BENCH_WORKERS` (default 1) sets the worker threads, as for bench-server.

// bench-server's handler and worker count, the same file: observe and the
// peers serve the same code. The logged actix handler is bench-server's
// only.
#[allow(dead_code)]
#[path = "../../src/handler.rs"]
mod handler;

use axum::Router;
use axum::routing::get;
use handler::{actix_user, user, user_logged, workers};

fn usage() -> ! {
    eprintln!(
        "usage: peer-server axum-bare|actix-bare|axum-prometheus|actix-web-prom|tracelayer-json|hand-rolled|otel-tower ADDR"
    );
    std::process::exit(2)
}

/// tower-http's `TraceLayer` with its span and response event at INFO
/// (its defaults are DEBUG, which a production filter drops).
fn trace_layer() -> tower_http::trace::TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
> {
    use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
    TraceLayer::new_for_http()
        .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
}

/// Sentry's transport when nothing is sent.
struct Idle;

impl sentry::Transport for Idle {
    fn send_envelope(&self, _envelope: sentry::Envelope) {}
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let args: Vec<String> = std::env::args().collect();
    let [_, mode, addr] = args.as_slice() else {
        usage()
    };
    if mode == "actix-web-prom" || mode == "actix-bare" {
        return Ok(actix(addr, mode == "actix-web-prom")?);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers())
        .enable_all()
        .build()?;
    // axum-prometheus starts its upkeep task on the runtime.
    let _entered = runtime.enter();
    // Kept alive for the life of the server.
    let mut _guards: (Option<sentry::ClientInitGuard>, Option<_>) = (None, None);
    let app = match mode.as_str() {
        "axum-bare" => Router::new().route("/users/{id}", get(user)),
        "axum-prometheus" => {
            let (layer, handle) = axum_prometheus::PrometheusMetricLayer::pair();
            Router::new()
                .route("/users/{id}", get(user))
                .route("/metrics", get(move || async move { handle.render() }))
                .layer(layer)
        }
        "tracelayer-json" => {
            tracing_subscriber::registry()
                .with(tracing_subscriber::filter::LevelFilter::INFO)
                .with(tracing_subscriber::fmt::layer().json())
                .init();
            Router::new()
                .route("/users/{id}", get(user_logged))
                .layer(trace_layer())
        }
        "hand-rolled" => {
            use opentelemetry::trace::TracerProvider as _;
            use opentelemetry_otlp::WithExportConfig as _;
            // Port 9 (discard) is closed on loopback, as for bench-server.
            // No error happens: the transport is never used (observe's
            // `full` has its own transport thread, idle too).
            let mut options = sentry::ClientOptions::new().dsn("http://bench@127.0.0.1:9/1");
            options.transport = Some(std::sync::Arc::new(|_: &sentry::ClientOptions| {
                std::sync::Arc::new(Idle) as std::sync::Arc<dyn sentry::Transport>
            }));
            _guards.0 = Some(sentry::init(options));
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint("http://127.0.0.1:9/v1/traces")
                .build()?;
            let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff)
                .with_batch_exporter(exporter)
                .build();
            let tracer = provider.tracer("peer-server");
            _guards.1 = Some(provider);
            tracing_subscriber::registry()
                .with(tracing_subscriber::filter::LevelFilter::INFO)
                .with(tracing_subscriber::fmt::layer().json())
                .with(tracing_opentelemetry::layer().with_tracer(tracer))
                .init();
            let (layer, handle) = axum_prometheus::PrometheusMetricLayer::pair();
            Router::new()
                .route("/users/{id}", get(user_logged))
                .route("/metrics", get(move || async move { handle.render() }))
                .layer(layer)
                .layer(trace_layer())
                // The HTTP layer inside the hub layer, as sentry-tower says
                // (`Router::layer` wraps what came before): each request
                // gets its own hub, and the scope it configures is that
                // hub's, not the process's.
                .layer(sentry::integrations::tower::SentryHttpLayer::new())
                .layer(sentry::integrations::tower::NewSentryLayer::new_from_top())
        }
        "otel-tower" => {
            let registry = prometheus::Registry::new();
            let exporter = opentelemetry_prometheus::exporter()
                .with_registry(registry.clone())
                .build()?;
            let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
                .with_reader(exporter)
                .build();
            opentelemetry::global::set_meter_provider(provider);
            let layer = opentelemetry_instrumentation_tower::http::server::LayerBuilder::builder()
                .with_tracing(false)
                .build()?;
            let scrape = move || {
                let registry = registry.clone();
                async move {
                    use prometheus::Encoder as _;
                    let mut body = Vec::new();
                    let _ = prometheus::TextEncoder::new().encode(&registry.gather(), &mut body);
                    body
                }
            };
            Router::new()
                .route("/users/{id}", get(user))
                .route("/metrics", get(scrape))
                .layer(layer)
        }
        _ => usage(),
    };
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
        eprintln!("listening on http://{addr}");
        axum::serve(listener, app).await
    })?;
    Ok(())
}

fn actix(addr: &str, observed: bool) -> std::io::Result<()> {
    use actix_web::{App, HttpServer, web};
    actix_web::rt::System::new().block_on(async move {
        let prometheus = actix_web_prom::PrometheusMetricsBuilder::new("api")
            .endpoint("/metrics")
            .build()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        // Two factories, as bench-server has: no wrapper taxes the bare one.
        let server = if observed {
            HttpServer::new(move || {
                App::new()
                    .wrap(prometheus.clone())
                    .service(web::resource("/users/{id}").get(actix_user))
            })
            .workers(workers())
            .bind(addr)?
            .run()
        } else {
            HttpServer::new(|| App::new().service(web::resource("/users/{id}").get(actix_user)))
                .workers(workers())
                .bind(addr)?
                .run()
        };
        eprintln!("listening on http://{addr}");
        server.await
    })
}
