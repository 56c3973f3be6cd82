//! The generated Prometheus rules, checked and unit-tested by promtool
//! itself against synthetic series.

// Test scaffolding: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use observe_slo::{Slo, Slos};
use observe_tests::require_tool;

fn rules() -> String {
    Slos::new("shop")
        .with(Slo::availability("checkout", 0.999).route("/orders"))
        .with(Slo::latency("users-fast", 0.99, 0.25).route("/users/{id}"))
        .with(Slo::grpc_availability("users-grpc", 0.999).route("shop.v1.Users/GetUser"))
        .prometheus_rules()
        .unwrap()
}

fn promtool(args: &[&str], dir: &std::path::Path) -> (bool, String) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn workdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("observe-slo-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rules.yml"), rules()).unwrap();
    dir
}

#[test]
fn promtool_accepts_the_rules() {
    if require_tool("promtool", &["--version"], "apt-get install prometheus").is_none() {
        return;
    }
    let dir = workdir("check");
    let (ok, output) = promtool(&["check", "rules", "rules.yml"], &dir);
    assert!(
        ok,
        "promtool check rules failed:\n{output}\n---\n{}",
        rules()
    );
}

/// Burn-rate alerts on synthetic traffic, one scenario per test group.
const UNIT_TESTS: &str = r#"
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  # 2% errors against a 99.9% objective: both pages and the ticket fire.
  - interval: 1m
    input_series:
      - series: 'http_server_request_duration_seconds_count{job="shop",http_route="/orders",http_response_status_code="201"}'
        values: '0+980x120'
      - series: 'http_server_request_duration_seconds_count{job="shop",http_route="/orders",http_response_status_code="500",error_type="500"}'
        values: '0+20x120'
    alert_rule_test:
      - eval_time: 15m
        alertname: SloErrorBudgetBurn
        exp_alerts:
          - exp_labels: {severity: page, slo: checkout, service: shop, window: 1h-5m}
            exp_annotations:
              summary: "shop: SLO checkout is burning its error budget 14.4x too fast (1h and 5m windows)"
              description: "Burn rate 20.0x over 1h; error budget left -1900%. Worst routes over 5m (errors): /orders 2%."
              worst_route: "/orders"
              dashboard: "http://localhost:3000/d/observe-shop?viewPanel=7&from=-2700000&to=900000"
              runbook_url: "https://sre.google/workbook/alerting-on-slos/"
          - exp_labels: {severity: page, slo: checkout, service: shop, window: 6h-30m}
            exp_annotations:
              summary: "shop: SLO checkout is burning its error budget 6x too fast (6h and 30m windows)"
              description: "Burn rate 20.0x over 6h; error budget left -1900%. Worst routes over 30m (errors): /orders 2%."
              worst_route: "/orders"
              dashboard: "http://localhost:3000/d/observe-shop?viewPanel=7&from=-20700000&to=900000"
              runbook_url: "https://sre.google/workbook/alerting-on-slos/"
          - exp_labels: {severity: ticket, slo: checkout, service: shop, window: 3d-6h}
            exp_annotations:
              summary: "shop: SLO checkout is burning its error budget 1x too fast (3d and 6h windows)"
              description: "Burn rate 20.0x over 3d; error budget left -1900%. Worst routes over 6h (errors): /orders 2%."
              worst_route: "/orders"
              dashboard: "http://localhost:3000/d/observe-shop?viewPanel=7&from=-258300000&to=900000"
              runbook_url: "https://sre.google/workbook/alerting-on-slos/"
  # 0.05% errors: within budget, nothing fires all day.
  - interval: 1m
    input_series:
      - series: 'http_server_request_duration_seconds_count{job="shop",http_route="/orders",http_response_status_code="201"}'
        values: '0+9995x1440'
      - series: 'http_server_request_duration_seconds_count{job="shop",http_route="/orders",http_response_status_code="500",error_type="500"}'
        values: '0+5x1440'
    alert_rule_test:
      - eval_time: 6h
        alertname: SloErrorBudgetBurn
        exp_alerts: []
      - eval_time: 24h
        alertname: SloErrorBudgetBurn
        exp_alerts: []
  # Three clean days, then one minute of 10% errors: no page, no ticket.
  - interval: 1m
    input_series:
      - series: 'http_server_request_duration_seconds_count{job="shop",http_route="/orders",http_response_status_code="201"}'
        values: '0+1000x4320 4320900+900x1 4321800+1000x60'
      - series: 'http_server_request_duration_seconds_count{job="shop",http_route="/orders",http_response_status_code="500",error_type="500"}'
        values: '0+0x4320 100+0x61'
    alert_rule_test:
      - eval_time: 72h3m
        alertname: SloErrorBudgetBurn
        exp_alerts: []
      - eval_time: 72h10m
        alertname: SloErrorBudgetBurn
        exp_alerts: []
  # 20% of /users/{id} slower than 250 ms against a 99% objective.
  - interval: 1m
    input_series:
      - series: 'http_server_request_duration_seconds_count{job="shop",http_route="/users/{id}",http_response_status_code="200"}'
        values: '0+1000x120'
      - series: 'http_server_request_duration_seconds_bucket{job="shop",http_route="/users/{id}",http_response_status_code="200",le="0.25"}'
        values: '0+800x120'
    alert_rule_test:
      - eval_time: 15m
        alertname: SloErrorBudgetBurn
        exp_alerts:
          - exp_labels: {severity: page, slo: users-fast, service: shop, window: 1h-5m}
            exp_annotations:
              summary: "shop: SLO users-fast is burning its error budget 14.4x too fast (1h and 5m windows)"
              description: "Burn rate 20.0x over 1h; error budget left -1900%. Worst routes over 5m (slow): /users/{id} 20%."
              worst_route: "/users/{id}"
              dashboard: "http://localhost:3000/d/observe-shop?viewPanel=7&from=-2700000&to=900000"
              runbook_url: "https://sre.google/workbook/alerting-on-slos/"
          - exp_labels: {severity: page, slo: users-fast, service: shop, window: 6h-30m}
            exp_annotations:
              summary: "shop: SLO users-fast is burning its error budget 6x too fast (6h and 30m windows)"
              description: "Burn rate 20.0x over 6h; error budget left -1900%. Worst routes over 30m (slow): /users/{id} 20%."
              worst_route: "/users/{id}"
              dashboard: "http://localhost:3000/d/observe-shop?viewPanel=7&from=-20700000&to=900000"
              runbook_url: "https://sre.google/workbook/alerting-on-slos/"
          - exp_labels: {severity: ticket, slo: users-fast, service: shop, window: 3d-6h}
            exp_annotations:
              summary: "shop: SLO users-fast is burning its error budget 1x too fast (3d and 6h windows)"
              description: "Burn rate 20.0x over 3d; error budget left -1900%. Worst routes over 6h (slow): /users/{id} 20%."
              worst_route: "/users/{id}"
              dashboard: "http://localhost:3000/d/observe-shop?viewPanel=7&from=-258300000&to=900000"
              runbook_url: "https://sre.google/workbook/alerting-on-slos/"
  # gRPC: 2% INTERNAL against a 99.9% objective pages; NOT_FOUND, the
  # client's error, does not count however much of it there is.
  - interval: 1m
    input_series:
      - series: 'rpc_server_duration_seconds_count{job="shop",rpc_service="shop.v1.Users",rpc_method="GetUser",rpc_grpc_status_code="0",rpc_system="grpc"}'
        values: '0+780x120'
      - series: 'rpc_server_duration_seconds_count{job="shop",rpc_service="shop.v1.Users",rpc_method="GetUser",rpc_grpc_status_code="5",rpc_system="grpc"}'
        values: '0+200x120'
      - series: 'rpc_server_duration_seconds_count{job="shop",rpc_service="shop.v1.Users",rpc_method="GetUser",rpc_grpc_status_code="13",rpc_system="grpc",error_type="13"}'
        values: '0+20x120'
    alert_rule_test:
      - eval_time: 15m
        alertname: SloErrorBudgetBurn
        exp_alerts:
          - exp_labels: {severity: page, slo: users-grpc, service: shop, window: 1h-5m}
            exp_annotations:
              summary: "shop: SLO users-grpc is burning its error budget 14.4x too fast (1h and 5m windows)"
              description: "Burn rate 20.0x over 1h; error budget left -1900%. Worst routes over 5m (errors): shop.v1.Users/GetUser 2%."
              worst_route: "shop.v1.Users/GetUser"
              dashboard: "http://localhost:3000/d/observe-shop?viewPanel=7&from=-2700000&to=900000"
              runbook_url: "https://sre.google/workbook/alerting-on-slos/"
          - exp_labels: {severity: page, slo: users-grpc, service: shop, window: 6h-30m}
            exp_annotations:
              summary: "shop: SLO users-grpc is burning its error budget 6x too fast (6h and 30m windows)"
              description: "Burn rate 20.0x over 6h; error budget left -1900%. Worst routes over 30m (errors): shop.v1.Users/GetUser 2%."
              worst_route: "shop.v1.Users/GetUser"
              dashboard: "http://localhost:3000/d/observe-shop?viewPanel=7&from=-20700000&to=900000"
              runbook_url: "https://sre.google/workbook/alerting-on-slos/"
          - exp_labels: {severity: ticket, slo: users-grpc, service: shop, window: 3d-6h}
            exp_annotations:
              summary: "shop: SLO users-grpc is burning its error budget 1x too fast (3d and 6h windows)"
              description: "Burn rate 20.0x over 3d; error budget left -1900%. Worst routes over 6h (errors): shop.v1.Users/GetUser 2%."
              worst_route: "shop.v1.Users/GetUser"
              dashboard: "http://localhost:3000/d/observe-shop?viewPanel=7&from=-258300000&to=900000"
              runbook_url: "https://sre.google/workbook/alerting-on-slos/"
  - interval: 1m
    input_series:
      - series: 'rpc_server_duration_seconds_count{job="shop",rpc_service="shop.v1.Users",rpc_method="GetUser",rpc_grpc_status_code="0",rpc_system="grpc"}'
        values: '0+500x120'
      - series: 'rpc_server_duration_seconds_count{job="shop",rpc_service="shop.v1.Users",rpc_method="GetUser",rpc_grpc_status_code="5",rpc_system="grpc"}'
        values: '0+500x120'
    alert_rule_test:
      - eval_time: 15m
        alertname: SloErrorBudgetBurn
        exp_alerts: []
  # A canary: version 1.1 on one instance fails 5%, 1.0 on two fails 0.1%.
  - interval: 1m
    input_series:
      - series: 'target_info{job="shop",instance="a:3000",service_name="shop",service_version="1.0"}'
        values: '1x60'
      - series: 'target_info{job="shop",instance="b:3000",service_name="shop",service_version="1.0"}'
        values: '1x60'
      - series: 'target_info{job="shop",instance="c:3000",service_name="shop",service_version="1.1"}'
        values: '1x60'
      - series: 'http_server_request_duration_seconds_count{job="shop",instance="a:3000",http_route="/orders",http_response_status_code="201"}'
        values: '0+999x60'
      - series: 'http_server_request_duration_seconds_count{job="shop",instance="a:3000",http_route="/orders",http_response_status_code="500",error_type="500"}'
        values: '0+1x60'
      - series: 'http_server_request_duration_seconds_count{job="shop",instance="b:3000",http_route="/orders",http_response_status_code="201"}'
        values: '0+999x60'
      - series: 'http_server_request_duration_seconds_count{job="shop",instance="b:3000",http_route="/orders",http_response_status_code="500",error_type="500"}'
        values: '0+1x60'
      - series: 'http_server_request_duration_seconds_count{job="shop",instance="c:3000",http_route="/orders",http_response_status_code="201"}'
        values: '0+950x60'
      - series: 'http_server_request_duration_seconds_count{job="shop",instance="c:3000",http_route="/orders",http_response_status_code="500",error_type="500"}'
        values: '0+50x60'
    alert_rule_test:
      - eval_time: 20m
        alertname: CanaryWorse
        exp_alerts:
          - exp_labels: {severity: page, service: shop, service_version: "1.1"}
            exp_annotations: {summary: "shop version 1.1 fails at least twice as often as the best version: roll it back"}
  # Two versions alike: no canary alert.
  - interval: 1m
    input_series:
      - series: 'target_info{job="shop",instance="a:3000",service_name="shop",service_version="1.0"}'
        values: '1x60'
      - series: 'target_info{job="shop",instance="c:3000",service_name="shop",service_version="1.1"}'
        values: '1x60'
      - series: 'http_server_request_duration_seconds_count{job="shop",instance="a:3000",http_route="/orders",http_response_status_code="201"}'
        values: '0+980x60'
      - series: 'http_server_request_duration_seconds_count{job="shop",instance="a:3000",http_route="/orders",http_response_status_code="500",error_type="500"}'
        values: '0+20x60'
      - series: 'http_server_request_duration_seconds_count{job="shop",instance="c:3000",http_route="/orders",http_response_status_code="201"}'
        values: '0+975x60'
      - series: 'http_server_request_duration_seconds_count{job="shop",instance="c:3000",http_route="/orders",http_response_status_code="500",error_type="500"}'
        values: '0+25x60'
    alert_rule_test:
      - eval_time: 20m
        alertname: CanaryWorse
        exp_alerts: []
"#;

#[test]
fn promtool_unit_tests_prove_the_burn_rate_alerts() {
    if require_tool("promtool", &["--version"], "apt-get install prometheus").is_none() {
        return;
    }
    let dir = workdir("test");
    std::fs::write(dir.join("tests.yml"), UNIT_TESTS).unwrap();
    let (ok, output) = promtool(&["test", "rules", "tests.yml"], &dir);
    assert!(
        ok,
        "promtool test rules failed:\n{output}\n---\n{}",
        rules()
    );
}

/// Recording rules for the OpenSLO export's good and total queries, per SLO.
fn openslo_rules() -> String {
    let slos = Slos::new("shop")
        .with(Slo::availability("checkout", 0.999).route("/orders"))
        .with(Slo::latency("users-fast", 0.99, 0.25).route("/users/{id}"))
        .with(Slo::grpc_availability("users-grpc", 0.999).route("shop.v1.Users/GetUser"));
    let mut out = String::from("groups:\n  - name: openslo\n    rules:\n");
    for document in slos.openslo().unwrap().iter().skip(1) {
        let slo = document["metadata"]["displayName"].as_str().unwrap();
        let ratio = &document["spec"]["indicator"]["spec"]["ratioMetric"];
        for side in ["good", "total"] {
            let query = &ratio[side]["metricSource"]["spec"]["query"];
            // A JSON string is a YAML double-quoted scalar.
            out.push_str(&format!(
                "      - record: openslo:{side}\n        expr: {query}\n        labels: {{slo: {slo}}}\n"
            ));
        }
    }
    out
}

/// At steady traffic, the OpenSLO export's good/total equals one minus the
/// rules' error ratio, for every kind of SLO.
const OPENSLO_TESTS: &str = r#"
rule_files: [rules.yml, openslo.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'http_server_request_duration_seconds_count{job="shop",http_route="/orders",http_response_status_code="201"}'
        values: '0+980x20'
      - series: 'http_server_request_duration_seconds_count{job="shop",http_route="/orders",http_response_status_code="500",error_type="500"}'
        values: '0+20x20'
      - series: 'http_server_request_duration_seconds_count{job="shop",http_route="/users/{id}",http_response_status_code="200"}'
        values: '0+1000x20'
      - series: 'http_server_request_duration_seconds_bucket{job="shop",http_route="/users/{id}",http_response_status_code="200",le="0.25"}'
        values: '0+800x20'
      - series: 'rpc_server_duration_seconds_count{job="shop",rpc_service="shop.v1.Users",rpc_method="GetUser",rpc_grpc_status_code="0",rpc_system="grpc"}'
        values: '0+780x20'
      - series: 'rpc_server_duration_seconds_count{job="shop",rpc_service="shop.v1.Users",rpc_method="GetUser",rpc_grpc_status_code="5",rpc_system="grpc"}'
        values: '0+200x20'
      - series: 'rpc_server_duration_seconds_count{job="shop",rpc_service="shop.v1.Users",rpc_method="GetUser",rpc_grpc_status_code="13",rpc_system="grpc",error_type="13"}'
        values: '0+20x20'
    promql_expr_test:
      - expr: openslo:good / on (slo) openslo:total
        eval_time: 10m
        exp_samples:
          - labels: '{slo="checkout"}'
            value: 0.98
          - labels: '{slo="users-fast"}'
            value: 0.8
          - labels: '{slo="users-grpc"}'
            value: 0.98
      - expr: abs(openslo:good / on (slo) openslo:total - on (slo) (1 - slo:error_ratio:rate5m)) < bool 1e-9
        eval_time: 10m
        exp_samples:
          - labels: '{slo="checkout"}'
            value: 1
          - labels: '{slo="users-fast"}'
            value: 1
          - labels: '{slo="users-grpc"}'
            value: 1
"#;

#[test]
fn the_openslo_export_counts_what_the_rules_count() {
    if require_tool("promtool", &["--version"], "apt-get install prometheus").is_none() {
        return;
    }
    let dir = workdir("openslo");
    std::fs::write(dir.join("openslo.yml"), openslo_rules()).unwrap();
    std::fs::write(dir.join("tests.yml"), OPENSLO_TESTS).unwrap();
    let (ok, output) = promtool(&["check", "rules", "openslo.yml"], &dir);
    assert!(
        ok,
        "promtool check rules failed:\n{output}\n---\n{}",
        openslo_rules()
    );
    let (ok, output) = promtool(&["test", "rules", "tests.yml"], &dir);
    assert!(
        ok,
        "promtool test rules failed:\n{output}\n---\n{}",
        openslo_rules()
    );
}
