//! Logging and the per-request event, through real servers on loopback:
//! every line is JSON, every request (ok, 4xx, 5xx, panic, cancelled) has
//! exactly one event on every framework, remapping applies, and planted
//! secrets never reach the output bytes.
//!
//! Logging is process-wide, so this file installs it once and each test
//! tells its lines apart by request id.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use observe_core::Observe;
use observe_tests::{
    CapturedOutput, FRAMEWORKS, client, eventually, example_observe, spawn_axum, start_example,
};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tracing::Level;

/// The raw bytes written so far, after installing logging on first use.
fn output() -> &'static CapturedOutput {
    static OUTPUT: OnceLock<CapturedOutput> = OnceLock::new();
    OUTPUT.get_or_init(|| {
        let captured = CapturedOutput::default();
        let observe = Observe::builder().service_name("shop").build().unwrap();
        let guard = observe
            .logging()
            .filter("info")
            .remap("chatty", Level::INFO, Level::DEBUG)
            .remap("noisy", Level::ERROR, Level::WARN)
            .writer(captured.clone())
            .try_init()
            .expect("first and only logging setup in this process");
        // Lines are flushed by the writer thread; keep the guard for good.
        std::mem::forget(guard);
        captured
    })
}

fn lines() -> Vec<Value> {
    let bytes = output().0.lock().unwrap().clone();
    let text = String::from_utf8(bytes).expect("UTF-8 output");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

fn events_for(id: &str) -> Vec<Value> {
    lines()
        .into_iter()
        .filter(|l| {
            l["target"] == "observe::request"
                && l["request_id"] == id
                && l["message"] == "request finished"
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_has_exactly_one_event_on_every_framework() {
    output();
    for framework in FRAMEWORKS {
        let addr = start_example(framework, &example_observe()).await;
        let c = client();
        let cases = [
            ("GET", "/users/5", None, 200, None),
            ("GET", "/users/0", None, 404, None),
            (
                "POST",
                "/orders",
                Some(r#"{"item":"book","quantity":3}"#),
                201,
                None,
            ),
            ("GET", "/users/1000000", None, 500, Some("500")),
            ("GET", "/panic", None, 500, Some("panic")),
        ];
        for (i, (method, path, body, status, error)) in cases.iter().enumerate() {
            let id = format!("{framework}-case-{i}");
            let mut request = c
                .request(method.parse().unwrap(), format!("http://{addr}{path}"))
                .header("x-request-id", &id);
            if let Some(body) = body {
                request = request.body(*body);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), *status, "{framework} {path}");
            assert_eq!(
                response.headers()["x-request-id"],
                id.as_str(),
                "{framework} {path}"
            );
            let event = eventually(Duration::from_secs(10), "the event", || async {
                let events = events_for(&id);
                (!events.is_empty()).then_some(events)
            })
            .await;
            assert_eq!(event.len(), 1, "{framework} {path}: {event:#?}");
            let e = &event[0]["event"];
            assert_eq!(e["status"], *status, "{framework} {path}");
            assert_eq!(e["method"], *method);
            assert_eq!(e["error_type"].as_str(), *error, "{framework} {path}");
            assert!(e["duration_ms"].as_f64().unwrap() >= 0.0);
            assert_eq!(event[0]["level"], "INFO");
            assert_eq!(event[0]["service"], "shop");
        }
        // The user lookups went through the cache and the database.
        let first = &events_for(&format!("{framework}-case-0"))[0]["event"];
        assert_eq!(first["route"], "/users/{id}");
        assert_eq!(first["cache"]["misses"], 1);
        assert_eq!(first["dependencies"]["count"], 1);
        assert_eq!(
            first["dependencies"]["calls"][0]["operation"],
            "select_user"
        );
        assert_eq!(first["dependencies"]["calls"][0]["outcome"], "ok");
        let order = &events_for(&format!("{framework}-case-2"))[0]["event"];
        assert_eq!(order["fields"]["order_quantity"], "3");
        // A panic is an ERROR line too, with the request id.
        let panic_id = format!("{framework}-case-4");
        let errors: Vec<_> = lines()
            .into_iter()
            .filter(|l| l["level"] == "ERROR" && l["request_id"] == panic_id.as_str())
            .collect();
        assert_eq!(errors.len(), 1, "{framework}: {errors:#?}");

        // Cancelled: the client hangs up while the handler sleeps.
        let id = format!("{framework}-cancelled");
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!("GET /slow?ms=3000 HTTP/1.1\r\nhost: t\r\nx-request-id: {id}\r\n\r\n");
        socket.write_all(head.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(socket);
        let event = eventually(Duration::from_secs(10), "the cancelled event", || async {
            let events = events_for(&id);
            (!events.is_empty()).then_some(events)
        })
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(events_for(&id).len(), 1);
        assert_eq!(event[0]["event"]["error_type"], "cancelled", "{framework}");
    }
}

/// A handler that logs everything a careless service might.
async fn careless(headers: axum::http::HeaderMap, uri: axum::http::Uri) -> &'static str {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info!(
        password = "hunter2-PLANTED",
        access_token = "tok-PLANTED-1",
        client_secret = "cs-PLANTED-2",
        user_email = "jane.PLANTED@example.com",
        card = "4111 1111 1111 1111",
        uri = %uri,
        "login by jane.PLANTED@example.com with {auth} from https://admin:pw-PLANTED-3@db.internal/x"
    );
    log::warn!(target: "legacy", "from the log crate, password=log-PLANTED-6");
    tracing::info!(target: "chatty", "chatty info becomes debug and is filtered");
    tracing::error!(target: "noisy", "noisy error becomes warn");
    observe_core::add_event_field("api_key", "ak-PLANTED-4");
    observe_core::add_event_field("note", "line one\nline two");
    "ok"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_output_and_remaps_apply() {
    output();
    let observe = Observe::builder().build().unwrap();
    let app = Router::new()
        .route("/careless", get(careless))
        .layer(observe_axum::ObserveLayer::new(&observe));
    let addr = spawn_axum(app).await;
    let c = client();
    // 50 concurrent requests: lines must stay whole JSON objects.
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..50 {
        let c = c.clone();
        requests.spawn(async move {
            c.get(format!("http://{addr}/careless?token=qs-PLANTED-5&page=2"))
                .header(
                    "authorization",
                    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJQTEFOVEVEIn0.c2lnUExBTlRFRA",
                )
                .header("x-request-id", format!("careless-{i}"))
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    let all = eventually(Duration::from_secs(10), "50 events", || async {
        let events = (0..50).all(|i| events_for(&format!("careless-{i}")).len() == 1);
        events.then(lines)
    })
    .await;
    let raw = String::from_utf8(output().0.lock().unwrap().clone()).unwrap();
    for secret in [
        "hunter2",
        "tok-PLANTED",
        "cs-PLANTED",
        "jane.PLANTED@example.com",
        "4111 1111 1111 1111",
        "pw-PLANTED",
        "qs-PLANTED",
        "eyJhbGciOiJIUzI1NiJ9",
        "ak-PLANTED",
        "log-PLANTED",
    ] {
        assert!(!raw.contains(secret), "{secret} leaked into the log output");
    }
    let logged: Vec<_> = all
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("login by"))
        })
        .collect();
    assert_eq!(logged.len(), 50);
    let line = logged[0];
    // Ordinary values survive, sensitive ones are replaced.
    assert_eq!(line["fields"]["password"], "[REDACTED]");
    assert!(line["fields"]["uri"].as_str().unwrap().contains("page=2"));
    assert!(
        line["request_id"]
            .as_str()
            .unwrap()
            .starts_with("careless-")
    );
    assert_eq!(line["target"], "logging");
    // Remapped: chatty INFO is now DEBUG and filtered out; noisy ERROR is a
    // WARN that says what it was.
    assert!(!raw.contains("chatty info becomes debug"));
    let noisy: Vec<_> = all.iter().filter(|l| l["target"] == "noisy").collect();
    assert_eq!(noisy.len(), 50);
    assert_eq!(noisy[0]["level"], "WARN");
    assert_eq!(noisy[0]["original_level"], "ERROR");
    // `log` records arrive with their own target and level.
    let legacy: Vec<_> = all.iter().filter(|l| l["target"] == "legacy").collect();
    assert_eq!(legacy.len(), 50);
    assert_eq!(legacy[0]["level"], "WARN");
    assert!(
        legacy[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("from the log crate")
    );
    // An added field with a line break cannot forge a line.
    let event = &events_for("careless-0")[0];
    assert_eq!(event["event"]["fields"]["api_key"], "[REDACTED]");
    assert!(
        !event["event"]["fields"]["note"]
            .as_str()
            .unwrap()
            .contains('\n')
    );
    // Lines are counted by their remapped level.
    let text = observe.render(observe_core::Format::Text).into_text();
    let warn = text
        .lines()
        .find(|l| l.starts_with("observe_log_events_total{level=\"warn\"}"))
        .unwrap();
    let count: f64 = warn.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 50.0, "{warn}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_sampling_keeps_every_failure_and_weights_the_rest() {
    output();
    for framework in FRAMEWORKS {
        let observe = Observe::builder()
            .service_name("sampled")
            .exclude_route("/metrics")
            .event_sampling(
                observe_core::EventSampling::keep_ratio(0.1).slow_above(Duration::from_millis(300)),
            )
            .build()
            .unwrap();
        let addr = start_example(framework, &observe).await;
        let c = client();
        let prefix = format!("{framework}-sampled");
        let send = |path: String, id: String| {
            let c = c.clone();
            async move {
                c.get(format!("http://{addr}{path}"))
                    .header("x-request-id", id)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        const FAST: usize = 200;
        for i in 0..FAST {
            assert_eq!(
                send(format!("/users/{}", i % 50 + 1), format!("{prefix}-ok-{i}")).await,
                200
            );
        }
        for i in 0..5 {
            assert_eq!(
                send("/users/1000000".into(), format!("{prefix}-fail-{i}")).await,
                500
            );
        }
        assert_eq!(
            send("/slow?ms=350".into(), format!("{prefix}-slow")).await,
            200
        );
        // Every failure and the slow request, weight 1.
        for id in (0..5)
            .map(|i| format!("{prefix}-fail-{i}"))
            .chain([format!("{prefix}-slow")])
        {
            let events = eventually(Duration::from_secs(10), &id, || async {
                let events = events_for(&id);
                (!events.is_empty()).then_some(events)
            })
            .await;
            assert_eq!(events.len(), 1, "{id}");
            assert_eq!(events[0]["event"]["sample_rate"], 1, "{id}");
        }
        // The fast successes: about a tenth kept, each standing for ten,
        // so their weights add up to the requests sent (within one kept
        // event per worker thread, each of which keeps its first).
        let kept: Vec<Value> = lines()
            .into_iter()
            .filter(|l| {
                l["target"] == "observe::request"
                    && l["request_id"]
                        .as_str()
                        .is_some_and(|id| id.starts_with(&format!("{prefix}-ok-")))
            })
            .collect();
        assert!(
            !kept.is_empty() && kept.len() < FAST / 4,
            "{framework}: {} kept",
            kept.len()
        );
        assert!(
            kept.iter().all(|l| l["event"]["sample_rate"] == 10),
            "{kept:#?}"
        );
        let weight = kept.len() * 10;
        assert!(
            weight.abs_diff(FAST) <= 10 * 4,
            "{framework}: weights add up to {weight} for {FAST} requests"
        );
        // Metrics saw every request.
        let text = observe.render(observe_core::Format::Text).into_text();
        assert!(
            text.contains(&format!(
                "http_server_request_duration_seconds_count{{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/users/{{id}}\"}} {FAST}"
            )),
            "{framework}"
        );
    }
}
