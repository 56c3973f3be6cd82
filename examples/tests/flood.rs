//! Every example binary, run with 256 descriptors (`ulimit -n 256`), is
//! flooded on its public port with more connections than it has
//! descriptors, each sending half a request head (slowloris). It keeps
//! running; the heads it accepted are cut off within its head timeout; and
//! once the flood is gone its admin listener answers `/health/live` and
//! `/metrics` again.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

mod common;

const BINARIES: [&str; 4] = [
    env!("CARGO_BIN_EXE_axum-service"),
    env!("CARGO_BIN_EXE_actix-service"),
    env!("CARGO_BIN_EXE_tower-service"),
    env!("CARGO_BIN_EXE_grpc-service"),
];

/// One `GET path` on a fresh connection, giving up after a few seconds:
/// the status, or `None` when nothing answered.
fn try_get(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    String::from_utf8_lossy(response.get(9..12)?).parse().ok()
}

/// Polls until `path` answers, with a deadline.
fn answers(addr: SocketAddr, path: &str, binary: &str) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = try_get(addr, path) {
            return status;
        }
        assert!(Instant::now() < deadline, "{binary}: {path} never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn every_example_survives_a_descriptor_flood() {
    for binary in BINARIES {
        let mut service =
            common::start_limited(binary, &[("OBSERVE_ADMIN_ADDR", "127.0.0.1:0")], 256);
        let public: SocketAddr = service.addr.parse().unwrap();
        let admin: SocketAddr = service.metrics_addr.clone().unwrap().parse().unwrap();
        assert_eq!(answers(admin, "/health/live", binary), 200);

        let mut flood = Vec::new();
        for _ in 0..400 {
            // Past the listen backlog a connect hangs: the flood is big enough.
            let Ok(mut stream) = TcpStream::connect_timeout(&public, Duration::from_secs(2)) else {
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
            "{binary}: only {} connections",
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
            "{binary}: a half-sent head was left open"
        );
        assert!(service.running(), "{binary} exited under the flood");

        drop(flood);
        assert_eq!(answers(admin, "/health/live", binary), 200);
        assert_eq!(answers(admin, "/metrics", binary), 200);
        assert!(service.running(), "{binary} exited");
    }
}
