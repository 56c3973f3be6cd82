//! How good the alerts are, measured on the service's own SLOs: an
//! incident corpus replayed through `promtool test rules`, and what each
//! rule set does with each incident (`observe alert-quality`).
//!
//! **Method.** For each availability and latency SLO and each scenario,
//! eight hours of per-minute counters (the series the rules read:
//! `http_server_request_duration_seconds_count` by status, and the
//! threshold's `_bucket` for a latency SLO, 600 requests a minute) are
//! written as a promtool unit test, together with the generated rules and
//! two reference rule sets, with an `alert_rule_test` at every minute that
//! expects no alert; promtool's report of what it got instead says, minute
//! by minute, which alerts fired (`for:` included). Exact, and a second or
//! so per scenario. gRPC SLOs are not replayed.
//!
//! Rule sets, compared in the same run:
//! - **generated**: observe's multiwindow, multi-burn-rate rules;
//! - **naive**: a page when the 5-minute error ratio is above 1% for 5m;
//! - **single-window**: the same burn rates on the long window only (14.4×
//!   over 1h and 6× over 6h page, `for: 2m`; 1× over 3d tickets).
//!
//! Per scenario: minutes from the incident's start to the first page and
//! the first ticket, minutes from its end until the pages stopped, and
//! whether it was missed: an incident that spends more than 2% of the
//! 30-day budget without a page, or more than 10% without a ticket. A page
//! on a healthy scenario is a false page.
//!
//! `observe alert-quality` exits 0 when the generated rules hold the
//! properties [`Quality::holds`] checks: no page on any healthy scenario;
//! the outage and every burn of 14.4× or more paged within 5 minutes; 6×
//! within 30 minutes; 1× ticketed within 6 hours.
//!
//! # What it shows for the example service (2026-12-05)
//!
//! The example's availability SLO (99.9%), abridged (the healthy 20% and
//! 50% rows are like the 10% and 80% ones); minutes from the incident's
//! start; `resolved`: minutes after the incident's end until the pages
//! stopped:
//!
//! ```text
//! slo                  scenario              budget  generated                                naive                                    single-window
//! shop-availability    healthy-10%             0.1%  page - ticket - resolved -               page - ticket - resolved -               page - ticket - resolved -
//! shop-availability    healthy-80%             0.9%  page - ticket - resolved -               page - ticket - resolved -               page - ticket - resolved -
//! shop-availability    spike-1m-100%           2.6%  page 3m ticket 1m resolved 30m           page - ticket - resolved - MISSED        page 4m ticket 2m resolved 116m
//! shop-availability    spike-5m-20%            2.6%  page 4m ticket 1m resolved 30m           page 6m ticket - resolved 5m             page 4m ticket 1m resolved 111m
//! shop-availability    outage                 69.8%  page 3m ticket 1m resolved 30m           page 6m ticket - resolved 5m             page 3m ticket 1m resolved 358m
//! shop-availability    burn-20x                5.8%  page 27m ticket 3m resolved 22m          page 8m ticket - resolved 3m             page 27m ticket 3m resolved 256m
//! shop-availability    burn-14.4x              4.3%  page 43m ticket 4m resolved 18m          page 10m ticket - resolved 3m            page 44m ticket 5m resolved 118m
//! shop-availability    burn-6x                 3.5%  page - ticket 9m resolved - MISSED       page - ticket - resolved - MISSED        page - ticket 9m resolved - MISSED
//! shop-availability    burn-5x                 2.9%  page - ticket 11m resolved - MISSED      page - ticket - resolved - MISSED        page - ticket 12m resolved - MISSED
//! shop-availability    burn-1.5x               1.5%  page - ticket 83m resolved -             page - ticket - resolved -               page - ticket 83m resolved -
//! shop-availability    burn-1x                 1.1%  page - ticket - resolved -               page - ticket - resolved -               page - ticket - resolved -
//! shop-availability    flapping                1.7%  page - ticket 5m resolved -              page - ticket - resolved -               page - ticket 6m resolved -
//! shop-availability    low-traffic             0.0%  page - ticket 61m resolved -             page - ticket - resolved -               page - ticket 61m resolved -
//! ```
//!
//! - No rule set pages on healthy traffic (10% to 80% of the budget).
//! - The multiwindow rules page as fast as the single-window ones and stop
//!   paging 18 to 30 minutes after recovery, where the single-window ones
//!   go on for 2 to 6 hours: the short window is what resolves.
//! - The naive threshold is faster on every steady burn it catches (8 and
//!   10 minutes against 27 and 43 at 20× and 14.4×) and on the outage's
//!   resolution, and misses the one-minute spike (2.6% of the budget); on
//!   the latency SLO, whose budget is 1%, it pages on every burn from 1×
//!   up.
//! - The generated rules miss the 6× and 5× burns (3.5% and 2.9% of the
//!   budget in four hours, ticketed within 11 minutes but never paged): at
//!   exactly 6× the 6-hour ratio only approaches its threshold.
//! - A single failed request at ten requests a minute opens a ticket (the
//!   6-hour and 3-day ratios are 0.16% on 610 requests): a low-traffic
//!   guard (a minimum number of failed requests in the window) is the fix;
//!   not made yet.
//!
//! The properties `observe alert-quality` checks are the issue's, and the
//! generated rules do not hold three of them, by design rather than by a
//! bug: a burn-rate alert over a long window W at threshold T fires after
//! W × T / burn, so the 1-hour, 14.4× alert needs 43 minutes at 20× and an
//! hour at 14.4×, and the 6-hour, 6× alert never fires at exactly 6×.
//! Paging every 14.4× burn within 5 minutes needs a long window of 5
//! minutes, which is the naive rule and its noise. The command exits 1 and
//! names each failing property, so a change to the windows or thresholds
//! shows its effect on the table.

use std::fmt::Write as _;
use std::process::Command;

use serde_json::{Value, json};

use crate::{Indicator, Slo, Slos};

/// Minutes replayed per scenario.
const MINUTES: u32 = 480;
/// When an incident starts.
const START: u32 = 60;
/// Requests a minute.
const RATE: f64 = 600.0;
/// Minutes in the 30-day budget window.
const MONTH_MINUTES: f64 = 30.0 * 24.0 * 60.0;

/// What a scenario is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// No page is right.
    Healthy,
    /// An incident, from the replay's 60th minute for `minutes`.
    Incident {
        /// How long the bad share lasts.
        minutes: u32,
    },
}

/// One scenario: a name, and the share of bad requests each minute.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// A word or two: `outage`, `burn-20x`, `healthy-50%`, ...
    pub name: String,
    /// Healthy or an incident.
    pub kind: Kind,
    /// Bad share per minute (0 to 1), as a multiple of the budget or
    /// absolute, already resolved for the SLO.
    bad: Vec<f64>,
    /// Requests per minute, per minute.
    rate: Vec<f64>,
    /// The burn rate the incident runs at (for the properties).
    pub burn: Option<f64>,
}

impl Scenario {
    fn steady(
        name: &str,
        kind: Kind,
        budget: f64,
        base: f64,
        during: f64,
        burn: Option<f64>,
    ) -> Self {
        let minutes = match kind {
            Kind::Incident { minutes } => minutes,
            Kind::Healthy => 0,
        };
        let bad = (0..MINUTES)
            .map(|m| {
                if m >= START && m < START + minutes {
                    during
                } else {
                    base * budget
                }
            })
            .collect();
        Self {
            name: name.to_string(),
            kind,
            bad,
            rate: vec![RATE; MINUTES as usize],
            burn,
        }
    }

    /// The share of the 30-day budget the replay spends: its bad
    /// requests over the budget of a month at its request rate.
    pub fn budget_spent(&self, budget: f64) -> f64 {
        let bad: f64 = self.bad.iter().zip(&self.rate).map(|(b, r)| b * r).sum();
        let month_budget = budget * RATE * MONTH_MINUTES;
        bad / month_budget
    }
}

/// The corpus for an SLO with error budget `budget` (1 − objective).
pub fn corpus(budget: f64, latency: bool) -> Vec<Scenario> {
    use Kind::{Healthy, Incident};
    let base = 0.3; // healthy traffic: 30% of the budget's error ratio
    let burn = |x: f64| (x * budget).min(1.0);
    let mut all = vec![
        Scenario::steady("healthy-10%", Healthy, budget, 0.1, 0.0, None),
        Scenario::steady("healthy-20%", Healthy, budget, 0.2, 0.0, None),
        Scenario::steady("healthy-50%", Healthy, budget, 0.5, 0.0, None),
        Scenario::steady("healthy-80%", Healthy, budget, 0.8, 0.0, None),
        Scenario::steady(
            "spike-1m-100%",
            Incident { minutes: 1 },
            budget,
            base,
            1.0,
            None,
        ),
        Scenario::steady(
            "spike-5m-20%",
            Incident { minutes: 5 },
            budget,
            base,
            0.2,
            None,
        ),
        Scenario::steady(
            "outage",
            Incident { minutes: 30 },
            budget,
            base,
            1.0,
            Some(1.0 / budget),
        ),
        Scenario::steady(
            "burn-20x",
            Incident { minutes: 120 },
            budget,
            base,
            burn(20.0),
            Some(20.0),
        ),
        Scenario::steady(
            "burn-14.4x",
            Incident { minutes: 120 },
            budget,
            base,
            burn(14.4),
            Some(14.4),
        ),
        Scenario::steady(
            "burn-6x",
            Incident { minutes: 240 },
            budget,
            base,
            burn(6.0),
            Some(6.0),
        ),
        Scenario::steady(
            "burn-5x",
            Incident { minutes: 240 },
            budget,
            base,
            burn(5.0),
            Some(5.0),
        ),
        Scenario::steady(
            "burn-1.5x",
            Incident { minutes: 420 },
            budget,
            base,
            burn(1.5),
            Some(1.5),
        ),
        Scenario::steady(
            "burn-1x",
            Incident { minutes: 420 },
            budget,
            base,
            burn(1.05),
            Some(1.0),
        ),
    ];
    // Errors on and off every two minutes for an hour, at 20x when on.
    let mut flapping = Scenario::steady(
        "flapping",
        Incident { minutes: 60 },
        budget,
        base,
        0.0,
        None,
    );
    for m in START..START + 60 {
        flapping.bad[m as usize] = if ((m - START) / 2).is_multiple_of(2) {
            burn(20.0)
        } else {
            base * budget
        };
    }
    all.push(flapping);
    // Ten requests a minute, and one of them failing once.
    let mut low = Scenario::steady("low-traffic", Healthy, budget, 0.0, 0.0, None);
    low.rate = vec![10.0; MINUTES as usize];
    low.bad[START as usize] = 0.1;
    all.push(low);
    if latency {
        // The slow share doubles: from 60% of the budget to 120%.
        all.push(Scenario::steady(
            "latency-regression",
            Incident { minutes: 420 },
            budget,
            0.6,
            1.2 * budget,
            Some(1.2),
        ));
    }
    all
}

/// What one rule set did with one scenario (minutes from the incident's
/// start; for a healthy scenario, from the start of the replay).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Minutes in which a page fired.
    pub page_minutes: u32,
    /// Minutes in which a ticket fired.
    pub ticket_minutes: u32,
    /// First page, minutes after the incident started.
    pub first_page: Option<i64>,
    /// First ticket, minutes after the incident started.
    pub first_ticket: Option<i64>,
    /// Minutes after the incident ended until no page fired.
    pub resolved_after: Option<i64>,
}

/// The rule sets compared.
pub const RULE_SETS: [&str; 3] = ["generated", "naive", "single-window"];

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The SLO.
    pub slo: String,
    /// The scenario.
    pub scenario: String,
    /// Healthy or an incident.
    pub kind: Kind,
    /// Its burn rate, for an incident at a steady one.
    pub burn: Option<f64>,
    /// The share of the 30-day budget it spends.
    pub budget_spent: f64,
    /// Per rule set, in [`RULE_SETS`]' order.
    pub outcomes: Vec<Outcome>,
}

impl Row {
    /// Whether `outcome` missed this scenario: an incident spending more
    /// than 2% of the budget without a page or 10% without a ticket.
    pub fn missed(&self, outcome: &Outcome) -> bool {
        matches!(self.kind, Kind::Incident { .. })
            && ((self.budget_spent > 0.02 && outcome.first_page.is_none())
                || (self.budget_spent > 0.10
                    && outcome.first_ticket.is_none()
                    && outcome.first_page.is_none()))
    }

    /// Whether `outcome` paged on a healthy scenario.
    pub fn false_page(&self, outcome: &Outcome) -> bool {
        self.kind == Kind::Healthy && outcome.page_minutes > 0
    }
}

/// The measured table.
#[derive(Debug, Clone)]
pub struct Quality {
    /// Every SLO × scenario.
    pub rows: Vec<Row>,
}

/// Why the corpus could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    /// promtool is missing or failed to run.
    #[error("promtool (Debian package prometheus) is needed to replay the corpus: {0}")]
    Promtool(String),
    /// The rules could not be generated.
    #[error(transparent)]
    Rules(#[from] crate::SloError),
    /// A scratch file could not be written.
    #[error("scratch directory: {0}")]
    Io(#[from] std::io::Error),
}

fn alerts_for(slo: &Slo, budget: f64) -> String {
    let name = &slo.name;
    let ratio = |w: &str| format!("slo:error_ratio:rate{w}{{slo=\"{name}\"}}");
    let mut out = String::new();
    let _ = write!(
        out,
        "  - name: quality-{name}
    rules:
      - alert: NaivePage
        expr: '{} > 0.01'
        for: 5m
        labels: {{severity: page, slo: \"{name}\"}}
      - alert: SingleWindowBurn
        expr: '{} > {}'
        for: 2m
        labels: {{severity: page, slo: \"{name}\", window: 1h}}
      - alert: SingleWindowBurn
        expr: '{} > {}'
        for: 2m
        labels: {{severity: page, slo: \"{name}\", window: 6h}}
      - alert: SingleWindowBurn
        expr: '{} > {}'
        labels: {{severity: ticket, slo: \"{name}\", window: 3d}}
",
        ratio("5m"),
        ratio("1h"),
        14.4 * budget,
        ratio("6h"),
        6.0 * budget,
        ratio("3d"),
        budget,
    );
    out
}

/// The input series for `slo` in `scenario`, cumulative per minute.
fn series(slos: &Slos, slo: &Slo, scenario: &Scenario) -> String {
    let job = &slos.service;
    let route = slo
        .route
        .clone()
        .unwrap_or_else(|| "/users/{id}".to_string());
    let mut total = String::new();
    let mut good = String::new();
    let mut bad = String::new();
    let (mut t, mut g, mut b) = (0.0f64, 0.0f64, 0.0f64);
    for m in 0..=MINUTES as usize {
        let _ = write!(total, "{} ", t.round());
        let _ = write!(good, "{} ", g.round());
        let _ = write!(bad, "{} ", b.round());
        if m < MINUTES as usize {
            let rate = scenario.rate[m];
            let bad_now = rate * scenario.bad[m];
            t += rate;
            b += bad_now;
            g += rate - bad_now;
        }
    }
    let escape = |s: &str| s.replace('\\', "\\\\").replace('\'', "''");
    match slo.indicator {
        Indicator::Latency { threshold_seconds } => format!(
            "      - series: 'http_server_request_duration_seconds_count{{job=\"{job}\",http_route=\"{route}\",http_response_status_code=\"200\"}}'
        values: '{total}'
      - series: 'http_server_request_duration_seconds_bucket{{job=\"{job}\",http_route=\"{route}\",http_response_status_code=\"200\",le=\"{threshold_seconds}\"}}'
        values: '{good}'
",
            job = escape(job),
            route = escape(&route),
        ),
        _ => format!(
            "      - series: 'http_server_request_duration_seconds_count{{job=\"{job}\",http_route=\"{route}\",http_response_status_code=\"200\"}}'
        values: '{good}'
      - series: 'http_server_request_duration_seconds_count{{job=\"{job}\",http_route=\"{route}\",http_response_status_code=\"500\"}}'
        values: '{bad}'
",
            job = escape(job),
            route = escape(&route),
        ),
    }
}

/// Which alerts fired at which minute, from promtool's failure report:
/// (alertname, severity, minute) for the SLO.
fn fired(report: &str, slo: &str) -> Vec<(String, String, u32)> {
    let mut out = Vec::new();
    let mut current: Option<(String, u32)> = None;
    for line in report.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("alertname: ") {
            let (name, time) = rest.split_once(", time: ").unwrap_or((rest, ""));
            let minutes = go_minutes(time.trim_end_matches([',', ' ']));
            current = minutes.map(|m| (name.to_string(), m));
        } else if let (Some(labels), Some((name, minute))) =
            (line.strip_prefix("Labels:{"), &current)
        {
            let label = |key: &str| {
                labels
                    .split(", ")
                    .find_map(|pair| pair.strip_prefix(&format!("{key}=\"")))
                    .map(|v| v.trim_end_matches(['}', '"']).to_string())
            };
            if label("slo").as_deref() == Some(slo) {
                out.push((name.clone(), label("severity").unwrap_or_default(), *minute));
            }
        }
    }
    out
}

/// A Go duration (`1h30m0s`, `45m`) in whole minutes.
fn go_minutes(text: &str) -> Option<u32> {
    let mut minutes = 0u32;
    let mut number = String::new();
    for c in text.chars() {
        match c {
            '0'..='9' | '.' => number.push(c),
            'h' | 'm' | 's' => {
                let n: f64 = number.parse().ok()?;
                number.clear();
                minutes += match c {
                    'h' => (n * 60.0) as u32,
                    'm' => n as u32,
                    _ => 0,
                };
            }
            _ => return None,
        }
    }
    number.is_empty().then_some(minutes)
}

/// Replays the corpus for every availability and latency SLO of `slos`
/// through `promtool` (found on `PATH`).
pub fn measure(slos: &Slos) -> Result<Quality, QualityError> {
    let generated = slos.prometheus_rules()?;
    let dir = std::env::temp_dir().join(format!("observe-alert-quality-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut rules = generated.clone();
    for slo in slos
        .slos
        .iter()
        .filter(|s| s.indicator != Indicator::GrpcAvailability)
    {
        rules.push_str(&alerts_for(slo, 1.0 - slo.objective));
    }
    std::fs::write(dir.join("rules.yml"), &rules)?;
    let mut rows = Vec::new();
    for slo in slos
        .slos
        .iter()
        .filter(|s| s.indicator != Indicator::GrpcAvailability)
    {
        let budget = 1.0 - slo.objective;
        let latency = matches!(slo.indicator, Indicator::Latency { .. });
        for scenario in corpus(budget, latency) {
            let mut test = format!(
                "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{}    alert_rule_test:\n",
                series(slos, slo, &scenario)
            );
            for minute in 0..=MINUTES {
                for alertname in ["SloErrorBudgetBurn", "NaivePage", "SingleWindowBurn"] {
                    let _ = writeln!(
                        test,
                        "      - {{eval_time: {minute}m, alertname: {alertname}, exp_alerts: []}}"
                    );
                }
            }
            let file = dir.join("test.yml");
            std::fs::write(&file, test)?;
            let output = Command::new("promtool")
                .args(["test", "rules"])
                .arg(&file)
                .current_dir(&dir)
                .output()
                .map_err(|e| QualityError::Promtool(e.to_string()))?;
            let report = String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr);
            // A rule that cannot be evaluated ends the replay early: refuse
            // rather than report a truncated run.
            if report.contains(", err: ")
                || (!output.status.success() && !report.contains("FAILED:"))
            {
                return Err(QualityError::Promtool(report.chars().take(2000).collect()));
            }
            let fired = fired(&report, &slo.name);
            let outcomes = ["SloErrorBudgetBurn", "NaivePage", "SingleWindowBurn"]
                .iter()
                .map(|alertname| outcome(&scenario, &fired, alertname))
                .collect();
            rows.push(Row {
                slo: slo.name.clone(),
                scenario: scenario.name.clone(),
                kind: scenario.kind,
                burn: scenario.burn,
                budget_spent: scenario.budget_spent(budget),
                outcomes,
            });
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Quality { rows })
}

fn outcome(scenario: &Scenario, fired: &[(String, String, u32)], alertname: &str) -> Outcome {
    let (start, end) = match scenario.kind {
        Kind::Incident { minutes } => (START, START + minutes),
        Kind::Healthy => (0, MINUTES),
    };
    let minutes = |severity: &str| {
        let mut found: Vec<u32> = fired
            .iter()
            .filter(|(name, s, _)| name == alertname && s == severity)
            .map(|(_, _, m)| *m)
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    };
    let pages = minutes("page");
    let tickets = minutes("ticket");
    let first = |list: &[u32]| {
        list.iter()
            .find(|m| **m >= start)
            .map(|m| i64::from(*m) - i64::from(start))
    };
    Outcome {
        page_minutes: pages.len() as u32,
        ticket_minutes: tickets.len() as u32,
        first_page: first(&pages),
        first_ticket: first(&tickets),
        resolved_after: pages
            .iter()
            .filter(|m| **m >= start)
            .max()
            .map(|last| i64::from(*last) + 1 - i64::from(end)),
    }
}

impl Quality {
    /// The properties the generated rules must hold; the failures, by
    /// SLO and scenario, or none.
    pub fn holds(&self) -> Vec<String> {
        let mut failures = Vec::new();
        for row in &self.rows {
            let generated = &row.outcomes[0];
            let within = |limit: i64, first: Option<i64>| first.is_some_and(|m| m <= limit);
            if row.false_page(generated) {
                failures.push(format!(
                    "{} {}: paged on healthy traffic",
                    row.slo, row.scenario
                ));
            }
            let burn = row.burn.unwrap_or(0.0);
            if matches!(row.kind, Kind::Incident { .. })
                && burn >= 14.4
                && !within(5, generated.first_page)
            {
                failures.push(format!(
                    "{} {}: not paged within 5 minutes",
                    row.slo, row.scenario
                ));
            }
            if row.scenario == "burn-6x" && !within(30, generated.first_page) {
                failures.push(format!(
                    "{} {}: not paged within 30 minutes",
                    row.slo, row.scenario
                ));
            }
            if row.scenario == "burn-1x"
                && !within(360, generated.first_ticket.or(generated.first_page))
            {
                failures.push(format!(
                    "{} {}: not ticketed within 6 hours",
                    row.slo, row.scenario
                ));
            }
        }
        failures
    }

    /// The table as text: per SLO and scenario, each rule set's first page,
    /// first ticket, resolution and verdict.
    pub fn table(&self) -> String {
        let cell = |o: &Outcome, row: &Row| {
            let at = |m: Option<i64>| m.map_or_else(|| "-".to_string(), |m| format!("{m}m"));
            let verdict = if row.false_page(o) {
                " FALSE PAGE"
            } else if row.missed(o) {
                " MISSED"
            } else {
                ""
            };
            format!(
                "page {} ticket {} resolved {}{verdict}",
                at(o.first_page),
                at(o.first_ticket),
                at(o.resolved_after)
            )
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<20} {:<20} {:>7}  {:<40} {:<40} single-window",
            "slo", "scenario", "budget", "generated", "naive"
        );
        for row in &self.rows {
            let _ = writeln!(
                out,
                "{:<20} {:<20} {:>6.1}%  {:<40} {:<40} {}",
                row.slo,
                row.scenario,
                row.budget_spent * 100.0,
                cell(&row.outcomes[0], row),
                cell(&row.outcomes[1], row),
                cell(&row.outcomes[2], row),
            );
        }
        let count = |f: &dyn Fn(&Row, &Outcome) -> bool, set: usize| {
            self.rows.iter().filter(|r| f(r, &r.outcomes[set])).count()
        };
        for (i, name) in RULE_SETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}: {} false pages, {} missed incidents",
                count(&|r, o| r.false_page(o), i),
                count(&|r, o| r.missed(o), i),
            );
        }
        out
    }

    /// The table as JSON.
    pub fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let sets: serde_json::Map<String, Value> = RULE_SETS
                    .iter()
                    .zip(&row.outcomes)
                    .map(|(name, o)| {
                        (
                            (*name).to_string(),
                            json!({
                                "first_page_minutes": o.first_page,
                                "first_ticket_minutes": o.first_ticket,
                                "resolved_after_minutes": o.resolved_after,
                                "page_minutes": o.page_minutes,
                                "ticket_minutes": o.ticket_minutes,
                                "false_page": row.false_page(o),
                                "missed": row.missed(o),
                            }),
                        )
                    })
                    .collect();
                json!({
                    "slo": row.slo,
                    "scenario": row.scenario,
                    "healthy": row.kind == Kind::Healthy,
                    "budget_spent": row.budget_spent,
                    "rule_sets": sets,
                })
            })
            .collect();
        json!({"rows": rows, "failures": self.holds()})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_in_minutes() {
        assert_eq!(go_minutes("31m"), Some(31));
        assert_eq!(go_minutes("1h1m0s"), Some(61));
        assert_eq!(go_minutes("2h0m0s"), Some(120));
        assert_eq!(go_minutes("0s"), Some(0));
        assert_eq!(go_minutes("x"), None);
    }

    #[test]
    fn budget_arithmetic() {
        let budget = 0.001;
        let outage = corpus(budget, false)
            .into_iter()
            .find(|s| s.name == "outage")
            .unwrap();
        // 30 minutes of every request failing, plus the healthy 30% of
        // the budget over eight hours, against 30 days of budget.
        let expected = (30.0 + 0.3 * budget * 450.0) / (budget * MONTH_MINUTES);
        assert!((outage.budget_spent(budget) - expected).abs() < 1e-9);
        let row = Row {
            slo: "a".into(),
            scenario: "outage".into(),
            kind: outage.kind,
            burn: outage.burn,
            budget_spent: outage.budget_spent(budget),
            outcomes: vec![],
        };
        assert!(
            row.missed(&Outcome::default()),
            "an unpaged outage is missed"
        );
        let paged = Outcome {
            first_page: Some(3),
            ..Outcome::default()
        };
        assert!(!row.missed(&paged));
    }

    #[test]
    fn promtool_reports_are_read() {
        let report = "  FAILED:\n    alertname: SloErrorBudgetBurn, time: 1h3m0s, \n        exp:[], \n        got:[\n            0:\n              Labels:{alertname=\"SloErrorBudgetBurn\", service=\"shop\", severity=\"page\", slo=\"a\", window=\"1h-5m\"}\n";
        assert_eq!(
            fired(report, "a"),
            vec![("SloErrorBudgetBurn".to_string(), "page".to_string(), 63)]
        );
        assert!(fired(report, "b").is_empty());
    }
}
