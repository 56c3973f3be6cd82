//! The PromQL a canary judgement asks: one side's requests and bad
//! requests of an SLO over a window, the side being the instances whose
//! `target_info` carries a label value (`service_version="1.5.0"`,
//! `deployment_track="canary"`); and the whole verdict as one number, for
//! rollout tools that can only compare a query's result with a threshold.

use super::judge::{Judge, critical_z};
use super::{Indicator, Slo, Slos};

/// The instances of one side: those whose `target_info` has `label` equal
/// to `value`; [`Side::ALL`] (an empty label) is every instance of the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Side<'a> {
    /// A `target_info` label, e.g. `service_version`.
    pub label: &'a str,
    /// Its value for this side. Escaped for PromQL, unless it is a rollout
    /// tool's placeholder (`{{args.canary}}`), which is written as is.
    pub value: &'a str,
}

impl Side<'static> {
    /// Every instance of the job: to compare a window with an earlier one.
    pub const ALL: Side<'static> = Side {
        label: "",
        value: "",
    };
}

/// What to ask for one side of one SLO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideQueries {
    /// The requests in the window; an empty result is a missing series.
    pub requests: String,
    /// With `counts_bad`, the bad requests (5xx), an empty result meaning
    /// none; else the good ones (within the latency threshold), an empty
    /// result meaning a missing series.
    pub counted: String,
    /// Whether `counted` counts bad requests (else good ones).
    pub counts_bad: bool,
}

/// Whether `text` is a Prometheus duration such as `10m`, `1h30m` or
/// `90s` (units `ms`, `s`, `m`, `h`, `d`, `w`, `y`, largest first).
pub fn is_duration(text: &str) -> bool {
    duration_seconds(text).is_some_and(|s| s > 0.0)
}

/// The seconds of a Prometheus duration, `None` if it is not one.
pub fn duration_seconds(text: &str) -> Option<f64> {
    const UNITS: [(&str, f64); 7] = [
        ("y", 365.0 * 86400.0),
        ("w", 7.0 * 86400.0),
        ("d", 86400.0),
        ("h", 3600.0),
        ("m", 60.0),
        ("s", 1.0),
        ("ms", 0.001),
    ];
    let mut rest = text;
    let mut seconds = 0.0;
    let mut next_unit = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        // "ms" before "m"; each unit smaller than the one before.
        let index = if rest.starts_with("ms") {
            6
        } else {
            UNITS[..6]
                .iter()
                .position(|(unit, _)| rest.starts_with(unit))?
        };
        if index < next_unit {
            return None;
        }
        next_unit = index + 1;
        let (unit, scale) = UNITS[index];
        seconds += number * scale;
        rest = &rest[unit.len()..];
    }
    Some(seconds)
}

/// `value` as the inside of a PromQL double-quoted string; placeholders of
/// rollout tools (`{{ ... }}`) pass unchanged.
fn quoted(value: &str) -> String {
    if value.starts_with("{{") && value.ends_with("}}") {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

impl Slos {
    /// The `job` the SLOs select on.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The SLOs, in declaration order.
    pub fn slos(&self) -> &[Slo] {
        &self.slos
    }

    /// `count by (label)` of the `target_info` series seen in the window:
    /// the values a side can name, to say which exist when one does not.
    pub fn side_values_query(&self, label: &str, window: &str) -> String {
        format!(
            "count by ({label}) (last_over_time(target_info{{job=\"{}\"}}[{window}]))",
            quoted(&self.service)
        )
    }

    /// What to ask for `side`'s counts of `slo` over `window`: each
    /// series' `increase`, kept only for instances whose `target_info`
    /// matches, summed.
    pub fn side_queries(&self, slo: &Slo, side: Side<'_>, window: &str) -> SideQueries {
        let job = quoted(&self.service);
        let join = if side.label.is_empty() {
            format!(" * on (job, instance) group_left () target_info{{job=\"{job}\"}}")
        } else {
            format!(
                " * on (job, instance) group_left () target_info{{job=\"{job}\",{}=\"{}\"}}",
                side.label,
                quoted(side.value)
            )
        };
        let selector = slo.selector(&self.service);
        let sum = |metric: &str, extra: &str| {
            format!("sum(increase({metric}{{{selector}{extra}}}[{window}]){join})")
        };
        let requests = sum(slo.counted_metric(), "");
        match slo.indicator {
            Indicator::GrpcAvailability => SideQueries {
                requests,
                counted: sum(
                    slo.counted_metric(),
                    &format!(",rpc_grpc_status_code=~\"{}\"", super::GRPC_SERVER_ERRORS),
                ),
                counts_bad: true,
            },
            Indicator::Availability => SideQueries {
                requests,
                counted: sum(
                    "http_server_request_duration_seconds_count",
                    ",http_response_status_code=~\"5..\"",
                ),
                counts_bad: true,
            },
            Indicator::Latency { threshold_seconds } => SideQueries {
                requests,
                counted: sum(
                    "http_server_request_duration_seconds_bucket",
                    &format!(",le=\"{threshold_seconds:?}\""),
                ),
                counts_bad: false,
            },
        }
    }

    /// One PromQL expression whose single value is `judge`'s verdict on
    /// `slo`: `0` continue, `1` rollback, `3` wait (the judge's exit
    /// codes), from the same test with the same settings, written in
    /// PromQL arithmetic. For rollout tools that compare one number with a
    /// condition (Argo Rollouts, Flagger); `baseline` and `canary` may be
    /// their placeholders.
    pub fn verdict_query(
        &self,
        judge: &Judge,
        slo: &Slo,
        baseline: Side<'_>,
        canary: Side<'_>,
        window: &str,
    ) -> String {
        let alpha = judge.alpha(self.slos.len());
        let z_critical = critical_z(alpha);
        let tolerance = judge.tolerance_value() * (1.0 - slo.objective);
        let min = judge.min_requests_value();
        // Each side as scalars: requests (NaN when missing) and bad ones.
        let sides = [baseline, canary].map(|side| {
            let queries = self.side_queries(slo, side, window);
            let requests = format!("scalar({})", queries.requests);
            let bad = if queries.counts_bad {
                format!("scalar({} or vector(0))", queries.counted)
            } else {
                format!("({requests} - scalar({}))", queries.counted)
            };
            (requests, bad)
        });
        let [(nb, xb), (nc, xc)] = sides;
        let pooled = format!("(({xb} + {xc}) / ({nb} + {nc}))");
        let inverse = format!("(1 / {nb} + 1 / {nc})");
        let difference = format!("({xc} / {nc} - {xb} / {nb})");
        // Yates-corrected, one-sided: only a worse canary can exceed the
        // critical value, as in `z_statistic`.
        let z = format!(
            "(({difference} - 0.5 * {inverse}) / ({pooled} * (1 - {pooled}) * {inverse}) ^ 0.5)"
        );
        let enough = format!("({nb} >= bool {min:?}) * ({nc} >= bool {min:?})");
        let worse = format!("({z} > bool {z_critical:?}) * ({difference} > bool {tolerance:?})");
        format!("vector(3 - {enough} * (3 - {worse}))")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_prometheus_durations() {
        assert_eq!(duration_seconds("10m"), Some(600.0));
        assert_eq!(duration_seconds("1h30m"), Some(5400.0));
        assert_eq!(duration_seconds("1m500ms"), Some(60.5));
        assert_eq!(duration_seconds("90s"), Some(90.0));
        for bad in ["", "10", "m", "10 m", "-1m", "1.5m", "30m1h", "1mm", "10x"] {
            assert_eq!(duration_seconds(bad), None, "{bad}");
        }
        assert!(!is_duration("0s"));
    }

    #[test]
    fn a_side_is_joined_through_target_info() {
        let slos = Slos::new("shop")
            .with(Slo::availability("a", 0.999))
            .with(Slo::latency("fast", 0.99, 0.25).route("/users/{id}"));
        let side = Side {
            label: "deployment_track",
            value: "can\"ary",
        };
        let q = slos.side_queries(&slos.slos()[0], side, "10m");
        assert_eq!(
            q.requests,
            "sum(increase(http_server_request_duration_seconds_count{job=\"shop\"}[10m]) * on (job, instance) group_left () target_info{job=\"shop\",deployment_track=\"can\\\"ary\"})"
        );
        assert!(q.counts_bad);
        assert!(
            q.counted
                .contains(",http_response_status_code=~\"5..\"}[10m])")
        );
        let q = slos.side_queries(&slos.slos()[1], side, "5m");
        assert!(!q.counts_bad);
        assert!(
            q.counted.starts_with("sum(increase(http_server_request_duration_seconds_bucket{job=\"shop\",http_route=\"/users/{id}\",le=\"0.25\"}[5m])"),
            "{}",
            q.counted
        );
        let placeholder = Side {
            label: "service_version",
            value: "{{args.canary}}",
        };
        let q = slos.side_queries(&slos.slos()[0], placeholder, "10m");
        assert!(q.requests.contains("service_version=\"{{args.canary}}\""));
        let q = slos.side_queries(&slos.slos()[0], Side::ALL, "10m");
        assert!(
            q.requests
                .ends_with("group_left () target_info{job=\"shop\"})")
        );
    }
}
