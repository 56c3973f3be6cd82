//! Descriptor exhaustion and slowloris against what users run: every
//! quickstart and every example binary, run with 256 descriptors
//! (`ulimit -n 256`), is flooded on its public port with up to 400
//! connections (as many as its listen backlog takes), each sending half a
//! request head. Each keeps running; its admin
//! listener answers during the flood (the public port's connection cap
//! leaves it descriptors); the heads it accepted are cut off within its
//! head timeout, as is an idle keep-alive connection; and once the flood
//! is gone, the admin listener still answers `/health/live` and `/metrics` (found broken in issue 23: the tower
//! and gRPC examples exited on the first accept error, axum::serve never
//! closed a half-sent head).

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::{SocketAddr, TcpStream};

use observe_tests::processes::{
    self, Running, closed_by_server, free_port, half_sent_heads, terminate, wait_for,
};

const DESCRIPTORS: u32 = 256;

/// One flood at a time: this process's own descriptors hold the flood.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Floods `public`, checks the service lives through it and recovers.
fn flood_and_recover(name: &str, running: &mut Running, public: SocketAddr, admin: SocketAddr) {
    assert_eq!(wait_for(admin, "/health/live").0, 200, "{name}");
    // One request, then idle on keep-alive.
    let mut idle = TcpStream::connect(public).unwrap();
    idle.write_all(b"GET /users/3 HTTP/1.1\r\nhost: t\r\n\r\n")
        .unwrap();
    let idle = std::thread::spawn(move || closed_by_server(&mut idle));

    // More than the public port may hold (its cap, 128 under 256
    // descriptors); the rest wait in the listen backlog.
    let mut flood = half_sent_heads(public, 400);
    assert!(
        flood.len() > DESCRIPTORS as usize * 3 / 4,
        "{name}: only {} connections",
        flood.len()
    );
    // The public port's cap left descriptors: the probes answer now.
    assert_eq!(
        processes::get(admin, "/health/live").map(|(status, _)| status),
        Some(200),
        "{name}: the admin listener did not answer during the flood"
    );
    // The first half-sent head was accepted: it is cut off (actix-web
    // answers 408 first), not left open.
    assert!(
        closed_by_server(&mut flood[0]).is_some(),
        "{name}: a half-sent head was left open"
    );
    let answer = idle.join().unwrap();
    let answer = answer.unwrap_or_else(|| panic!("{name}: an idle connection was left open"));
    assert!(answer.starts_with("HTTP/1.1 "), "{name}: {answer}");
    assert!(running.running(), "{name} exited under the flood");

    drop(flood);
    assert_eq!(wait_for(admin, "/health/live").0, 200, "{name}");
    let (status, metrics) = wait_for(admin, "/metrics");
    assert_eq!(status, 200, "{name}");
    assert!(metrics.contains("process_open_fds"), "{name}");
    assert!(running.running(), "{name} exited");
}

#[test]
fn every_quickstart_survives_a_descriptor_flood() {
    let _alone = one_at_a_time();
    let quickstarts = processes::built(&["--workspace", "--example", "quickstart"]);
    assert_eq!(quickstarts.len(), 3, "{quickstarts:?}");
    for (package, _, executable) in &quickstarts {
        let admin: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        // The quickstarts listen on 3000; the other tests on that port are
        // in another binary (quickstarts.rs), which cargo runs after this.
        let public: SocketAddr = ([127, 0, 0, 1], 3000).into();
        let mut running = processes::start(
            processes::command(executable, Some(DESCRIPTORS)),
            &[("OBSERVE_ADMIN_ADDR", admin.to_string())],
        );
        assert_eq!(wait_for(public, "/users/7").0, 200, "{package}");
        flood_and_recover(package, &mut running, public, admin);
        assert_eq!(wait_for(public, "/users/7").0, 200, "{package}");
        terminate(&mut running, package);
    }
}

#[test]
fn every_example_binary_survives_a_descriptor_flood() {
    let _alone = one_at_a_time();
    let binaries = processes::built(&["-p", "observe-examples", "--bins"]);
    assert_eq!(binaries.len(), 4, "{binaries:?}");
    for (_, name, executable) in &binaries {
        let admin: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let public: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let mut running = processes::start(
            processes::command(executable, Some(DESCRIPTORS)),
            &[
                ("OBSERVE_ADMIN_ADDR", admin.to_string()),
                ("LISTEN_ADDR", public.to_string()),
            ],
        );
        flood_and_recover(name, &mut running, public, admin);
        terminate(&mut running, name);
    }
}
