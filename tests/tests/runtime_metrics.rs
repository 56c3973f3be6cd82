//! Saturation beside the RED metrics: each framework's `/metrics` reports
//! the tokio runtime(s) serving it, and the figures move as they should:
//! busy time grows under a CPU-bound handler and stays flat when idle, the
//! global queue fills while the runtime is blocked. Both exposition formats
//! pass promtool and the strict OpenMetrics parser.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use observe_core::{Format, Observe};
use observe_tests::{
    FRAMEWORKS, client, example_observe, parse_samples, promtool_check_metrics, scrape, spawn_axum,
    start_example, strict_openmetrics_parse, value,
};

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0";

fn figure(text: &str, name: &str) -> f64 {
    value(&parse_samples(text), name, &[]).unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_framework_reports_the_runtime_that_serves_it() {
    for framework in FRAMEWORKS {
        let addr = start_example(framework, &example_observe()).await;
        let (_, text) = scrape(addr, None).await;
        assert!(figure(&text, "tokio_runtimes") >= 1.0, "{framework:?}");
        assert!(figure(&text, "tokio_workers") >= 1.0, "{framework:?}");
        // actix-web spawns its tasks on a LocalSet, which tokio does not
        // count among the runtime's tasks.
        let tasks = figure(&text, "tokio_alive_tasks");
        assert!(
            tasks >= 1.0 || framework == observe_tests::Framework::Actix,
            "{framework:?}"
        );
        figure(&text, "tokio_global_queue_depth");
        figure(&text, "tokio_worker_parks_total");
        figure(&text, "tokio_worker_busy_seconds_total");
        if let Some((ok, report)) = promtool_check_metrics(&text) {
            assert!(ok, "{framework:?}: promtool: {report}");
        }
        let (_, text) = scrape(addr, Some(OPENMETRICS)).await;
        assert!(text.contains("# TYPE tokio_worker_busy_seconds counter"));
        if let Some((ok, report)) = strict_openmetrics_parse(&text) {
            assert!(ok, "{framework:?}: strict parser: {report}");
        }
    }
}

/// Spins the CPU for 200 ms on a worker.
async fn spin() -> &'static str {
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < Duration::from_millis(200) {
        x = std::hint::black_box(x.wrapping_add(1));
    }
    "spun"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_time_grows_under_load_and_stays_flat_when_idle() {
    let observe = Observe::builder().service_name("spin").build().unwrap();
    let app = Router::new()
        .route("/spin", get(spin))
        .merge(observe_axum::metrics_endpoint(&observe))
        .layer(observe_axum::ObserveLayer::new(&observe));
    let addr = spawn_axum(app).await;

    let busy = || async {
        figure(
            &scrape(addr, None).await.1,
            "tokio_worker_busy_seconds_total",
        )
    };
    let idle_start = busy().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_end = busy().await;
    // Idle: the workers slept; only the scrapes ran.
    assert!(
        idle_end - idle_start < 0.15,
        "{idle_start} -> {idle_end} while idle"
    );

    for _ in 0..3 {
        let body = client()
            .get(format!("http://{addr}/spin"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, "spun");
    }
    let loaded = busy().await;
    // Three handlers each kept a worker busy for 200 ms.
    assert!(
        loaded - idle_end >= 0.5,
        "{idle_end} -> {loaded} under load"
    );
}

#[test]
fn the_global_queue_fills_while_the_runtime_is_blocked() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let observe = Observe::builder().service_name("blocked").build().unwrap();
    observe.add_runtime(runtime.handle());
    let depth = |observe: &Observe| {
        figure(
            &observe.render(Format::Text).into_text(),
            "tokio_global_queue_depth",
        )
    };
    assert_eq!(depth(&observe), 0.0);

    // The only worker blocks its thread (as a handler doing blocking I/O
    // would); tasks spawned from outside wait in the global queue.
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let (started, wait_started) = std::sync::mpsc::channel::<()>();
    runtime.spawn(async move {
        started.send(()).unwrap();
        let _ = blocked.recv();
    });
    wait_started.recv().unwrap();
    let tasks: Vec<_> = (0..10).map(|_| runtime.spawn(async {})).collect();
    assert_eq!(depth(&observe), 10.0);

    drop(release);
    runtime.block_on(async {
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert_eq!(depth(&observe), 0.0);
}
