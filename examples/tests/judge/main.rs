//! The canary judge end to end, with real parts only: the same example
//! binary runs as a baseline and as four canaries told apart by
//! `OTEL_RESOURCE_ATTRIBUTES` (`deployment.track=...`), a real Prometheus
//! (Debian's `prometheus`) or VictoriaMetrics (Debian's `victoria-metrics`)
//! scrapes them on loopback, and `axum-service judge` asks it:
//!
//! - a healthy canary → `continue` (exit 0);
//! - `SHOP_FAULT_RATE=0.2` → `rollback` (exit 1), on availability;
//! - `SHOP_DB_DELAY_MS=300` → `rollback` (exit 1), on latency;
//! - a canary with a few dozen requests → `wait` (exit 3);
//! - an unknown canary, or no Prometheus → exit 2, named.
//!
//! With Prometheus, the queries of `analysis --for argo` and `--for
//! flagger` also run and each returns one number: the judge's verdict.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod change;
#[path = "../common/mod.rs"]
mod common;
mod parts;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use observe_slo::PrometheusApi;
use parts::{
    Backend, Killed, available, drive, eventually, get, prometheus, verdict, victoria_metrics,
};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_axum-service");

/// The judge's window: the whole test's traffic falls inside it.
const WINDOW: &str = "2m";

/// One instance of the example and the traffic it gets.
struct Instance {
    track: &'static str,
    envs: Vec<(&'static str, &'static str)>,
    requests: u64,
}

fn instances() -> Vec<Instance> {
    let instance = |track, envs, requests| Instance {
        track,
        envs,
        requests,
    };
    vec![
        instance("baseline", vec![], 1500),
        instance("canary-healthy", vec![], 1500),
        instance("canary-faulty", vec![("SHOP_FAULT_RATE", "0.2")], 1500),
        instance("canary-slow", vec![("SHOP_DB_DELAY_MS", "300")], 1100),
        instance("canary-small", vec![], 30),
    ]
}

/// `axum-service judge ...` against `url`, comparing `canary` with the
/// baseline.
fn judge(url: &str, canary: &str) -> Output {
    Command::new(BIN)
        .args([
            "judge",
            "--prometheus",
            url,
            "--label",
            "deployment_track",
            "--baseline",
            "baseline",
            "--canary",
            canary,
            "--window",
            WINDOW,
        ])
        .output()
        .unwrap()
}

/// Starts the instances and `backend`, drives the traffic, waits until the
/// backend has every count; returns what the test needs alive.
fn stack(
    name: &str,
    backend: Backend,
) -> (Vec<common::Service>, Killed, String, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("observe-judge-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let plan = instances();
    let services: Vec<common::Service> = plan
        .iter()
        .map(|instance| {
            let attributes = format!("deployment.track={}", instance.track);
            let mut envs: Vec<(&str, &str)> = vec![("OTEL_RESOURCE_ATTRIBUTES", &attributes)];
            envs.extend(instance.envs.iter().copied());
            common::start(BIN, &envs)
        })
        .collect();
    let targets: Vec<String> = services.iter().map(|s| s.addr.clone()).collect();
    let (server, url) = backend(&dir, &targets);
    let api = PrometheusApi::new(&url, Duration::from_secs(5)).unwrap();
    let value = |promql: &str| -> Option<f64> { api.query(promql).ok()?.first().map(|(_, v)| *v) };
    // One request each, so the series exist before the counted traffic,
    // then every instance's series scraped.
    for service in &services {
        get(&service.addr, "/users/1");
    }
    eventually("the first scrapes of every instance", || {
        value("count(http_server_request_duration_seconds_count{job=\"shop\",http_route=\"/users/{id}\"})")
            .filter(|n| *n >= services.len() as f64)
    });
    std::thread::scope(|scope| {
        for (addr, instance) in targets.iter().zip(&plan) {
            scope.spawn(move || drive(addr, 1000, instance.requests));
        }
    });
    for (service, instance) in services.iter().zip(&plan) {
        let expected = 1 + instance.requests;
        let promql = format!(
            "sum(http_server_request_duration_seconds_count{{job=\"shop\",instance=\"{}\"}})",
            service.addr
        );
        eventually(
            &format!("{} requests of {}", expected, instance.track),
            || value(&promql).filter(|n| *n >= expected as f64),
        );
    }
    (services, server, url, dir)
}

/// Every verdict the issue asks for, against one backend.
fn judges_every_canary(url: &str) {
    let (code, json, stderr) = verdict(&judge(url, "canary-healthy"));
    assert_eq!(code, 0, "healthy: {stderr}\n{json}");
    assert_eq!(json["verdict"], "continue", "{json}");
    assert_eq!(json["slos"].as_array().unwrap().len(), 2, "{json}");
    assert!(
        json["slos"][0]["baseline"]["requests"].as_f64().unwrap() >= 1000.0,
        "{json}"
    );
    assert!(
        stderr.contains("continue for the canary deployment_track=\"canary-healthy\""),
        "{stderr}"
    );

    let (code, json, stderr) = verdict(&judge(url, "canary-faulty"));
    assert_eq!(code, 1, "faulty: {stderr}\n{json}");
    assert_eq!(json["verdict"], "rollback", "{json}");
    let availability = &json["slos"][0];
    assert_eq!(availability["slo"], "shop-availability", "{json}");
    assert_eq!(availability["verdict"], "rollback", "{json}");
    let ratio = availability["canary"]["ratio"].as_f64().unwrap();
    // 20% failed; those before the first scrape of the 5xx series are
    // not counted, and `increase()` extrapolates the 5xx and the total
    // series each to the window's edges on its own, so the ratio may land
    // a little above the true 20% (0.20004 was seen).
    assert!((0.1..=0.25).contains(&ratio), "{json}");
    assert!(availability["z"].as_f64().unwrap() > 10.0, "{json}");

    let (code, json, stderr) = verdict(&judge(url, "canary-slow"));
    assert_eq!(code, 1, "slow: {stderr}\n{json}");
    assert_eq!(json["slos"][1]["slo"], "users-fast", "{json}");
    assert_eq!(json["slos"][1]["verdict"], "rollback", "{json}");
    assert_eq!(json["slos"][0]["verdict"], "continue", "{json}");

    let (code, json, stderr) = verdict(&judge(url, "canary-small"));
    assert_eq!(code, 3, "small: {stderr}\n{json}");
    assert_eq!(json["verdict"], "wait", "{json}");
    assert!(
        json["slos"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("too few requests"),
        "{json}"
    );

    let (code, _, stderr) = verdict(&judge(url, "canary-nope"));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--canary: no target_info series with deployment_track=\"canary-nope\"")
            && stderr.contains("canary-healthy"),
        "{stderr}"
    );
}

#[test]
fn prometheus_gives_each_canary_its_verdict() {
    if !available("prometheus", "--version", "prometheus") {
        return;
    }
    let started = Instant::now();
    let (_services, server, url, dir) = stack("prometheus", prometheus);
    judges_every_canary(&url);
    rollout_queries_return_the_verdict(&url);

    // Prometheus down: exit 2, and the message says what was unreachable.
    drop(server);
    let (code, json, stderr) = verdict(&judge(&url, "canary-healthy"));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        json,
        Value::Null,
        "nothing on stdout when there is no verdict"
    );
    assert!(
        stderr.contains(&format!("cannot reach Prometheus at {url}/api/v1/query")),
        "{stderr}"
    );
    eprintln!("prometheus end to end: {:.1?}", started.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn victoria_metrics_gives_each_canary_its_verdict() {
    if !available("victoria-metrics", "-version", "victoria-metrics") {
        return;
    }
    let started = Instant::now();
    let (_services, _server, url, dir) = stack("victoria-metrics", victoria_metrics);
    judges_every_canary(&url);
    eprintln!("victoria-metrics end to end: {:.1?}", started.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `query: |` blocks of a template, each as one string.
fn queries(yaml: &str, indent: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = yaml.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim_start() == "query: |" {
            let mut query = String::new();
            while let Some(next) = lines.peek() {
                if !next.starts_with(&" ".repeat(indent)) {
                    break;
                }
                query.push_str(next.trim_start());
                query.push('\n');
                lines.next();
            }
            out.push(query);
        }
    }
    out
}

fn analysis(tool: &str) -> String {
    let out = Command::new(BIN)
        .args([
            "analysis",
            "--for",
            tool,
            "--label",
            "deployment_track",
            "--window",
            WINDOW,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Each generated query, its placeholders filled in as the rollout tool
/// would, returns exactly one number: the judge's verdict on that SLO
/// (0 continue, 1 rollback, 3 wait).
fn rollout_queries_return_the_verdict(url: &str) {
    let api = PrometheusApi::new(url, Duration::from_secs(5)).unwrap();
    let argo = analysis("argo");
    let flagger = analysis("flagger");
    let tools = [
        (queries(&argo, 12), "{{args.baseline}}", "{{args.canary}}"),
        (
            queries(&flagger, 4),
            "{{ variables.baseline }}",
            "{{ variables.canary }}",
        ),
    ];
    // Per canary: the availability and latency verdicts.
    let expected = [
        ("canary-healthy", [0.0, 0.0]),
        ("canary-faulty", [1.0, 0.0]),
        ("canary-slow", [0.0, 1.0]),
        ("canary-small", [3.0, 3.0]),
    ];
    for (templates, baseline, canary) in &tools {
        assert_eq!(templates.len(), 2, "one query per SLO:\n{argo}\n{flagger}");
        for (track, verdicts) in expected {
            for (query, want) in templates.iter().zip(verdicts) {
                let promql = query.replace(baseline, "baseline").replace(canary, track);
                let samples = api.query(&promql).unwrap();
                assert_eq!(samples.len(), 1, "{track}: {promql}\n{samples:?}");
                assert_eq!(samples[0].1, want, "{track}: {promql}");
            }
        }
    }
}
