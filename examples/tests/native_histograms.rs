//! Native histograms end to end: the axum example with
//! `OBSERVE_NATIVE_HISTOGRAMS=1`, requests of known latency, and two of
//! Debian's Prometheus 2.42 scraping it every second: one with
//! `--enable-feature=native-histograms` (it negotiates protobuf and
//! stores native histograms), one without (OpenMetrics, classic buckets).
//! The p99 each computes must be the latency the requests really had.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Killed, available, free_port, http};
use serde_json::Value;

/// What Prometheus 2.42 asks for with the feature flag on (seen on the
/// wire; see the README's "Native histograms").
const NATIVE_ACCEPT: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Requests driven, one in ten of them slow.
const REQUESTS: usize = 200;
const FAST_MS: u64 = 20;
const SLOW_MS: u64 = 300;

/// A Prometheus scraping `target` every second, with native histograms
/// or without; its address.
fn prometheus(dir: &Path, target: &str, native: bool) -> (Killed, String) {
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: shop\n    static_configs:\n      - targets: [\"{target}\"]\n"
        ),
    )
    .unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new("prometheus");
    command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={listen}"));
    if native {
        command.arg("--enable-feature=native-histograms");
    }
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Killed(child), listen)
}

/// An instant query's result vector, or `None` while Prometheus is not
/// answering yet.
fn query(prometheus: &str, promql: &str) -> Option<Vec<Value>> {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let stream = std::net::TcpStream::connect(prometheus).ok()?;
    drop(stream);
    let (status, _, body) = http(
        prometheus,
        "GET",
        &format!("/api/v1/query?query={encoded}"),
        &[],
        "",
    );
    if status != 200 {
        return None;
    }
    let json: Value = serde_json::from_str(&body).ok()?;
    json["data"]["result"].as_array().cloned()
}

/// The single value of an instant query, once there is one.
fn scalar(prometheus: &str, promql: &str) -> Option<f64> {
    let result = query(prometheus, promql)?;
    let [sample] = result.as_slice() else {
        return None;
    };
    sample["value"][1].as_str()?.parse().ok()
}

fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn native_and_classic_p99_agree_through_real_prometheus() {
    if !available("prometheus", "--version", "prometheus") {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_axum-service");
    let service = common::start(bin, &[("OBSERVE_NATIVE_HISTOGRAMS", "1")]);
    let dir = std::env::temp_dir().join(format!("observe-native-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (_native_server, native) = prometheus(&dir.join("native"), &service.addr, true);
    let (_classic_server, classic) = prometheus(&dir.join("classic"), &service.addr, false);
    for server in [&native, &classic] {
        eventually("Prometheus scraping the service", || {
            (scalar(server, "up{job=\"shop\"}")? == 1.0).then_some(())
        });
    }

    // Four clients, each request followed by a pause (load shape, not a
    // wait), so the traffic spans several scrapes as real traffic does.
    // Each client times its requests: the truth the quantiles are held to.
    let mut latencies: Vec<f64> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..4)
            .map(|client| {
                let addr = &service.addr;
                scope.spawn(move || {
                    let mut took = Vec::new();
                    for i in (client..REQUESTS).step_by(4) {
                        let ms = if i % 10 == 9 { SLOW_MS } else { FAST_MS };
                        let start = Instant::now();
                        assert_eq!(service_get(addr, &format!("/slow?ms={ms}")), 200);
                        took.push(start.elapsed().as_secs_f64());
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    took
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect()
    });
    latencies.sort_by(f64::total_cmp);
    // Nearest rank.
    let truth = latencies[(latencies.len() * 99).div_ceil(100) - 1];

    // Both have scraped every request.
    let route = "http_route=\"/slow\"";
    eventually("the native histogram's count", || {
        let count = scalar(
            &native,
            &format!("histogram_count(http_server_request_duration_seconds{{{route}}})"),
        )?;
        (count == REQUESTS as f64).then_some(())
    });
    eventually("the classic histogram's count", || {
        let count = scalar(
            &classic,
            &format!("http_server_request_duration_seconds_count{{{route}}}"),
        )?;
        (count == REQUESTS as f64).then_some(())
    });

    // The native Prometheus stored a native histogram and no classic
    // bucket series; the classic one the other way round.
    let rate = query(
        &native,
        &format!("rate(http_server_request_duration_seconds{{{route}}}[1m])"),
    )
    .unwrap();
    assert!(
        rate.len() == 1 && rate[0]["histogram"].is_array(),
        "a native histogram sample: {rate:?}"
    );
    let bucket_series = format!("http_server_request_duration_seconds_bucket{{{route}}}");
    assert_eq!(query(&native, &bucket_series).unwrap().len(), 0);
    assert!(!query(&classic, &bucket_series).unwrap().is_empty());
    let bare = format!("http_server_request_duration_seconds{{{route}}}");
    assert_eq!(query(&classic, &bare).unwrap().len(), 0);

    // 90% at 20 ms, 10% at 300 ms: the p99 is a slow request, 0.30 s and
    // a little (as the clients timed it). The native bucket holding it
    // spans about 9% (0.297 to 0.324 s); the classic one 0.25 to 0.5 s,
    // where interpolation can land anywhere.
    let p99_native = scalar(
        &native,
        &format!(
            "histogram_quantile(0.99, rate(http_server_request_duration_seconds{{{route}}}[1m]))"
        ),
    )
    .unwrap();
    let p99_classic = scalar(
        &classic,
        &format!(
            "histogram_quantile(0.99, rate(http_server_request_duration_seconds_bucket{{{route}}}[1m]))"
        ),
    )
    .unwrap();
    eprintln!("p99: measured {truth:.4} s, native {p99_native:.4} s, classic {p99_classic:.4} s");
    assert!(truth >= SLOW_MS as f64 / 1e3, "{latencies:?}");
    // The server slept SLOW_MS at least; the clients' times add the trip
    // (more on a loaded machine), so they bound it from above only.
    let slow = SLOW_MS as f64 / 1e3;
    assert!(
        p99_native >= 0.95 * slow && p99_native <= 1.1 * truth,
        "native p99 {p99_native} not between 95% of the {slow} s sleep and 110% of the measured {truth}"
    );
    let bounds = observe_core::DEFAULT_DURATION_BUCKETS;
    let upper = bounds.partition_point(|b| *b < truth);
    let (low, high) = (bounds[upper - 1], bounds[upper]);
    assert!(
        p99_classic > low && p99_classic <= high,
        "classic p99 {p99_classic} outside the bucket ({low}, {high}] of the measured {truth}"
    );
    assert!((p99_classic - p99_native).abs() <= high - low);

    // Text scrapers of the same binary still get the classic buckets; the
    // native scraper's header gets protobuf.
    let (_, headers, text) = http(&service.addr, "GET", "/metrics", &[], "");
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "content-type" && v.starts_with("text/plain; version=0.0.4")),
        "{headers:?}"
    );
    assert!(
        text.lines().any(|l| l.starts_with(
            "http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/slow\",le=\"0.5\"} 200"
        )),
        "{text}"
    );
    let (_, headers, _) = http(
        &service.addr,
        "GET",
        "/metrics",
        &[("accept", NATIVE_ACCEPT)],
        "",
    );
    assert!(
        headers.iter().any(|(n, v)| n == "content-type"
            && v == "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"),
        "{headers:?}"
    );
    drop(service);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Each example binary reads the variable, and its admin listener (the
/// `/metrics` Prometheus scrapes in production) negotiates protobuf.
#[test]
fn every_example_admin_listener_negotiates_protobuf() {
    for bin in [
        env!("CARGO_BIN_EXE_axum-service"),
        env!("CARGO_BIN_EXE_actix-service"),
        env!("CARGO_BIN_EXE_tower-service"),
    ] {
        let service = common::start(
            bin,
            &[
                ("OBSERVE_NATIVE_HISTOGRAMS", "true"),
                ("OBSERVE_ADMIN_ADDR", "127.0.0.1:0"),
                ("RUST_LOG", "info"),
            ],
        );
        let admin = service.metrics_addr.clone().expect("the admin listener");
        assert_eq!(service_get(&service.addr, "/users/1"), 200);
        let content_type = |accept: &str| {
            let (status, headers, _) = http(&admin, "GET", "/metrics", &[("accept", accept)], "");
            assert_eq!(status, 200, "{bin}");
            headers
                .into_iter()
                .find(|(n, _)| n == "content-type")
                .map(|(_, v)| v)
                .unwrap_or_default()
        };
        assert_eq!(
            content_type(NATIVE_ACCEPT),
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
            "{bin}"
        );
        assert_eq!(
            content_type("text/plain"),
            "text/plain; version=0.0.4; charset=utf-8",
            "{bin}"
        );
    }
}

/// `GET path`; the status.
fn service_get(addr: &str, path: &str) -> u16 {
    http(addr, "GET", path, &[], "").0
}

#[test]
fn a_malformed_setting_stops_start_up_with_its_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_axum-service"))
        .env("OBSERVE_NATIVE_HISTOGRAMS", "yes")
        .env("OBSERVE_ADMIN_ADDR", "off")
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env_remove("SENTRY_DSN")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "invalid OBSERVE_NATIVE_HISTOGRAMS=\"yes\": expected 1 or true (native histograms on), 0 or false (off), or unset"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
