//! The quickstarts a user copies (`observe-*/examples/quickstart.rs` and
//! `observe-tower/examples/grpc.rs`), run as built: each answers on its
//! public port, records the request under its route template, serves
//! `/metrics` and the probes on its admin listener, writes JSON lines with
//! the request's ids, and on SIGTERM drains and exits 0.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use observe_tests::processes::{self, Running, free_port, terminate};

/// Every package's `example`, built as this workspace builds it: (package
/// id, path).
fn built(example: &str) -> Vec<(String, String)> {
    processes::built(&["--workspace", "--example", example])
        .into_iter()
        .map(|(package, _, executable)| (package, executable))
        .collect()
}

/// The quickstarts listen on port 3000: one at a time.
static PORT_3000: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn port_3000() -> std::sync::MutexGuard<'static, ()> {
    PORT_3000
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn start(executable: &str, admin: u16) -> Running {
    let admin = format!("127.0.0.1:{admin}");
    processes::start(
        processes::command(executable, None),
        &[("OBSERVE_ADMIN_ADDR", admin)],
    )
}

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    processes::get(([127, 0, 0, 1], port).into(), path)
}

fn wait_for(port: u16, path: &str) -> (u16, String) {
    processes::wait_for(([127, 0, 0, 1], port).into(), path)
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
