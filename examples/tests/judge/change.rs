//! A config change judged against the window before it: one instance runs
//! healthy with `SHOP_CHECKOUT_V2=disabled`, is restarted on the same
//! address with `in_use` and `SHOP_FAULT_RATE=0.3`, and Prometheus scrapes
//! it throughout. `judge --after TIME` at the restart and `judge --flag
//! shop_checkout_v2` (which finds the flip in Prometheus) roll back; a time
//! inside the healthy phase continues.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use observe_core::time::{format_rfc3339, parse_rfc3339};
use observe_slo::PrometheusApi;
use serde_json::Value;

use crate::parts::{available, drive, eventually, free_port, get, prometheus, verdict};
use crate::{BIN, common};

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn judge(url: &str, args: &[&str]) -> (i32, Value, String) {
    let output = std::process::Command::new(BIN)
        .args(["judge", "--prometheus", url, "--min-requests", "500"])
        .args(args)
        .output()
        .unwrap();
    verdict(&output)
}

#[test]
fn a_config_change_is_judged_against_the_window_before_it() {
    if !available("prometheus", "--version", "prometheus") {
        return;
    }
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("observe-judge-change-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let before = common::start(
        BIN,
        &[("LISTEN_ADDR", &addr), ("SHOP_CHECKOUT_V2", "disabled")],
    );
    let (_server, url) = prometheus(&dir, std::slice::from_ref(&addr));
    let api = PrometheusApi::new(&url, Duration::from_secs(5)).unwrap();
    let requests = || -> Option<f64> {
        let promql = format!(
            "sum(http_server_request_duration_seconds_count{{job=\"shop\",instance=\"{addr}\"}})"
        );
        api.query(&promql).ok()?.first().map(|(_, v)| *v)
    };
    get(&addr, "/users/1");
    eventually("the first scrapes", || requests().filter(|n| *n >= 1.0));

    // Healthy, then the restart with the flag flipped and faults on.
    let healthy_from = now();
    drive(&addr, 1000, 2400);
    eventually("the healthy phase scraped", || {
        requests().filter(|n| *n >= 2401.0)
    });
    drop(before);
    let flipped = now();
    let _after = common::start(
        BIN,
        &[
            ("LISTEN_ADDR", &addr),
            ("SHOP_CHECKOUT_V2", "in_use"),
            ("SHOP_FAULT_RATE", "0.3"),
        ],
    );
    drive(&addr, 5000, 2000);
    eventually("the changed phase scraped", || {
        requests().filter(|n| *n >= 2000.0)
    });

    let at = format_rfc3339(flipped);
    let (code, json, stderr) = judge(&url, &["--after", &at, "--window", "8s"]);
    assert_eq!(code, 1, "--after the flip: {stderr}\n{json}");
    assert_eq!(json["slos"][0]["verdict"], "rollback", "{json}");
    assert!(
        stderr.contains("shop-availability: after ") && stderr.contains(" 5xx vs before 0%"),
        "{stderr}"
    );

    let (code, json, stderr) = judge(&url, &["--flag", "shop_checkout_v2", "--window", "8s"]);
    assert_eq!(code, 1, "--flag: {stderr}\n{json}");
    assert_eq!(json["flag"], "shop_checkout_v2", "{json}");
    let found = parse_rfc3339(json["after"].as_str().unwrap()).unwrap();
    assert!(
        (flipped - 2.0..flipped + 5.0).contains(&found),
        "the flip at {at}, found at {}",
        json["after"]
    );

    // A time in the middle of the healthy phase: both windows healthy.
    let half = ((flipped - healthy_from) / 2.0).floor() - 1.0;
    let quiet = format_rfc3339(healthy_from + half + 1.0);
    let window = format!("{half}s");
    let (code, json, stderr) = judge(&url, &["--after", &quiet, "--window", &window]);
    assert_eq!(
        code, 0,
        "--after {quiet} --window {window}: {stderr}\n{json}"
    );

    let (code, _, stderr) = judge(&url, &["--flag", "no_such_flag"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "--flag: no change of no_such_flag{job=\"shop\"} in the last 1d (0 series seen)"
        ),
        "{stderr}"
    );
    let (code, _, stderr) = judge(&url, &["--after", "2999-01-01T00:00:00Z"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--after: the change at 2999-01-01T00:00:00Z is not in the past"),
        "{stderr}"
    );
    let (code, _, stderr) = judge(&url, &["--after", "yesterday"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr
            .contains("invalid value 'yesterday' for '--after <TIME>': expected an RFC 3339 time"),
        "{stderr}"
    );
    eprintln!("config change end to end: {:.1?}", started.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
}
