//! The example binary as an operator runs it: JSON lines on stdout,
//! `RUST_LOG` and `OBSERVE_LOG_REMAP` honoured, bad settings refused at
//! start-up with a message that quotes them.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Service {
    child: Child,
    lines: Receiver<String>,
    addr: String,
    /// The line saying whether error tracking is on.
    errors_line: Value,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(envs: &[(&str, &str)]) -> Service {
    let mut child = Command::new(env!("CARGO_BIN_EXE_axum-service"))
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env_remove("RUST_LOG")
        .env_remove("OBSERVE_LOG_REMAP")
        .env_remove("OBSERVE_LOG_FORMAT")
        .env_remove("SENTRY_DSN")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn axum-service");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut service = Service {
        child,
        lines,
        addr: String::new(),
        errors_line: Value::Null,
    };
    // Error tracking is set up before the listener: its INFO line (when
    // RUST_LOG lets it through) comes first.
    let mut listening =
        service.next_json(|l| l["target"] == "observe::errors" || l["message"] == "listening");
    if listening["target"] == "observe::errors" {
        service.errors_line = listening;
        listening = service.next_json(|l| l["message"] == "listening");
    }
    service.addr = listening["fields"]["address"].as_str().unwrap().to_string();
    service
}

impl Service {
    /// The next stdout line matching `want`; every line must be JSON.
    fn next_json(&self, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .expect("a matching line in time");
            let json: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            if want(&json) {
                return json;
            }
        }
    }

    fn get(&self, path: &str, request_id: &str) -> u16 {
        let mut stream = std::net::TcpStream::connect(&self.addr).unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nhost: t\r\nx-request-id: {request_id}\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response[9..12].parse().unwrap()
    }
}

#[test]
fn json_lines_with_a_request_event_by_default() {
    let service = start(&[]);
    // Without SENTRY_DSN, one line says error tracking is off.
    let off = &service.errors_line;
    assert_eq!(off["level"], "INFO");
    assert!(off["message"].as_str().unwrap().contains("SENTRY_DSN"));
    assert_eq!(service.get("/users/3", "bin-1"), 200);
    let event =
        service.next_json(|l| l["request_id"] == "bin-1" && l["target"] == "observe::request");
    assert_eq!(event["level"], "INFO");
    assert_eq!(event["event"]["route"], "/users/{id}");
    assert!(event["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn rust_log_and_the_remap_variable_are_honoured() {
    // WARN and above, but INFO for the binary itself (its "listening"
    // line); the remap lifts the request event to WARN, so it shows too,
    // marked with its origin.
    let service = start(&[
        ("RUST_LOG", "warn,axum_service=info"),
        ("OBSERVE_LOG_REMAP", "observe::request=info:warn"),
    ]);
    assert_eq!(service.get("/users/1000000", "bin-2"), 500);
    // The shop's WARN comes first, then the event.
    let warn =
        service.next_json(|l| l["request_id"] == "bin-2" && l["target"] != "observe::request");
    assert_eq!(warn["level"], "WARN");
    let event =
        service.next_json(|l| l["request_id"] == "bin-2" && l["target"] == "observe::request");
    assert_eq!(event["level"], "WARN");
    assert_eq!(event["original_level"], "INFO");
}

#[test]
fn bad_settings_stop_the_service_and_say_why() {
    for (name, value, quoted) in [
        (
            "OBSERVE_LOG_REMAP",
            "hyper=errr:warn",
            "\"hyper=errr:warn\"",
        ),
        ("RUST_LOG", "shop=loud", "shop=loud"),
        ("OBSERVE_LOG_FORMAT", "xml", "\"xml\""),
        // The key is masked in the message; the form expected is given.
        (
            "SENTRY_DSN",
            "https://abc@sentry.example.com",
            "https://***@sentry.example.com",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_axum-service"))
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env(name, value)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{name}={value} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(name), "{stderr}");
        assert!(stderr.contains(quoted), "{stderr}");
    }
}
