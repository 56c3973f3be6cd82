//! A panicking example service, as a log pipeline reading stdout and
//! stderr as JSON sees it: with `RUST_BACKTRACE=1`, every line it writes
//! on either stream is JSON, and the panic is one ERROR line naming where
//! it happened, inside which request, with the backtrace as one field.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Every line of `stream`, as it comes.
fn lines_of(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (sender, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

fn json(line: &str, stream: &str) -> Value {
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{stream} line is not JSON ({e}): {line:?}"))
}

/// `GET path` over a new connection; the status line.
fn get(addr: &str, path: &str, request_id: &str) -> String {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        socket,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nx-request-id: {request_id}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = socket.read_to_string(&mut answer);
    answer.lines().next().unwrap_or_default().to_string()
}

fn check(binary: &str) {
    let mut child = Command::new(binary)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        // The admin listener off: /metrics on the public port, and no
        // clash on the default admin port between parallel tests.
        .env("OBSERVE_ADMIN_ADDR", "off")
        .env("RUST_BACKTRACE", "1")
        .env_remove("RUST_LOG")
        .env_remove("OBSERVE_LOG_FORMAT")
        .env_remove("SENTRY_DSN")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = loop {
        let line = stdout
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("{binary} never said it listens"));
        let value = json(&line, "stdout");
        seen.push(value.clone());
        if value["message"] == "listening" {
            break value["fields"]["server.address"]
                .as_str()
                .unwrap()
                .to_string();
        }
    };
    assert!(get(&addr, "/panic", "panic-1").contains(" 500"), "{binary}");
    assert!(
        get(&addr, "/users/1", "after-panic").contains(" 200"),
        "{binary}"
    );
    // The panic line and the request's event, then nothing more to wait for.
    let panic_line = loop {
        let line = stdout
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("{binary} wrote no panic line: {seen:#?}"));
        let value = json(&line, "stdout");
        seen.push(value.clone());
        if value["target"] == "observe::panic" {
            break value;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    for line in stdout.try_iter() {
        seen.push(json(&line, "stdout"));
    }
    // stderr: the standard hook's text must not be there, nor anything
    // else that is not JSON.
    for line in stderr.try_iter() {
        json(&line, "stderr");
    }
    assert_eq!(panic_line["level"], "ERROR", "{panic_line:#}");
    assert_eq!(panic_line["message"], "the /panic route panics on purpose");
    assert_eq!(panic_line["request_id"], "panic-1", "{panic_line:#}");
    assert_eq!(
        panic_line["fields"]["http.route"], "/panic",
        "{panic_line:#}"
    );
    let location = panic_line["fields"]["panic.location"].as_str().unwrap();
    assert!(location.contains("_app.rs:"), "{location}");
    assert!(
        panic_line["fields"]["thread.name"].as_str().is_some(),
        "{panic_line:#}"
    );
    let backtrace = panic_line["fields"]["backtrace"].as_str().unwrap();
    assert!(backtrace.lines().count() > 3, "{backtrace}");
    // One line for the panic: no second ERROR line about the same request.
    let errors: Vec<&Value> = seen
        .iter()
        .filter(|l| l["level"] == "ERROR" && l["request_id"] == "panic-1")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
}

#[test]
fn axum_panics_are_one_json_line() {
    check(env!("CARGO_BIN_EXE_axum-service"));
}

#[test]
fn actix_panics_are_one_json_line() {
    check(env!("CARGO_BIN_EXE_actix-service"));
}

#[test]
fn tower_panics_are_one_json_line() {
    check(env!("CARGO_BIN_EXE_tower-service"));
}
