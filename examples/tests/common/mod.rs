//! Runs an example binary as an operator would and reads its JSON lines.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running example service, killed when dropped.
pub(crate) struct Service {
    child: Child,
    lines: Receiver<String>,
    /// The address it listens on.
    pub(crate) addr: String,
    /// The line saying whether error tracking is on.
    pub(crate) errors_line: Value,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `binary` on a free loopback port with `envs` (over a clean
/// logging and error-tracking environment) and waits until it listens.
pub(crate) fn start(binary: &str, envs: &[(&str, &str)]) -> Service {
    let mut child = Command::new(binary)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env_remove("RUST_LOG")
        .env_remove("OBSERVE_LOG_REMAP")
        .env_remove("OBSERVE_LOG_FORMAT")
        .env_remove("SENTRY_DSN")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("SHOP_UPSTREAM")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the example service");
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
    pub(crate) fn next_json(&self, want: impl Fn(&Value) -> bool) -> Value {
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

    /// Every JSON line written until none came for `quiet`.
    pub(crate) fn collect_json(&self, quiet: Duration) -> Vec<Value> {
        let mut lines = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(quiet) {
            if let Ok(json) = serde_json::from_str(&line) {
                lines.push(json);
            }
        }
        lines
    }

    /// The service's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET path` with an `x-request-id`; returns the status.
    pub(crate) fn get(&self, path: &str, request_id: &str) -> u16 {
        self.get_with(path, request_id, "")
    }

    /// `GET path` with an `x-request-id` and `extra` header lines (each
    /// ending in `\r\n`); returns the status.
    pub(crate) fn get_with(&self, path: &str, request_id: &str, extra: &str) -> u16 {
        let mut stream = std::net::TcpStream::connect(&self.addr).unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nhost: t\r\nx-request-id: {request_id}\r\n{extra}connection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response[9..12].parse().unwrap()
    }
}
