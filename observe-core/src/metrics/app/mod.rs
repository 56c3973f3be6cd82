//! Application families: what a handler records beyond the HTTP layer.
//! Cache lookups and dependency calls (labelled with the current request's
//! route), gauges read on demand or at scrape time, enum states
//! (StateSet), and counters with labels of the service's own. Every family
//! observe owns is bounded by the cardinality guard
//! ([`crate::ObserveBuilder::series_limit`]).

mod cache;
mod custom;
mod dependency;
mod stateset;

use std::sync::{Arc, Mutex};

pub use cache::CacheResult;
pub use custom::{CounterFamily, Gauge};
pub use dependency::CallOutcome;
pub use stateset::{StateSet, States};

pub(crate) use cache::CacheFamily;
pub(crate) use custom::Custom;
pub(crate) use dependency::DependencyFamily;

use super::guard::OverflowCount;
use super::intern;
use crate::encoding::{Format, write_counter};

/// Default for [`crate::ObserveBuilder::series_limit`].
pub const DEFAULT_SERIES_LIMIT: usize = 2000;

/// Why a metric could not be registered.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum MetricError {
    /// Not a valid Prometheus metric name, or reserved.
    #[error(
        "invalid metric name {0:?}: expected [a-zA-Z_:][a-zA-Z0-9_:]*, not starting with \"observe_\", \"http_server_\", \"process_\" or \"target_\" (observe's own)"
    )]
    Name(String),
    /// A metric of that name is already registered with this `Observe`.
    #[error("metric {0:?} is already registered")]
    Duplicate(String),
    /// A label name is invalid.
    #[error("invalid label name {0:?}: expected [a-zA-Z_][a-zA-Z0-9_]*, not starting with \"__\"")]
    LabelName(String),
    /// A label was given the wrong number of values.
    #[error("metric {metric:?} has labels {expected:?}, got {got} values")]
    LabelCount {
        /// The metric.
        metric: String,
        /// Its label names.
        expected: Vec<String>,
        /// How many values were given.
        got: usize,
    },
}

/// A family the exposition writes, in registration order.
pub(crate) trait Render: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &str;
    fn render(&self, out: &mut String, format: Format, const_labels: &str);
    /// A StateSet's states and the index of the current one, for the
    /// console's feature flags; `None` for every other family.
    fn states(&self) -> Option<(&[&'static str], usize)> {
        None
    }
}

/// A StateSet as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StateView {
    pub(crate) name: String,
    pub(crate) states: Vec<&'static str>,
    pub(crate) current: &'static str,
}

/// A route's cache lookups, every cache together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CacheView {
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) errors: u64,
}

/// The application families of one `Observe`.
#[derive(Debug)]
pub(crate) struct AppMetrics {
    pub(crate) series_limit: usize,
    /// Cache, dependency and operation names.
    pub(crate) names: intern::Interner,
    pub(crate) cache: Arc<CacheFamily>,
    pub(crate) dependency: Arc<DependencyFamily>,
    pub(crate) custom: Mutex<Custom>,
}

impl AppMetrics {
    pub(crate) fn new(series_limit: usize, duration_buckets: &[f64]) -> Self {
        Self {
            series_limit,
            // Names are shared by caches, dependencies and operations; the
            // interner is only a memory bound, the series guard does the
            // counting, so it must not be reached first.
            names: intern::Interner::new(series_limit.saturating_mul(4)),
            cache: Arc::new(CacheFamily::new(series_limit)),
            dependency: Arc::new(DependencyFamily::new(series_limit, duration_buckets)),
            custom: Mutex::new(Custom::default()),
        }
    }

    /// Every StateSet and its current state, in registration order.
    pub(crate) fn state_views(&self) -> Vec<StateView> {
        self.custom()
            .families
            .iter()
            .filter_map(|family| {
                let (states, current) = family.states()?;
                Some(StateView {
                    name: family.name().to_string(),
                    states: states.to_vec(),
                    current: states.get(current).copied().unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Cache lookups by route since start, every cache together.
    pub(crate) fn cache_by_route(&self) -> Vec<(Arc<str>, CacheView)> {
        let mut routes: Vec<(Arc<str>, CacheView)> = Vec::new();
        for (route, result, count) in self.cache.counts() {
            let at = match routes.iter().position(|(r, _)| *r == route) {
                Some(at) => at,
                None => {
                    routes.push((route, CacheView::default()));
                    routes.len() - 1
                }
            };
            let view = &mut routes[at].1;
            match result {
                "hit" => view.hits += count,
                "miss" => view.misses += count,
                _ => view.errors += count,
            }
        }
        routes
    }

    pub(crate) fn custom(&self) -> std::sync::MutexGuard<'_, Custom> {
        self.custom.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `created` is when the instance was built: the start of its
    /// overflow counts.
    pub(crate) fn render(
        &self,
        out: &mut String,
        format: Format,
        const_labels: &str,
        http_route_overflowed: u64,
        created: f64,
    ) {
        self.cache.render(out, format, const_labels);
        self.dependency.render(out, format, const_labels);
        let custom = self.custom();
        for family in &custom.families {
            family.render(out, format, const_labels);
        }
        // Every guarded family, so an alert can watch for > 0.
        let http = HttpRoutes(http_route_overflowed);
        let mut guards: Vec<&dyn OverflowCount> =
            vec![&http, &self.cache.series, &self.dependency.series];
        guards.extend(custom.guards.iter().map(|g| g.as_ref()));
        render_overflow(out, format, const_labels, &guards, created);
    }
}

/// The HTTP families overflow by route ([`crate::ObserveBuilder::max_routes`]).
struct HttpRoutes(u64);

impl OverflowCount for HttpRoutes {
    fn metric(&self) -> &str {
        "http_server_request_duration_seconds"
    }
    fn overflowed(&self) -> u64 {
        self.0
    }
}

fn render_overflow(
    out: &mut String,
    format: Format,
    const_labels: &str,
    guards: &[&dyn OverflowCount],
    created: f64,
) {
    crate::encoding::counter_header(
        out,
        format,
        "observe_series_overflow",
        "Label sets sent to a family's overflow series because the family reached its series limit.",
    );
    let mut labels = String::new();
    for guard in guards {
        labels.clear();
        labels.push_str("metric=\"");
        crate::encoding::escape_label_value(&mut labels, guard.metric());
        labels.push('"');
        labels.push_str(const_labels);
        write_counter(
            out,
            format,
            "observe_series_overflow",
            &labels,
            guard.overflowed(),
            created,
        );
    }
}

/// Whether `name` is a metric name a user may register.
pub(crate) fn check_metric_name(name: &str) -> Result<(), MetricError> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    let ours = ["observe_", "http_server_", "process_", "target_"]
        .iter()
        .any(|p| name.starts_with(p));
    if valid && !ours {
        Ok(())
    } else {
        Err(MetricError::Name(name.to_string()))
    }
}
