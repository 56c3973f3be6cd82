//! End to end with a real Prometheus: it scrapes the axum example on
//! loopback with the generated rules loaded, and its HTTP API answers the
//! request rate and a recording rule with the expected values.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Killed, free_port};

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

fn encode(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The single value of an instant query, if it has one.
fn query(prometheus: &str, promql: &str) -> Option<f64> {
    let response = http_get(
        prometheus,
        &format!("/api/v1/query?query={}", encode(promql)),
    )?;
    let body = response.split("\r\n\r\n").nth(1)?;
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    let value = json["data"]["result"].get(0)?["value"][1].as_str()?;
    value.parse().ok()
}

fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn prometheus_scrapes_the_example_and_evaluates_its_rules() {
    let available = Command::new("prometheus").arg("--version").output().is_ok();
    if !available {
        let required = std::env::var("OBSERVE_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "prometheus is required (OBSERVE_REQUIRE_TOOLS=1): apt-get install prometheus"
        );
        eprintln!("SKIP: prometheus not available (apt-get install prometheus)");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_axum-service");
    let dir = std::env::temp_dir().join(format!("observe-stack-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = Command::new(bin).arg("rules").output().unwrap().stdout;
    std::fs::write(dir.join("rules.yml"), rules).unwrap();

    let mut service = Command::new(bin)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        // The admin listener off: /metrics on the public port, and no
        // clash on the default admin port between parallel tests.
        .env("OBSERVE_ADMIN_ADDR", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = service.stdout.take().unwrap();
    let _service = Killed(service);
    let mut lines = BufReader::new(stdout).lines();
    let app = loop {
        let line: serde_json::Value =
            serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        if line["message"] == "listening" {
            break line["fields"]["server.address"]
                .as_str()
                .unwrap()
                .to_string();
        }
    };
    // Keep draining the service's log lines so its stdout never fills.
    std::thread::spawn(move || lines.for_each(drop));

    let prometheus = format!("127.0.0.1:{}", free_port());
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nscrape_configs:\n  - job_name: shop\n    static_configs:\n      - targets: [\"{app}\"]\n"
        ),
    )
    .unwrap();
    let _prometheus = Killed(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={prometheus}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // Series exist before the counted traffic, then three scrapes pass.
    http_get(&app, "/users/1").unwrap();
    http_get(&app, "/users/1000000").unwrap();
    eventually("three scrapes of the service", || {
        query(&prometheus, "count_over_time(up{job=\"shop\"}[1m])").filter(|n| *n >= 3.0)
    });
    for i in 0..50 {
        let path = if i % 5 == 0 {
            "/users/1000000"
        } else {
            "/users/1"
        };
        http_get(&app, path).unwrap();
    }
    let rate = eventually("a request rate", || {
        query(
            &prometheus,
            "sum(rate(http_server_request_duration_seconds_count{job=\"shop\"}[1m]))",
        )
        .filter(|r| *r > 0.0)
    });
    assert!(rate > 0.0);
    // 10 of the 50 counted requests failed: the recorded availability error
    // ratio converges on 0.2 (rate() extrapolation keeps it approximate).
    let ratio = eventually("the recorded error ratio", || {
        query(
            &prometheus,
            "slo:error_ratio:rate5m{slo=\"shop-availability\"}",
        )
        .filter(|r| (r - 0.2).abs() < 0.03)
    });
    assert!((ratio - 0.2).abs() < 0.03, "{ratio}");
    let _ = std::fs::remove_dir_all(&dir);
}
