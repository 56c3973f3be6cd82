//! The real parts the judge's tests start: Prometheus-compatible servers
//! scraping loopback targets, traffic, and the processes' clean-up.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) use crate::common::{Killed, available, free_port};

pub(crate) fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `count` lookups of distinct users (cache misses, so the database's
/// delay applies) from 32 threads, spread over several scrapes as real
/// traffic is: a series first seen in the window counts from its first
/// scrape (as `increase()` does), so traffic that all fell between two
/// scrapes would hide its first errors.
pub(crate) fn drive(addr: &str, offset: u64, count: u64) {
    let threads = 32;
    std::thread::scope(|scope| {
        for t in 0..threads {
            scope.spawn(move || {
                let mut i = t;
                while i < count {
                    get(addr, &format!("/users/{}", 1 + offset + i));
                    i += threads;
                    // Load shape, not a wait: ~200 requests a second.
                    std::thread::sleep(Duration::from_millis(150));
                }
            });
        }
    });
}

/// `GET path`; the status.
pub(crate) fn get(addr: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response[9..12].parse().unwrap()
}

pub(crate) fn verdict(output: &Output) -> (i32, Value, String) {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    eprint!("{stderr}");
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap(), json, stderr)
}

/// A Prometheus-compatible server scraping `targets` as `job="shop"`
/// every second; returns it and its base URL.
pub(crate) type Backend = fn(&std::path::Path, &[String]) -> (Killed, String);

pub(crate) fn scrape_config(dir: &std::path::Path, targets: &[String]) -> std::path::PathBuf {
    let targets = targets
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let path = dir.join("scrape.yml");
    std::fs::write(
        &path,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: shop\n    scrape_interval: 1s\n    static_configs:\n      - targets: [{targets}]\n"
        ),
    )
    .unwrap();
    path
}

pub(crate) fn prometheus(dir: &std::path::Path, targets: &[String]) -> (Killed, String) {
    let config = scrape_config(dir, targets);
    let listen = format!("127.0.0.1:{}", free_port());
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={listen}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Killed(child), format!("http://{listen}"))
}

pub(crate) fn victoria_metrics(dir: &std::path::Path, targets: &[String]) -> (Killed, String) {
    let config = scrape_config(dir, targets);
    let listen = format!("127.0.0.1:{}", free_port());
    let child = Command::new("victoria-metrics")
        .arg(format!("-promscrape.config={}", config.display()))
        .arg(format!("-storageDataPath={}", dir.join("data").display()))
        .arg(format!("-httpListenAddr={listen}"))
        // By default the last 30 s are hidden from queries, and responses
        // cached: a test judges data seconds old.
        .arg("-search.latencyOffset=1s")
        .arg("-search.disableCache")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Killed(child), format!("http://{listen}"))
}
