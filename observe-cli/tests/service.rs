//! The `observe` binary against a running example service, all real
//! processes: the axum example serves its SLOs on its admin listener,
//! `observe` reads them from a file written from that answer and from the
//! listener itself, and promtool checks the rules it prints.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::channel;
use std::time::Duration;

const OBSERVE: &str = env!("CARGO_BIN_EXE_observe");

/// The example service's binary, built (or found up to date) by Cargo in
/// this test's target directory: a test sees only its own package's
/// binaries (`CARGO_BIN_EXE_*`), and `cargo test --workspace` has built it
/// already.
fn example_binary(name: &str) -> PathBuf {
    let dir = Path::new(OBSERVE).parent().unwrap();
    let profile = match dir.file_name().unwrap().to_str().unwrap() {
        "debug" => "dev".to_string(),
        other => other.to_string(),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "observe-examples", "--bin", name])
        .args(["--profile", &profile])
        .arg("--target-dir")
        .arg(dir.parent().unwrap())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "cargo build --bin {name} failed");
    dir.join(name)
}

/// A child process, killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the example on loopback ports; returns it and its admin
/// listener's address, once both listeners are bound.
fn start(binary: &Path) -> (Killed, String) {
    let mut child = Command::new(binary)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("OBSERVE_ADMIN_ADDR", format!("127.0.0.1:{}", free_port()))
        .env_remove("OBSERVE_ADMIN_TOKEN")
        .env_remove("OBSERVE_METRICS_ADDR")
        .env_remove("OBSERVE_LOG_FORMAT")
        .env_remove("RUST_LOG")
        .env_remove("SENTRY_DSN")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Killed(child);
    let (sender, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut admin = None;
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("the service's listening lines in time");
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let address = json["fields"]["server.address"]
            .as_str()
            .map(str::to_string);
        match json["message"].as_str() {
            Some(m) if m.starts_with("serving /metrics") => admin = address,
            Some("listening") => break,
            _ => {}
        }
    }
    // Keep draining its log lines so its stdout never fills.
    std::thread::spawn(move || while lines.recv().is_ok() {});
    (
        child,
        admin.expect("the admin listener's line before `listening`"),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` over a fresh connection: the head (lowercase) and the body.
fn get(addr: &str, path: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    (head.to_ascii_lowercase(), body.to_string())
}

fn observe(args: &[&str]) -> Output {
    Command::new(OBSERVE).args(args).output().unwrap()
}

/// Its stdout, after checking it exited 0.
fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Whether `tool` runs: a skip notice when it does not, a failure when
/// `OBSERVE_REQUIRE_TOOLS=1` (as the workspace's other tests do).
fn available(tool: &str, package: &str) -> bool {
    let runs = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if runs {
        return true;
    }
    let required = std::env::var("OBSERVE_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{tool} is required (OBSERVE_REQUIRE_TOOLS=1): apt-get install {package}"
    );
    eprintln!("SKIP: {tool} not available (apt-get install {package})");
    false
}

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("observe-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn help_lists_the_commands() {
    let help = stdout(&observe(&["--help"]));
    for command in [
        "rules",
        "dashboard",
        "judge",
        "analysis",
        "slos",
        "alert-quality",
    ] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{command} "))),
            "{command} missing:\n{help}"
        );
    }
    assert!(
        help.contains("--slos <FILE>") && help.contains("--from <URL>"),
        "{help}"
    );
}

/// The incident corpus on the running example's own SLOs: the generated
/// rules hold (exit 0), and the table names the scenarios and sets the
/// generated rules beside the naive threshold.
#[test]
fn alert_quality_holds_on_the_running_examples_slos() {
    if !available("promtool", "prometheus") {
        return;
    }
    let service = example_binary("axum-service");
    let (service, admin) = start(&service);
    let (_, body) = get(&admin, "/observe/api/slos");
    drop(service);
    let dir = workdir("quality");
    let file = dir.join("slos.json");
    std::fs::write(&file, &body).unwrap();
    let output = observe(&["alert-quality", "--slos", file.to_str().unwrap()]);
    let table = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{table}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for slo in ["shop-availability", "users-fast"] {
        assert!(table.contains(&format!("\n{slo} (")), "{slo}:\n{table}");
    }
    let header = table
        .lines()
        .find(|l| l.starts_with("scenario"))
        .unwrap_or_default();
    for rule_set in ["generated", "naive", "single-window"] {
        assert!(header.contains(rule_set), "{rule_set}: {header}");
    }
    for scenario in [
        "healthy-0.01%",
        "spike-1m",
        "spike-5m-20%",
        "outage",
        "burn-20x",
        "burn-5x",
        "burn-1.5x",
        "flapping",
        "latency-regression",
        "low-traffic",
        "canary-2x",
    ] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(&format!("{scenario} "))),
            "{scenario}:\n{table}"
        );
    }
    // The outage row: the generated rules page, and so does the naive one.
    let outage = table
        .lines()
        .find(|l| l.starts_with("outage "))
        .unwrap_or_default();
    assert_eq!(outage.matches("page ").count(), 3, "{outage}");
    assert!(table.contains("The generated rules hold"), "{table}");

    // Without promtool: a usage error that names it.
    let output = observe(&[
        "alert-quality",
        "--slos",
        file.to_str().unwrap(),
        "--promtool",
        dir.join("no-promtool").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("observe alert-quality: cannot run promtool ("),
        "{stderr}"
    );
}

#[test]
fn the_rules_of_a_running_service_pass_promtool() {
    let service = example_binary("axum-service");
    let (_service, admin) = start(&service);
    let dir = workdir("rules");

    // What the admin listener serves is observe's document.
    let (head, body) = get(&admin, "/observe/api/slos");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    let document: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(document["service"], "shop", "{body}");
    assert_eq!(document["slos"].as_array().unwrap().len(), 2, "{body}");
    let file = dir.join("slos.json");
    std::fs::write(&file, &body).unwrap();

    let rules = stdout(&observe(&["rules", "--slos", file.to_str().unwrap()]));
    assert!(rules.starts_with("groups:\n"), "{rules}");
    assert!(rules.contains("slo: users-fast"), "{rules}");
    // The same from the listener itself, and from the service's binary.
    let url = format!("http://{admin}");
    assert_eq!(stdout(&observe(&["rules", "--from", &url])), rules);
    let own = Command::new(&service).arg("rules").output().unwrap();
    assert_eq!(stdout(&own), rules);

    if available("promtool", "prometheus") {
        std::fs::write(dir.join("rules.yml"), &rules).unwrap();
        let checked = Command::new("promtool")
            .args(["check", "rules"])
            .arg(dir.join("rules.yml"))
            .output()
            .unwrap();
        assert!(
            checked.status.success(),
            "{}{}",
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        );
    }

    // Through YAML and back: the same rules.
    let yaml = stdout(&observe(&["slos", "--yaml", "--from", &url]));
    let yaml_file = dir.join("slos.yaml");
    std::fs::write(&yaml_file, &yaml).unwrap();
    assert_eq!(
        stdout(&observe(&["rules", "--slos", yaml_file.to_str().unwrap()])),
        rules
    );
    // From standard input, as in `curl ... | observe rules --slos -`.
    let mut piped = Command::new(OBSERVE)
        .args(["rules", "--slos", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = piped.stdin.take().unwrap();
        stdin.write_all(yaml.as_bytes()).unwrap();
    }
    assert_eq!(stdout(&piped.wait_with_output().unwrap()), rules);
    // OpenSLO: a Service and one SLO per objective.
    let openslo = stdout(&observe(&[
        "slos",
        "--openslo",
        "--slos",
        yaml_file.to_str().unwrap(),
    ]));
    assert_eq!(
        openslo.matches("apiVersion: openslo/v1").count(),
        3,
        "{openslo}"
    );
    assert_eq!(openslo.matches("\nkind: SLO\n").count(), 2, "{openslo}");
    // The dashboard is the service's own.
    let dashboard = stdout(&observe(&["dashboard", "--from", &url]));
    let own = Command::new(&service).arg("dashboard").output().unwrap();
    assert_eq!(stdout(&own), dashboard);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_sources_name_the_file_and_the_field() {
    let dir = workdir("bad");
    let bad = dir.join("slos.json");
    std::fs::write(
        &bad,
        r#"{"service": "shop", "slos": [{"name": "a", "indicator": "availability", "objective": 1.5}]}"#,
    )
    .unwrap();
    let output = observe(&["rules", "--slos", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(
        stderr.contains(&format!(
            "observe rules: --slos {}: slos[0].objective: SLO \"a\": objective 1.5 must be between 0 and 1",
            bad.display()
        )),
        "{stderr}"
    );

    let typo = dir.join("slos.yaml");
    std::fs::write(
        &typo,
        "service: shop\nslos:\n  - name: a\n    indicator: latency\n    objective: 0.99\n    threshold: 0.25\n",
    )
    .unwrap();
    let output = observe(&["slos", "--slos", typo.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "--slos {}: slos[0].threshold: unknown field",
            typo.display()
        )),
        "{stderr}"
    );

    let missing = dir.join("none.json");
    let output = observe(&["dashboard", "--slos", missing.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("--slos {}: cannot read it", missing.display())),
        "{stderr}"
    );

    let nobody = format!("http://127.0.0.1:{}", free_port());
    let output = observe(&["rules", "--from", &nobody]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("--from: cannot reach {nobody}/observe/api/slos")),
        "{stderr}"
    );

    let output = observe(&["rules"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("expected --slos FILE"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
