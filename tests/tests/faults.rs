//! Faults of the things around a service: Sentry and the OTLP collector
//! answering 500, and a handler that panics on every request for a long
//! stretch. In each case the service keeps answering, healthy requests keep
//! their latency (printed, not asserted: machines are noisy), memory stays
//! bounded, what was not delivered is counted, and every request is
//! recorded exactly once.
//!
//! Error tracking and tracing are process-wide: this file points both at
//! failing stand-ins once. `OBSERVE_STORM_SECS` sets the storm's length
//! (default 60).

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use observe_core::Observe;
use observe_core::errors::ErrorsGuard;
use observe_core::trace::TracingGuard;
use observe_tests::otlp::{OtlpReceiver, ReceiverMode};
use observe_tests::sentry::{SentrySink, SinkMode};
use observe_tests::{
    FRAMEWORKS, Framework, client, eventually, example_observe, parse_samples, rss_kib, scrape,
    start_example, value,
};

struct Setup {
    sentry: SentrySink,
    collector: OtlpReceiver,
    _errors: ErrorsGuard,
    _traces: TracingGuard,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        // The standard hook prints every panic (with a backtrace under
        // RUST_BACKTRACE=1), and the test harness keeps all of it in memory
        // (its output capture reaches the runtime's threads): that would
        // measure libtest, not observe. So the handlers' deliberate panics
        // are not printed; any other (a failed assertion) still says why.
        // observe's hook chains to this one.
        std::panic::set_hook(Box::new(|info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if !message.is_some_and(|m| m.contains("on purpose")) {
                eprintln!("{info}");
            }
        }));
        let sentry = SentrySink::start(SinkMode::Fail);
        let collector = OtlpReceiver::start(ReceiverMode::Fail);
        let observe = Observe::builder().service_name("shop").build().unwrap();
        let traces = observe
            .tracing()
            .endpoint(collector.endpoint())
            .try_init()
            .unwrap();
        let errors = observe.errors().dsn(sentry.dsn()).try_init().unwrap();
        Setup {
            sentry,
            collector,
            _errors: errors,
            _traces: traces,
        }
    })
}

fn counter(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(&parse_samples(text), name, labels).unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_sentry_and_collector_are_counted_and_cost_requests_nothing() {
    let setup = setup();
    let http = client();
    for framework in FRAMEWORKS {
        let observe = example_observe();
        let addr = start_example(framework, &observe).await;
        for i in 0..100 {
            let path = if i % 2 == 0 {
                "/panic"
            } else {
                "/users/1000000"
            };
            let status = http
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 500);
        }
        let (_, text) = scrape(addr, None).await;
        let recorded: f64 = parse_samples(&text)
            .iter()
            .filter(|s| s.name == "http_server_request_duration_seconds_count")
            .map(|s| s.value)
            .sum();
        assert_eq!(recorded, 100.0, "{framework:?}: every request once");
    }
    // Both stand-ins saw traffic and answered 500: counted as failures.
    let text = eventually(Duration::from_secs(15), "failures counted", || async {
        let text = example_observe()
            .render(observe_core::Format::Text)
            .into_text();
        let sentry_failed = counter(
            &text,
            "observe_error_events_dropped_total",
            &[("reason", "send_failed")],
        );
        let export_failed = counter(
            &text,
            "observe_trace_spans_dropped_total",
            &[("reason", "export_failed")],
        );
        (sentry_failed > 0.0 && export_failed > 0.0).then_some(text)
    })
    .await;
    assert!(setup.sentry.requests() > 0);
    assert!(setup.collector.requests() > 0);
    assert_eq!(counter(&text, "observe_error_events_sent_total", &[]), 0.0);
    assert_eq!(
        counter(&text, "observe_trace_spans_exported_total", &[]),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_panics_on_every_request_for_a_minute() {
    setup();
    let seconds: u64 = std::env::var("OBSERVE_STORM_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let per_framework = Duration::from_secs(seconds) / FRAMEWORKS.len() as u32;
    let mut rss_start = None;
    for framework in FRAMEWORKS {
        storm(framework, per_framework, &mut rss_start).await;
    }
    let growth = rss_kib().saturating_sub(rss_start.unwrap());
    eprintln!("RSS growth during the storms: {growth} KiB");
    assert!(growth < 16 * 1024, "RSS grew {growth} KiB");
}

async fn storm(framework: Framework, length: Duration, rss_start: &mut Option<u64>) {
    let observe = example_observe();
    let addr = start_example(framework, &observe).await;
    let http = client();
    let healthy = |http: reqwest::Client| async move {
        let mut latencies = Vec::new();
        for i in 0..50 {
            let sent = Instant::now();
            let status = http
                .get(format!("http://{addr}/users/{}", 1 + i % 10))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200);
            latencies.push(sent.elapsed());
        }
        latencies.sort();
        latencies[latencies.len() / 2]
    };
    let calm = healthy(http.clone()).await;
    let before = example_observe()
        .render(observe_core::Format::Text)
        .into_text();
    let counted_from = Instant::now();

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (http, stop, sent) = (http.clone(), Arc::clone(&stop), Arc::clone(&sent));
        workers.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let status = http
                    .get(format!("http://{addr}/panic"))
                    .send()
                    .await
                    .expect("the service keeps answering")
                    .status();
                assert_eq!(status, 500);
                sent.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    tokio::time::sleep(length / 2).await;
    let stormy = healthy(http.clone()).await;
    tokio::time::sleep(length / 2).await;
    stop.store(true, Ordering::Relaxed);
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }
    let sent = sent.load(Ordering::Relaxed) as f64;

    let (_, text) = scrape(addr, None).await;
    let recorded = counter(
        &text,
        "http_server_request_duration_seconds_count",
        &[
            ("http_route", "/panic"),
            ("error_type", "panic"),
            ("http_response_status_code", "500"),
        ],
    );
    assert_eq!(recorded, sent, "{framework:?}: every panic recorded once");
    let after = example_observe()
        .render(observe_core::Format::Text)
        .into_text();
    let counted_for = counted_from.elapsed();
    let captured = counter(&after, "observe_error_events_total", &[("kind", "panic")])
        - counter(&before, "observe_error_events_total", &[("kind", "panic")]);
    let throttled = counter(
        &after,
        "observe_error_events_dropped_total",
        &[("reason", "throttled")],
    ) - counter(
        &before,
        "observe_error_events_dropped_total",
        &[("reason", "throttled")],
    );
    eprintln!(
        "{framework:?}: {sent} panics in {length:?} ({:.0}/s); healthy p50 {calm:?} before, {stormy:?} during; {captured} captured, {throttled} throttled",
        sent / length.as_secs_f64()
    );
    // The other test of this file may panic at the same time.
    assert!(captured >= sent, "every panic counted: {captured} < {sent}");
    // 20 events a calendar second reach the queue; the rest are throttled,
    // counted. Between the two snapshots at most ceil(elapsed) + 1 seconds
    // began (the storm's length, and on a busy machine the joins and the
    // scrape after it too: CI once went past a bound of length + 2).
    let seconds = counted_for.as_secs_f64().ceil() + 1.0;
    let allowed = 20.0 * seconds;
    assert!(
        captured - throttled <= allowed,
        "{captured} captured - {throttled} throttled > {allowed} in {counted_for:?}"
    );
    // Memory from the end of the first storm: resolving the first
    // backtraces loads the binary's debug information once (tens to
    // hundreds of MiB for a debug build); what must not grow is the rest.
    eprintln!("RSS after {framework:?}: {} KiB", rss_kib());
    rss_start.get_or_insert_with(rss_kib);
}
