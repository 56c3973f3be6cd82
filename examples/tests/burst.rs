//! A burst of 10,000 concurrent requests against the `axum-service`
//! binary: every one is answered and recorded exactly once in the metrics,
//! and every request event is either written or counted as dropped.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;

const BURST: usize = 10_000;

/// The open-files limit, so the burst fits in it (each request holds a
/// socket in this process and one in the service).
fn open_files_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        })
        .unwrap_or(1024)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

async fn get(addr: String, path: String) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    std::str::from_utf8(&response[9..12])
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn ten_thousand_concurrent_requests_are_each_recorded_once() {
    let burst = BURST.min(open_files_limit().saturating_sub(500));
    if burst < BURST {
        eprintln!("NOTICE: open files limit allows a burst of {burst}, not {BURST}");
    }
    let service = common::start(env!("CARGO_BIN_EXE_axum-service"), &[]);
    let rss_before = rss_kib(service.pid());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let statuses = runtime.block_on(async {
        let mut requests = tokio::task::JoinSet::new();
        for i in 0..burst {
            requests.spawn(get(service.addr.clone(), format!("/users/{}", 1 + i % 500)));
        }
        requests.join_all().await
    });
    let rss_after = rss_kib(service.pid());
    eprintln!(
        "{burst} concurrent requests in {:?}; service RSS {rss_before} KiB -> {rss_after} KiB",
        started.elapsed()
    );
    assert!(statuses.iter().all(|s| *s == 200));

    let metrics = runtime.block_on(async {
        let mut stream = tokio::net::TcpStream::connect(&service.addr).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut body = String::new();
        stream.read_to_string(&mut body).await.unwrap();
        body
    });
    let recorded: f64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("http_server_request_duration_seconds_count")
                && l.contains("http_route=\"/users/{id}\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(recorded, burst as f64, "every request recorded once");
    let dropped: f64 = metrics
        .lines()
        .find(|l| l.starts_with("observe_log_lines_dropped_total"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap();
    let events = service
        .collect_json(Duration::from_secs(2))
        .iter()
        .filter(|l| l["target"] == "observe::request")
        .count();
    eprintln!("{events} request events written, {dropped} lines dropped");
    // Written or counted: nothing vanishes silently.
    assert!(
        events as f64 + dropped >= burst as f64,
        "{events} + {dropped}"
    );
    // Bounded: the burst's connection buffers, not a leak per request.
    assert!(rss_after < rss_before + 128 * 1024, "{rss_after} KiB");
}
