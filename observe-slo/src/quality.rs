//! Alert quality, measured: what the generated rules do with an incident
//! corpus, beside a naive threshold and single-window burn-rate alerts.
//!
//! TABLE-AND-TUNING

mod corpus;
mod promtool;
mod report;

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

pub use corpus::Scenario;
pub use report::{Outcome, PAGE_SHARE, TICKET_SHARE, Verdict, verdict};

use super::{BURN_RATE_ALERTS, Indicator, Slo, SloError, Slos, duration_seconds};

/// Set (to anything), the scratch directories with each scenario's
/// `rules.yml` and `tests.yml` stay for `promtool test rules tests.yml`.
pub const KEEP: &str = "OBSERVE_ALERT_QUALITY_KEEP";

/// The rule sets compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSet {
    /// observe's rules, as [`Slos::prometheus_rules`] writes them.
    Generated,
    /// `error ratio > 1% for 5m`, a page: the threshold most services
    /// start with.
    Naive,
    /// The burn-rate alerts on their long window only: 14.4x over 1h and
    /// 6x over 6h page, 1x over 3d tickets (the SRE Workbook's third
    /// alerting recipe, before the short windows).
    SingleWindow,
}

impl RuleSet {
    /// All three, in the table's order.
    pub const ALL: [RuleSet; 3] = [RuleSet::Generated, RuleSet::Naive, RuleSet::SingleWindow];

    /// Its name in the table and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            RuleSet::Generated => "generated",
            RuleSet::Naive => "naive",
            RuleSet::SingleWindow => "single-window",
        }
    }

    /// Its alerts' `quality_ruleset` label (observe's own alerts: none).
    fn label(self) -> Option<&'static str> {
        match self {
            RuleSet::Generated => None,
            other => Some(other.name()),
        }
    }
}

/// When the generated rules must have alerted on a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Deadline {
    /// `page`, or `ticket` (a page also counts).
    pub severity: &'static str,
    /// Minutes from the incident's start, `for:` included.
    pub minutes: f64,
    /// Why this deadline, in words.
    pub reason: String,
}

/// One scenario's outcomes under every rule set.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub name: String,
    /// What happens in it.
    pub description: String,
    /// A healthy case.
    pub healthy: bool,
    /// The share of the SLO's error budget the incident spent.
    pub budget_spent: f64,
    /// When the generated rules must have alerted, for the outage and the
    /// steady burns.
    pub deadline: Option<Deadline>,
    /// One per rule set.
    pub outcomes: Vec<Outcome>,
}

/// The corpus' results for one SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct SloQuality {
    /// The SLO's name.
    pub name: String,
    /// Its indicator and objective, in words.
    pub kind: String,
    /// One per scenario.
    pub scenarios: Vec<ScenarioResult>,
}

/// The results of every SLO of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityReport {
    /// The service (Prometheus job).
    pub service: String,
    /// The promtool that replayed the corpus, e.g. `promtool 2.42.0`.
    pub promtool: String,
    /// How long the replay took.
    pub seconds: f64,
    /// One per SLO.
    pub slos: Vec<SloQuality>,
}

/// Why the corpus could not be replayed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QualityError {
    /// The SLOs are invalid.
    #[error(transparent)]
    Slo(#[from] SloError),
    /// promtool cannot be run.
    #[error(
        "cannot run promtool ({program}): {error}; alert-quality replays the corpus with Prometheus' promtool (Debian/Ubuntu: apt-get install prometheus; or a release from https://prometheus.io/download/) on PATH"
    )]
    Promtool {
        /// The program asked for.
        program: String,
        /// Why it did not run.
        error: std::io::Error,
    },
    /// A scratch directory could not be written.
    #[error("cannot write the corpus to {}: {error}", .path.display())]
    Scratch {
        /// The directory.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// promtool ran but its report was not a completed replay.
    #[error("promtool on scenario {scenario} of SLO {slo}: {reason}\n{output}")]
    Report {
        /// The SLO.
        slo: String,
        /// The scenario.
        scenario: String,
        /// What was wrong.
        reason: String,
        /// promtool's output.
        output: String,
    },
}

/// The share of an SLO's error budget spent by `error_ratio` over
/// `minutes` of steady traffic: the bad minutes against the budget of
/// the SLO's window.
///
/// ```
/// use observe_slo::quality::budget_spent;
///
/// // A one-minute full outage spends 2.3% of a 99.9% SLO's 30-day budget.
/// let spent = budget_spent(1.0, 1.0, 0.999, 30);
/// assert!((spent - 1.0 / 43.2).abs() < 1e-12);
/// // 14.4x the budget's rate for an hour: the fast page's 2%.
/// assert!((budget_spent(0.0144, 60.0, 0.999, 30) - 0.02).abs() < 1e-12);
/// ```
pub fn budget_spent(error_ratio: f64, minutes: f64, objective: f64, window_days: u32) -> f64 {
    error_ratio * minutes / ((1.0 - objective) * f64::from(window_days) * 1440.0)
}

/// Minutes a steady `burn` (in multiples of the budget's rate) takes to
/// spend `share` of an SLO's budget over a window of `window_days`.
///
/// ```
/// // 20x burns 2% of a 30-day budget in 43.2 minutes.
/// assert!((observe_slo::quality::minutes_to_spend(0.02, 20.0, 30) - 43.2).abs() < 1e-9);
/// ```
pub fn minutes_to_spend(share: f64, burn: f64, window_days: u32) -> f64 {
    share * f64::from(window_days) * 1440.0 / burn
}

/// The deadline of a scenario: a full outage pages within 5 minutes; a
/// steady burn at or above an alert row's rate is alerted at that row's
/// severity by the time it has spent the share of the budget the row's
/// long window guards (14.4x over 1h: 2%; 6x over 6h: 5%; 1x over 3d: 10%),
/// plus the row's short window (5m, 30m, 6h).
fn deadline(scenario: &Scenario, slo: &Slo) -> Option<Deadline> {
    if scenario.outage {
        return Some(Deadline {
            severity: "page",
            minutes: 5.0,
            reason: "a full outage pages within 5m".to_string(),
        });
    }
    let burn = scenario.burn?;
    let window = f64::from(slo.window_days) * 1440.0;
    BURN_RATE_ALERTS.iter().find(|row| burn >= row.3).map(
        |&(severity, long, short, row_burn, _)| {
            let minutes = |d: &str| duration_seconds(d).unwrap_or(0.0) / 60.0;
            let share = row_burn * minutes(long) / window;
            let spent = minutes_to_spend(share, burn, slo.window_days);
            Deadline {
                severity,
                minutes: spent + minutes(short),
                reason: format!(
                    "{burn}x spends {}% of the budget in {:.0}m, then the {short} window",
                    corpus::percent(share),
                    spent
                ),
            }
        },
    )
}

/// Replays the corpus through promtool and scores the rule sets.
///
/// ```no_run
/// use observe_slo::quality::AlertQuality;
/// use observe_slo::{Slo, Slos};
///
/// let slos = Slos::new("shop").with(Slo::availability("shop-availability", 0.999));
/// let report = AlertQuality::new().measure(&slos)?;
/// print!("{}", report.table());
/// assert!(report.holds(), "{:?}", report.failures());
/// # Ok::<(), observe_slo::quality::QualityError>(())
/// ```
#[derive(Debug, Clone)]
pub struct AlertQuality {
    promtool: PathBuf,
    jobs: usize,
}

impl Default for AlertQuality {
    fn default() -> Self {
        Self::new()
    }
}

impl AlertQuality {
    /// `promtool` from `PATH`, two promtool processes at a time.
    pub fn new() -> Self {
        Self {
            promtool: PathBuf::from("promtool"),
            jobs: 2,
        }
    }

    /// Another promtool binary.
    pub fn promtool(mut self, path: impl Into<PathBuf>) -> Self {
        self.promtool = path.into();
        self
    }

    /// How many promtool processes run at once (at least one).
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }

    /// The scenarios the corpus holds for `slo`.
    pub fn scenarios(slo: &Slo) -> Vec<Scenario> {
        corpus::scenarios(slo)
    }

    /// Replays every scenario of every SLO of `slos` through promtool.
    pub fn measure(&self, slos: &Slos) -> Result<QualityReport, QualityError> {
        slos.check()?;
        let started = Instant::now();
        let version = self.version()?;
        let mut work = Vec::new();
        for (index, slo) in slos.slos.iter().enumerate() {
            let single = Slos {
                service: slos.service.clone(),
                slos: vec![slo.clone()],
                bounds: slos.bounds.clone(),
            };
            let all = single.prometheus_rules()?;
            // The SLO's own group, and the service's (canary, log and
            // target alerts), which only the canary scenario can fire.
            let header = format!("  - name: observe-{}\n", slos.service);
            let (own, _) = all.split_once(&header).unwrap_or((&all, ""));
            let comparison = promtool::comparison_rules(slo);
            for scenario in corpus::scenarios(slo) {
                let rules = if scenario.versions {
                    format!("{all}{comparison}")
                } else {
                    format!("{own}{comparison}")
                };
                let tests = promtool::test_file(&scenario, slo, &slos.service);
                work.push((index, scenario, rules, tests));
            }
        }
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Result<Vec<promtool::Firing>, QualityError>>>> =
            Mutex::new((0..work.len()).map(|_| None).collect());
        std::thread::scope(|scope| {
            for _ in 0..self.jobs.min(work.len()) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((index, scenario, rules, tests)) = work.get(i) else {
                            break;
                        };
                        let slo = &slos.slos[*index];
                        let result = self.replay(slo, scenario, rules, tests);
                        if let Ok(mut results) = results.lock() {
                            results[i] = Some(result);
                        }
                    }
                });
            }
        });
        let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut report = QualityReport {
            service: slos.service.clone(),
            promtool: version,
            seconds: 0.0,
            slos: slos
                .slos
                .iter()
                .map(|slo| SloQuality {
                    name: slo.name.clone(),
                    kind: kind(slo),
                    scenarios: Vec::new(),
                })
                .collect(),
        };
        for ((index, scenario, _, _), result) in work.iter().zip(results) {
            let firings = result.unwrap_or_else(|| {
                Err(QualityError::Report {
                    slo: slos.slos[*index].name.clone(),
                    scenario: scenario.name.clone(),
                    reason: "not replayed".to_string(),
                    output: String::new(),
                })
            })?;
            let slo = &slos.slos[*index];
            let spent = scenario.budget_spent(slo.objective, slo.window_days);
            let timeline = (scenario.start, scenario.end, scenario.length);
            report.slos[*index].scenarios.push(ScenarioResult {
                name: scenario.name.clone(),
                description: scenario.description.clone(),
                healthy: scenario.healthy,
                budget_spent: spent,
                deadline: deadline(scenario, slo),
                outcomes: RuleSet::ALL
                    .iter()
                    .map(|&rule_set| {
                        report::outcome(rule_set, &firings, timeline, scenario.healthy, spent)
                    })
                    .collect(),
            });
        }
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// `promtool --version`'s first words: `promtool 2.42.0+ds`.
    fn version(&self) -> Result<String, QualityError> {
        let output = std::process::Command::new(&self.promtool)
            .arg("--version")
            .output()
            .map_err(|error| QualityError::Promtool {
                program: self.promtool.display().to_string(),
                error,
            })?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        let version = text
            .lines()
            .next()
            .and_then(|line| line.split("version ").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or("(unknown version)");
        Ok(format!("promtool {version}"))
    }

    /// One scenario in its own scratch directory.
    fn replay(
        &self,
        slo: &Slo,
        scenario: &Scenario,
        rules: &str,
        tests: &str,
    ) -> Result<Vec<promtool::Firing>, QualityError> {
        static RUN: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "observe-alert-quality-{}-{}",
            std::process::id(),
            RUN.fetch_add(1, Ordering::Relaxed)
        ));
        let scratch = |error| QualityError::Scratch {
            path: dir.clone(),
            error,
        };
        std::fs::create_dir_all(&dir).map_err(scratch)?;
        std::fs::write(dir.join("rules.yml"), rules).map_err(scratch)?;
        std::fs::write(dir.join("tests.yml"), tests).map_err(scratch)?;
        let output = promtool::run(&self.promtool, &dir).map_err(|error| QualityError::Promtool {
            program: self.promtool.display().to_string(),
            error,
        });
        if std::env::var_os(KEEP).is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        let output = output?;
        promtool::parse(&output).map_err(|reason| QualityError::Report {
            slo: slo.name.clone(),
            scenario: scenario.name.clone(),
            reason,
            output: output.chars().take(2000).collect(),
        })
    }
}

/// An SLO in words: `availability 99.9%`, `latency 99% within 0.25s on /users/{id}`.
fn kind(slo: &Slo) -> String {
    let objective = corpus::percent(slo.objective);
    let mut text = match slo.indicator {
        Indicator::Availability => format!("availability {objective}%"),
        Indicator::Latency { threshold_seconds } => {
            format!("latency {objective}% within {threshold_seconds}s")
        }
        Indicator::GrpcAvailability => format!("gRPC availability {objective}%"),
    };
    if let Some(route) = &slo.route {
        text.push_str(&format!(" on {route}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_follow_the_alert_rows() {
        let slo = Slo::availability("a", 0.999);
        let scenarios = corpus::scenarios(&slo);
        let find = |name: &str| {
            let scenario = scenarios.iter().find(|s| s.name == name).unwrap();
            deadline(scenario, &slo)
        };
        let fast = find("burn-20x").unwrap();
        assert_eq!(fast.severity, "page");
        assert!((fast.minutes - (43.2 + 5.0)).abs() < 1e-9, "{fast:?}");
        let slow = find("burn-8x").unwrap();
        assert!((slow.minutes - (270.0 + 30.0)).abs() < 1e-9, "{slow:?}");
        let ticket = find("burn-1.5x").unwrap();
        assert_eq!(ticket.severity, "ticket");
        assert!(
            (ticket.minutes - (2880.0 + 360.0)).abs() < 1e-9,
            "{ticket:?}"
        );
        assert_eq!(find("outage").unwrap().minutes, 5.0);
        assert_eq!(find("spike-1m"), None);
    }

    #[test]
    fn budget_spent_by_the_scenarios() {
        let slo = Slo::availability("a", 0.999);
        let spent = |name: &str| {
            corpus::scenarios(&slo)
                .into_iter()
                .find(|s| s.name == name)
                .unwrap()
                .budget_spent(0.999, 30)
        };
        // 1 minute at 100%: 1/43.2 of the budget, just over the page share.
        assert!((spent("spike-1m") - 1.0 / 43.2).abs() < 1e-9);
        assert!(spent("spike-1m") > PAGE_SHARE);
        // 5 minutes at 20%: the same.
        assert!((spent("spike-5m-20%") - 1.0 / 43.2).abs() < 1e-9);
        // One bad request of ten in a minute: a tenth of the spike's.
        assert!((spent("low-traffic") - 0.1 / 43.2).abs() < 1e-9);
        // 20x for two hours: 20 * 120 / 43200.
        assert!((spent("burn-20x") - 20.0 * 120.0 / 43200.0).abs() < 1e-9);
        // Flapping: 15 times 2 minutes at 10%, 15 times 2 at 0.01%.
        let flapping = (30.0 * 0.1 + 30.0 * 0.0001) / 43.2;
        assert!((spent("flapping") - flapping).abs() < 1e-9);
        // The canary: half the traffic at 0.16%, half at 0.08%.
        assert!((spent("canary-2x") - 0.0012 * 360.0 / 43.2).abs() < 1e-9);
    }
}
