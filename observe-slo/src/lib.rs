//! SLOs as code, next to the service, and what watches them: the Prometheus
//! rules (recording rules for the error ratios over the windows the alerts
//! need, multiwindow multi-burn-rate alerts after the SRE Workbook, chapter
//! 5), a Grafana dashboard, and the canary judge that gives a deploy its
//! verdict. The `observe` binary (observe-cli) prints them:
//! `observe rules|dashboard|judge|analysis|slos`, and `observe
//! alert-quality` measures the alerts on an incident corpus ([`quality`]).
//!
//! ```
//! use observe_slo::{Slo, Slos};
//!
//! let slos = Slos::new("shop") // the Prometheus job
//!     .with(Slo::availability("shop-availability", 0.999)) // non-5xx share, all routes
//!     .with(Slo::latency("users-fast", 0.99, 0.25).route("/users/{id}")); // 0.25 s must be a bucket bound
//! let rules: String = slos.prometheus_rules().unwrap(); // YAML for rule_files
//! assert!(rules.contains("alert: SloErrorBudgetBurn"));
//! let dashboard: serde_json::Value = slos.grafana_dashboard(); // Grafana's JSON model, import as is
//! # let _ = dashboard;
//! ```
//!
//! [`Slo::grpc_availability`] (optionally `.route("shop.v1.Users/GetUser")`)
//! counts the gRPC server-error codes as bad; the alerts and the judge work on
//! it as on HTTP.
//!
//! # Alerts
//!
//! | alert | when | severity |
//! |---|---|---|
//! | `SloErrorBudgetBurn` | error ratio above 14.4× budget over 1h **and** 5m, or above 50% over 5m (an outage, [`OUTAGE_RATIO`]) (`for: 2m`): 2% of a 30-day budget | `page` |
//! | `SloErrorBudgetBurn` | above 6× over 6h **and** 30m (`for: 2m`): 5% | `page` |
//! | `SloErrorBudgetBurn` | above 1× over 3d **and** 6h: 10% | `ticket` |
//! | `ErrorLogLines` | more than one ERROR line a minute for 5m (from `observe_log_events_total`) | `page` |
//! | `TargetDown` | Prometheus cannot scrape the service (`up == 0` or absent) for 5m | `page` |
//! | `CanaryWorse` | a version's (`target_info`'s `service_version`) 10-minute error ratio is at least twice the best version's and above 1% (`for: 5m`): roll it back | `page` |
//!
//! Each `SloErrorBudgetBurn` carries its triage in annotations, rendered by
//! Prometheus when the alert fires: `description` (the burn rate over the
//! long window, the error budget left, and the three worst routes over the
//! short window with their error ratios or slow shares, from `{{ range
//! query ... }}`), `worst_route` (gRPC: `service/method`), `dashboard` (the
//! generated dashboard's error-budget panel over the alert's long window,
//! on [`Slos::dashboard_url`], default [`DEFAULT_GRAFANA_URL`]) and
//! `runbook_url` (the annotation PagerDuty's and Opsgenie's Alertmanager
//! integrations read; [`Slos::runbook_url`], default
//! [`DEFAULT_RUNBOOK_URL`]). Two more when configured: `status_page`, the
//! status page of the instance with the worst error ratio
//! ([`Slos::status_url`], e.g. `http://{instance}/observe` when Prometheus
//! scrapes observe's admin listener), and `failing_requests`, the SQL that
//! lists the window's bad requests with their trace ids in the ClickHouse
//! table of the request events ([`Slos::events_table`]). The `dashboard`
//! range and the SQL's window end when Prometheus rendered the alert.
//! `examples/tests/alerts.rs` checks them on the page Alertmanager
//! delivers.
//!
//! How good are these alerts? [`quality`] replays an incident corpus
//! through promtool and sets them beside a naive threshold and
//! single-window burn rates: pages, tickets, time to page and to clear,
//! false pages and missed incidents, on your own SLOs (`observe
//! alert-quality`). Its docs hold the table for the example's SLOs.
//!
//! Both windows must burn: the long one proves the problem is real, the short
//! one that it is still happening, so an alert resets soon after a fix.
//! `for: 2m` on pages rides over a single bad scrape; tickets need none.
//! Severity follows the level policy: `page` is ERROR (an operator now),
//! `ticket` is WARN (within a business day). Recording rules:
//! `slo:error_ratio:rate{5m,30m,1h,6h,3d,30d}` and
//! `slo:error_budget_remaining:ratio` per SLO, `version:error_ratio:rate10m`
//! per `service_version`. The tests run `promtool check rules` and `promtool
//! test rules` on synthetic series: 2% errors page, 0.05% never alerts, a
//! one-minute spike neither pages nor tickets, a slow share over budget fires
//! the latency SLO, and only the worse version of a canary fires.
//!
//! The dashboard: request rate, error ratio and p50/p99 per route, requests
//! in flight, cache hit ratio per route, dependency p99, error budget
//! remaining, error ratio per version with a `version` selector to put a
//! canary beside stable, and log lines by level. A test checks that every
//! metric it queries is exposed by the running example or recorded by the
//! rules. `examples/stack/run.sh` starts the axum example with a real
//! Prometheus scraping it and Alertmanager routing by severity (`page` and
//! `ticket`, each a webhook on loopback); `examples/tests/alerts.rs` sees
//! `SloErrorBudgetBurn` arrive at the `page` webhook through both.
//!
//! # Deploy feedback: the canary judge
//!
//! After a canary deployment: continue, wait longer, or roll back? The same
//! binary runs as baseline and canary, told apart by a `target_info` label:
//! `OTEL_RESOURCE_ATTRIBUTES=service.version=1.5.0,deployment.track=canary`
//! gives `target_info{service_version="1.5.0",deployment_track="canary",...}`
//! without a rebuild (observe-core's `ObserveBuilder::build`). The judge asks
//! any Prometheus-compatible API (Prometheus, Thanos, Mimir,
//! VictoriaMetrics; `PrometheusApi`, feature `prometheus-api`) for both
//! sides' counts over the window, joined through `target_info` on `job` and
//! `instance`, and judges each SLO with [`Judge`], whose docs state the
//! method (a one-sided two-proportion z-test, Bonferroni across SLOs, and a
//! tolerance of a tenth of the error budget) and its simulated error rates.
//!
//! ```sh
//! observe judge --prometheus http://prometheus:9090 --baseline 1.4.2 --canary 1.5.0 \
//!     [--label service_version] [--window 10m] [--min-requests 1000] [--confidence 0.995] [--tolerance 0.1]
//! case $? in
//!   0) echo promote ;;                                  # continue
//!   1) kubectl rollout undo deployment/shop-canary ;;   # roll back
//!   3) sleep 60 ;;                                      # wait: judge again
//!   *) exit 2 ;;                                        # usage error or Prometheus unreachable
//! esac
//! ```
//!
//! | verdict | exit | means |
//! |---|---|---|
//! | `continue` | 0 | on every SLO the canary is not worse than the baseline, or worse by less than the tolerance |
//! | `rollback` | 1 | on at least one SLO the canary is worse with the stated confidence *and* by more than the tolerance |
//! | `wait` | 3 | too little data: either side below `--min-requests` in the window, or a series missing; never `continue` |
//!
//! Stdout is one JSON object ([`Judgement::to_json`]: the verdict, the
//! settings, and per SLO both sides' counts, `z`, `p_value`, `alpha`, the
//! verdict and a one-line reason); stderr a summary. Bad input names the flag
//! and what it accepts, and exits 2.
//!
//! A flag flip or a config change has no second version to compare with:
//! `--after TIME` (RFC 3339) judges the window after the change against the
//! same length before it, on every instance (`ChangeJudgement`, feature `prometheus-api`); `--flag
//! NAME [--lookback 1d]` finds that time in Prometheus as the last change of
//! a StateSet. The counts are PromQL `increase()` over the window, so a series
//! first seen inside it (a canary's first 5xx) counts from its first scrape.
//!
//! **Argo Rollouts and Flagger**: `analysis --for argo` prints an
//! `AnalysisTemplate` (`shop-canary-judge`), `analysis --for flagger` one
//! `MetricTemplate` per SLO ([`Analysis`]), whose queries return the judge's
//! verdict as one number: `0` continue, `1` rollback, `3` wait (Argo's
//! Inconclusive, which pauses the rollout; Flagger has no inconclusive result,
//! so a wait counts as a failed check: give the canary traffic before the
//! first one). `examples/tests/judge.rs` runs these queries and the judge
//! against a real Prometheus and VictoriaMetrics, with healthy, faulty and
//! slow canaries of the axum example.
//!
//! # Files: observe's form and OpenSLO
//!
//! The SLOs travel as data too. [`Slos::to_json`] writes observe's own form
//! (and `Slos::to_yaml` the same in YAML, feature `yaml`): the service,
//! each SLO's `name`, `indicator` (`availability`, `latency` with its
//! `threshold_seconds`, or `grpc_availability`), `objective`, optional
//! `route` and `window_days`, the `duration_buckets` the thresholds are
//! checked against, and the optional `dashboard_url` and `runbook_url` of
//! the alerts' links. [`Slos::from_json`] and `Slos::from_yaml` read it back
//! with the checks [`Slos::prometheus_rules`] makes, and refuse an unknown
//! field; an error names the field (`slos[1].objective`) and what it
//! accepts. `Slos` implements serde's `Serialize` and `Deserialize` in
//! that form, so it can sit inside a service's own configuration.
//!
//! ```yaml
//! format: observe-slos/v1   # optional
//! service: shop             # the Prometheus job
//! slos:
//!   - name: shop-availability
//!     indicator: availability
//!     objective: 0.999
//!   - name: users-fast
//!     indicator: latency
//!     objective: 0.99
//!     threshold_seconds: 0.25   # a bucket bound
//!     route: /users/{id}
//!     window_days: 30           # the default
//! # duration_buckets: [0.005, 0.01, ...]   # default: observe's
//! dashboard_url: https://grafana.example.com     # optional: the alerts' dashboard links
//! runbook_url: https://wiki.example.com/shop-slo  # optional: the alerts' runbook_url
//! status_url: http://{instance}/observe          # optional: the alerts' status_page
//! events_table: observe_requests                 # optional: the alerts' failing_requests SQL
//! ```
//!
//! The admin listener serves this document at `/observe/api/slos` when the
//! service passes it (`AdminConfig::slos(slos.to_json())` in observe-core's
//! console), so `observe rules --from http://127.0.0.1:9464` writes the
//! running service's rules without its source.
//!
//! [`Slos::openslo`] and `Slos::openslo_yaml` (feature `yaml`) export the same SLOs in
//! [OpenSLO](https://openslo.com) v1: a `Service`, and one `SLO` per
//! objective with a `ratioMetric` of Prometheus counters (good over total,
//! the complement of the rules' error ratio on the same series), a rolling
//! `timeWindow` of the SLO's days and `budgetingMethod: Occurrences`.

#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "prometheus-api")]
mod change;
mod dashboard;
mod document;
mod judge;
mod openslo;
#[cfg(feature = "prometheus-api")]
mod prometheus;
pub mod quality;
mod query;
mod rollout;

#[cfg(feature = "prometheus-api")]
pub use change::ChangeJudgement;
pub use document::SLOS_FORMAT;
pub use judge::{
    Counts, DEFAULT_CONFIDENCE, DEFAULT_MIN_REQUESTS, DEFAULT_TOLERANCE, Judge, JudgeError,
    Judgement, SloJudgement, Verdict, critical_z, upper_tail, z_statistic,
};
pub use openslo::OPENSLO_API_VERSION;
#[cfg(feature = "prometheus-api")]
pub use prometheus::{Comparison, Points, PrometheusApi, QueryError, UnknownSide};
pub use query::{Side, SideQueries, duration_seconds, is_duration};
pub use rollout::{Analysis, RolloutError};

use std::fmt::Write;

use observe_core::DEFAULT_DURATION_BUCKETS;

/// The alert rows: severity, long window, short window, burn rate, `for`.
pub const BURN_RATE_ALERTS: [(&str, &str, &str, f64, &str); 3] = [
    ("page", "1h", "5m", 14.4, "2m"),
    ("page", "6h", "30m", 6.0, "2m"),
    ("ticket", "3d", "6h", 1.0, "0m"),
];

/// The 5m error ratio above which the fast page fires without waiting for
/// the 1h window: most requests fail, an outage whatever the objective.
/// Tuned with `observe alert-quality` (see [`quality`]): a full outage of a
/// 99% SLO took 11 minutes to page on the 1h window alone (at 100% errors
/// the 1h window reaches 14.4% after 8.6 minutes, then `for: 2m`); with
/// this clause it pages in 5. Never below the row's own threshold.
pub const OUTAGE_RATIO: f64 = 0.5;

/// Every window a recording rule is kept for.
const WINDOWS: [&str; 6] = ["5m", "30m", "1h", "6h", "3d", "30d"];

/// What an SLO measures.
#[derive(Debug, Clone, PartialEq)]
enum Indicator {
    /// Share of requests answered without a 5xx (panics are 500s).
    Availability,
    /// Share of requests faster than a threshold, a histogram bucket bound.
    Latency { threshold_seconds: f64 },
    /// Share of gRPC calls that end without a server-error code.
    GrpcAvailability,
}

/// The gRPC codes the OpenTelemetry RPC conventions call server errors, as
/// a PromQL regex: UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL (a
/// panic too), UNAVAILABLE, DATA_LOSS.
const GRPC_SERVER_ERRORS: &str = "2|4|12|13|14|15";

/// One service level objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    name: String,
    indicator: Indicator,
    objective: f64,
    route: Option<String>,
    window_days: u32,
}

/// Why rules could not be generated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SloError {
    /// The objective is not strictly between 0 and 1.
    #[error("SLO {slo:?}: objective {objective} must be between 0 and 1, e.g. 0.999")]
    Objective {
        /// The SLO.
        slo: String,
        /// The objective given.
        objective: f64,
    },
    /// A latency threshold that is not a bucket bound cannot be counted.
    #[error(
        "SLO {slo:?}: latency threshold {threshold}s is not a bucket bound; expected one of {bounds:?}"
    )]
    Threshold {
        /// The SLO.
        slo: String,
        /// The threshold given.
        threshold: f64,
        /// The bounds of `http_server_request_duration_seconds`.
        bounds: Vec<f64>,
    },
    /// A link that is not an http(s) URL.
    #[error(
        "{field} {url:?}: expected an http:// or https:// URL, e.g. https://grafana.example.com"
    )]
    Url {
        /// `dashboard_url`, `runbook_url` or `status_url`.
        field: &'static str,
        /// The value given.
        url: String,
    },
    /// The events table is not a ClickHouse name.
    #[error(
        "events_table {0:?}: expected a table name (letters, digits, '_'), optionally after a database and '.', e.g. observe_requests"
    )]
    Table(String),
    /// SLO names become label values and rule names.
    #[error("SLO name {0:?}: expected letters, digits, '-' or '_'")]
    Name(String),
    /// Two SLOs of one service with the same name: their rule groups and
    /// series would collide.
    #[error("SLO name {0:?} is used twice: expected each SLO's name once")]
    Duplicate(String),
    /// A document that is not JSON (or YAML) at all.
    #[error("not valid {format}: {message}")]
    Syntax {
        /// `JSON` or `YAML`.
        format: &'static str,
        /// The parser's message, with the line and column.
        message: String,
    },
    /// A field of observe's SLO document that is missing, of the wrong
    /// type, unknown or invalid.
    #[error("{field}: {message}")]
    Field {
        /// Where, e.g. `slos[1].objective`.
        field: String,
        /// What it accepts, and what was found.
        message: String,
    },
}

impl Slo {
    /// At least `objective` of requests are answered without a 5xx.
    pub fn availability(name: &str, objective: f64) -> Self {
        Self {
            name: name.to_string(),
            indicator: Indicator::Availability,
            objective,
            route: None,
            window_days: 30,
        }
    }

    /// At least `objective` of requests take at most `threshold_seconds`,
    /// which must be a bucket bound of the duration histogram.
    pub fn latency(name: &str, objective: f64, threshold_seconds: f64) -> Self {
        Self {
            indicator: Indicator::Latency { threshold_seconds },
            ..Self::availability(name, objective)
        }
    }

    /// At least `objective` of gRPC calls (`rpc_server_duration_seconds`)
    /// end without a server-error code: UNKNOWN, DEADLINE_EXCEEDED,
    /// UNIMPLEMENTED, INTERNAL (panics included), UNAVAILABLE, DATA_LOSS.
    /// NOT_FOUND and the other client errors count as good. With
    /// [`route`](Self::route), the route is `package.Service/Method`.
    pub fn grpc_availability(name: &str, objective: f64) -> Self {
        Self {
            indicator: Indicator::GrpcAvailability,
            ..Self::availability(name, objective)
        }
    }

    /// Only requests of this route template count (default: all routes).
    pub fn route(mut self, route: &str) -> Self {
        self.route = Some(route.to_string());
        self
    }

    /// The SLO's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The objective, e.g. 0.999.
    pub fn objective(&self) -> f64 {
        self.objective
    }

    /// The SLO window in days (default 30), for the budget-remaining rule.
    pub fn window_days(mut self, days: u32) -> Self {
        self.window_days = days.max(1);
        self
    }

    fn selector(&self, service: &str) -> String {
        let mut selector = format!("job=\"{service}\"");
        for (label, value) in self.route_match() {
            let _ = write!(selector, ",{label}=\"{}\"", value.replace('"', "\\\""));
        }
        selector
    }

    /// The labels (and their values) that restrict this SLO to its route:
    /// `http_route`, or gRPC's `rpc_service` and `rpc_method`.
    fn route_match(&self) -> Vec<(&'static str, &str)> {
        match (&self.route, &self.indicator) {
            (Some(route), Indicator::GrpcAvailability) => {
                let (service, method) = route.split_once('/').unwrap_or((route, ""));
                vec![
                    ("rpc_service", service.trim_start_matches('/')),
                    ("rpc_method", method),
                ]
            }
            (Some(route), _) => vec![("http_route", route.as_str())],
            (None, _) => Vec::new(),
        }
    }

    /// The series every request of this SLO is counted in.
    fn counted_metric(&self) -> &'static str {
        match self.indicator {
            Indicator::GrpcAvailability => "rpc_server_duration_seconds_count",
            _ => "http_server_request_duration_seconds_count",
        }
    }

    /// The PromQL error ratio over `window` of each route (gRPC: each
    /// service and method), for the alerts' worst routes.
    fn error_ratio_by_route(&self, service: &str, window: &str) -> String {
        let by = match self.indicator {
            Indicator::GrpcAvailability => "rpc_service, rpc_method",
            _ => "http_route",
        };
        self.error_ratio_by(service, window, by)
    }

    /// The PromQL error ratio over `window` per value of the labels `by`.
    fn error_ratio_by(&self, service: &str, window: &str, by: &str) -> String {
        self.ratio_summed(service, window, &format!("sum by ({by}) "))
    }

    /// The error ratio over `window`, numerator and denominator each
    /// summed with `sum` (`sum` or `sum by (...) `).
    fn ratio_summed(&self, service: &str, window: &str, sum: &str) -> String {
        let sel = self.selector(service);
        let metric = self.counted_metric();
        let total = format!("{sum}(rate({metric}{{{sel}}}[{window}]))");
        match &self.indicator {
            Indicator::GrpcAvailability => format!(
                "{sum}(rate({metric}{{{sel},rpc_grpc_status_code=~\"{GRPC_SERVER_ERRORS}\"}}[{window}])) / {total}"
            ),
            Indicator::Availability => format!(
                "{sum}(rate({metric}{{{sel},http_response_status_code=~\"5..\"}}[{window}])) / {total}"
            ),
            Indicator::Latency { threshold_seconds } => format!(
                "1 - {sum}(rate(http_server_request_duration_seconds_bucket{{{sel},le=\"{threshold_seconds:?}\"}}[{window}])) / {total}"
            ),
        }
    }

    /// The ClickHouse condition on the request events that this SLO
    /// counts as bad (observe-core's ClickHouse table).
    fn bad_events(&self) -> String {
        let quoted =
            |value: &str| format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"));
        let mut condition = match &self.indicator {
            Indicator::GrpcAvailability => {
                format!(
                    "rpc_grpc_status_code IN ({})",
                    GRPC_SERVER_ERRORS.replace('|', ", ")
                )
            }
            Indicator::Availability => "status >= 500".to_string(),
            Indicator::Latency { threshold_seconds } => {
                format!("duration_ms > {}", threshold_seconds * 1000.0)
            }
        };
        for (label, value) in self.route_match() {
            // The events table names the HTTP route `route`.
            let column = if label == "http_route" {
                "route"
            } else {
                label
            };
            let _ = write!(condition, " AND {column} = {}", quoted(value));
        }
        condition
    }

    /// The PromQL error ratio over `window`.
    fn error_ratio(&self, service: &str, window: &str) -> String {
        self.ratio_summed(service, window, "sum")
    }

    fn check(&self, bounds: &[f64]) -> Result<(), SloError> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(SloError::Name(self.name.clone()));
        }
        if !(self.objective > 0.0 && self.objective < 1.0) {
            return Err(SloError::Objective {
                slo: self.name.clone(),
                objective: self.objective,
            });
        }
        if let Indicator::Latency { threshold_seconds } = self.indicator
            && !bounds.contains(&threshold_seconds)
        {
            return Err(SloError::Threshold {
                slo: self.name.clone(),
                threshold: threshold_seconds,
                bounds: bounds.to_vec(),
            });
        }
        Ok(())
    }
}

/// The SLOs of one service (its Prometheus `job` label).
#[derive(Debug, Clone, PartialEq)]
pub struct Slos {
    service: String,
    slos: Vec<Slo>,
    bounds: Vec<f64>,
    dashboard_url: Option<String>,
    runbook_url: Option<String>,
    status_url: Option<String>,
    events_table: Option<String>,
}

/// Grafana's address when [`Slos::dashboard_url`] was not set: Grafana's
/// own default.
pub const DEFAULT_GRAFANA_URL: &str = "http://localhost:3000";

/// The runbook of `SloErrorBudgetBurn` when [`Slos::runbook_url`] was not
/// set: the SRE Workbook's chapter on these alerts (what a burn rate
/// means, which window fired). Set your own: what to check first, whom
/// to call, how to roll back.
pub const DEFAULT_RUNBOOK_URL: &str = "https://sre.google/workbook/alerting-on-slos/";

/// The id of the dashboard's error-budget panel, which the alerts link to.
const BUDGET_PANEL: u32 = 7;

impl Slos {
    /// SLOs for the service scraped as `job="{service}"`.
    pub fn new(service: &str) -> Self {
        Self {
            service: service.to_string(),
            slos: Vec::new(),
            bounds: DEFAULT_DURATION_BUCKETS.to_vec(),
            dashboard_url: None,
            runbook_url: None,
            status_url: None,
            events_table: None,
        }
    }

    /// Grafana's address (e.g. `https://grafana.example.com`), where the
    /// generated dashboard is imported: each SLO alert's `dashboard`
    /// annotation opens its error-budget panel over the alert's long
    /// window. Default [`DEFAULT_GRAFANA_URL`].
    pub fn dashboard_url(mut self, url: &str) -> Self {
        self.dashboard_url = Some(url.trim_end_matches('/').to_string());
        self
    }

    /// The runbook every SLO alert links to (`runbook_url`, the annotation
    /// Alertmanager's PagerDuty and Opsgenie integrations read). Default
    /// [`DEFAULT_RUNBOOK_URL`].
    pub fn runbook_url(mut self, url: &str) -> Self {
        self.runbook_url = Some(url.to_string());
        self
    }

    /// The status page each SLO alert links to (`status_page`): an
    /// http(s) URL in which `{instance}` stands for the scrape target
    /// (Prometheus' `instance` label) with the worst error ratio over the
    /// alert's short window. When `/metrics` is scraped from observe's
    /// admin listener, `http://{instance}/observe` is that instance's
    /// status page; behind a proxy, e.g.
    /// `https://ops.example.com/shop/{instance}/observe`. No
    /// `status_page` annotation when unset.
    pub fn status_url(mut self, url: &str) -> Self {
        self.status_url = Some(url.to_string());
        self
    }

    /// The ClickHouse table the request events go to (observe-core's
    /// ClickHouse sink, `OBSERVE_CLICKHOUSE_TABLE`; `db.table` allowed):
    /// each SLO alert carries `failing_requests`, the SQL that lists the
    /// requests its SLO counted as bad over the alert's long window, with
    /// their trace ids, the window fixed at the time Prometheus rendered
    /// the alert. It matches the events' `service` column against the
    /// SLOs' service (so the job name and `service.name` must agree). No
    /// annotation when unset.
    pub fn events_table(mut self, table: &str) -> Self {
        self.events_table = Some(table.to_string());
        self
    }

    /// Adds an SLO.
    pub fn with(mut self, slo: Slo) -> Self {
        self.slos.push(slo);
        self
    }

    /// The duration buckets the service uses, when not the defaults.
    pub fn duration_buckets(mut self, bounds: impl IntoIterator<Item = f64>) -> Self {
        self.bounds = bounds.into_iter().collect();
        self
    }

    /// Every SLO is valid for these buckets, and named once.
    fn check(&self) -> Result<(), SloError> {
        for (field, url) in [
            ("dashboard_url", &self.dashboard_url),
            ("runbook_url", &self.runbook_url),
            ("status_url", &self.status_url),
        ] {
            if let Some(url) = url
                && !is_http_url(url)
            {
                return Err(SloError::Url {
                    field,
                    url: url.clone(),
                });
            }
        }
        if let Some(table) = &self.events_table
            && !is_table_name(table)
        {
            return Err(SloError::Table(table.clone()));
        }
        for (i, slo) in self.slos.iter().enumerate() {
            slo.check(&self.bounds)?;
            if self.slos[..i].iter().any(|other| other.name == slo.name) {
                return Err(SloError::Duplicate(slo.name.clone()));
            }
        }
        Ok(())
    }

    /// The rule file (YAML) for Prometheus: recording rules, burn-rate
    /// alerts per SLO, and the alerts every observe service gets (ERROR log
    /// lines, a target that stopped reporting).
    pub fn prometheus_rules(&self) -> Result<String, SloError> {
        self.check()?;
        let service = &self.service;
        let mut out = String::from("groups:\n");
        for slo in &self.slos {
            let _ = writeln!(out, "  - name: slo-{}", slo.name);
            out.push_str("    rules:\n");
            for window in WINDOWS {
                let _ = writeln!(out, "      - record: slo:error_ratio:rate{window}");
                let _ = writeln!(
                    out,
                    "        expr: {}",
                    yaml_quote(&slo.error_ratio(service, window))
                );
                let _ = writeln!(
                    out,
                    "        labels:\n          slo: {}\n          service: {service}",
                    slo.name
                );
            }
            let budget = 1.0 - slo.objective;
            let _ = writeln!(out, "      - record: slo:error_budget_remaining:ratio");
            let _ = writeln!(
                out,
                "        expr: {}",
                yaml_quote(&format!(
                    "1 - slo:error_ratio:rate30d{{slo=\"{}\"}} / {budget:?}",
                    slo.name
                ))
            );
            let _ = writeln!(
                out,
                "        labels:\n          slo: {}\n          service: {service}",
                slo.name
            );
            for (severity, long, short, burn, hold) in BURN_RATE_ALERTS {
                let threshold = burn * budget;
                let mut expr = format!(
                    "slo:error_ratio:rate{long}{{slo=\"{name}\"}} > {threshold:?} and slo:error_ratio:rate{short}{{slo=\"{name}\"}} > {threshold:?}",
                    name = slo.name
                );
                if short == "5m" {
                    let outage = OUTAGE_RATIO.max(threshold);
                    let _ = write!(
                        expr,
                        " or slo:error_ratio:rate5m{{slo=\"{name}\"}} > {outage:?}",
                        name = slo.name
                    );
                }
                out.push_str("      - alert: SloErrorBudgetBurn\n");
                let _ = writeln!(out, "        expr: {}", yaml_quote(&expr));
                let _ = writeln!(out, "        for: {hold}");
                let _ = writeln!(
                    out,
                    "        labels:\n          severity: {severity}\n          slo: {}\n          service: {service}\n          window: {long}-{short}",
                    slo.name
                );
                let _ = writeln!(
                    out,
                    "        annotations:\n          summary: {}",
                    yaml_quote(&format!(
                        "{service}: SLO {} is burning its error budget {burn}x too fast ({long} and {short} windows)",
                        slo.name
                    ))
                );
                self.triage(&mut out, slo, long, short);
            }
        }
        let _ = writeln!(out, "  - name: observe-{service}");
        out.push_str("    rules:\n");
        let errors = format!(
            "sum(rate(observe_log_events_total{{job=\"{service}\",level=\"error\"}}[5m])) * 60 > 1"
        );
        let _ = writeln!(
            out,
            "      - alert: ErrorLogLines\n        expr: {}\n        for: 5m",
            yaml_quote(&errors)
        );
        let _ = writeln!(
            out,
            "        labels:\n          severity: page\n          service: {service}\n        annotations:\n          summary: {}",
            yaml_quote(&format!(
                "{service} writes more than one ERROR line a minute"
            ))
        );
        // Deploy feedback: the error ratio of each version (from
        // target_info's service_version), and an alert when one is at least
        // twice the best version's and above 1%: roll it back.
        let by_version = |errors: &str| {
            format!(
                "sum by (service_version) (rate(http_server_request_duration_seconds_count{{job=\"{service}\"{errors}}}[10m]) * on (job, instance) group_left (service_version) target_info{{job=\"{service}\"}})"
            )
        };
        let ratio = format!(
            "{} / {}",
            by_version(",http_response_status_code=~\"5..\""),
            by_version("")
        );
        let _ = writeln!(
            out,
            "      - record: version:error_ratio:rate10m\n        expr: {}\n        labels:\n          service: {service}",
            yaml_quote(&ratio)
        );
        let canary = format!(
            "version:error_ratio:rate10m{{service=\"{service}\"}} > 2 * scalar(min(version:error_ratio:rate10m{{service=\"{service}\"}})) and version:error_ratio:rate10m{{service=\"{service}\"}} > 0.01"
        );
        let _ = writeln!(
            out,
            "      - alert: CanaryWorse\n        expr: {}\n        for: 5m",
            yaml_quote(&canary)
        );
        let _ = writeln!(
            out,
            "        labels:\n          severity: page\n          service: {service}\n        annotations:\n          summary: {}",
            yaml_quote(&format!(
                "{service} version {{{{ $labels.service_version }}}} fails at least twice as often as the best version: roll it back"
            ))
        );
        let absent = format!("up{{job=\"{service}\"}} == 0 or absent(up{{job=\"{service}\"}})");
        let _ = writeln!(
            out,
            "      - alert: TargetDown\n        expr: {}\n        for: 5m",
            yaml_quote(&absent)
        );
        let _ = writeln!(
            out,
            "        labels:\n          severity: page\n          service: {service}\n        annotations:\n          summary: {}",
            yaml_quote(&format!(
                "Prometheus cannot scrape {service}: no metrics, no alerts"
            ))
        );
        Ok(out)
    }
}

impl Slos {
    /// The annotations that carry an SLO alert's triage: the burn rate
    /// and budget left, the worst routes at firing time (Prometheus runs
    /// the queries when it renders the alert), and the links.
    fn triage(&self, out: &mut String, slo: &Slo, long: &str, short: &str) {
        let name = &slo.name;
        // 0.001, not 1 - 0.999's 0.0010000000000000009.
        let budget = format!("{:.12}", 1.0 - slo.objective);
        let budget = budget.trim_end_matches('0');
        let by_route = slo.error_ratio_by_route(&self.service, short);
        let route = match slo.indicator {
            Indicator::GrpcAvailability => "{{ .Labels.rpc_service }}/{{ .Labels.rpc_method }}",
            _ => "{{ .Labels.http_route }}",
        };
        let route_r = route.replace(".Labels", "$r.Labels");
        let bad = match slo.indicator {
            Indicator::Latency { .. } => "slow",
            _ => "errors",
        };
        let description = format!(
            "Burn rate {{{{ range query `slo:error_ratio:rate{long}{{slo=\"{name}\"}} / {budget}` }}}}{{{{ .Value | printf \"%.1f\" }}}}{{{{ end }}}}x over {long}; \
             error budget left {{{{ range query `slo:error_budget_remaining:ratio{{slo=\"{name}\"}}` }}}}{{{{ .Value | humanizePercentage }}}}{{{{ end }}}}. \
             Worst routes over {short} ({bad}): {{{{ range $i, $r := query `topk(3, {by_route})` }}}}{{{{ if $i }}}}, {{{{ end }}}}{route_r} {{{{ $r.Value | humanizePercentage }}}}{{{{ end }}}}."
        );
        let worst = format!("{{{{ range query `topk(1, {by_route})` }}}}{route}{{{{ end }}}}");
        // The firing time range: Prometheus' evaluation time when it
        // renders the alert, in Unix seconds, and the long window before it.
        let seconds = window_seconds(long);
        let from = format!(
            "{{{{ with query `time() - {seconds}` }}}}{{{{ . | first | value | printf \"%.0f\" }}}}{{{{ end }}}}"
        );
        let to = "{{ with query `time()` }}{{ . | first | value | printf \"%.0f\" }}{{ end }}";
        let grafana = self.dashboard_url.as_deref().unwrap_or(DEFAULT_GRAFANA_URL);
        let dashboard = format!(
            "{grafana}/d/observe-{service}?viewPanel={BUDGET_PANEL}&from={from}000&to={to}000",
            service = self.service
        );
        let runbook = self.runbook_url.as_deref().unwrap_or(DEFAULT_RUNBOOK_URL);
        let mut annotations = vec![
            ("description", description),
            ("worst_route", worst),
            ("dashboard", dashboard),
            ("runbook_url", runbook.to_string()),
        ];
        if let Some(url) = &self.status_url {
            let by_instance = slo.error_ratio_by(&self.service, short, "instance");
            let instance = "{{ .Labels.instance }}";
            let link = url.replace("{instance}", instance);
            annotations.push((
                "status_page",
                format!("{{{{ range query `topk(1, {by_instance})` }}}}{link}{{{{ end }}}}"),
            ));
        }
        if let Some(table) = &self.events_table {
            let service = self.service.replace('\\', "\\\\").replace('\'', "\\'");
            annotations.push((
                "failing_requests",
                format!(
                    "SELECT toDateTime(intDiv(timestamp_us, 1000000)) AS time, route, method, status, duration_ms, error_type, trace_id FROM {table} WHERE service = '{service}' AND timestamp_us >= {from}000000 AND timestamp_us <= {to}999999 AND {bad} ORDER BY timestamp_us DESC LIMIT 100",
                    bad = slo.bad_events()
                ),
            ));
        }
        for (key, value) in annotations {
            let _ = writeln!(out, "          {key}: {}", yaml_quote(&value));
        }
    }
}

/// The seconds of a rule window such as `5m`, `1h` or `3d`.
fn window_seconds(window: &str) -> u64 {
    let (number, unit) = window.split_at(window.len().saturating_sub(1));
    let number: u64 = number.parse().unwrap_or(0);
    number
        * match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => 0,
        }
}

/// A ClickHouse table name, optionally after its database.
fn is_table_name(name: &str) -> bool {
    let part = |part: &str| {
        part.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match name.split_once('.') {
        Some((database, table)) => part(database) && part(table),
        None => part(name),
    }
}

/// An http(s) URL with a host.
fn is_http_url(url: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        url.strip_prefix(scheme).is_some_and(|rest| {
            !rest.is_empty() && !rest.starts_with('/') && !rest.contains(char::is_whitespace)
        })
    })
}

/// A YAML double-quoted scalar.
fn yaml_quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_carry_their_triage() {
        let rules = Slos::new("shop")
            .with(Slo::availability("checkout", 0.999))
            .with(Slo::grpc_availability("users-grpc", 0.999))
            .dashboard_url("https://grafana.example.com/")
            .runbook_url("https://wiki.example.com/slo")
            .prometheus_rules()
            .unwrap();
        assert!(
            rules.contains("          dashboard: \"https://grafana.example.com/d/observe-shop?viewPanel=7&from={{ with query `time() - 3600` }}{{ . | first | value | printf \\\"%.0f\\\" }}{{ end }}000&to={{ with query `time()` }}{{ . | first | value | printf \\\"%.0f\\\" }}{{ end }}000\"\n"),
            "{rules}"
        );
        assert_eq!(
            rules
                .matches("          runbook_url: \"https://wiki.example.com/slo\"\n")
                .count(),
            6,
            "{rules}"
        );
        // The worst route: the route with the highest error ratio at firing
        // time; gRPC names service and method.
        assert!(rules.contains("worst_route: \"{{ range query `topk(1, sum by (http_route) (rate(http_server_request_duration_seconds_count{job=\\\"shop\\\",http_response_status_code=~\\\"5..\\\"}[5m])) / sum by (http_route) (rate(http_server_request_duration_seconds_count{job=\\\"shop\\\"}[5m])))` }}{{ .Labels.http_route }}{{ end }}\""), "{rules}");
        assert!(
            rules.contains("{{ .Labels.rpc_service }}/{{ .Labels.rpc_method }}"),
            "{rules}"
        );
        // Without a status URL or an events table, neither annotation.
        assert!(!rules.contains("status_page:"), "{rules}");
        assert!(!rules.contains("failing_requests:"), "{rules}");
        let rules = Slos::new("shop")
            .with(Slo::latency("users-fast", 0.99, 0.25).route("/users/{id}"))
            .with(Slo::grpc_availability("users-grpc", 0.999).route("shop.v1.Users/GetUser"))
            .status_url("http://{instance}/observe")
            .events_table("observe_requests")
            .prometheus_rules()
            .unwrap();
        // The status page of the instance with the worst error ratio.
        assert!(rules.contains("status_page: \"{{ range query `topk(1, 1 - sum by (instance) (rate(http_server_request_duration_seconds_bucket{job=\\\"shop\\\",http_route=\\\"/users/{id}\\\",le=\\\"0.25\\\"}[5m])) / sum by (instance) (rate(http_server_request_duration_seconds_count{job=\\\"shop\\\",http_route=\\\"/users/{id}\\\"}[5m])))` }}http://{{ .Labels.instance }}/observe{{ end }}\""), "{rules}");
        // The failing requests of the long window, by the SLO's own
        // definition of bad.
        assert!(rules.contains("FROM observe_requests WHERE service = 'shop' AND timestamp_us >= {{ with query `time() - 3600` }}"), "{rules}");
        assert!(rules.contains("AND duration_ms > 250 AND route = '/users/{id}' ORDER BY timestamp_us DESC LIMIT 100\""), "{rules}");
        assert!(rules.contains("AND rpc_grpc_status_code IN (2, 4, 12, 13, 14, 15) AND rpc_service = 'shop.v1.Users' AND rpc_method = 'GetUser' ORDER BY"), "{rules}");
        assert_eq!(rules.matches("failing_requests:").count(), 6, "{rules}");
        let err = Slos::new("shop")
            .events_table("requests; DROP TABLE x")
            .prometheus_rules()
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("events_table \"requests; DROP TABLE x\": expected a table name"),
            "{err}"
        );
        // Defaults, and links that are not URLs refused.
        let rules = Slos::new("shop")
            .with(Slo::availability("checkout", 0.999))
            .prometheus_rules()
            .unwrap();
        assert!(
            rules.contains(&format!("runbook_url: \"{DEFAULT_RUNBOOK_URL}\"")),
            "{rules}"
        );
        assert!(
            rules.contains(&format!(
                "dashboard: \"{DEFAULT_GRAFANA_URL}/d/observe-shop?"
            )),
            "{rules}"
        );
        let err = Slos::new("shop")
            .runbook_url("wiki")
            .prometheus_rules()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "runbook_url \"wiki\": expected an http:// or https:// URL, e.g. https://grafana.example.com"
        );
    }

    #[test]
    fn bad_slos_are_refused_with_the_accepted_values() {
        let err = Slos::new("shop")
            .with(Slo::latency("fast", 0.99, 0.3))
            .prometheus_rules()
            .unwrap_err();
        assert!(
            err.to_string().contains("0.3s is not a bucket bound"),
            "{err}"
        );
        let err = Slos::new("shop")
            .with(Slo::availability("a", 1.5))
            .prometheus_rules()
            .unwrap_err();
        assert!(err.to_string().contains("between 0 and 1"), "{err}");
        let err = Slos::new("shop")
            .with(Slo::availability("bad name", 0.9))
            .prometheus_rules()
            .unwrap_err();
        assert_eq!(err, SloError::Name("bad name".into()));
    }
}
