//! Distributed tracing end to end: real servers on loopback export to a
//! loopback OTLP/HTTP receiver that decodes the real protobuf. Server spans
//! carry the HTTP attributes and status on axum, actix-web and tower;
//! a caller's `traceparent` is continued, malformed ones start a new trace;
//! dependency calls are client spans whose context goes out on outgoing
//! requests; exemplars point at exported traces; log lines carry the ids.
//!
//! Tracing and logging are process-wide: this file sets both up once.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use observe_core::Observe;
use observe_core::trace::TracingGuard;
use observe_tests::otlp::{OtlpReceiver, ReceivedSpan, ReceiverMode};
use observe_tests::{
    CapturedOutput, FRAMEWORKS, client, eventually, example_observe, example_shop, next_hop,
    scrape, spawn_axum, start_example, start_example_with, strict_openmetrics_parse,
};
use serde_json::Value;
use tracing::Instrument;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

struct Setup {
    receiver: OtlpReceiver,
    guard: TracingGuard,
    logs: CapturedOutput,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let receiver = OtlpReceiver::start(ReceiverMode::Accept);
        let observe = Observe::builder().service_name("shop").build().unwrap();
        let guard = observe
            .tracing()
            .endpoint(receiver.endpoint())
            .try_init()
            .unwrap();
        assert!(guard.is_exporting());
        let logs = CapturedOutput::default();
        let log_guard = observe
            .logging()
            .filter("info")
            .writer(logs.clone())
            .try_init()
            .unwrap();
        std::mem::forget(log_guard);
        Setup {
            receiver,
            guard,
            logs,
        }
    })
}

/// Exports what is finished, then returns every span of `trace_id`.
async fn spans_of(trace_id: &str, at_least: usize) -> Vec<ReceivedSpan> {
    eventually(Duration::from_secs(10), trace_id, || async {
        assert!(setup().guard.flush(std::time::Duration::from_secs(5)));
        let spans: Vec<_> = setup()
            .receiver
            .spans()
            .into_iter()
            .filter(|s| s.trace_id == trace_id)
            .collect();
        (spans.len() >= at_least).then_some(spans)
    })
    .await
}

fn traceparent(trace: &str, parent: &str) -> String {
    format!("00-{trace}-{parent}-01")
}

/// A trace id of our own per case, so cases never see each other's spans.
fn trace_for(case: usize) -> String {
    format!("{:032x}", 0xabc0_0000_u64 + case as u64)
}

/// The example shop on `framework`, its `/relay/{id}` calling `hop`.
async fn relaying_shop(
    framework: observe_tests::Framework,
    hop: std::net::SocketAddr,
) -> std::net::SocketAddr {
    let observe = example_observe();
    let shop = example_shop(&observe);
    shop.set_upstream(&observe, &format!("http://{hop}"))
        .unwrap();
    start_example_with(framework, &observe, shop).await
}

/// The first line logging captured that `matches`, waited for.
async fn logged_line(what: &str, matches: impl Fn(&Value) -> bool) -> Value {
    eventually(Duration::from_secs(5), what, || async {
        let bytes = setup().logs.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| matches(l))
    })
    .await
}

/// The request event of the request with id `id`.
async fn request_event(id: &str) -> Value {
    logged_line("the request event", |l| {
        l["request_id"] == id && l["target"] == "observe::request"
    })
    .await
}

/// `GET /relay/1` on `addr` with `headers` (the next hop answers 404):
/// what the next hop received.
async fn relay(
    addr: std::net::SocketAddr,
    headers: &[(&str, &str)],
    seen: &std::sync::Mutex<Vec<observe_tests::Received>>,
) -> observe_tests::Received {
    let before = seen.lock().unwrap().len();
    let mut request = client().get(format!("http://{addr}/relay/1"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let status = request.send().await.unwrap().status();
    assert_eq!(status, 404, "{addr}");
    seen.lock().unwrap()[before].clone()
}

async fn fetch(addr: std::net::SocketAddr, path: &str, parent: Option<&str>) -> u16 {
    let mut request = client().get(format!("http://{addr}{path}"));
    if let Some(parent) = parent {
        request = request.header("traceparent", parent);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_and_client_spans_arrive_on_every_framework() {
    setup();
    for (n, framework) in FRAMEWORKS.into_iter().enumerate() {
        let addr = start_example(framework, &example_observe()).await;
        let cases = [
            (format!("/users/{}", 20 + n), 200, "GET /users/{id}", 0),
            ("/users/1000000".to_string(), 500, "GET /users/{id}", 2),
            ("/users/0".to_string(), 404, "GET /users/{id}", 0),
            ("/panic".to_string(), 500, "GET /panic", 2),
        ];
        for (i, (path, status, name, span_status)) in cases.iter().enumerate() {
            let trace = trace_for(n * 10 + i);
            let header = traceparent(&trace, PARENT);
            assert_eq!(fetch(addr, path, Some(&header)).await, *status, "{path}");
            let spans = spans_of(&trace, 1).await;
            let server = spans
                .iter()
                .find(|s| s.kind == 2)
                .unwrap_or_else(|| panic!("{framework:?} {path}: {spans:#?}"));
            assert_eq!(server.name, *name, "{framework:?}");
            assert_eq!(server.service, "shop");
            assert_eq!(
                server.parent_span_id, PARENT,
                "continues the caller's trace"
            );
            assert_eq!(server.status, *span_status, "{framework:?} {path}");
            assert_eq!(server.attribute("http.request.method"), Some("GET"));
            assert_eq!(server.attribute("url.scheme"), Some("http"));
            assert_eq!(
                server.attribute("http.route"),
                Some(name.trim_start_matches("GET ")),
                "{framework:?}"
            );
            assert_eq!(
                server.attribute("http.response.status_code"),
                Some(status.to_string().as_str())
            );
            let error_type = server.attribute("error.type");
            match *status {
                500 if path == "/panic" => assert_eq!(error_type, Some("panic")),
                500 => assert_eq!(error_type, Some("500")),
                _ => assert_eq!(error_type, None),
            }
            if i == 0 {
                // A cache miss: one database call, a client span under the
                // server span.
                let spans = spans_of(&trace, 2).await;
                let call = spans.iter().find(|s| s.kind == 3).unwrap();
                assert_eq!(call.name, "postgres select_user");
                assert_eq!(call.parent_span_id, server.span_id, "{framework:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_traceparent_headers_start_a_new_trace() {
    setup();
    let addr = start_example(FRAMEWORKS[0], &example_observe()).await;
    let before: std::collections::HashSet<String> = setup()
        .receiver
        .spans()
        .into_iter()
        .map(|s| s.span_id)
        .collect();
    let long = "0".repeat(10_000);
    let bad = [
        "",
        "garbage",
        &long,
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
    ];
    for header in bad {
        assert_eq!(fetch(addr, "/users/5", Some(header)).await, 200);
    }
    assert!(setup().guard.flush(std::time::Duration::from_secs(5)));
    let fresh: Vec<ReceivedSpan> = eventually(Duration::from_secs(10), "fresh spans", || async {
        assert!(setup().guard.flush(std::time::Duration::from_secs(5)));
        let fresh: Vec<_> = setup()
            .receiver
            .spans()
            .into_iter()
            .filter(|s| s.kind == 2 && !before.contains(&s.span_id))
            .filter(|s| s.attribute("url.path") == Some("/users/5"))
            .collect();
        (fresh.len() >= bad.len()).then_some(fresh)
    })
    .await;
    for span in fresh {
        assert_eq!(span.parent_span_id, "", "a new root: {span:?}");
        assert_ne!(span.trace_id, TRACE);
    }
}

/// A caller that sampled its trace out: the service continues it under
/// its own span ids, exports no span of it (nor of the calls it makes),
/// passes the trace on unsampled with the caller's `tracestate`, and its
/// request event carries the ids, on every framework.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_the_caller_sampled_out_is_continued_and_not_exported() {
    setup();
    let (hop, seen) = next_hop().await;
    for (case, framework) in FRAMEWORKS.into_iter().enumerate() {
        let addr = relaying_shop(framework, hop).await;
        let trace = trace_for(800 + case);
        let request_id = format!("unsampled-{case}");
        let unsampled = format!("00-{trace}-{PARENT}-00");
        let received = relay(
            addr,
            &[
                ("traceparent", &unsampled),
                ("tracestate", "vendor=1"),
                ("x-request-id", &request_id),
            ],
            &seen,
        )
        .await;
        let sent_on = &received.traceparent[0];
        assert!(
            sent_on.starts_with(&format!("00-{trace}-")) && sent_on.ends_with("-00"),
            "{framework}: {sent_on}"
        );
        assert!(
            !sent_on.contains(PARENT),
            "{framework}: a span id of its own"
        );
        assert_eq!(received.tracestate, vec!["vendor=1".to_string()]);
        let event = request_event(&request_id).await;
        assert_eq!(event["trace_id"], trace.as_str(), "{framework}");
        let span_id = event["span_id"].as_str().unwrap();
        assert!(
            span_id.len() == 16 && span_id != PARENT,
            "{framework}: {span_id}"
        );
    }
    // A sampled request after them, flushed: the sampled-out ones, done
    // before it, would have arrived by now.
    let addr = start_example(FRAMEWORKS[0], &example_observe()).await;
    let sampled = trace_for(899);
    assert_eq!(
        fetch(addr, "/users/7", Some(&traceparent(&sampled, PARENT))).await,
        200
    );
    spans_of(&sampled, 1).await;
    let exported: Vec<_> = setup()
        .receiver
        .spans()
        .into_iter()
        .filter(|s| (800..800 + FRAMEWORKS.len()).any(|case| s.trace_id == trace_for(case)))
        .collect();
    assert!(
        exported.is_empty(),
        "sampled out, yet exported: {exported:#?}"
    );
}

/// W3C Trace Context Level 2 keys with span export on: the caller's trace
/// and tracestate go on to the next hop, on every framework.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn level_2_tracestate_keys_pass_through_an_exporting_service() {
    setup();
    let (hop, seen) = next_hop().await;
    let state = format!("foo@=1,foo@@bar=1,foo@bar@baz=1,{}@v=1", "t".repeat(242));
    for (case, framework) in FRAMEWORKS.into_iter().enumerate() {
        let addr = relaying_shop(framework, hop).await;
        let trace = trace_for(700 + case);
        for (sent, expected) in [
            (state.clone(), vec![state.clone()]),
            ("foo=1,@foo=1".to_string(), vec![]),
            (format!("foo=1,{}=1", "k".repeat(257)), vec![]),
        ] {
            let parent = traceparent(&trace, PARENT);
            let received = relay(
                addr,
                &[("traceparent", &parent), ("tracestate", &sent)],
                &seen,
            )
            .await;
            assert!(
                received.traceparent[0].contains(&trace),
                "{framework}: {received:?}"
            );
            assert_eq!(received.tracestate, expected, "{framework} {sent}");
        }
        let spans = spans_of(&trace, 1).await;
        assert!(
            spans.iter().any(|s| s.parent_span_id == PARENT),
            "{framework}: the server span continues the caller's trace"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_calls_carry_the_client_span_and_a_second_service_continues_it() {
    setup();
    // The second hop: the example service, observed too.
    let downstream = start_example(FRAMEWORKS[0], &example_observe()).await;
    // The first hop: calls the second inside a dependency call, with the
    // context injected into the outgoing request.
    let observe = Observe::builder().service_name("edge").build().unwrap();
    let api = observe.dependency("shop-api");
    let app = Router::new()
        .route(
            "/relay",
            get(move || {
                let api = api.clone();
                async move {
                    // The application's own `tracing` span: a child of the
                    // request's span.
                    let url = async {
                        // A log line inside it: a line, not a span event.
                        tracing::info!("relay prepared");
                        format!("http://{downstream}/users/31")
                    }
                    .instrument(tracing::info_span!("prepare_relay"))
                    .await;
                    let response = api
                        .call("get_user", async {
                            observe_core::trace::inject_reqwest(client().get(url))
                                .send()
                                .await
                        })
                        .await
                        .unwrap();
                    response.status().as_u16().to_string()
                }
            }),
        )
        .layer(observe_axum::ObserveLayer::new(&observe));
    let edge = spawn_axum(app).await;
    let trace = trace_for(900);
    let response = client()
        .get(format!("http://{edge}/relay"))
        .header("traceparent", traceparent(&trace, PARENT))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "200");
    // edge server span, its tracing span, its client span, shop server span,
    // shop's database call.
    let spans = spans_of(&trace, 5).await;
    let edge_server = spans.iter().find(|s| s.name == "GET /relay").unwrap();
    let client_span = spans
        .iter()
        .find(|s| s.name == "shop-api get_user")
        .unwrap();
    let shop_server = spans.iter().find(|s| s.name == "GET /users/{id}").unwrap();
    // One tracer provider per process, each instance under its own name.
    assert_eq!(edge_server.service, "edge");
    assert_eq!(client_span.service, "edge");
    assert_eq!(shop_server.service, "shop");
    assert_eq!(edge_server.parent_span_id, PARENT);
    let own = spans.iter().find(|s| s.name == "prepare_relay").unwrap();
    // The application's own span speaks for its request's instance too.
    assert_eq!(own.service, "edge");
    assert_eq!(
        own.parent_span_id, edge_server.span_id,
        "tracing spans nest"
    );
    assert!(
        own.events.is_empty(),
        "log lines are not span events: {own:?}"
    );
    let line = logged_line("the line inside the span", |l| {
        l["message"] == "relay prepared" && l["trace_id"] == trace.as_str()
    })
    .await;
    assert_eq!(line["span_id"], edge_server.span_id.as_str(), "{line}");
    assert_eq!(client_span.kind, 3);
    assert_eq!(client_span.parent_span_id, edge_server.span_id);
    assert_eq!(
        shop_server.parent_span_id, client_span.span_id,
        "the outgoing traceparent named the client span"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exemplars_point_at_exported_traces_and_log_lines_carry_the_ids() {
    setup();
    let observe = example_observe();
    let addr = start_example(FRAMEWORKS[2], &observe).await;
    let trace = trace_for(700);
    let response = client()
        .get(format!("http://{addr}/users/41"))
        .header("traceparent", traceparent(&trace, PARENT))
        .header("x-request-id", "traced-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let spans = spans_of(&trace, 2).await;
    let server = spans.iter().find(|s| s.kind == 2).unwrap();

    let (_, text) = scrape(addr, Some("application/openmetrics-text")).await;
    let exemplar = format!("# {{trace_id=\"{trace}\",span_id=\"{}\"}}", server.span_id);
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("http_server_request_duration_seconds_bucket") && l.contains(&exemplar)
        })
        .unwrap_or_else(|| panic!("no exemplar {exemplar} in:\n{text}"));
    assert!(line.contains("http_route=\"/users/{id}\""), "{line}");
    let client_span = spans.iter().find(|s| s.kind == 3).unwrap();
    assert!(
        text.lines().any(
            |l| l.starts_with("observe_dependency_duration_seconds_bucket")
                && l.contains(&client_span.span_id)
        ),
        "dependency exemplar"
    );
    if let Some((ok, output)) = strict_openmetrics_parse(&text) {
        assert!(ok, "{output}");
    }
    let (_, plain) = scrape(addr, Some("text/plain")).await;
    assert!(!plain.contains("trace_id"), "no exemplars in text 0.0.4");

    let event = request_event("traced-1").await;
    assert_eq!(event["trace_id"], trace.as_str());
    assert_eq!(event["span_id"], server.span_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_derived_labels_reach_the_span_and_the_event() {
    setup();
    for (n, framework) in FRAMEWORKS.into_iter().enumerate() {
        let observe = Observe::builder()
            .service_name("shop")
            .http_label("plan")
            .http_label_fn("client", |r| r.header("x-client-kind").map(str::to_string))
            .build()
            .unwrap();
        let addr = start_example(framework, &observe).await;
        let trace = trace_for(800 + n);
        let id = format!("labelled-{n}");
        let response = client()
            .get(format!("http://{addr}/users/2"))
            .header("traceparent", traceparent(&trace, PARENT))
            .header("x-request-id", &id)
            .header("x-client-kind", "web")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let spans = spans_of(&trace, 1).await;
        let server = spans.iter().find(|s| s.kind == 2).unwrap();
        assert_eq!(server.attribute("plan"), Some("pro"), "{framework:?}");
        assert_eq!(server.attribute("client"), Some("web"), "{framework:?}");
        let event = request_event(&id).await;
        assert_eq!(
            event["event"]["labels"],
            serde_json::json!({"plan": "pro", "client": "web"}),
            "{framework:?}: {event}"
        );
    }
}

#[test]
fn bad_tracing_settings_name_the_variable() {
    // Checked without touching the process's own set-up: a sampler typo is
    // refused before anything is installed.
    let observe = Observe::builder().build().unwrap();
    let err = observe
        .tracing()
        .endpoint("localhost:4318")
        .try_init()
        .unwrap_err();
    assert!(err.to_string().contains("http://"), "{err}");
}
