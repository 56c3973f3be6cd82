//! The alert path end to end, with real parts only: the axum example
//! serving 30% errors, Debian's `prometheus` evaluating the generated
//! rules, Debian's `prometheus-alertmanager` routing with
//! `examples/stack/alertmanager.yml`, and a webhook receiver on loopback
//! (this test): `SloErrorBudgetBurn` arrives at the `page` receiver with
//! `severity="page"`, naming the worst route and carrying its `dashboard`
//! and `runbook_url` links, the slow-burn one at `ticket`.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Killed, available, free_port};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

/// `GET path`, answer ignored.
fn get(addr: &str, path: &str) {
    if let Ok(mut stream) = std::net::TcpStream::connect(addr) {
        let _ = write!(
            stream,
            "GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
        );
        let _ = stream.read_to_end(&mut Vec::new());
    }
}

/// A webhook receiver: every POST's path and JSON body, answered 200.
fn webhook() -> (String, Receiver<(String, Value)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (sender, received) = channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_string();
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if sender.send((path, json)).is_err() {
                break;
            }
        }
    });
    (addr, received)
}

#[test]
fn a_burning_error_budget_pages_through_alertmanager() {
    if !available("prometheus", "--version", "prometheus")
        || !available(
            "prometheus-alertmanager",
            "--version",
            "prometheus-alertmanager",
        )
    {
        return;
    }
    let started = Instant::now();
    let bin = env!("CARGO_BIN_EXE_axum-service");
    let dir = std::env::temp_dir().join(format!("observe-alerts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // The generated rules, with the pages' `for: 2m` shortened to 5s: the
    // hold is the rules' business (promtool tests it); this test is about
    // the delivery.
    // As a service whose request events go to ClickHouse prints them: the
    // alerts carry the SQL for the failing requests (no server is needed
    // to print rules).
    let rules = Command::new(bin)
        .arg("rules")
        .env("OBSERVE_CLICKHOUSE_URL", "http://127.0.0.1:1/")
        .env_remove("OBSERVE_CLICKHOUSE_TABLE")
        .output()
        .unwrap()
        .stdout;
    let rules = String::from_utf8(rules).unwrap();
    assert!(rules.contains("for: 2m"), "{rules}");
    std::fs::write(dir.join("rules.yml"), rules.replace("for: 2m", "for: 5s")).unwrap();

    // The stack's routing, its webhooks pointed at this test.
    let (hook, received) = webhook();
    let routing = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/stack/alertmanager.yml"
    ))
    .unwrap();
    assert!(routing.contains("127.0.0.1:9099"), "{routing}");
    std::fs::write(
        dir.join("alertmanager.yml"),
        routing.replace("127.0.0.1:9099", &hook),
    )
    .unwrap();
    let alertmanager = format!("127.0.0.1:{}", free_port());
    let _alertmanager = Killed(
        Command::new("prometheus-alertmanager")
            .arg(format!(
                "--config.file={}",
                dir.join("alertmanager.yml").display()
            ))
            .arg(format!(
                "--storage.path={}",
                dir.join("alertmanager").display()
            ))
            .arg(format!("--web.listen-address={alertmanager}"))
            // One instance, no gossip port to collide with.
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // Prometheus scrapes the admin listener, as in production; the alerts'
    // status_page links to that instance's status page.
    let service = common::start(bin, &[("OBSERVE_ADMIN_ADDR", "127.0.0.1:0")]);
    let app = service.addr.clone();
    let admin = service.metrics_addr.clone().unwrap();
    let prometheus = format!("127.0.0.1:{}", free_port());
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"{alertmanager}\"]\nscrape_configs:\n  - job_name: shop\n    static_configs:\n      - targets: [\"{admin}\"]\n"
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

    // 30% errors until the page arrives: ids from 1,000,000 fail.
    let stop = AtomicBool::new(false);
    let mut page = None;
    let mut ticket = None;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let path = if i % 10 < 3 {
                    "/users/1000000"
                } else {
                    "/users/1"
                };
                get(&app, path);
                i += 1;
                // Load shape, not a wait: ~100 requests a second.
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let deadline = Instant::now() + Duration::from_secs(150);
        while page.is_none() || ticket.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok((path, body)) = received.recv_timeout(left) else {
                break;
            };
            for alert in body["alerts"].as_array().into_iter().flatten() {
                if alert["labels"]["alertname"] != "SloErrorBudgetBurn"
                    || alert["status"] != "firing"
                {
                    continue;
                }
                let severity = alert["labels"]["severity"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                match severity.as_str() {
                    "page" => page = Some((path.clone(), alert.clone())),
                    "ticket" => ticket = Some((path.clone(), alert.clone())),
                    _ => {}
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    let (path, alert) = page.expect("SloErrorBudgetBurn with severity=page at the webhook");
    assert_eq!(path, "/page", "{alert}");
    assert_eq!(alert["labels"]["slo"], "shop-availability", "{alert}");
    assert_eq!(alert["labels"]["service"], "shop", "{alert}");
    // Its triage, rendered by Prometheus at firing time: the worst route
    // (only /users/{id} fails), the burn rate and budget, and the links.
    let annotations = &alert["annotations"];
    assert_eq!(annotations["worst_route"], "/users/{id}", "{alert}");
    let description = annotations["description"].as_str().unwrap_or_default();
    assert!(description.starts_with("Burn rate "), "{alert}");
    assert!(description.contains(" (errors): /users/{id} "), "{alert}");
    let dashboard = annotations["dashboard"].as_str().unwrap_or_default();
    assert!(
        dashboard.starts_with(&format!(
            "{}/d/observe-shop?viewPanel=",
            observe_slo::DEFAULT_GRAFANA_URL
        )),
        "{alert}"
    );
    assert_eq!(
        annotations["runbook_url"],
        observe_slo::DEFAULT_RUNBOOK_URL,
        "{alert}"
    );
    // The status page of the instance that fails most (the only one),
    // served where the link points.
    let status = annotations["status_page"].as_str().unwrap_or_default();
    assert_eq!(status, format!("http://{admin}/observe"), "{alert}");
    let (status, _, page) = common::http(&admin, "GET", "/observe", &[], "");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<html"), "{page}");
    // The SQL for the failing requests, its window fixed at firing time:
    // the alert's long window before Prometheus rendered it.
    let sql = annotations["failing_requests"].as_str().unwrap_or_default();
    let bounds: Vec<u64> = sql
        .split("timestamp_us ")
        .skip(1)
        .filter_map(|part| part.split_whitespace().nth(1)?.parse().ok())
        .collect();
    assert_eq!(bounds.len(), 2, "{sql}");
    // The long window of the page that fired first, 1h (14.4x) or 6h (6x),
    // to the end of the second it was rendered in.
    assert!(
        [3_600_000_000, 21_600_000_000].contains(&(bounds[1] + 1 - 1_000_000 - bounds[0])),
        "{sql}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    // The window ends within the second Prometheus rendered it.
    assert!(
        bounds[1] < now + 1_000_000 && now < bounds[1] + 600_000_000,
        "{sql}"
    );
    assert!(
        sql.contains(" FROM observe_requests WHERE service = 'shop' AND ")
            && sql.ends_with(" AND status >= 500 ORDER BY timestamp_us DESC LIMIT 100"),
        "{sql}"
    );
    let (path, alert) = ticket.expect("the slow-burn SloErrorBudgetBurn with severity=ticket");
    assert_eq!(path, "/ticket", "{alert}");
    eprintln!("alert path end to end: {:.1?}", started.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
}
