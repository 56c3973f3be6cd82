//! `bench-server <framework> <mode> <addr>`: one tiny JSON route served bare
//! or observed, everything else identical, so `bench/run.sh` can compare
//! them in one run. The handler does no I/O, so the middleware's cost is not
//! hidden behind a sleep.
//!
//! Frameworks: `axum`, `actix`. Modes: `bare`; `metrics`; `logged`
//! (metrics, JSON logging to stdout, the per-request event and one log line
//! from the handler; tracing off); `full` (`logged` plus span export set up
//! with every trace sampled out: the production default of a ratio
//! sampler's common case); `traced` (`logged` with every trace sampled and
//! exported; the collector address is a closed port, so export fails
//! cheaply and is counted); and for axum `noop`: an identity layer added
//! with `Router::layer`, which costs what axum's per-route layering costs
//! any middleware, so `metrics` minus `noop` is observe's own share; and
//! `errors` (`metrics` with error tracking on: what every request pays for
//! the request details an error event may need; the DSN is a closed port);
//! `events` (metrics and the per-request event line to stdout, the
//! handler silent: the request event alone); `everything` (`events` with
//! error tracking on, no error happening, and span export set up with
//! every trace sampled out: the "everything on");
//! `sampled` (`full` with tail sampling keeping a tenth of the fast
//! successful requests' events); `console` (`metrics` with the operator
//! console's windows and request lists, as an admin listener sets up);
//! `labels` (`metrics` with one request-derived label from a header);
//! `native` (`metrics` with native histogram buckets beside the classic
//! ones on the duration histogram); `profiled` (`metrics` with a CPU
//! profile running at 99 Hz the whole time, back to back, as
//! `/debug/pprof/profile` takes one: what a profile costs the requests).
//!
//! Environment: `BENCH_WORKERS` (default 1) sets the worker threads;
//! `BENCH_SERVER=observe` serves the axum variants with observe's own
//! server (`observe_axum::server::Server`: accept back-off, head and idle
//! timeouts, a connection cap) instead of `axum::serve`
//! (`bench/flood-memory.sh` compares the two).

mod handler;

use axum::Router;
use axum::routing::get;
use handler::{actix_user, actix_user_logged, user, user_logged, workers};
use observe_core::Observe;

fn usage() -> ! {
    eprintln!(
        "usage: bench-server axum|actix bare|noop|metrics|native|console|labels|errors|events|everything|logged|full|traced|sampled|otlp-logs|otlp-metrics|clickhouse|profiled ADDR (noop, profiled: axum only)"
    );
    std::process::exit(2)
}

fn actix(observe: Observe, observed: bool, logged: bool, addr: &str) -> std::io::Result<()> {
    use actix_web::{App, HttpServer, web};
    actix_web::rt::System::new().block_on(async move {
        let routes = move |cfg: &mut web::ServiceConfig| {
            if logged {
                cfg.service(web::resource("/users/{id}").get(actix_user_logged));
            } else {
                cfg.service(web::resource("/users/{id}").get(actix_user));
            }
        };
        // Two factories rather than `middleware::Condition`, whose own
        // wrapper would tax the bare variant too.
        let server = if observed {
            HttpServer::new(move || {
                App::new()
                    .configure(routes)
                    .service(observe_actix::metrics_endpoint(&observe))
                    .wrap(observe_actix::ObserveLayer::new(&observe))
            })
            .workers(workers())
            .bind(addr)?
            .run()
        } else {
            HttpServer::new(move || App::new().configure(routes))
                .workers(workers())
                .bind(addr)?
                .run()
        };
        eprintln!("listening on http://{addr}");
        server.await
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, framework, mode, addr] = args.as_slice() else {
        usage()
    };
    let mut builder = Observe::builder().service_name("bench");
    if mode == "sampled" {
        builder = builder.event_sampling(observe_core::EventSampling::keep_ratio(0.1));
    }
    if mode == "labels" {
        // One request-derived label from a header, as a classifier would.
        builder = builder.http_label_fn("client", |r| r.header("host").map(str::to_string));
    }
    if mode == "native" {
        builder = builder.native_histograms(true);
    }
    let observe = builder.build()?;
    let sampler = match mode.as_str() {
        "full" | "sampled" | "everything" => Some(observe_core::trace::Sampler::AlwaysOff),
        "traced" => Some(observe_core::trace::Sampler::AlwaysOn),
        _ => None,
    };
    let _traces = match sampler {
        // Port 9 (discard) is closed on loopback: exports fail at once.
        Some(sampler) => Some(
            observe
                .tracing()
                .endpoint("http://127.0.0.1:9")
                .sampler(sampler)
                .try_init()?,
        ),
        None => None,
    };
    let _errors = match mode.as_str() {
        "errors" | "everything" => Some(
            observe
                .errors()
                .dsn("http://bench@127.0.0.1:9/1")
                .try_init()?,
        ),
        _ => None,
    };
    // The operator console's bookkeeping (rolling windows, failed and
    // slowest requests), as an admin listener sets it up.
    let _admin = match mode.as_str() {
        "console" => {
            let config = observe_core::console::AdminConfig::new(([127, 0, 0, 1], 0).into());
            Some(observe_core::console::Admin::new(&observe, config)?)
        }
        _ => None,
    };
    // The handler writes a line of its own.
    let logged = matches!(
        mode.as_str(),
        "logged" | "full" | "traced" | "sampled" | "otlp-logs" | "clickhouse"
    );
    let logging = logged || matches!(mode.as_str(), "events" | "everything");
    #[cfg(feature = "sinks")]
    let _sinks = (
        match mode.as_str() {
            "clickhouse" => Some(observe.clickhouse().try_init()?),
            _ => None,
        },
        match mode.as_str() {
            "otlp-metrics" => Some(observe.metrics_export().try_init()?),
            _ => None,
        },
    );
    let needs = match mode.as_str() {
        "otlp-logs" | "otlp-metrics" | "clickhouse" if !cfg!(feature = "sinks") => Some("sinks"),
        "profiled" if !cfg!(feature = "profiling") => Some("profiling"),
        _ => None,
    };
    if let Some(feature) = needs {
        eprintln!("bench-server: mode {mode} needs the `{feature}` feature of observe-bench");
        std::process::exit(2);
    }
    let _logs = match logging {
        true => Some(observe.logging().try_init()?),
        false => None,
    };
    if framework == "actix" {
        let observed = match mode.as_str() {
            "bare" => false,
            "metrics" | "native" | "console" | "labels" | "errors" | "logged" | "full"
            | "traced" | "sampled" | "otlp-logs" | "otlp-metrics" | "clickhouse" | "events"
            | "everything" => true,
            _ => usage(),
        };
        return Ok(actix(observe, observed, logged, addr)?);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers())
        .enable_all()
        .build()?;
    let routes = Router::new().route("/users/{id}", get(user));
    let app = match (framework.as_str(), mode.as_str()) {
        ("axum", "bare") => routes,
        ("axum", "noop") => routes.layer(tower_layer::Identity::new()),
        ("axum", "logged" | "full" | "traced" | "sampled" | "otlp-logs" | "clickhouse") => {
            Router::new()
                .route("/users/{id}", get(user_logged))
                .merge(observe_axum::metrics_endpoint(&observe))
                .layer(observe_axum::ObserveLayer::new(&observe))
        }
        (
            "axum",
            "metrics" | "native" | "console" | "labels" | "errors" | "profiled" | "otlp-metrics"
            | "events" | "everything",
        ) => routes
            .merge(observe_axum::metrics_endpoint(&observe))
            .layer(observe_axum::ObserveLayer::new(&observe)),
        _ => usage(),
    };
    runtime.block_on(async {
        #[cfg(feature = "profiling")]
        if mode == "profiled" {
            // BENCH_PROFILE_SECONDS (default 60) per profile; with
            // BENCH_PROFILE_OUT, each is written there (pprof format) for
            // bench/profile-stacks.py.
            let seconds = std::env::var("BENCH_PROFILE_SECONDS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(60);
            let out = std::env::var("BENCH_PROFILE_OUT").ok();
            tokio::spawn(async move {
                loop {
                    let profile = observe_core::profile::cpu(
                        std::time::Duration::from_secs(seconds),
                        observe_core::profile::DEFAULT_FREQUENCY,
                    )
                    .await;
                    match (profile, &out) {
                        (Ok(profile), Some(path)) => {
                            if let Err(error) = std::fs::write(path, profile.pprof()) {
                                eprintln!("{path}: {error}");
                            }
                        }
                        (Ok(_), None) => {}
                        (Err(error), _) => {
                            eprintln!("profile: {error}");
                            return;
                        }
                    }
                }
            });
        }
        let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
        eprintln!("listening on http://{}", listener.local_addr()?);
        if std::env::var("BENCH_SERVER").as_deref() == Ok("observe") {
            let never = std::future::pending::<()>();
            let served = observe_axum::server::Server::new().serve(
                listener,
                move |_peer| app.clone(),
                never,
            );
            return served.await.map_err(|never| match never {});
        }
        axum::serve(listener, app).await
    })?;
    Ok(())
}
