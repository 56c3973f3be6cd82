//! Graceful shutdown of every example binary, as a deploy sees it: on
//! SIGTERM or SIGINT the service stops accepting connections, answers the
//! request in flight, writes its request event and exits 0; at the drain
//! timeout it abandons what is left, says how much, and still exits 0; a
//! bad `SHUTDOWN_TIMEOUT` stops start-up.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

const AXUM: &str = env!("CARGO_BIN_EXE_axum-service");
const ACTIX: &str = env!("CARGO_BIN_EXE_actix-service");
const TOWER: &str = env!("CARGO_BIN_EXE_tower-service");

/// How to start each binary so a scrape does not count itself in flight:
/// axum and actix serve `/metrics` on a listener of their own (which also
/// has to outlive the drain); the tower example has none, so its scrape
/// counts as one more GET.
fn start(binary: &str, envs: &[(&str, &str)]) -> (common::Service, u64) {
    if binary == TOWER {
        (common::start(binary, envs), 1)
    } else {
        let mut envs = envs.to_vec();
        envs.push(("OBSERVE_METRICS_ADDR", "127.0.0.1:0"));
        (common::start(binary, &envs), 0)
    }
}

/// Sends `GET path` with `x-request-id: id` on a thread; the receiver gets
/// the whole response (empty if the connection was dropped without one).
fn request_in_background(addr: &str, path: &str, id: &str) -> Receiver<String> {
    let (sender, receiver) = channel();
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: t\r\nx-request-id: {id}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    std::thread::spawn(move || {
        let mut response = Vec::new();
        // A reset is an answer too: no response.
        let _ = stream.read_to_end(&mut response);
        let _ = sender.send(String::from_utf8_lossy(&response).into_owned());
    });
    receiver
}

/// `http_server_active_requests` for GET, from `/metrics` at `addr`.
fn active_gets(addr: &str) -> Option<u64> {
    let mut stream = TcpStream::connect(addr).ok()?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response
        .lines()
        .find_map(|l| l.strip_prefix("http_server_active_requests{http_request_method=\"GET\"} "))?
        .trim()
        .parse()
        .ok()
}

/// Polls `/metrics` until `want` GET requests (besides any scrape that
/// counts itself) are in flight.
fn wait_until_in_flight(service: &common::Service, self_counted: u64, want: u64) {
    let addr = service.metrics_addr.as_deref().unwrap_or(&service.addr);
    let deadline = Instant::now() + Duration::from_secs(10);
    while active_gets(addr) != Some(want + self_counted) {
        assert!(
            Instant::now() < deadline,
            "never {want} request(s) in flight"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether a new connection to `addr` is refused or gets no response.
fn refused(addr: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return true;
    };
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let _ = stream.write_all(b"GET /health HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    !response.starts_with(b"HTTP/1.1 ")
}

fn shutdown_line(service: &common::Service) -> Value {
    service.next_json(|l| {
        l["target"] == "observe::shutdown" && l["message"] == "shutdown signal received"
    })
}

fn request_event<'a>(lines: &'a [Value], id: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| {
            l["target"] == "observe::request"
                && l["request_id"] == id
                && l["message"] == "request finished"
        })
        .unwrap_or_else(|| panic!("no request event for {id} in {lines:#?}"))
}

/// The request in flight at the signal is answered and recorded, no new
/// connection is taken meanwhile, and the process exits 0 soon after.
fn drains(binary: &str, signal: &str, signal_name: &str) {
    let (mut service, self_counted) = start(binary, &[]);
    let id = format!("drain-{signal}");
    let response = request_in_background(&service.addr, "/slow?ms=1500", &id);
    wait_until_in_flight(&service, self_counted, 1);

    service.signal(signal);
    let signalled = Instant::now();
    let line = shutdown_line(&service);
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["fields"]["signal"], signal_name);
    assert_eq!(line["fields"]["drain_timeout_seconds"], 25);

    // Refused while the slow request is still being served: the service
    // stopped accepting, it did not just finish first.
    let deadline = Instant::now() + Duration::from_secs(1);
    while !refused(&service.addr) {
        assert!(
            Instant::now() < deadline,
            "still accepting after SIG{signal}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        response.try_recv().is_err(),
        "the slow request finished before the listener closed"
    );

    let response = response.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response:?}");
    let status = service.wait_exit(Duration::from_secs(5)).expect("exits");
    assert!(status.success(), "{status}");
    assert!(signalled.elapsed() < Duration::from_secs(5));

    let lines = service.remaining_json();
    let event = request_event(&lines, &id);
    assert_eq!(event["event"]["route"], "/slow");
    assert_eq!(event["event"]["status"], 200);
}

#[test]
fn axum_drains_on_sigterm() {
    drains(AXUM, "TERM", "SIGTERM");
}

#[test]
fn axum_drains_on_sigint() {
    drains(AXUM, "INT", "SIGINT");
}

#[test]
fn actix_drains_on_sigterm() {
    drains(ACTIX, "TERM", "SIGTERM");
}

/// actix-web's own SIGINT handling would drop the request at once.
#[test]
fn actix_drains_on_sigint() {
    drains(ACTIX, "INT", "SIGINT");
}

#[test]
fn tower_drains_on_sigterm() {
    drains(TOWER, "TERM", "SIGTERM");
}

#[test]
fn tower_drains_on_sigint() {
    drains(TOWER, "INT", "SIGINT");
}

/// With `SHUTDOWN_TIMEOUT=1` a 10 s request is abandoned after a second:
/// a WARN line counts it, its event says it was cancelled, and the exit is
/// still 0 (the stop was asked for).
fn abandons_at_the_drain_timeout(binary: &str) {
    let (mut service, self_counted) = start(binary, &[("SHUTDOWN_TIMEOUT", "1")]);
    let response = request_in_background(&service.addr, "/slow?ms=10000", "abandoned");
    wait_until_in_flight(&service, self_counted, 1);

    service.signal("TERM");
    let signalled = Instant::now();
    assert_eq!(
        shutdown_line(&service)["fields"]["drain_timeout_seconds"],
        1
    );
    let warn = service.next_json(|l| l["target"] == "observe::shutdown");
    assert_eq!(warn["level"], "WARN", "{warn}");
    assert_eq!(warn["fields"]["abandoned"], 1, "{warn}");
    let status = service.wait_exit(Duration::from_secs(5)).expect("exits");
    assert!(status.success(), "{status}");
    let waited = signalled.elapsed();
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert!(waited < Duration::from_secs(4), "{waited:?}");

    let answer = response.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    let lines = service.remaining_json();
    let event = request_event(&lines, "abandoned");
    assert_eq!(event["event"]["error_type"], "cancelled");
    assert_eq!(event["event"]["status"], 499);
}

#[test]
fn axum_abandons_at_the_drain_timeout() {
    abandons_at_the_drain_timeout(AXUM);
}

#[test]
fn actix_abandons_at_the_drain_timeout() {
    abandons_at_the_drain_timeout(ACTIX);
}

#[test]
fn tower_abandons_at_the_drain_timeout() {
    abandons_at_the_drain_timeout(TOWER);
}

#[test]
fn a_bad_shutdown_timeout_stops_start_up() {
    for binary in [AXUM, ACTIX, TOWER] {
        let output = Command::new(binary)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            // The admin listener off: /metrics on the public port, and no
            // clash on the default admin port between parallel tests.
            .env("OBSERVE_ADMIN_ADDR", "off")
            .env("SHUTDOWN_TIMEOUT", "nonsense")
            .output()
            .unwrap();
        assert!(!output.status.success(), "{binary} accepted it");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("invalid SHUTDOWN_TIMEOUT=\"nonsense\""),
            "{stderr}"
        );
        assert!(stderr.contains("whole seconds"), "{stderr}");
        // Refused before anything started: not even logging.
        assert!(output.stdout.is_empty(), "{binary} started");
    }
}
