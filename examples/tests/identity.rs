//! Deployment identity: the same binary runs as baseline and canary, told
//! apart by `OTEL_RESOURCE_ATTRIBUTES` on `target_info`; a malformed value
//! stops start-up with a message that names the variable.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::process::Command;

const BINARIES: [&str; 3] = [
    env!("CARGO_BIN_EXE_axum-service"),
    env!("CARGO_BIN_EXE_actix-service"),
    env!("CARGO_BIN_EXE_tower-service"),
];

fn metrics(addr: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn the_variable_labels_target_info_and_wins_over_the_compiled_version() {
    for binary in BINARIES {
        let service = common::start(
            binary,
            &[(
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.version=9.9.9,deployment.track=canary,k8s.pod.name=shop-7%2Cb",
            )],
        );
        let text = metrics(&service.addr);
        let line = text
            .lines()
            .find(|l| l.starts_with("target_info{"))
            .unwrap_or_else(|| panic!("{binary}: no target_info in\n{text}"));
        assert!(
            line.starts_with("target_info{service_name=\"shop\",service_version=\"9.9.9\","),
            "{binary}: {line}"
        );
        assert!(
            line.contains(",deployment_track=\"canary\",k8s_pod_name=\"shop-7,b\""),
            "{binary}: {line}"
        );
    }
}

#[test]
fn a_malformed_variable_stops_start_up_naming_it() {
    for binary in BINARIES {
        let out = Command::new(binary)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            // The admin listener off: /metrics on the public port, and no
            // clash on the default admin port between parallel tests.
            .env("OBSERVE_ADMIN_ADDR", "off")
            .env("OTEL_RESOURCE_ATTRIBUTES", "deployment track=canary")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{binary} started");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(
                "invalid resource attribute \"deployment track=canary\" in OTEL_RESOURCE_ATTRIBUTES"
            ) && stderr.contains("expected comma-separated key=value pairs"),
            "{binary}: {stderr}"
        );
    }
}
