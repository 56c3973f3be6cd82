//! The quickstarts a user copies (`observe-*/examples/quickstart.rs`), run
//! as built: each answers on its public port, records the request under its
//! route template, serves `/metrics` and the probes on its admin listener,
//! writes JSON lines with the request's ids, and on SIGTERM drains and exits 0.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every package's `quickstart` example, built the way this workspace
/// builds it (cargo says where each executable is: they share one name).
fn quickstarts() -> Vec<(String, String)> {
    let output = Command::new(env!("CARGO"))
        .args([
            "build",
            "--workspace",
            "--example",
            "quickstart",
            "--message-format=json",
        ])
        .args(["--locked", "-q"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(output.status.success(), "building the quickstarts failed");
    let mut found = Vec::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let message: serde_json::Value = serde_json::from_str(line).unwrap();
        if let (Some(package), Some(executable)) = (
            message["package_id"].as_str(),
            message["executable"].as_str(),
        ) {
            found.push((package.to_string(), executable.to_string()));
        }
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A whole HTTP/1.1 exchange on a fresh connection: (status, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// Polls until the service answers, with a deadline.
fn wait_for(port: u16, path: &str) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(answer) = get(port, path) {
            return answer;
        }
        assert!(Instant::now() < deadline, "nothing answered on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_quickstart_serves_records_and_drains() {
    let quickstarts = quickstarts();
    let packages: Vec<&str> = quickstarts.iter().map(|(p, _)| p.as_str()).collect();
    for crate_name in ["observe-axum", "observe-actix", "observe-tower"] {
        assert!(
            packages
                .iter()
                .any(|p| p.contains(&format!("/{crate_name}#"))),
            "no quickstart built for {crate_name}: {packages:?}"
        );
    }
    for (package, executable) in &quickstarts {
        let admin = free_port();
        let mut child = Command::new(executable)
            .env("OBSERVE_ADMIN_ADDR", format!("127.0.0.1:{admin}"))
            .env("RUST_LOG", "info")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("SENTRY_DSN")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (status, body) = wait_for(3000, "/users/7");
        assert_eq!((status, body.as_str()), (200, "user 7"), "{package}");
        assert_eq!(get(3000, "/nope").unwrap().0, 404, "{package}");
        let (status, metrics) = wait_for(admin, "/metrics");
        assert_eq!(status, 200, "{package}");
        for series in [
            r#"http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/users/{id}"} 1"#,
            r#"http_route="_UNMATCHED"} 1"#,
        ] {
            assert!(
                metrics.contains(series),
                "{package}: no {series} in\n{metrics}"
            );
        }
        assert_eq!(get(admin, "/health/ready").unwrap().0, 200, "{package}");

        // SIGTERM: drained, flushed, exit 0.
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        assert!(killed.unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{package} did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "{package} exited with {status}");
        let lines: Vec<serde_json::Value> = BufReader::new(child.stdout.take().unwrap())
            .lines()
            .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
            .collect();
        let looked_up = lines
            .iter()
            .find(|line| line["message"] == "user looked up")
            .unwrap_or_else(|| panic!("{package}: no handler line in {lines:?}"));
        assert_eq!(looked_up["service"], "shop", "{package}");
        assert_eq!(
            looked_up["trace_id"].as_str().map(str::len),
            Some(32),
            "{package}"
        );
        let event = lines
            .iter()
            .find(|line| line["event"]["route"] == "/users/{id}")
            .unwrap_or_else(|| panic!("{package}: no request event in {lines:?}"));
        assert_eq!(event["request_id"], looked_up["request_id"], "{package}");
        assert!(
            lines
                .iter()
                .any(|line| line["message"] == "shutdown signal received"),
            "{package}: {lines:?}"
        );
    }
}
