//! The status page in a real browser: Debian's chromium, headless, loads
//! `/observe` from each example binary's admin listener after some traffic;
//! the DOM its script rendered shows each route with its numbers, a failed
//! request with the trace id its log line carries, and the flag's state.
//!
//! `OBSERVE_CONSOLE_SCREENSHOT=path.png` also saves a screenshot (the
//! README's comes from here).

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Service, http};

const AXUM: &str = env!("CARGO_BIN_EXE_axum-service");
const ACTIX: &str = env!("CARGO_BIN_EXE_actix-service");
const TOWER: &str = env!("CARGO_BIN_EXE_tower-service");

/// Chromium's flags for a run as root in a container, in its own profile.
fn chromium(profile: &std::path::Path, extra: &[&str], url: &str) -> String {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.display()),
            // Time for the first fetch of /observe/api/status to render.
            "--virtual-time-budget=5000",
        ])
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Some traffic: lookups, a database failure, a slow request, a 404.
fn traffic(service: &Service) -> String {
    for id in 1..=20 {
        assert_eq!(
            http(&service.addr, "GET", &format!("/users/{id}"), &[], "").0,
            200
        );
    }
    let failed = http(
        &service.addr,
        "GET",
        "/users/1000001",
        &[("x-request-id", "console-failed-1")],
        "",
    );
    assert_eq!(failed.0, 500);
    let slow = http(
        &service.addr,
        "GET",
        "/slow?ms=250",
        &[("x-request-id", "console-slow-1")],
        "",
    );
    assert_eq!(slow.0, 200);
    assert_eq!(
        http(&service.addr, "GET", "/api/v1/items/7", &[], "").0,
        200
    );
    assert_eq!(http(&service.addr, "GET", "/nope", &[], "").0, 404);
    // The failed request's trace id, as its event line says.
    let event =
        service.next_json(|l| l["request_id"] == "console-failed-1" && l["event"].is_object());
    event["trace_id"].as_str().unwrap().to_string()
}

/// The `<tr>` element of the row whose attribute `attribute` is `value`.
fn row<'a>(dom: &'a str, attribute: &str, value: &str) -> &'a str {
    let needle = format!("{attribute}=\"{value}\"");
    let at = dom
        .find(&needle)
        .unwrap_or_else(|| panic!("no row with {needle} in the rendered page:\n{dom}"));
    let start = dom[..at].rfind("<tr").unwrap();
    let end = at + dom[at..].find("</tr>").unwrap();
    &dom[start..end]
}

/// The text of the first `<td>` in `row` whose classes include `class`.
fn cell<'a>(row: &'a str, class: &str) -> &'a str {
    let mut rest = row;
    while let Some(at) = rest.find("<td class=\"") {
        let classes_start = at + "<td class=\"".len();
        let classes_end = classes_start + rest[classes_start..].find('"').unwrap();
        let open = classes_end + rest[classes_end..].find('>').unwrap() + 1;
        let close = open + rest[open..].find("</td>").unwrap();
        if rest[classes_start..classes_end]
            .split(' ')
            .any(|c| c == class)
        {
            return &rest[open..close];
        }
        rest = &rest[close..];
    }
    panic!("no {class} cell in {row}")
}

fn renders(binary: &str) {
    if !common::available("chromium", "--version", "chromium") {
        return;
    }
    let service = common::start(
        binary,
        &[("OBSERVE_ADMIN_ADDR", "127.0.0.1:0"), ("RUST_LOG", "info")],
    );
    let admin = service.metrics_addr.clone().unwrap();
    let trace_id = traffic(&service);
    assert_eq!(trace_id.len(), 32);

    let name = std::path::Path::new(binary)
        .file_name()
        .unwrap()
        .to_string_lossy();
    let profile =
        std::env::temp_dir().join(format!("observe-chromium-{}-{name}", std::process::id()));
    let url = format!("http://{admin}/observe");
    let dom = chromium(&profile, &["--dump-dom"], &url);
    assert!(
        dom.contains("data-loaded=\"1\""),
        "the page's script did not render:\n{dom}"
    );
    assert!(dom.contains(">shop<"), "the service name");
    // Saturation beside in flight: the workers' busy share and the queue.
    let dd = |id: &str| {
        let open = format!("id=\"{id}\"");
        let at = dom.find(&open).unwrap_or_else(|| panic!("no #{id}"));
        let start = at + dom[at..].find('>').unwrap() + 1;
        let end = start + dom[start..].find("</dd>").unwrap();
        dom[start..end].to_string()
    };
    let busy = dd("busy");
    assert!(busy.contains("% of "), "workers busy: {busy:?}");
    assert!(dd("queued").parse::<u64>().is_ok(), "{:?}", dd("queued"));
    // The examples are built with `profiling`: the page links the flame graph.
    assert!(
        dom.contains("href=\"/debug/pprof/profile?seconds=30&amp;format=svg\""),
        "no flame graph link in\n{dom}"
    );
    assert!(
        !dom.contains("id=\"profile-stat\" hidden"),
        "the link is shown"
    );

    // Each route with its numbers: 21 lookups in the last minute, one 5xx.
    let users = row(&dom, "data-route", "/users/{id}");
    let rate: f64 = cell(users, "rate-1m")
        .parse()
        .unwrap_or_else(|_| panic!("{users}"));
    assert!(rate > 0.0, "{users}");
    let errors = cell(users, "errors-1m");
    assert!(errors.ends_with('%') && errors != "0.00%", "{users}");
    assert!(cell(users, "p99-1m").parse::<f64>().is_ok(), "{users}");
    for route in ["/slow", "/api/v1/items/{id}", "_UNMATCHED"] {
        let row = row(&dom, "data-route", route);
        assert!(cell(row, "rate-1m").parse::<f64>().unwrap() > 0.0, "{row}");
    }
    // The cache hit ratio of the lookups (all misses: every id once).
    assert!(cell(users, "cache").ends_with('%'), "{users}");

    // The failed request, with its trace id.
    let failed = row(&dom, "data-request-id", "console-failed-1");
    assert!(
        failed.contains(&format!("data-trace-id=\"{trace_id}\"")),
        "{failed}"
    );
    assert_eq!(cell(failed, "trace-id"), trace_id);
    assert!(cell(failed, "status").contains("500"), "{failed}");
    // The slow request is among the slowest.
    let slowest_at = dom.find("id=\"slowest\"").unwrap();
    let slowest = &dom[slowest_at..];
    let slow = row(slowest, "data-request-id", "console-slow-1");
    let ms: f64 = cell(slow, "duration")
        .trim_end_matches(" ms")
        .parse()
        .unwrap_or_else(|_| panic!("{slow}"));
    assert!(ms >= 250.0, "{slow}");

    // The flag, the health check, the log level.
    let flag = row(&dom, "data-flag", "shop_checkout_v2");
    assert_eq!(cell(flag, "state"), "disabled");
    let check = row(&dom, "data-check", "database");
    assert!(check.contains("up"), "{check}");
    assert!(
        dom.contains("id=\"log-directives\" class=\"mono\">info<"),
        "the log level"
    );

    if let Ok(path) = std::env::var("OBSERVE_CONSOLE_SCREENSHOT") {
        // A few more seconds of history for the sparklines.
        std::thread::sleep(Duration::from_secs(1));
        chromium(
            &profile,
            &["--window-size=1280,1400", &format!("--screenshot={path}")],
            &url,
        );
    }
    let _ = std::fs::remove_dir_all(&profile);
}

#[test]
fn axum_status_page_renders_in_chromium() {
    renders(AXUM);
}

#[test]
fn actix_status_page_renders_in_chromium() {
    renders(ACTIX);
}

#[test]
fn tower_status_page_renders_in_chromium() {
    renders(TOWER);
}
