//! Two `Observe` instances in one process each speak for themselves. On
//! axum, actix-web and tower, a server recording into "shop-a" and one
//! recording into "shop-b" run side by side: each one's `/metrics`
//! (`target_info` and its request counts), request events, handler log
//! lines, exported spans and error events carry its own service name and
//! version, although only "shop-a" installed tracing, logging and error
//! tracking. A second installation of any of those process-wide parts
//! fails with an error naming "shop-a", the instance that installed it.
//!
//! Tracing, logging and error tracking are process-wide: this file sets
//! them up once, tracing first, and tells requests apart by request id and
//! by a trace id of its own per request.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use observe_core::Observe;
use observe_core::errors::ErrorsGuard;
use observe_core::trace::{Sampler, TracingGuard};
use observe_tests::otlp::{OtlpReceiver, ReceivedSpan, ReceiverMode};
use observe_tests::sentry::{SentrySink, SinkMode};
use observe_tests::{
    CapturedOutput, FRAMEWORKS, Framework, client, eventually, parse_samples, scrape,
    start_example, value,
};
use serde_json::Value;

/// The instance that installs everything process-wide, and the one that
/// installs nothing: (service name, service version).
const A: (&str, &str) = ("shop-a", "1.0.0");
const B: (&str, &str) = ("shop-b", "2.0.0");

/// How long exported spans, log lines and error events may take to arrive.
const WAIT: Duration = Duration::from_secs(10);

/// The caller's span every request continues.
const PARENT: &str = "00f067aa0ba902b7";

struct Setup {
    receiver: OtlpReceiver,
    traces: TracingGuard,
    sentry: SentrySink,
    errors: ErrorsGuard,
    logs: CapturedOutput,
}

/// An instance as the brief's services build theirs.
fn instance((name, version): (&str, &str)) -> Observe {
    Observe::builder()
        .service_name(name)
        .service_version(version)
        .exclude_route("/metrics")
        .build()
        .unwrap()
}

/// Installs tracing, logging and error tracking with "shop-a", once.
fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let observe = instance(A);
        let receiver = OtlpReceiver::start(ReceiverMode::Accept);
        let traces = observe
            .tracing()
            .endpoint(receiver.endpoint())
            .sampler(Sampler::AlwaysOn)
            .try_init()
            .unwrap();
        assert!(traces.is_exporting());
        let logs = CapturedOutput::default();
        let log_guard = observe
            .logging()
            .filter("info")
            .writer(logs.clone())
            .try_init()
            .unwrap();
        // Lines are flushed by the writer thread; keep the guard for good.
        std::mem::forget(log_guard);
        let sentry = SentrySink::start(SinkMode::Accept);
        let errors = observe
            .errors()
            .dsn(sentry.dsn())
            .max_events_per_second(1000)
            .try_init()
            .unwrap();
        assert!(errors.is_enabled());
        Setup {
            receiver,
            traces,
            sentry,
            errors,
            logs,
        }
    })
}

/// A trace id of our own per request, so requests never see each other's
/// spans.
fn trace_for(request: usize) -> String {
    format!("{:032x}", 0x1275_0000_u64 + request as u64)
}

/// `GET path` with our request id and trace; returns the status.
async fn get(addr: SocketAddr, path: &str, request_id: &str, trace: &str) -> u16 {
    let response = client()
        .get(format!("http://{addr}{path}"))
        .header("x-request-id", request_id)
        .header("traceparent", format!("00-{trace}-{PARENT}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], request_id);
    response.status().as_u16()
}

/// Every log line written so far.
fn log_lines() -> Vec<Value> {
    setup()
        .logs
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

/// The first line of request `request_id` with `message`, once written.
async fn log_line(request_id: &str, message: &str) -> Value {
    let what = format!("{message:?} of {request_id}");
    eventually(WAIT, &what, || async {
        log_lines()
            .into_iter()
            .find(|l| l["request_id"] == request_id && l["message"] == message)
    })
    .await
}

/// Exports what is finished, then returns every span of `trace`.
async fn spans_of(trace: &str, at_least: usize) -> Vec<ReceivedSpan> {
    eventually(WAIT, trace, || async {
        assert!(setup().traces.flush(std::time::Duration::from_secs(5)));
        let spans: Vec<_> = setup()
            .receiver
            .spans()
            .into_iter()
            .filter(|s| s.trace_id == trace)
            .collect();
        (spans.len() >= at_least).then_some(spans)
    })
    .await
}

/// The error events of request `request_id` received so far.
fn error_events(request_id: &str) -> Vec<Value> {
    setup()
        .sentry
        .events()
        .into_iter()
        .filter(|e| e["tags"]["request_id"] == request_id)
        .collect()
}

/// `target_info` names the instance, and the request counts are its own
/// server's alone: one 200 and one 500 on `/users/{id}`.
async fn check_metrics(addr: SocketAddr, (name, version): (&str, &str), at: &str) {
    const FOUND: [(&str, &str); 2] = [
        ("http_route", "/users/{id}"),
        ("http_response_status_code", "200"),
    ];
    const FAILED: [(&str, &str); 3] = [
        ("http_route", "/users/{id}"),
        ("http_response_status_code", "500"),
        ("error_type", "500"),
    ];
    let count = |samples: &[_], labels: &[_]| {
        value(
            samples,
            "http_server_request_duration_seconds_count",
            labels,
        )
    };
    let text = eventually(WAIT, "both requests counted", || async {
        let (_, text) = scrape(addr, None).await;
        let samples = parse_samples(&text);
        (count(&samples, &FOUND).is_some() && count(&samples, &FAILED).is_some()).then_some(text)
    })
    .await;
    let samples = parse_samples(&text);
    let info: Vec<_> = samples.iter().filter(|s| s.name == "target_info").collect();
    assert_eq!(info.len(), 1, "{at}: {text}");
    assert_eq!(info[0].labels["service_name"], name, "{at}");
    assert_eq!(info[0].labels["service_version"], version, "{at}");
    assert_eq!(count(&samples, &FOUND), Some(1.0), "{at}: {text}");
    assert_eq!(count(&samples, &FAILED), Some(1.0), "{at}: {text}");
}

/// Asks the server of `framework` at `addr`, recording into an instance
/// named `service`, for a found user and a failed lookup; everything either
/// leaves behind names `service`.
async fn check_server(framework: Framework, service: (&str, &str), addr: SocketAddr, case: usize) {
    let (name, version) = service;
    let at = format!("{framework} {name}");

    // Found: a request event and a server span with its database call.
    let ok_id = format!("{name}-{framework}-ok");
    let ok_trace = trace_for(case * 2);
    let path = format!("/users/{}", 20 + case);
    assert_eq!(get(addr, &path, &ok_id, &ok_trace).await, 200, "{at}");
    let event = log_line(&ok_id, "request finished").await;
    assert_eq!(event["target"], "observe::request", "{at}");
    assert_eq!(event["service"], name, "{at}: {event}");
    assert_eq!(event["trace_id"], ok_trace.as_str(), "{at}");
    assert_eq!(event["event"]["route"], "/users/{id}", "{at}");
    assert_eq!(event["event"]["status"], 200, "{at}");
    let spans = spans_of(&ok_trace, 2).await;
    let server = spans
        .iter()
        .find(|s| s.kind == 2)
        .unwrap_or_else(|| panic!("{at}: no server span in {spans:#?}"));
    assert_eq!(server.name, "GET /users/{id}", "{at}");
    assert_eq!(event["span_id"], server.span_id.as_str(), "{at}");
    for span in &spans {
        assert_eq!(span.service, name, "{at}: span {:?}", span.name);
    }
    assert!(
        spans.iter().any(|s| s.name == "postgres select_user"),
        "{at}: {spans:#?}"
    );

    // Failed: the handler's WARN line, the request event, the server span
    // and the error event.
    let failed_id = format!("{name}-{framework}-500");
    let failed_trace = trace_for(case * 2 + 1);
    assert_eq!(
        get(addr, "/users/1000000", &failed_id, &failed_trace).await,
        500,
        "{at}"
    );
    let handler = log_line(&failed_id, "user lookup failed").await;
    assert_eq!(handler["level"], "WARN", "{at}");
    assert_eq!(handler["service"], name, "{at}: {handler}");
    assert_eq!(handler["trace_id"], failed_trace.as_str(), "{at}");
    let event = log_line(&failed_id, "request finished").await;
    assert_eq!(event["service"], name, "{at}: {event}");
    assert_eq!(event["event"]["status"], 500, "{at}");
    let spans = spans_of(&failed_trace, 1).await;
    let server = spans.iter().find(|s| s.kind == 2).unwrap();
    assert_eq!(server.name, "GET /users/{id}", "{at}");
    assert_eq!(server.service, name, "{at}");
    let error = eventually(WAIT, &failed_id, || async {
        error_events(&failed_id).into_iter().next()
    })
    .await;
    assert_eq!(error["server_name"], name, "{at}: {error:#}");
    assert_eq!(error["tags"]["service.name"], name, "{at}");
    assert_eq!(error["tags"]["service.version"], version, "{at}");
    assert_eq!(error["release"], format!("{name}@{version}"), "{at}");

    // Everything queued is delivered: one event for the 500, none for the 200.
    assert!(setup().errors.flush(Duration::from_secs(5)));
    assert_eq!(error_events(&failed_id).len(), 1, "{at}");
    assert!(error_events(&ok_id).is_empty(), "{at}");

    check_metrics(addr, service, &at).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_instance_speaks_for_itself_on_every_framework() {
    setup();
    for (n, framework) in FRAMEWORKS.into_iter().enumerate() {
        // Fresh instances per framework: the shop registers its metrics.
        let a = start_example(framework, &instance(A)).await;
        let b = start_example(framework, &instance(B)).await;
        // Side by side: both are asked at once, so their lines interleave
        // and their spans share export batches.
        tokio::join!(
            check_server(framework, A, a, n * 2),
            check_server(framework, B, b, n * 2 + 1),
        );
    }
}

#[test]
fn a_second_installation_names_the_instance_that_installed_it() {
    let setup = setup();
    let b = instance(B);
    let err = b
        .logging()
        .writer(std::io::sink())
        .try_init()
        .unwrap_err()
        .to_string();
    assert!(err.contains("shop-a"), "logging: {err}");
    let err = b
        .errors()
        .dsn(setup.sentry.dsn())
        .try_init()
        .unwrap_err()
        .to_string();
    assert!(err.contains("shop-a"), "error tracking: {err}");
    let err = b
        .tracing()
        .endpoint(setup.receiver.endpoint())
        .sampler(Sampler::AlwaysOn)
        .try_init()
        .unwrap_err()
        .to_string();
    assert!(err.contains("shop-a"), "tracing: {err}");
}
