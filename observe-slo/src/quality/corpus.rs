//! The incident corpus: synthetic traffic for one SLO, written as
//! promtool's input series (expanding notation, `a+bxN` and `_xN`).
//!
//! Every incident follows three days of healthy traffic (a tenth of the
//! budget in errors), so that every window of the rules, the ticket's 3d
//! included, holds real history when the incident starts: a burn-rate
//! alert over a long window is slow to notice a new burn precisely because
//! the window still holds the healthy hours, and a corpus that started
//! with the incident would hide that. The first 66 hours carry one sample
//! every 15 minutes (a counter's rate needs only its ends), the last six
//! hours and everything after one a minute.

use std::fmt::Write;

use super::super::{Indicator, Slo, yaml_quote};

/// Minutes of healthy history before an incident: the ticket's long window.
pub(super) const WARM_UP: u32 = 3 * 24 * 60;
/// The last minutes of the warm-up sampled every minute: the 6h window.
const DENSE: u32 = 6 * 60;
/// The warm-up's sampling step before that, in minutes.
const SPARSE_STEP: u32 = 15;
/// Minutes replayed after an incident ends, to see the alerts resolve.
pub(super) const TAIL: u32 = 3 * 60;
/// Minutes of a healthy scenario (constant traffic: every window sees the
/// same ratio as soon as it holds two samples).
const HEALTHY: u32 = 24 * 60;
/// Requests a minute of the normal traffic.
const RPM: f64 = 1000.0;
/// Requests a minute of the low-traffic scenario.
const LOW_RPM: f64 = 10.0;

/// Traffic of one instance for some minutes: requests a minute and the
/// share of them that is bad (a 5xx, a slow request, a gRPC server error).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    minutes: u32,
    rpm: f64,
    bad: f64,
}

/// One scraped instance, from its first minute on.
#[derive(Debug, Clone, PartialEq)]
struct Instance {
    name: &'static str,
    version: &'static str,
    from: u32,
    segments: Vec<Segment>,
}

impl Instance {
    fn new(segments: Vec<Segment>) -> Self {
        Self {
            name: "a:3000",
            version: "1.0",
            from: 0,
            segments,
        }
    }

    /// Requests a minute and bad share at `minute`, `None` before it exists
    /// or after its last segment.
    fn at(&self, minute: u32) -> Option<(f64, f64)> {
        let mut start = self.from;
        for segment in &self.segments {
            if minute >= start && minute < start + segment.minutes {
                return Some((segment.rpm, segment.bad));
            }
            start += segment.minutes;
        }
        None
    }
}

/// One case of the corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub(super) name: String,
    pub(super) description: String,
    pub(super) healthy: bool,
    /// The incident's first minute (a healthy case: 0).
    pub(super) start: u32,
    /// The minute the incident is over (a healthy case: the end).
    pub(super) end: u32,
    /// The minutes replayed.
    pub(super) length: u32,
    /// A steady burn rate, for the timeliness properties.
    pub(super) burn: Option<f64>,
    /// Only the full rules (with the per-version canary alert) apply.
    pub(super) versions: bool,
    /// The full outage: paged within 5 minutes.
    pub(super) outage: bool,
    instances: Vec<Instance>,
}

impl Scenario {
    /// Its name, a few words: `outage`, `burn-20x`, `healthy-0.05%`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What happens, in one line.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// A healthy case: any page is a false page.
    pub fn is_healthy(&self) -> bool {
        self.healthy
    }

    /// The bad share of all requests at `minute`.
    fn bad_share(&self, minute: u32) -> f64 {
        let (requests, bad) = self
            .instances
            .iter()
            .filter_map(|i| i.at(minute))
            .fold((0.0, 0.0), |(r, b), (rpm, bad)| (r + rpm, b + rpm * bad));
        if requests > 0.0 { bad / requests } else { 0.0 }
    }

    /// The share of the SLO's error budget the incident spent: the bad
    /// share of each of its minutes, against the budget of the SLO's
    /// window at the same traffic ([`super::budget_spent`] per minute).
    pub(super) fn budget_spent(&self, objective: f64, window_days: u32) -> f64 {
        (self.start..self.end)
            .map(|minute| super::budget_spent(self.bad_share(minute), 1.0, objective, window_days))
            .sum()
    }
}

/// Every scenario for `slo`, scaled to its error budget.
pub(super) fn scenarios(slo: &Slo) -> Vec<Scenario> {
    let budget = 1.0 - slo.objective;
    let latency = matches!(slo.indicator, Indicator::Latency { .. });
    let mut out = Vec::new();
    for share in [0.1, 0.2, 0.5, 0.8] {
        let ratio = budget * share;
        out.push(Scenario {
            name: format!("healthy-{}%", percent(ratio)),
            description: format!("{}% bad all day ({share}x the budget)", percent(ratio)),
            healthy: true,
            start: 0,
            end: HEALTHY,
            length: HEALTHY,
            burn: None,
            versions: false,
            outage: false,
            instances: vec![Instance::new(vec![steady(HEALTHY + 1, ratio)])],
        });
    }
    let healthy = budget * 0.1;
    let incident = |name: &str, description: String, burn: Option<f64>, during: Vec<Segment>| {
        incident(name, description, burn, healthy, RPM, during)
    };
    out.push(incident(
        "spike-1m",
        "one minute of 100% bad".to_string(),
        None,
        vec![steady(1, 1.0)],
    ));
    out.push(incident(
        "spike-5m-20%",
        "five minutes of 20% bad".to_string(),
        None,
        vec![steady(5, 0.2)],
    ));
    let mut outage = incident(
        "outage",
        "30 minutes of 100% bad".to_string(),
        Some(1.0 / budget),
        vec![steady(30, 1.0)],
    );
    outage.outage = true;
    out.push(outage);
    for (burn, minutes) in [(20.0, 120), (8.0, 6 * 60), (5.0, 18 * 60), (1.5, 60 * 60)] {
        let ratio = (burn * budget).min(1.0);
        out.push(incident(
            &format!("burn-{burn}x"),
            format!(
                "{}% bad for {} ({burn}x the budget)",
                percent(ratio),
                hours(minutes)
            ),
            Some(burn),
            vec![steady(minutes, ratio)],
        ));
    }
    let flap = (100.0 * budget).min(1.0);
    out.push(incident(
        "flapping",
        format!(
            "{}% bad two minutes on, two off, for an hour",
            percent(flap)
        ),
        None,
        (0..15)
            .flat_map(|_| [steady(2, flap), steady(2, healthy)])
            .collect(),
    ));
    if latency {
        let before = budget * 0.8;
        let mut regression = incident(
            "latency-regression",
            format!(
                "the slow share doubles from {}% to {}% for 48h",
                percent(before),
                percent(before * 2.0)
            ),
            Some(1.6),
            vec![steady(48 * 60, before * 2.0)],
        );
        // Healthy before and after at the old slow share.
        regression.instances[0].segments[0].bad = before;
        regression.instances[0].segments[2].bad = before;
        out.push(regression);
    }
    // Ten requests a minute: one bad request is a tenth of a minute's.
    out.push(self::incident(
        "low-traffic",
        "10 requests a minute, one of them bad".to_string(),
        None,
        0.0,
        LOW_RPM,
        vec![steady_at(1, LOW_RPM, 0.1)],
    ));
    out.push(canary(budget));
    out
}

/// Healthy history, the incident, and a healthy tail.
fn incident(
    name: &str,
    description: String,
    burn: Option<f64>,
    healthy: f64,
    rpm: f64,
    during: Vec<Segment>,
) -> Scenario {
    let minutes: u32 = during.iter().map(|s| s.minutes).sum();
    let mut segments = vec![steady_at(WARM_UP, rpm, healthy)];
    segments.extend(during);
    segments.push(steady_at(TAIL + 1, rpm, healthy));
    Scenario {
        name: name.to_string(),
        description,
        healthy: false,
        start: WARM_UP,
        end: WARM_UP + minutes,
        length: WARM_UP + minutes + TAIL,
        burn,
        versions: false,
        outage: false,
        instances: vec![Instance::new(segments)],
    }
}

/// A deploy adds a second instance with a new version and half the
/// traffic; its bad share is twice the old version's (0.8x the budget).
fn canary(budget: f64) -> Scenario {
    let old = budget * 0.8;
    let minutes = 6 * 60;
    let mut scenario = incident(
        "canary-2x",
        format!(
            "version 1.1 takes half the traffic at {}% bad, twice 1.0's {}%, for 6h",
            percent(old * 2.0),
            percent(old)
        ),
        None,
        old,
        RPM,
        vec![steady_at(minutes, RPM / 2.0, old)],
    );
    scenario.versions = true;
    // After the incident the new version is rolled back: its series end.
    scenario.instances.push(Instance {
        name: "b:3000",
        version: "1.1",
        from: WARM_UP,
        segments: vec![steady_at(minutes, RPM / 2.0, old * 2.0)],
    });
    scenario
}

fn steady(minutes: u32, bad: f64) -> Segment {
    steady_at(minutes, RPM, bad)
}

fn steady_at(minutes: u32, rpm: f64, bad: f64) -> Segment {
    Segment { minutes, rpm, bad }
}

/// A ratio as a percentage, without float noise: 0.0001 is "0.01".
pub(super) fn percent(ratio: f64) -> String {
    let text = format!("{:.6}", ratio * 100.0);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn hours(minutes: u32) -> String {
    if minutes.is_multiple_of(60) {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

/// The counters of one series: per minute, present or not, and the
/// increase to the next minute.
fn counter(scenario: &Scenario, instance: &Instance, part: impl Fn(f64, f64) -> f64) -> String {
    let mut tokens: Vec<String> = Vec::new();
    let mut value = 0.0_f64;
    let mut minute = 0;
    let sparse_until = scenario.start.saturating_sub(DENSE);
    let step = |minute: u32| instance.at(minute).map(|(rpm, bad)| part(rpm, bad));
    while minute <= scenario.length {
        let Some(increase) = step(minute) else {
            // Absent: before the instance exists, or after it is gone.
            let mut missing = 0;
            while minute <= scenario.length && step(minute).is_none() {
                missing += 1;
                minute += 1;
            }
            tokens.push(format!("_x{missing}"));
            continue;
        };
        if minute < sparse_until {
            // One sample every SPARSE_STEP minutes.
            let gap = SPARSE_STEP.min(sparse_until - minute).max(1);
            tokens.push(number(value));
            if gap > 1 {
                tokens.push(format!("_x{}", gap - 1));
            }
            for m in minute..minute + gap {
                value += step(m).unwrap_or(0.0);
            }
            minute += gap;
            continue;
        }
        // A run of equal increases: `value+increasexN`.
        let mut run = 0;
        while minute + run < scenario.length && step(minute + run + 1) == Some(increase) {
            run += 1;
        }
        if run == 0 {
            tokens.push(number(value));
        } else {
            tokens.push(format!("{}+{}x{run}", number(value), number(increase)));
        }
        value += increase * f64::from(run + 1);
        minute += run + 1;
    }
    tokens.join(" ")
}

/// A sample value promtool reads: no exponent.
fn number(value: f64) -> String {
    let text = format!("{value:.9}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// The input series of `scenario` for `slo` of job `service`.
pub(super) fn input_series(scenario: &Scenario, slo: &Slo, service: &str) -> String {
    let mut out = String::new();
    let mut series = |name: String, values: String| {
        let _ = writeln!(
            out,
            "      - series: {}\n        values: '{values}'",
            yaml_quote(&name)
        );
    };
    for instance in &scenario.instances {
        let at = format!("job=\"{service}\",instance=\"{}\"", instance.name);
        // Every minute it exists: a constant 1 (`up`, `target_info`).
        let ones = presence(scenario, instance);
        series(format!("up{{{at}}}"), ones.clone());
        series(
            format!(
                "target_info{{{at},service_name=\"{service}\",service_version=\"{}\"}}",
                instance.version
            ),
            ones,
        );
        let good = counter(scenario, instance, |rpm, bad| rpm * (1.0 - bad));
        let bad = counter(scenario, instance, |rpm, bad| rpm * bad);
        let all = counter(scenario, instance, |rpm, _| rpm);
        match &slo.indicator {
            Indicator::Availability => {
                let route = slo.route.as_deref().unwrap_or("/quality");
                let http = format!(
                    "http_server_request_duration_seconds_count{{{at},http_route=\"{route}\""
                );
                series(format!("{http},http_response_status_code=\"200\"}}"), good);
                series(
                    format!("{http},http_response_status_code=\"500\",error_type=\"500\"}}"),
                    bad,
                );
            }
            Indicator::Latency { threshold_seconds } => {
                let route = slo.route.as_deref().unwrap_or("/quality");
                let labels =
                    format!("{at},http_route=\"{route}\",http_response_status_code=\"200\"");
                series(
                    format!("http_server_request_duration_seconds_count{{{labels}}}"),
                    all,
                );
                series(
                    format!(
                        "http_server_request_duration_seconds_bucket{{{labels},le=\"{threshold_seconds:?}\"}}"
                    ),
                    good,
                );
            }
            Indicator::GrpcAvailability => {
                let route = slo.route.as_deref().unwrap_or("quality.v1.Quality/Call");
                let (grpc_service, method) = route.split_once('/').unwrap_or((route, ""));
                let rpc = format!(
                    "rpc_server_duration_seconds_count{{{at},rpc_system=\"grpc\",rpc_service=\"{}\",rpc_method=\"{method}\"",
                    grpc_service.trim_start_matches('/')
                );
                series(format!("{rpc},rpc_grpc_status_code=\"0\"}}"), good);
                series(
                    format!("{rpc},rpc_grpc_status_code=\"14\",error_type=\"14\"}}"),
                    bad,
                );
            }
        }
    }
    out
}

/// A gauge of 1 every minute `instance` exists, dense: a gap of more than
/// five minutes would read as a target gone (`TargetDown`).
fn presence(scenario: &Scenario, instance: &Instance) -> String {
    let mut tokens = Vec::new();
    let mut minute = 0;
    while minute <= scenario.length {
        let present = instance.at(minute).is_some();
        let mut run = 1;
        while minute + run <= scenario.length && instance.at(minute + run).is_some() == present {
            run += 1;
        }
        tokens.push(match (present, run) {
            (false, _) => format!("_x{run}"),
            (true, 1) => "1".to_string(),
            (true, _) => format!("1+0x{}", run - 1),
        });
        minute += run;
    }
    tokens.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_use_expanding_notation_and_sparse_history() {
        let scenario = incident("t", String::new(), None, 0.001, RPM, vec![steady(2, 0.5)]);
        let instance = &scenario.instances[0];
        let bad = counter(&scenario, instance, |rpm, bad| rpm * bad);
        let tokens: Vec<&str> = bad.split(' ').collect();
        // Sparse: a value, then 14 missing minutes.
        assert_eq!(&tokens[..4], ["0", "_x14", "15", "_x14"]);
        // The incident: 500 a minute for two minutes, then 1 a minute.
        let incident_start = format!("{}+500x1", number(f64::from(WARM_UP)));
        assert!(tokens.contains(&incident_start.as_str()), "{bad}");
        assert_eq!(
            tokens.last().copied(),
            Some(format!("{}+1x{TAIL}", number(f64::from(WARM_UP) + 1000.0)).as_str()),
            "{bad}"
        );
    }

    #[test]
    fn percentages_read_as_written() {
        assert_eq!(percent(0.0001), "0.01");
        assert_eq!(percent(0.02), "2");
        assert_eq!(percent(0.0008), "0.08");
    }
}
