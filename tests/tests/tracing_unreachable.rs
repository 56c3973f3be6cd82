//! An OTLP collector that accepts connections and never answers: every
//! request still completes without waiting for it, memory stays bounded,
//! and the spans that could not be exported are counted.
//!
//! Its own test binary: tracing is process-wide and this one points at the
//! black hole.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use observe_core::Observe;
use observe_tests::otlp::{OtlpReceiver, ReceiverMode};
use observe_tests::{
    FRAMEWORKS, client, eventually, example_observe, load, parse_samples, rss_kib, start_example,
    value,
};

const REQUESTS: usize = 1000;
const CONCURRENCY: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_holed_collector_slows_nothing_and_drops_are_counted() {
    let collector = OtlpReceiver::start(ReceiverMode::BlackHole);
    let guard = Observe::builder()
        .build()
        .unwrap()
        .tracing()
        .endpoint(collector.endpoint())
        // Far longer than any request may take: a request that waited for
        // the collector would show.
        .export_timeout(Duration::from_secs(30))
        .queue(64)
        .try_init()
        .unwrap();
    let http = client();
    let mut rss_before = None;
    for framework in FRAMEWORKS {
        let observe = example_observe();
        let before = counts(&observe);
        let addr = start_example(framework, &observe).await;
        let started = Instant::now();
        // Distinct users: every request also makes a client span.
        let latencies = load(&http, REQUESTS, CONCURRENCY, 200, |i| {
            format!("http://{addr}/users/{}", 1 + i)
        })
        .await;
        let p50 = latencies[latencies.len() / 2];
        let max = latencies[latencies.len() - 1];
        eprintln!(
            "{framework:?}: {REQUESTS} requests in {:?}, p50 {p50:?}, max {max:?}",
            started.elapsed()
        );
        assert!(max < Duration::from_secs(10), "{framework:?} max {max:?}");
        let after = counts(&observe);
        let dropped = after.1 - before.1;
        // Server and client spans: 2,000 made, at most the queue and one
        // batch kept.
        assert!(
            dropped >= 2.0 * REQUESTS as f64 - 64.0 - 512.0,
            "dropped {dropped}"
        );
        assert_eq!(after.0, 0.0, "nothing was exported");
        rss_before.get_or_insert_with(rss_kib);
    }
    eventually(
        Duration::from_secs(5),
        "an export reached the black hole",
        || async { (collector.requests() >= 1).then_some(()) },
    )
    .await;
    let growth = rss_kib().saturating_sub(rss_before.unwrap());
    eprintln!("RSS growth over {} requests: {growth} KiB", 2 * REQUESTS);
    assert!(growth < 8 * 1024, "RSS grew {growth} KiB");
    let started = Instant::now();
    drop(guard);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown is bounded"
    );
}

/// Spans exported and dropped for a full queue (process-wide counters).
fn counts(observe: &Observe) -> (f64, f64) {
    let text = observe.render(observe_core::Format::Text).into_text();
    let samples = parse_samples(&text);
    let get = |name: &str, labels: &[(&str, &str)]| value(&samples, name, labels).unwrap();
    (
        get("observe_trace_spans_exported_total", &[]),
        get(
            "observe_trace_spans_dropped_total",
            &[("reason", "queue_full")],
        ),
    )
}
