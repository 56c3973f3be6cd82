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
    /// The address of the admin listener (`/metrics`, health, the status
    /// page), when `OBSERVE_ADMIN_ADDR` (or the older
    /// `OBSERVE_METRICS_ADDR`) asked for one.
    pub(crate) metrics_addr: Option<String>,
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
    // The admin listener stays off (so /metrics is on the public port, and
    // parallel tests do not clash on its default port) unless asked for.
    let admin = envs
        .iter()
        .any(|(name, _)| matches!(*name, "OBSERVE_ADMIN_ADDR" | "OBSERVE_METRICS_ADDR"));
    let mut command = Command::new(binary);
    if !admin {
        command.env("OBSERVE_ADMIN_ADDR", "off");
    }
    let mut child = command
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env_remove("RUST_LOG")
        .env_remove("OBSERVE_LOG_REMAP")
        .env_remove("OBSERVE_LOG_FORMAT")
        .env_remove("SENTRY_DSN")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("SHOP_UPSTREAM")
        .env_remove("OBSERVE_METRICS_ADDR")
        .env_remove("OBSERVE_ADMIN_TOKEN")
        .env_remove("SHOP_DB_DOWN")
        .env_remove("SHUTDOWN_TIMEOUT")
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
        metrics_addr: None,
    };
    // Error tracking is set up before the listeners: its INFO line (when
    // RUST_LOG lets it through) comes first, then the /metrics listener's.
    loop {
        let line = service.next_json(|l| {
            l["target"] == "observe::errors"
                || l["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("serving /metrics"))
                || l["message"] == "listening"
        });
        let address = line["fields"]["server.address"]
            .as_str()
            .map(str::to_string);
        match line["message"].as_str() {
            Some("listening") => {
                service.addr = address.unwrap();
                return service;
            }
            Some(m) if m.starts_with("serving /metrics") => service.metrics_addr = address,
            _ => service.errors_line = line,
        }
    }
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

    /// Sends the process `signal` (`TERM`, `INT`) with `kill`, as an
    /// orchestrator would.
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// How the process exited, if it did within `within`.
    pub(crate) fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every JSON line not read yet, up to the end of stdout: call once the
    /// process exited.
    pub(crate) fn remaining_json(&self) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => lines.push(
                    serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("not JSON ({e}): {line}")),
                ),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return lines,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    panic!("stdout still open after the process exited")
                }
            }
        }
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

/// A child process (Prometheus, Alertmanager, a service), killed when
/// dropped.
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether `tool` runs (`tool version_flag`); a skip notice when it does
/// not, a failure when `OBSERVE_REQUIRE_TOOLS=1`.
pub(crate) fn available(tool: &str, version_flag: &str, package: &str) -> bool {
    if Command::new(tool)
        .arg(version_flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
    {
        return true;
    }
    let required = std::env::var("OBSERVE_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{tool} is required (OBSERVE_REQUIRE_TOOLS=1): apt-get install {package}"
    );
    eprintln!("SKIP: {tool} not available (apt-get install {package})");
    false
}

/// One HTTP/1.1 exchange with `addr` over a fresh connection: the status
/// code, the headers (lowercase names) and the body.
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // The listener's own address as Host, unless the caller sends one.
    let host = if headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        String::new()
    } else {
        format!("host: {addr}\r\n")
    };
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\n{host}connection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, rest) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, headers, body)
}

/// The body of a chunked response.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}
