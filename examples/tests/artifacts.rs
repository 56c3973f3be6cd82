//! `<binary> rules` and `<binary> dashboard` print exactly what Prometheus
//! and Grafana need, and the dashboard asks only for metrics the running
//! service exposes or the rules record.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

fn run(arg: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_axum-service"))
        .arg(arg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{arg}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn tools_required() -> bool {
    std::env::var("OBSERVE_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

#[test]
fn rules_mode_prints_only_valid_rules() {
    let rules = run("rules");
    assert!(rules.starts_with("groups:\n"), "{rules}");
    let dir = std::env::temp_dir().join(format!("observe-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rules.yml"), &rules).unwrap();
    match Command::new("promtool")
        .args(["check", "rules"])
        .arg(dir.join("rules.yml"))
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        ),
        Err(_) if !tools_required() => {
            eprintln!("SKIP: promtool not available (apt-get install prometheus)")
        }
        Err(e) => panic!("promtool is required (OBSERVE_REQUIRE_TOOLS=1): {e}"),
    }
}

/// Metric names in a PromQL expression (identifiers before `{`).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut current = String::new();
    for c in expr.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            current.push(c);
        } else {
            if c == '{' && !current.is_empty() {
                names.push(current.clone());
            }
            current.clear();
        }
    }
    names
}

#[test]
fn the_dashboard_queries_what_the_service_exposes() {
    let dashboard: serde_json::Value = serde_json::from_str(&run("dashboard")).unwrap();
    let rules = run("rules");
    let recorded: BTreeSet<String> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- record: "))
        .map(str::to_string)
        .collect();

    // The running service, after traffic through the cache and database.
    let mut child = Command::new(env!("CARGO_BIN_EXE_axum-service"))
        .env("LISTEN_ADDR", "127.0.0.1:0")
        // The admin listener off: /metrics on the public port, and no
        // clash on the default admin port between parallel tests.
        .env("OBSERVE_ADMIN_ADDR", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line: serde_json::Value =
            serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        if line["message"] == "listening" {
            break line["fields"]["server.address"]
                .as_str()
                .unwrap()
                .to_string();
        }
    };
    let get = |path: &str| {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    get("/users/1");
    get("/users/1");
    let exposition = get("/metrics");
    let _ = child.kill();
    let _ = child.wait();

    let mut checked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for name in metric_names(expr) {
                let known = recorded.contains(&name)
                    || exposition.lines().any(|l| {
                        l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))
                    });
                assert!(
                    known,
                    "panel {:?} queries {name}, which nothing exposes",
                    panel["title"]
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 12, "only {checked} metric names checked");
    // The version variable reads target_info, which the service exposes.
    assert!(exposition.contains("target_info{"));
}
