//! Error tracking end to end: real servers on loopback report to a
//! loopback Sentry stand-in that parses the real envelope format. A panic
//! and a 5xx each arrive once, on axum, actix-web and tower, with method,
//! route, status and request id, grouped by route and error type, and none
//! of the secrets planted in headers, query strings, panic messages or log
//! lines.
//!
//! Error tracking and logging are process-wide: this file sets both up
//! once and tells requests apart by request id.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use observe_core::Observe;
use observe_core::errors::ErrorsGuard;
use observe_tests::sentry::{SentrySink, SinkMode};
use observe_tests::{
    FRAMEWORKS, client, eventually, example_observe, parse_samples, scrape, spawn_axum,
    start_example, value,
};
use serde_json::Value;

#[path = "support/reporting.rs"]
mod reporting;
use reporting::reporting_service;

const SECRETS: [&str; 8] = [
    "SECRET-bearer",
    "SECRET-cookie",
    "SECRET-apikey",
    "SECRET-query",
    "alice@example.com",
    "SECRET-panic",
    "SECRET-logfield",
    "SECRET-logmsg",
];

/// The trace every test request continues.
const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
/// The caller's span: the parent of every request's own.
const CALLER: &str = "b7ad6b7169203331";

struct Setup {
    sink: SentrySink,
    guard: ErrorsGuard,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let sink = SentrySink::start(SinkMode::Accept);
        let observe = Observe::builder()
            .service_name("shop")
            .service_version("1.2.3")
            .build()
            .unwrap();
        // ERROR lines become events only through observe's logging.
        let logs = observe
            .logging()
            .filter("info")
            .writer(std::io::sink())
            .try_init()
            .unwrap();
        std::mem::forget(logs);
        let guard = observe
            .errors()
            .dsn(sink.dsn())
            .environment("test")
            .max_events_per_second(1000)
            .try_init()
            .unwrap();
        assert!(guard.is_enabled());
        Setup { sink, guard }
    })
}

fn events_for(id: &str) -> Vec<Value> {
    setup()
        .sink
        .events()
        .into_iter()
        .filter(|e| e["tags"]["request_id"] == id)
        .collect()
}

async fn wait_for_event(id: &str) -> Value {
    let event = eventually(Duration::from_secs(10), id, || async {
        events_for(id).into_iter().next()
    })
    .await;
    // Everything queued so far is delivered: a second event would be here.
    assert!(setup().guard.flush(Duration::from_secs(5)));
    let all = events_for(id);
    assert_eq!(all.len(), 1, "one event for {id}, got {all:#?}");
    event
}

/// A request carrying secrets in every place a careless reporter would copy.
async fn hostile_get(addr: std::net::SocketAddr, path: &str, id: &str) -> u16 {
    client()
        .get(format!(
            "http://{addr}{path}?token=SECRET-query&email=alice@example.com&page=2"
        ))
        .header("authorization", "Bearer SECRET-bearer")
        .header("cookie", "session=SECRET-cookie")
        .header("x-api-key", "SECRET-apikey")
        .header("x-forwarded-for", "203.0.113.77")
        .header("x-request-id", id)
        .header("traceparent", format!("00-{TRACE}-{CALLER}-01"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Sentry links an event to its trace through `contexts.trace` (not the
/// tags): the request's trace, its span, and the caller's span as parent.
fn assert_request_trace(event: &Value) {
    let trace = &event["contexts"]["trace"];
    assert_eq!(trace["trace_id"], TRACE, "{event:#}");
    assert_eq!(trace["span_id"], event["tags"]["span_id"], "{event:#}");
    assert_ne!(trace["span_id"], CALLER, "{event:#}");
    assert_eq!(trace["parent_span_id"], CALLER, "{event:#}");
}

fn assert_no_secrets() {
    let raw = String::from_utf8_lossy(&setup().sink.raw()).into_owned();
    assert!(!raw.is_empty());
    for secret in SECRETS.iter().chain(&["203.0.113.77"]) {
        assert!(!raw.contains(secret), "{secret} reached Sentry");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_and_server_errors_arrive_once_on_every_framework() {
    setup();
    for framework in FRAMEWORKS {
        let observe = example_observe();
        let addr = start_example(framework, &observe).await;

        let id = format!("{framework:?}-panic");
        assert_eq!(hostile_get(addr, "/panic", &id).await, 500);
        let event = wait_for_event(&id).await;
        assert_eq!(event["tags"]["observe.kind"], "panic", "{event:#}");
        assert_eq!(event["tags"]["http.route"], "/panic", "{framework:?}");
        assert_eq!(event["tags"]["http.request.method"], "GET");
        assert_eq!(event["tags"]["error.type"], "panic");
        assert_eq!(event["tags"]["http.response.status_code"], "500");
        assert_eq!(event["tags"]["request_id"], id.as_str());
        assert_eq!(event["tags"]["trace_id"], TRACE, "the caller's trace");
        assert_request_trace(&event);
        assert_eq!(event["release"], "shop@1.2.3");
        assert_eq!(event["environment"], "test");
        let exception = &event["exception"]["values"][0];
        assert_eq!(exception["type"], "panic");
        assert_eq!(exception["value"], "the /panic route panics on purpose");
        assert_eq!(exception["mechanism"]["handled"], false);
        let frames = exception["stacktrace"]["frames"].as_array().unwrap();
        assert!(!frames.is_empty(), "a backtrace");
        let fingerprint = event["fingerprint"].as_array().unwrap();
        assert_eq!(fingerprint[0], "panic");
        assert!(fingerprint.contains(&Value::from("/panic")));
        let request = &event["request"];
        assert_eq!(request["method"], "GET");
        assert_eq!(request["headers"]["authorization"], "[REDACTED]");
        assert_eq!(request["headers"]["cookie"], "[REDACTED]");
        assert_eq!(request["headers"]["x-api-key"], "[REDACTED]");
        assert!(request["headers"].get("x-forwarded-for").is_none());
        let query = request["query_string"].as_str().unwrap();
        assert!(query.contains("page=2"), "{query}");

        let id = format!("{framework:?}-500");
        assert_eq!(hostile_get(addr, "/users/1000000", &id).await, 500);
        let event = wait_for_event(&id).await;
        assert_eq!(event["tags"]["observe.kind"], "server_error", "{event:#}");
        assert_eq!(event["tags"]["http.route"], "/users/{id}", "{framework:?}");
        assert_eq!(event["tags"]["http.response.status_code"], "500");
        assert_eq!(event["message"], "HTTP 500 from GET /users/{id}");
        assert_request_trace(&event);
        // One bug, one issue: the fingerprint has no id in it.
        assert_eq!(
            event["fingerprint"],
            serde_json::json!(["server_error", "GET", "/users/{id}", "500"])
        );

        // Successful and 4xx requests are not errors.
        let id = format!("{framework:?}-404");
        assert_eq!(hostile_get(addr, "/users/0", &id).await, 404);
        assert!(setup().guard.flush(Duration::from_secs(5)));
        assert!(events_for(&id).is_empty());

        // Counted in metrics too, so alerts do not depend on Sentry.
        let (_, text) = scrape(addr, None).await;
        let samples = parse_samples(&text);
        let panics = value(&samples, "observe_error_events_total", &[("kind", "panic")]);
        assert!(panics.unwrap() >= 1.0, "{text}");
        let sent = value(&samples, "observe_error_events_sent_total", &[]);
        assert!(sent.unwrap() >= 2.0);
    }
    assert_no_secrets();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_lines_and_panic_messages_are_scrubbed_and_not_reported_twice() {
    setup();
    let observe = example_observe();
    let app = Router::new()
        .route(
            "/charge",
            get(|| async {
                tracing::error!(
                    password = "SECRET-logfield",
                    attempt = 3,
                    "charge failed for alice@example.com with token=SECRET-logmsg"
                );
                StatusCode::INTERNAL_SERVER_ERROR
            }),
        )
        .route(
            "/explode",
            get(|| async {
                let secret = "SECRET-panic";
                if secret.len() > 1 {
                    panic!("cannot parse password={secret}");
                }
                "unreachable"
            }),
        )
        .layer(observe_axum::ObserveLayer::new(&observe));
    let addr = spawn_axum(app).await;

    assert_eq!(hostile_get(addr, "/charge", "log-1").await, 500);
    let event = wait_for_event("log-1").await;
    // The ERROR line is the report; its 5xx is not a second one.
    assert_eq!(event["tags"]["observe.kind"], "log", "{event:#}");
    assert_eq!(event["tags"]["http.route"], "/charge");
    assert_eq!(event["logger"], "errors");
    assert_request_trace(&event);
    let message = event["message"].as_str().unwrap();
    assert!(message.starts_with("charge failed for"), "{message}");
    let fingerprint = event["fingerprint"].as_array().unwrap();
    assert_eq!(fingerprint[0], "log");
    assert!(fingerprint[2].as_str().unwrap().contains("errors.rs:"));

    assert_eq!(hostile_get(addr, "/explode", "panic-2").await, 500);
    let event = wait_for_event("panic-2").await;
    let exception = event["exception"]["values"][0]["value"].as_str().unwrap();
    assert!(
        exception.starts_with("cannot parse password="),
        "{exception}"
    );
    assert_no_secrets();
}

#[test]
fn a_second_setup_is_refused() {
    setup();
    let observe = Observe::builder().build().unwrap();
    let err = observe
        .errors()
        .dsn("http://key@127.0.0.1:9/1")
        .try_init()
        .unwrap_err();
    assert!(err.to_string().contains("already"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_the_handler_sends_carry_the_request() {
    setup();
    for framework in FRAMEWORKS {
        let observe = Observe::builder()
            .service_name("payments")
            .service_version("2.0.1")
            .build()
            .unwrap();
        let addr = reporting_service(framework, &observe).await;
        let id = format!("{framework:?}-handled");
        assert_eq!(hostile_get(addr, "/pay/7", &id).await, 500);
        // One event: the handler's; the 500 it answered is not reported again.
        let event = wait_for_event(&id).await;
        assert!(event["tags"].get("observe.kind").is_none(), "{event:#}");
        assert_eq!(
            event["transaction"], "GET /pay/{id}",
            "{framework:?}: {event:#}"
        );
        assert_eq!(event["tags"]["http.route"], "/pay/{id}");
        assert_eq!(event["tags"]["http.request.method"], "GET");
        assert_eq!(event["tags"]["trace_id"], TRACE, "{framework:?}");
        assert_eq!(event["tags"]["span_id"].as_str().map(str::len), Some(16));
        assert_request_trace(&event);
        assert_eq!(event["tags"]["service.name"], "payments");
        assert_eq!(event["server_name"], "payments");
        assert_eq!(event["release"], "payments@2.0.1");
        let request = &event["request"];
        assert!(
            request["url"]
                .as_str()
                .is_some_and(|u| u.ends_with("/pay/7")),
            "{request:#}"
        );
        assert_eq!(
            request["headers"]["authorization"], "[REDACTED]",
            "{request:#}"
        );
        assert!(
            request["headers"].get("x-forwarded-for").is_none(),
            "{request:#}"
        );
        assert!(
            event["message"]
                .as_str()
                .or_else(|| event["logentry"]["message"].as_str())
                .is_some_and(|m| m.contains("payment declined")),
            "{event:#}"
        );
    }
    assert_no_secrets();
    // The counters are process-wide: any instance renders them.
    let text = Observe::builder()
        .build()
        .unwrap()
        .render(observe_core::Format::Text)
        .into_text();
    let samples = parse_samples(&text);
    assert!(
        value(
            &samples,
            "observe_error_events_total",
            &[("kind", "application")]
        )
        .is_some_and(|v| v >= 3.0),
        "{text}"
    );
}
