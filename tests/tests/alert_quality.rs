//! `observe alert-quality` on the example service's SLOs: the incident
//! corpus replayed through promtool, the table naming each scenario and
//! comparing the generated rules with the naive and single-window ones,
//! and the exit code saying whether the generated rules hold their
//! properties (the JSON's `failures`).

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use observe_tests::processes;

#[test]
fn the_table_compares_the_rule_sets_on_every_scenario() {
    if observe_tests::require_tool("promtool", &["--version"], "apt-get install prometheus")
        .is_none()
    {
        return;
    }
    let file =
        std::env::temp_dir().join(format!("observe-quality-slos-{}.json", std::process::id()));
    std::fs::write(&file, observe_examples::slos().to_json().to_string()).unwrap();
    let binaries = processes::built(&["-p", "observe-cli", "--bins"]);
    let (_, _, observe) = binaries
        .iter()
        .find(|(_, name, _)| name == "observe")
        .unwrap();
    let run = |json: bool| {
        let mut command = std::process::Command::new(observe);
        command.arg("--slos").arg(&file).arg("alert-quality");
        if json {
            command.arg("--json");
        }
        command.output().unwrap()
    };
    let table = run(false);
    let text = String::from_utf8_lossy(&table.stdout);
    for word in [
        "healthy-50%",
        "spike-1m-100%",
        "outage",
        "burn-20x",
        "burn-6x",
        "burn-1x",
        "flapping",
        "low-traffic",
        "latency-regression",
        "generated",
        "naive",
        "single-window",
    ] {
        assert!(text.contains(word), "{word} not in\n{text}");
    }
    let json = run(true);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let rows = value["rows"].as_array().unwrap();
    // Two SLOs (availability, latency) of the example; the latency one has
    // the latency regression too.
    assert_eq!(rows.len(), 15 + 16, "{value}");
    // No rule set pages on healthy traffic; the outage pages under the
    // generated rules and the multiwindow rules stop paging sooner after
    // it than the single-window ones.
    for row in rows {
        if row["healthy"] == true {
            for set in ["generated", "naive", "single-window"] {
                assert_eq!(row["rule_sets"][set]["false_page"], false, "{row}");
            }
        }
    }
    let outage = rows
        .iter()
        .find(|r| r["slo"] == "shop-availability" && r["scenario"] == "outage")
        .unwrap();
    assert!(
        outage["rule_sets"]["generated"]["first_page_minutes"]
            .as_i64()
            .unwrap()
            <= 5
    );
    let resolved = |set: &str| {
        outage["rule_sets"][set]["resolved_after_minutes"]
            .as_i64()
            .unwrap()
    };
    assert!(
        resolved("generated") < resolved("single-window"),
        "{outage}"
    );
    // The exit code is the verdict on the properties.
    let failures = value["failures"].as_array().unwrap();
    assert_eq!(
        table.status.code(),
        Some(if failures.is_empty() { 0 } else { 1 })
    );
    assert_eq!(json.status.code(), table.status.code());
    let _ = std::fs::remove_file(&file);
}
