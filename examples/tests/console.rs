//! The operator console on each example binary, over real loopback
//! listeners: readiness with a failing check and while draining, one check
//! run per interval under concurrent probes, the runtime log level with
//! its token, its audit line and its revert, and the refusals.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Service, http};
use serde_json::Value;

const AXUM: &str = env!("CARGO_BIN_EXE_axum-service");
const ACTIX: &str = env!("CARGO_BIN_EXE_actix-service");
const TOWER: &str = env!("CARGO_BIN_EXE_tower-service");
const BINARIES: [&str; 3] = [AXUM, ACTIX, TOWER];

const TOKEN: &str = "test-admin-token-0123456789";

/// A service with its admin listener on a free loopback port.
fn start(binary: &str, envs: &[(&str, &str)]) -> (Service, String) {
    let mut envs = envs.to_vec();
    envs.push(("OBSERVE_ADMIN_ADDR", "127.0.0.1:0"));
    // The handler's DEBUG lines are what a level change turns on.
    envs.push(("RUST_LOG", "info"));
    let service = common::start(binary, &envs);
    let admin = service
        .metrics_addr
        .clone()
        .expect("the admin listener's line");
    (service, admin)
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn get(addr: &str, path: &str) -> (u16, String) {
    let (status, _, body) = http(addr, "GET", path, &[], "");
    (status, body)
}

/// `observe_health_check_duration_seconds_count{check="database"}`.
fn check_runs(admin: &str) -> u64 {
    let (_, metrics) = get(admin, "/metrics");
    metrics
        .lines()
        .find(|l| l.starts_with("observe_health_check_duration_seconds_count{check=\"database\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn readiness(binary: &str) {
    // A healthy database: ready, and live.
    let (service, admin) = start(binary, &[]);
    assert_eq!(
        get(&admin, "/health/live"),
        (200, r#"{"status":"up"}"#.into())
    );
    let (status, body) = get(&admin, "/health/ready");
    assert_eq!(status, 200, "{body}");
    let body = json(&body);
    assert_eq!(body["status"], "up");
    assert_eq!(body["checks"][0]["name"], "database");
    assert_eq!(body["checks"][0]["status"], "up");

    // 200 probes at once: the check ran once for all of them.
    let started = Instant::now();
    let before = check_runs(&admin);
    std::thread::scope(|scope| {
        let probes: Vec<_> = (0..200)
            .map(|_| scope.spawn(|| get(&admin, "/health/ready").0))
            .collect();
        for probe in probes {
            assert_eq!(probe.join().unwrap(), 200);
        }
    });
    let runs = check_runs(&admin) - before;
    // At most once per 5 s interval (the first run above was within it).
    let intervals = 1 + started.elapsed().as_secs() / 5;
    assert!(runs <= intervals, "{runs} runs in {:?}", started.elapsed());
    assert!(
        get(&admin, "/metrics")
            .1
            .contains("observe_health_check_up{check=\"database\"} 1"),
        "the gauge says up"
    );

    // Draining: a slow request keeps the service alive after SIGTERM;
    // meanwhile readiness fails, liveness does not.
    let slow = {
        let addr = service.addr.clone();
        std::thread::spawn(move || get(&addr, "/slow?ms=2000").0)
    };
    // In flight before the signal: refused afterwards, it would not be.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !get(&admin, "/metrics")
        .1
        .contains("http_server_active_requests{http_request_method=\"GET\"} 1")
    {
        assert!(Instant::now() < deadline, "the slow request never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    service.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let (status, body) = get(&admin, "/health/ready");
        if status == 503 {
            assert_eq!(json(&body)["status"], "draining", "{body}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still ready after SIGTERM: {body}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(get(&admin, "/health/live").0, 200);
    assert_eq!(slow.join().unwrap(), 200);
    drop(service);

    // A failing database: not ready, with the check's (redacted) error.
    let (_service, admin) = start(binary, &[("SHOP_DB_DOWN", "1")]);
    let (status, body) = get(&admin, "/health/ready");
    assert_eq!(status, 503, "{body}");
    let body = json(&body);
    assert_eq!(body["status"], "down");
    assert_eq!(body["checks"][0]["status"], "down");
    assert_eq!(
        body["checks"][0]["last_error"],
        "the simulated database refused the connection"
    );
    assert!(
        get(&admin, "/metrics")
            .1
            .contains("observe_health_check_up{check=\"database\"} 0"),
        "the gauge says down"
    );
}

#[test]
fn axum_readiness_follows_checks_and_draining() {
    readiness(AXUM);
}

#[test]
fn actix_readiness_follows_checks_and_draining() {
    readiness(ACTIX);
}

#[test]
fn tower_readiness_follows_checks_and_draining() {
    readiness(TOWER);
}

fn put_level(admin: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer.as_str()));
    }
    let (status, _, body) = http(admin, "PUT", "/observe/log-level", &headers, body);
    (status, json(&body))
}

/// Whether a lookup logs the handler's DEBUG line now; every line read
/// on the way is kept in `seen`, so none is lost to a later search.
fn debug_line_after_lookup(service: &Service, id: u32, seen: &mut Vec<Value>) -> bool {
    let (status, _) = get(&service.addr, &format!("/users/{id}"));
    assert_eq!(status, 200);
    let lines = service.collect_json(Duration::from_millis(400));
    let debug = lines
        .iter()
        .any(|l| l["level"] == "DEBUG" && l["target"] == "observe_examples::shop");
    seen.extend(lines);
    debug
}

/// The first line matching `want`: among those read already, else the
/// next to come.
fn find_line(service: &Service, seen: &mut Vec<Value>, want: impl Fn(&Value) -> bool) -> Value {
    if let Some(at) = seen.iter().position(&want) {
        return seen.remove(at);
    }
    service.next_json(want)
}

fn log_level(binary: &str) {
    let (service, admin) = start(binary, &[("OBSERVE_ADMIN_TOKEN", TOKEN)]);
    let mut seen = Vec::new();
    let (status, body) = get(&admin, "/observe/log-level");
    assert_eq!(status, 200);
    let level = json(&body);
    assert_eq!(level["directives"], "info");
    assert_eq!(level["revert_at"], Value::Null);
    assert!(!debug_line_after_lookup(&service, 1, &mut seen));

    // No token, a wrong one: 401, nothing changes, counted.
    let change = r#"{"directives": "info,observe_examples=debug", "revert_after": "3s"}"#;
    let (status, body) = put_level(&admin, None, change);
    assert_eq!(status, 401, "{body}");
    let (status, _) = put_level(&admin, Some("wrong-token-0123456789"), change);
    assert_eq!(status, 401);
    assert_eq!(
        json(&get(&admin, "/observe/log-level").1)["directives"],
        "info"
    );
    assert!(
        get(&admin, "/metrics")
            .1
            .contains("observe_admin_unauthorized_total 2")
    );
    // Bad directives, a bad revert: 400 naming the problem, nothing changes.
    let (status, body) = put_level(&admin, Some(TOKEN), r#"{"directives": "info,shop=loud"}"#);
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("invalid directives"),
        "{body}"
    );
    let (status, body) = put_level(
        &admin,
        Some(TOKEN),
        r#"{"directives": "debug", "revert_after": "48h"}"#,
    );
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("revert_after"),
        "{body}"
    );
    assert!(!debug_line_after_lookup(&service, 2, &mut seen));

    // With the token: DEBUG from the handler at once, no restart.
    let (status, body) = put_level(&admin, Some(TOKEN), change);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["directives"], "info,observe_examples=debug");
    assert_eq!(body["default"], "info");
    assert!(body["revert_at"].is_string(), "{body}");
    let changed = Instant::now();
    let audit = find_line(&service, &mut seen, |l| l["target"] == "observe::log_level");
    assert_eq!(audit["level"], "WARN");
    assert_eq!(audit["fields"]["previous"], "info");
    assert_eq!(audit["fields"]["directives"], "info,observe_examples=debug");
    let by = audit["fields"]["changed_by"].as_str().unwrap();
    assert!(by.starts_with("admin token, peer 127.0.0.1:"), "{by}");
    assert!(
        !audit.to_string().contains(TOKEN),
        "the token is never logged"
    );
    assert!(debug_line_after_lookup(&service, 3, &mut seen));
    assert!(
        get(&admin, "/metrics")
            .1
            .contains("observe_log_level_changes_total 1")
    );

    // After revert_after the default is back by itself, audited.
    let revert = find_line(&service, &mut seen, |l| {
        l["target"] == "observe::log_level" && l["message"] == "log level reverted to the default"
    });
    assert!(changed.elapsed() >= Duration::from_secs(2), "{revert}");
    assert!(!debug_line_after_lookup(&service, 4, &mut seen));
    let level = json(&get(&admin, "/observe/log-level").1);
    assert_eq!(level["directives"], "info");
    assert_eq!(level["revert_at"], Value::Null);
}

#[test]
fn axum_log_level_changes_at_run_time_and_reverts() {
    log_level(AXUM);
}

#[test]
fn actix_log_level_changes_at_run_time_and_reverts() {
    log_level(ACTIX);
}

#[test]
fn tower_log_level_changes_at_run_time_and_reverts() {
    log_level(TOWER);
}

/// What the issue asks of bad settings: a clear error naming the variable.
#[test]
fn an_open_admin_listener_needs_a_token() {
    for binary in BINARIES {
        let out = std::process::Command::new(binary)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("OBSERVE_ADMIN_ADDR", "0.0.0.0:0")
            .env_remove("OBSERVE_ADMIN_TOKEN")
            .env_remove("OBSERVE_METRICS_ADDR")
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{binary} started open without a token"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("not loopback-only and no OBSERVE_ADMIN_TOKEN is set"),
            "{binary}: {stderr}"
        );
        let out = std::process::Command::new(binary)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("OBSERVE_ADMIN_ADDR", "127.0.0.1:0")
            .env("OBSERVE_ADMIN_TOKEN", "short")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("invalid OBSERVE_ADMIN_TOKEN: expected 16 to 256"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("short"),
            "the token's value is never shown: {stderr}"
        );
    }
}

/// Without a token, a loopback listener takes writes; the old variable
/// name still works, with a deprecation line; unknown paths are 404 JSON.
#[test]
fn a_loopback_listener_writes_without_a_token_and_the_old_name_still_works() {
    let service = common::start(
        AXUM,
        &[
            ("OBSERVE_METRICS_ADDR", "127.0.0.1:0"),
            ("RUST_LOG", "info"),
        ],
    );
    let admin = service.metrics_addr.clone().unwrap();
    let (status, body) = put_level(&admin, None, r#"{"directives": "warn"}"#);
    assert_eq!(status, 200, "{body}");
    let audit = service.next_json(|l| l["target"] == "observe::log_level");
    let by = audit["fields"]["changed_by"].as_str().unwrap();
    assert!(
        by.starts_with("no token (loopback listener), peer 127.0.0.1:"),
        "{by}"
    );
    // DELETE restores the default at once.
    let (status, _, body) = http(&admin, "DELETE", "/observe/log-level", &[], "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["directives"], "info");
    let (status, _, body) = http(&admin, "GET", "/nope", &[], "");
    assert_eq!(status, 404);
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap()
            .contains("/health/ready")
    );
    let (status, headers, _) = http(&admin, "POST", "/health/ready", &[], "");
    assert_eq!(status, 405);
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "allow" && v == "GET, HEAD")
    );
    // The public port no longer serves /metrics: it moved.
    assert_eq!(get(&service.addr, "/metrics").0, 404);
    assert!(
        get(&admin, "/metrics")
            .1
            .contains("http_server_request_duration_seconds")
    );
}

/// A write must prove it was meant for this listener (issue 23): a foreign
/// `Host` or `Origin` (DNS rebinding), a body that is not JSON, two
/// `Authorization` headers and directive targets that are not Rust paths
/// are refused, each with an audit line that no filter silences (not even
/// `off`); a preflight gets no CORS grant; every JSON answer says nosniff;
/// the status page runs no inline script.
fn writes_need_proof_of_intent(binary: &str) {
    let (service, admin) = start(binary, &[("OBSERVE_ADMIN_TOKEN", TOKEN)]);
    let bearer = format!("Bearer {TOKEN}");
    let json_type = ("content-type", "application/json");
    let put = |extra: &[(&str, &str)], body: &str| {
        let mut headers = vec![("authorization", bearer.as_str())];
        headers.extend_from_slice(extra);
        http(&admin, "PUT", "/observe/log-level", &headers, body)
    };
    let level = r#"{"directives": "debug"}"#;

    // Turned off entirely: the change itself still leaves its audit line.
    let (status, _, body) = put(&[json_type], r#"{"directives": "off"}"#);
    assert_eq!(status, 200, "{binary}: {body}");
    let audit = service.next_json(|l| l["message"] == "log level changed");
    assert_eq!(audit["fields"]["directives"], "off", "{binary}");

    // Every refusal: its status, and the reason the client was given.
    let mut refused: Vec<(u16, String)> = Vec::new();
    let mut refuse = |(status, headers, body): (u16, Vec<(String, String)>, String), want: u16| {
        assert_eq!(status, want, "{binary}: {body}");
        assert!(
            headers
                .iter()
                .any(|(n, v)| n == "x-content-type-options" && v == "nosniff"),
            "{binary}: {headers:?}"
        );
        let error = json(&body)["error"].as_str().unwrap().to_string();
        refused.push((status, error.clone()));
        error
    };
    refuse(put(&[json_type, ("host", "evil.example:9464")], level), 403);
    refuse(
        put(&[json_type, ("origin", "http://evil.example:9464")], level),
        403,
    );
    refuse(put(&[("content-type", "text/plain")], level), 415);
    // Right then wrong, and wrong then right: which one would count?
    let two = refuse(
        put(&[json_type, ("authorization", "Bearer wrong")], level),
        400,
    );
    assert!(two.contains("more than one"), "{binary}: {two}");
    let wrong_first = http(
        &admin,
        "PUT",
        "/observe/log-level",
        &[
            ("authorization", "Bearer wrong-token-0123456789"),
            ("authorization", bearer.as_str()),
            json_type,
        ],
        level,
    );
    refuse(wrong_first, 400);
    let markup = refuse(
        put(&[json_type], r#"{"directives": "<script>=debug"}"#),
        400,
    );
    assert!(
        markup.contains("\"<script>\""),
        "{binary}: names the part: {markup}"
    );
    // NUL, a line break, ESC, a right-to-left override: refused, and named
    // escaped, so the answer and the audit line carry none of them.
    for (escaped, named) in [
        ("\\u0000", "\\0"),
        ("\\n", "\\n"),
        ("\\u001b", "\\u{1b}"),
        ("\\u202e", "\\u{202e}"),
    ] {
        let body = format!(r#"{{"directives": "shop{escaped}=debug"}}"#);
        let reason = refuse(put(&[json_type], &body), 400);
        assert!(
            reason.contains(&format!("target \"shop{named}\"")),
            "{binary}: {reason}"
        );
        assert!(!reason.chars().any(|c| c.is_control() || c == '\u{202e}'));
    }
    // A wrong token is told 401 (counted and audited) whatever the body's
    // size; the right one with a body over the limit gets a JSON 413.
    let big = format!(r#"{{"directives": "{}"}}"#, "x".repeat(5000));
    let wrong = http(
        &admin,
        "PUT",
        "/observe/log-level",
        &[
            ("authorization", "Bearer wrong-token-0123456789"),
            json_type,
        ],
        &big,
    );
    refuse(wrong, 401);
    refuse(put(&[json_type], &big), 413);

    // Each refusal above wrote its audit line, though the filter is `off`,
    // with the reason the client got: the redactor found nothing in
    // observe's own words to rewrite.
    for (status, reason) in &refused {
        let line = service.next_json(|l| l["message"] == "admin request refused");
        assert_eq!(
            line["fields"]["http.response.status_code"],
            status.to_string(),
            "{binary}: {line}"
        );
        assert_eq!(line["fields"]["reason"], reason.as_str(), "{binary}");
        assert_eq!(line["level"], "WARN");
    }
    // Counted as unauthorized: the two foreign writes, the two requests
    // with two Authorization headers and the wrong token.
    let (_, metrics) = get(&admin, "/metrics");
    assert!(
        metrics.contains("observe_admin_unauthorized_total 5"),
        "{binary}: {metrics}"
    );

    // No CORS grant for a preflight.
    let (status, headers, _) = http(
        &admin,
        "OPTIONS",
        "/observe/log-level",
        &[
            ("origin", "http://evil.example"),
            ("access-control-request-method", "PUT"),
        ],
        "",
    );
    assert_eq!(status, 204, "{binary}");
    assert!(
        !headers
            .iter()
            .any(|(n, _)| n.starts_with("access-control-")),
        "{binary}: {headers:?}"
    );
    let (status, headers, _) = http(&admin, "GET", "/observe/api/status", &[], "");
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "x-content-type-options" && v == "nosniff")
    );
    let (_, headers, page) = http(&admin, "GET", "/observe", &[], "");
    let policy = &headers
        .iter()
        .find(|(n, _)| n == "content-security-policy")
        .unwrap()
        .1;
    assert!(policy.contains("script-src 'self'") && !policy.contains("script-src 'unsafe-inline'"));
    assert!(page.contains(r#"<script src="/observe/app.js">"#));
    let (status, _, script) = http(&admin, "GET", "/observe/app.js", &[], "");
    assert_eq!(status, 200);
    assert!(script.contains("\"use strict\""));

    // Back to the default.
    let (status, _, body) = http(
        &admin,
        "DELETE",
        "/observe/log-level",
        &[("authorization", bearer.as_str())],
        "",
    );
    assert_eq!(status, 200, "{binary}: {body}");
}

#[test]
fn axum_writes_need_proof_of_intent() {
    writes_need_proof_of_intent(AXUM);
}

#[test]
fn actix_writes_need_proof_of_intent() {
    writes_need_proof_of_intent(ACTIX);
}

#[test]
fn tower_writes_need_proof_of_intent() {
    writes_need_proof_of_intent(TOWER);
}

/// The audit trail under any filter (issue 23): under `off`, `error`,
/// `observe=off,info`, `observe::log_level=off,warn` and `warn` (which lets
/// a WARN line through anyway), each change, refused write and reset writes
/// exactly one line, in order; a credential in a refused write's input is
/// redacted there.
fn audit_lines_under_any_filter(binary: &str) {
    let (service, admin) = start(binary, &[("OBSERVE_ADMIN_TOKEN", TOKEN)]);
    let filters = [
        "off",
        "error",
        "observe=off,info",
        "observe::log_level=off,warn",
        "warn",
    ];
    let bearer = format!("Bearer {TOKEN}");
    let mut expected = Vec::new();
    for directives in filters {
        let change = serde_json::json!({ "directives": directives }).to_string();
        let (status, body) = put_level(&admin, Some(TOKEN), &change);
        assert_eq!(status, 200, "{binary}: {body}");
        expected.push(("log level changed", directives.to_string()));
        // Refused while it is in force: no token, then no directive at all.
        let (status, body) = put_level(&admin, None, &change);
        assert_eq!(status, 401, "{binary}: {body}");
        expected.push(("admin request refused", "401".to_string()));
        let (status, body) = put_level(&admin, Some(TOKEN), r#"{"directives": ",,,,"}"#);
        assert_eq!(status, 400, "{binary}: {body}");
        expected.push(("admin request refused", "400".to_string()));
        let (status, _, body) = http(
            &admin,
            "DELETE",
            "/observe/log-level",
            &[("authorization", bearer.as_str())],
            "",
        );
        assert_eq!(status, 200, "{binary}: {body}");
        expected.push(("log level reset to the default", directives.to_string()));
    }
    // A credential pasted into the directives: refused, and the audit line
    // names the bad part without the secret.
    let secret = "sk-live-0123456789abcdef";
    let (status, body) = put_level(
        &admin,
        Some(TOKEN),
        &serde_json::json!({ "directives": format!("Bearer {secret}") }).to_string(),
    );
    assert_eq!(status, 400, "{binary}: {body}");

    // Matched by message, whatever the target: a second copy of a line
    // would show up out of order.
    let is_audit = |line: &Value| {
        [
            "log level changed",
            "log level reset to the default",
            "log level reverted to the default",
            "admin request refused",
        ]
        .iter()
        .any(|message| line["message"] == *message)
    };
    let mut audit = Vec::new();
    while audit.len() < expected.len() + 1 {
        audit.push(service.next_json(is_audit));
    }
    let redacted = audit.pop().unwrap();
    for (line, (message, detail)) in audit.iter().zip(&expected) {
        assert_eq!(line["message"], *message, "{binary}: {line}");
        assert_eq!(line["level"], "WARN", "{binary}: {line}");
        let fields = &line["fields"];
        match *message {
            "log level changed" => assert_eq!(fields["directives"], *detail, "{binary}"),
            "log level reset to the default" => {
                assert_eq!(fields["previous"], *detail, "{binary}");
                assert_eq!(fields["directives"], "info", "{binary}");
            }
            _ => assert_eq!(fields["http.response.status_code"], *detail, "{binary}"),
        }
    }
    assert_eq!(redacted["message"], "admin request refused", "{binary}");
    let reason = redacted["fields"]["reason"].as_str().unwrap();
    assert!(reason.contains("is not a Rust path"), "{binary}: {reason}");
    assert!(
        !redacted.to_string().contains(secret),
        "{binary}: {redacted}"
    );
    // Nothing more: each line came once.
    let rest = service.collect_json(Duration::from_millis(500));
    assert!(!rest.iter().any(is_audit), "{binary}: {rest:?}");
}

#[test]
fn axum_audit_lines_are_written_under_any_filter_once() {
    audit_lines_under_any_filter(AXUM);
}

#[test]
fn actix_audit_lines_are_written_under_any_filter_once() {
    audit_lines_under_any_filter(ACTIX);
}

#[test]
fn tower_audit_lines_are_written_under_any_filter_once() {
    audit_lines_under_any_filter(TOWER);
}
