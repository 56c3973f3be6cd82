//! The example binary as an operator runs it: JSON lines on stdout,
//! `RUST_LOG` and `OBSERVE_LOG_REMAP` honoured, bad settings refused at
//! start-up with a message that quotes them.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::process::Command;

mod common;

fn start(envs: &[(&str, &str)]) -> common::Service {
    common::start(env!("CARGO_BIN_EXE_axum-service"), envs)
}

#[test]
fn json_lines_with_a_request_event_by_default() {
    let service = start(&[]);
    // Without SENTRY_DSN, one line says error tracking is off.
    let off = &service.errors_line;
    assert_eq!(off["level"], "INFO");
    assert!(off["message"].as_str().unwrap().contains("SENTRY_DSN"));
    assert_eq!(service.get("/users/3", "bin-1"), 200);
    let event =
        service.next_json(|l| l["request_id"] == "bin-1" && l["target"] == "observe::request");
    assert_eq!(event["level"], "INFO");
    assert_eq!(event["event"]["route"], "/users/{id}");
    assert!(event["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn rust_log_and_the_remap_variable_are_honoured() {
    // WARN and above, but INFO for the binary itself (its "listening"
    // line); the remap lifts the request event to WARN, so it shows too,
    // marked with its origin.
    let service = start(&[
        ("RUST_LOG", "warn,axum_service=info"),
        ("OBSERVE_LOG_REMAP", "observe::request=info:warn"),
    ]);
    assert_eq!(service.get("/users/1000000", "bin-2"), 500);
    // The shop's WARN comes first, then the event.
    let warn =
        service.next_json(|l| l["request_id"] == "bin-2" && l["target"] != "observe::request");
    assert_eq!(warn["level"], "WARN");
    let event =
        service.next_json(|l| l["request_id"] == "bin-2" && l["target"] == "observe::request");
    assert_eq!(event["level"], "WARN");
    assert_eq!(event["original_level"], "INFO");
}

#[test]
fn bad_settings_stop_the_service_and_say_why() {
    for (name, value, quoted) in [
        (
            "OBSERVE_LOG_REMAP",
            "hyper=errr:warn",
            "\"hyper=errr:warn\"",
        ),
        ("RUST_LOG", "shop=loud", "shop=loud"),
        ("OBSERVE_LOG_FORMAT", "xml", "\"xml\""),
        ("OTEL_TRACES_SAMPLER", "sometimes", "\"sometimes\""),
        ("OTEL_TRACES_SAMPLER_ARG", "2", "\"2\""),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "collector:4318",
            "\"collector:4318\"",
        ),
        // The key is masked in the message; the form expected is given.
        (
            "SENTRY_DSN",
            "https://abc@sentry.example.com",
            "https://***@sentry.example.com",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_axum-service"))
            .env("LISTEN_ADDR", "127.0.0.1:0")
            // The admin listener off: /metrics on the public port, and no
            // clash on the default admin port between parallel tests.
            .env("OBSERVE_ADMIN_ADDR", "off")
            .env(name, value)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{name}={value} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(name), "{stderr}");
        assert!(stderr.contains(quoted), "{stderr}");
    }
}
