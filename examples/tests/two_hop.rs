//! One trace across two processes: `tower-service` answers `GET /relay/{id}`
//! by asking `axum-service` for the user, with the trace context in the
//! outgoing request. Both write the caller's trace id in their request
//! events; nothing is exported (no collector), the ids travel anyway.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

#[test]
fn a_relayed_request_keeps_its_trace_id_in_both_services() {
    let second = common::start(env!("CARGO_BIN_EXE_axum-service"), &[]);
    let upstream = format!("http://{}", second.addr);
    let first = common::start(
        env!("CARGO_BIN_EXE_tower-service"),
        &[("SHOP_UPSTREAM", upstream.as_str())],
    );
    let header = format!("traceparent: 00-{TRACE}-b7ad6b7169203331-01\r\n");
    assert_eq!(first.get_with("/relay/7", "hop-1", &header), 200);

    let event = |l: &serde_json::Value| l["target"] == "observe::request";
    let relayed = first.next_json(|l| event(l) && l["request_id"] == "hop-1");
    assert_eq!(relayed["trace_id"], TRACE);
    assert_eq!(relayed["event"]["route"], "/relay/{id}");
    let call = &relayed["event"]["dependencies"]["calls"][0];
    assert_eq!(call["dependency"], "upstream");
    assert_eq!(call["outcome"], "ok");

    let answered = second.next_json(|l| event(l) && l["event"]["route"] == "/users/{id}");
    assert_eq!(
        answered["trace_id"], TRACE,
        "the second hop continued the trace"
    );
    assert_ne!(answered["span_id"], relayed["span_id"]);

    // Without an upstream the relay is off.
    assert_eq!(second.get("/relay/7", "hop-2"), 404);
}

#[test]
fn a_bad_upstream_stops_the_service_and_says_why() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_actix-service"))
        .env("LISTEN_ADDR", "127.0.0.1:0")
        // The admin listener off: /metrics on the public port, and no
        // clash on the default admin port between parallel tests.
        .env("OBSERVE_ADMIN_ADDR", "off")
        .env("SHOP_UPSTREAM", "localhost:3000")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("SHOP_UPSTREAM=\"localhost:3000\""),
        "{stderr}"
    );
}
