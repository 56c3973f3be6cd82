//! The quickstarts a user copies (`observe-*/examples/quickstart.rs` and
//! `observe-tower/examples/grpc.rs`), run as built: each answers on its
//! public port, records the request under its route template, serves
//! `/metrics` and the probes on its admin listener, writes JSON lines with
//! the request's ids, and on SIGTERM drains and exits 0.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every package's `example`, built the way this workspace builds it
/// (cargo says where each executable is: the quickstarts share one name).
fn built(example: &str) -> Vec<(String, String)> {
    let output = Command::new(env!("CARGO"))
        .args([
            "build",
            "--workspace",
            "--example",
            example,
            "--message-format=json",
        ])
        .args(["--locked", "-q"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "building the {example} examples failed"
    );
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

/// The quickstarts listen on port 3000: one at a time.
static PORT_3000: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn port_3000() -> std::sync::MutexGuard<'static, ()> {
    PORT_3000
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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

/// Waits for `child` to exit after SIGTERM, with a deadline; its stdout's
/// JSON lines.
fn terminate(child: &mut Running, name: &str) -> Vec<serde_json::Value> {
    let child = &mut child.0;
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
            "{name} did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{name} exited with {status}");
    let lines: Vec<serde_json::Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|line| line["message"] == "shutdown signal received"),
        "{name}: {lines:?}"
    );
    lines
}

/// A started example; killed if the test fails before it exits.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn start(executable: &str, admin: u16) -> Running {
    start_command(Command::new(executable), admin)
}

/// Started with at most `descriptors` open files (`ulimit -n`).
fn start_limited(executable: &str, admin: u16, descriptors: u32) -> Running {
    let mut command = Command::new("bash");
    command.args([
        "-c",
        &format!("ulimit -n {descriptors} && exec \"$0\""),
        executable,
    ]);
    start_command(command, admin)
}

fn start_command(mut command: Command, admin: u16) -> Running {
    let child = command
        .env("OBSERVE_ADMIN_ADDR", format!("127.0.0.1:{admin}"))
        .env("RUST_LOG", "info")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("SENTRY_DSN")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    Running(child)
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
    let _port = port_3000();
    let quickstarts = built("quickstart");
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
        let mut child = start(executable, admin);
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
        let lines = terminate(&mut child, package);
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
    }
}

/// The gRPC quickstart answers a real gRPC health check over HTTP/2 and
/// records it as an RPC.
#[tokio::test]
async fn the_grpc_quickstart_answers_and_records_a_health_check() {
    let built = built("grpc");
    let (_, executable) = built
        .iter()
        .find(|(package, _)| package.contains("/observe-tower#"))
        .expect("observe-tower's grpc example");
    let admin = free_port();
    let mut child = start(executable, admin);
    // reqwest is built with rustls and no default provider.
    observe_core::install_crypto_provider();
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    // grpc.health.v1.Health/Check with an empty HealthCheckRequest: a
    // 5-byte frame header and no message bytes.
    let response = loop {
        let sent = client
            .post("http://127.0.0.1:50051/grpc.health.v1.Health/Check")
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(vec![0u8; 5])
            .send()
            .await;
        match sent {
            Ok(response) => break response,
            Err(error) => assert!(Instant::now() < deadline, "no gRPC answer: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(response.status(), 200);
    // HealthCheckResponse { status: SERVING (1) }: field 1, varint 1.
    let body = response.bytes().await.unwrap();
    assert_eq!(&body[..], &[0, 0, 0, 0, 2, 0x08, 0x01]);
    let (status, metrics) = wait_for(admin, "/metrics");
    assert_eq!(status, 200);
    let series = r#"rpc_server_duration_seconds_count{rpc_grpc_status_code="0",rpc_method="Check",rpc_service="grpc.health.v1.Health",rpc_system="grpc"} 1"#;
    assert!(metrics.contains(series), "no {series} in\n{metrics}");
    terminate(&mut child, "grpc");
}

/// Sends one request on a keep-alive connection and reads until the server
/// closes it: the response, if the server closed it (not our timeout).
fn idle_after_one_request(port: u16) -> std::thread::JoinHandle<Option<String>> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(b"GET /users/3 HTTP/1.1\r\nhost: t\r\n\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    std::thread::spawn(move || {
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).ok()?;
        Some(String::from_utf8_lossy(&answer).into_owned())
    })
}

/// Each quickstart, run with 256 descriptors, is flooded with 400
/// connections that each send half a request head (slowloris): it keeps
/// running; the heads it accepted are cut off within its head timeout, as
/// is an idle keep-alive connection; and once the flood is gone, the admin
/// listener and the public port answer again.
#[test]
fn every_quickstart_survives_a_descriptor_flood() {
    let _port = port_3000();
    for (package, executable) in &built("quickstart") {
        let admin = free_port();
        let mut child = start_limited(executable, admin, 256);
        assert_eq!(wait_for(3000, "/users/7").0, 200, "{package}");
        assert_eq!(wait_for(admin, "/health/live").0, 200, "{package}");
        let idle = idle_after_one_request(3000);

        let mut flood = Vec::new();
        for _ in 0..400 {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 3000));
            // Past the listen backlog a connect hangs: the flood is big enough.
            let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
                break;
            };
            if stream
                .write_all(b"GET /users/1 HTTP/1.1\r\nhost: t\r\n")
                .is_ok()
            {
                flood.push(stream);
            }
        }
        assert!(
            flood.len() > 256,
            "{package}: only {} connections",
            flood.len()
        );
        // The first half-sent head was accepted: it is cut off (actix-web
        // answers 408 first), not left open.
        let first = &mut flood[0];
        first
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut rest = Vec::new();
        assert!(
            first.read_to_end(&mut rest).is_ok(),
            "{package}: a half-sent head was left open"
        );
        let answer = idle.join().unwrap();
        let answer =
            answer.unwrap_or_else(|| panic!("{package}: an idle connection was left open"));
        assert!(answer.starts_with("HTTP/1.1 200"), "{package}: {answer}");
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "{package} exited under the flood"
        );

        drop(flood);
        assert_eq!(wait_for(admin, "/health/live").0, 200, "{package}");
        let (status, metrics) = wait_for(admin, "/metrics");
        assert_eq!(status, 200, "{package}");
        assert!(
            metrics.contains("http_server_request_duration_seconds"),
            "{package}"
        );
        assert_eq!(
            wait_for(3000, "/users/7"),
            (200, "user 7".to_string()),
            "{package}"
        );
        terminate(&mut child, package);
    }
}
