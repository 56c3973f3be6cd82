//! Error tracking beside span export: every Sentry event made inside a
//! request, observe's own (a panic) and the handler's (`sentry` API), names
//! in `contexts.trace` the server span that was exported for the request,
//! and the caller's span as its parent, on axum, actix-web and tower. So
//! "view trace" in Sentry leads to the trace the OTLP backend holds.
//!
//! Error tracking and tracing are process-wide: this file sets both up once
//! (errors.rs covers the same without export).

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;
use std::time::Duration;

use observe_core::Observe;
use observe_core::errors::ErrorsGuard;
use observe_core::trace::TracingGuard;
use observe_tests::otlp::{OtlpReceiver, ReceivedSpan, ReceiverMode};
use observe_tests::sentry::{SentrySink, SinkMode};
use observe_tests::{FRAMEWORKS, client, eventually, start_example};
use serde_json::Value;

#[path = "support/reporting.rs"]
mod reporting;
use reporting::reporting_service;

/// The caller's span: the parent of every request's own.
const CALLER: &str = "b7ad6b7169203331";

struct Setup {
    sentry: SentrySink,
    errors: ErrorsGuard,
    otlp: OtlpReceiver,
    tracing: TracingGuard,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let sentry = SentrySink::start(SinkMode::Accept);
        let otlp = OtlpReceiver::start(ReceiverMode::Accept);
        let observe = Observe::builder().service_name("shop").build().unwrap();
        let tracing = observe
            .tracing()
            .endpoint(otlp.endpoint())
            .try_init()
            .unwrap();
        assert!(tracing.is_exporting());
        let errors = observe
            .errors()
            .dsn(sentry.dsn())
            .max_events_per_second(1000)
            .try_init()
            .unwrap();
        Setup {
            sentry,
            errors,
            otlp,
            tracing,
        }
    })
}

/// A trace id of its own for each request, so its spans and event are told
/// apart from the others'.
fn trace_id(n: u8) -> String {
    format!("4bf92f3577b34da6a3ce929d0e0e47{n:02x}")
}

/// Sends `GET path` in trace `trace`, from the caller's span; the status.
async fn get(addr: std::net::SocketAddr, path: &str, trace: &str) -> u16 {
    client()
        .get(format!("http://{addr}{path}"))
        .header("traceparent", format!("00-{trace}-{CALLER}-01"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The one Sentry event, and the exported server span, of trace `trace`.
async fn event_and_span(trace: &str) -> (Value, ReceivedSpan) {
    let setup = setup();
    let event = eventually(Duration::from_secs(10), trace, || async {
        setup
            .sentry
            .events()
            .into_iter()
            .find(|e| e["tags"]["trace_id"] == trace)
    })
    .await;
    let span = eventually(Duration::from_secs(10), trace, || async {
        assert!(setup.tracing.flush(Duration::from_secs(5)));
        setup
            .otlp
            .spans()
            .into_iter()
            .find(|s| s.trace_id == trace && s.kind == 2)
    })
    .await;
    assert!(setup.errors.flush(Duration::from_secs(5)));
    let events = setup
        .sentry
        .events()
        .into_iter()
        .filter(|e| e["tags"]["trace_id"] == trace)
        .count();
    assert_eq!(events, 1, "one event in {trace}");
    (event, span)
}

/// The event points at the exported server span, whose parent is the
/// caller's span.
fn assert_points_at(event: &Value, span: &ReceivedSpan, trace: &str) {
    let context = &event["contexts"]["trace"];
    assert_eq!(context["trace_id"], trace, "{event:#}");
    assert_eq!(
        context["span_id"],
        span.span_id.as_str(),
        "{event:#} {span:?}"
    );
    assert_eq!(span.parent_span_id, CALLER, "{span:?}");
    assert_eq!(context["parent_span_id"], CALLER, "{event:#}");
    assert_eq!(event["tags"]["span_id"], span.span_id.as_str(), "{event:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_in_a_request_points_at_its_exported_span() {
    setup();
    for (n, framework) in (0u8..).step_by(2).zip(FRAMEWORKS) {
        // observe's own event: a handler's panic.
        let observe = observe_tests::example_observe();
        let addr = start_example(framework, &observe).await;
        let trace = trace_id(n);
        assert_eq!(get(addr, "/panic", &trace).await, 500, "{framework:?}");
        let (event, span) = event_and_span(&trace).await;
        assert_eq!(event["tags"]["observe.kind"], "panic", "{event:#}");
        assert_points_at(&event, &span, &trace);

        // The handler's own event, sent with the `sentry` API.
        let observe = Observe::builder().service_name("payments").build().unwrap();
        let addr = reporting_service(framework, &observe).await;
        let trace = trace_id(n + 1);
        assert_eq!(get(addr, "/pay/7", &trace).await, 500, "{framework:?}");
        let (event, span) = event_and_span(&trace).await;
        assert!(event["tags"].get("observe.kind").is_none(), "{event:#}");
        assert_points_at(&event, &span, &trace);
    }
}
