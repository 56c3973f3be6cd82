//! A Grafana dashboard (JSON model, importable as is) whose queries use
//! exactly the names observe emits and the rules of [`Slos`](super::Slos)
//! record.

use serde_json::{Value, json};

use super::Slos;

/// One timeseries panel on a 24-column grid.
fn panel(id: u32, title: &str, unit: &str, queries: &[(&str, &str)], x: u32, y: u32) -> Value {
    let targets: Vec<Value> = queries
        .iter()
        .enumerate()
        .map(|(i, (expr, legend))| {
            json!({
                "refId": char::from(b'A' + i as u8).to_string(),
                "expr": expr,
                "legendFormat": legend,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
            })
        })
        .collect();
    json!({
        "id": id,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": targets,
    })
}

impl Slos {
    /// The service's dashboard: traffic, errors, latency, saturation,
    /// cache and dependencies, error budgets, versions side by side (pick
    /// versions with the `version` variable to compare a canary), and log
    /// levels.
    pub fn grafana_dashboard(&self) -> Value {
        let job = format!("job=\"{}\"", self.service);
        let service = format!("service=\"{}\"", self.service);
        let rate = "$__rate_interval";
        let requests = format!(
            "sum by (http_route) (rate(http_server_request_duration_seconds_count{{{job}}}[{rate}]))"
        );
        let errors = format!(
            "sum by (http_route) (rate(http_server_request_duration_seconds_count{{{job},http_response_status_code=~\"5..\"}}[{rate}])) / sum by (http_route) (rate(http_server_request_duration_seconds_count{{{job}}}[{rate}]))"
        );
        let quantile = |q: &str| {
            format!(
                "histogram_quantile({q}, sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket{{{job}}}[{rate}])))"
            )
        };
        let (p50, p99) = (quantile("0.5"), quantile("0.99"));
        let in_flight =
            format!("sum by (http_request_method) (http_server_active_requests{{{job}}})");
        let cache = format!(
            "sum by (cache, http_route) (rate(observe_cache_requests_total{{{job},result=\"hit\"}}[{rate}])) / sum by (cache, http_route) (rate(observe_cache_requests_total{{{job}}}[{rate}]))"
        );
        let dependency = format!(
            "histogram_quantile(0.99, sum by (le, dependency, operation) (rate(observe_dependency_duration_seconds_bucket{{{job}}}[{rate}])))"
        );
        let budget = format!("slo:error_budget_remaining:ratio{{{service}}}");
        let versions =
            format!("version:error_ratio:rate10m{{{service},service_version=~\"$version\"}}");
        let logs = format!("sum by (level) (rate(observe_log_events_total{{{job}}}[{rate}]))");
        let panels = vec![
            panel(
                1,
                "Requests per second by route",
                "reqps",
                &[(&requests, "{{http_route}}")],
                0,
                0,
            ),
            panel(
                2,
                "Error ratio (5xx) by route",
                "percentunit",
                &[(&errors, "{{http_route}}")],
                12,
                0,
            ),
            panel(
                3,
                "Latency p50 and p99 by route",
                "s",
                &[(&p50, "p50 {{http_route}}"), (&p99, "p99 {{http_route}}")],
                0,
                8,
            ),
            panel(
                4,
                "Requests in flight",
                "short",
                &[(&in_flight, "{{http_request_method}}")],
                12,
                8,
            ),
            panel(
                5,
                "Cache hit ratio by route",
                "percentunit",
                &[(&cache, "{{cache}} {{http_route}}")],
                0,
                16,
            ),
            panel(
                6,
                "Dependency latency p99",
                "s",
                &[(&dependency, "{{dependency}} {{operation}}")],
                12,
                16,
            ),
            panel(
                super::BUDGET_PANEL,
                "Error budget remaining (30 days)",
                "percentunit",
                &[(&budget, "{{slo}}")],
                0,
                24,
            ),
            panel(
                8,
                "Error ratio by version (canary vs stable)",
                "percentunit",
                &[(&versions, "{{service_version}}")],
                12,
                24,
            ),
            panel(
                9,
                "Log lines per second by level",
                "short",
                &[(&logs, "{{level}}")],
                0,
                32,
            ),
        ];
        json!({
            "title": format!("{} (observe)", self.service),
            "uid": format!("observe-{}", self.service),
            "tags": ["observe"],
            "timezone": "utc",
            "schemaVersion": 39,
            "version": 1,
            "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
                {
                    "name": "version", "type": "query", "label": "Version",
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    "query": format!("label_values(target_info{{{job}}}, service_version)"),
                    "multi": true, "includeAll": true, "allValue": ".*",
                    "current": {"text": "All", "value": "$__all"},
                },
            ]},
            "panels": panels,
        })
    }
}
