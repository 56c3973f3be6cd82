//! The log filter changed at run time through the library API (the admin
//! listener's `PUT /observe/log-level` calls the same), in a process of its
//! own: remapping still applies under the new filter, the old one comes
//! back by itself, and bad input changes nothing.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use observe_core::Observe;
use observe_core::logging::{self, LevelError};
use observe_tests::CapturedOutput;
use serde_json::Value;
use tracing::Level;

fn lines(output: &CapturedOutput) -> Vec<Value> {
    let bytes = output.0.lock().unwrap().clone();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn has(output: &CapturedOutput, message: &str) -> Option<Value> {
    lines(output).into_iter().find(|l| l["message"] == message)
}

#[test]
fn the_filter_changes_remapping_holds_and_the_default_returns() {
    let output = CapturedOutput::default();
    let observe = Observe::builder().service_name("shop").build().unwrap();
    let guard = observe
        .logging()
        .filter("info")
        // chatty's INFO is noise: treated as DEBUG.
        .remap("chatty", Level::INFO, Level::DEBUG)
        .writer(output.clone())
        .try_init()
        .unwrap();
    assert_eq!(logging::log_level().unwrap().directives, "info");

    tracing::info!(target: "chatty", "chatty before");
    tracing::debug!(target: "shop", "debug before");

    // Bad input: named, nothing changes.
    let bad = logging::set_log_level("info,shop=loud", Duration::from_secs(60), "test");
    assert!(matches!(bad, Err(LevelError::Directives { .. })), "{bad:?}");
    let too_long = logging::set_log_level("debug", Duration::from_secs(25 * 3600), "test");
    assert!(
        matches!(too_long, Err(LevelError::RevertAfter(_))),
        "{too_long:?}"
    );
    assert_eq!(logging::log_level().unwrap().directives, "info");

    let change = logging::set_log_level("info,shop=debug", Duration::from_secs(2), "test").unwrap();
    assert_eq!(change.before.directives, "info");
    assert_eq!(change.after.directives, "info,shop=debug");
    assert!(change.after.revert_at.is_some());
    let changed = Instant::now();
    tracing::debug!(target: "shop", "debug during");
    // Remapped to DEBUG, and only `shop` is at debug: still filtered out.
    tracing::info!(target: "chatty", "chatty during");
    // Every level of `shop` now passes; others stay at info.
    tracing::debug!(target: "other", "other debug during");

    // The revert comes by itself, audited.
    let deadline = Instant::now() + Duration::from_secs(10);
    while has(&output, "log level reverted to the default").is_none() {
        assert!(Instant::now() < deadline, "no revert line");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(changed.elapsed() >= Duration::from_secs(2));
    assert_eq!(logging::log_level().unwrap().directives, "info");
    tracing::debug!(target: "shop", "debug after");
    guard.flush(Duration::from_secs(2));

    assert!(
        has(&output, "debug during").is_some(),
        "shop=debug let it through"
    );
    for filtered in [
        "chatty before",
        "debug before",
        "chatty during",
        "other debug during",
        "debug after",
    ] {
        assert!(
            has(&output, filtered).is_none(),
            "{filtered} should be filtered"
        );
    }
    let audit = has(&output, "log level changed").unwrap();
    assert_eq!(audit["level"], "WARN");
    assert_eq!(audit["target"], logging::LEVEL_TARGET);
    assert_eq!(audit["fields"]["previous"], "info");
    assert_eq!(audit["fields"]["directives"], "info,shop=debug");
    assert_eq!(audit["fields"]["changed_by"], "test");

    // A remapped event passes once its new level does.
    logging::set_log_level("debug", Duration::from_secs(60), "test").unwrap();
    tracing::info!(target: "chatty", "chatty at debug");
    logging::reset_log_level("test").unwrap();
    tracing::info!(target: "chatty", "chatty after reset");
    guard.flush(Duration::from_secs(2));
    let chatty = has(&output, "chatty at debug").unwrap();
    assert_eq!(chatty["level"], "DEBUG");
    assert!(has(&output, "chatty after reset").is_none());
    assert!(has(&output, "log level reset to the default").is_some());
}
