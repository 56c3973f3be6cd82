//! `observe_dependency_duration_seconds{dependency, operation, outcome,
//! http_route}`: the family; the handle a service times calls with is
//! `crate::request::Dependency`.

use std::sync::Arc;

use crate::base::time::unix_now;
use crate::encoding::{Exemplar, Format, histogram_header, write_histogram, write_labels};
use crate::metrics::guard::Guarded;
use crate::metrics::histogram::Histogram;
use crate::metrics::intern::key_of;
use crate::metrics::labels::OVERFLOW_VALUE;

/// How a dependency call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallOutcome {
    /// The call returned `Ok` (or a value, for untyped calls).
    Ok,
    /// The call returned `Err`.
    Error,
    /// The call's future was dropped before it finished.
    Cancelled,
}

impl CallOutcome {
    /// The label value: `ok`, `error`, `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Error => "error",
            CallOutcome::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug)]
pub(crate) struct DependencySeries {
    /// dependency, http_route, operation, outcome.
    labels: [Arc<str>; 4],
    histogram: Histogram,
    created: f64,
}

#[derive(Debug)]
pub(crate) struct DependencyFamily {
    pub(crate) series: Guarded<(usize, usize, usize, CallOutcome), DependencySeries>,
    buckets: Box<[f64]>,
}

const NAME: &str = "observe_dependency_duration_seconds";

impl DependencyFamily {
    pub(crate) fn new(limit: usize, buckets: &[f64]) -> Self {
        Self {
            series: Guarded::new(NAME, limit),
            buckets: buckets.into(),
        }
    }

    /// Records one call of `dependency`'s `operation` under `route`.
    pub(crate) fn record(
        &self,
        call: [&Arc<str>; 3],
        outcome: CallOutcome,
        nanos: u64,
        exemplar: Option<Exemplar>,
    ) {
        let [dependency, operation, route] = call;
        let key = (
            key_of(dependency),
            key_of(operation),
            key_of(route),
            outcome,
        );
        let make = |overflow: bool| DependencySeries {
            labels: if overflow {
                [
                    OVERFLOW_VALUE,
                    OVERFLOW_VALUE,
                    OVERFLOW_VALUE,
                    OVERFLOW_VALUE,
                ]
                .map(Arc::from)
            } else {
                [
                    Arc::clone(dependency),
                    Arc::clone(route),
                    Arc::clone(operation),
                    outcome.as_str().into(),
                ]
            },
            histogram: Histogram::new(&self.buckets),
            created: unix_now(),
        };
        let seconds = nanos as f64 * 1e-9;
        self.series.with(key, make, |s| match exemplar {
            Some(exemplar) => {
                s.histogram
                    .observe_with_exemplar(&self.buckets, seconds, nanos, exemplar)
            }
            None => s.histogram.observe(&self.buckets, seconds, nanos),
        });
    }

    pub(crate) fn render(&self, out: &mut String, format: Format, const_labels: &str) {
        histogram_header(
            out,
            format,
            NAME,
            "seconds",
            "Duration of calls to dependencies, by dependency, operation, outcome and route.",
        );
        let mut series = self.series.snapshot();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        let mut labels = String::new();
        for s in series {
            write_labels(
                &mut labels,
                ["dependency", "http_route", "operation", "outcome"]
                    .iter()
                    .zip(s.labels.iter()),
                const_labels,
            );
            let snapshot = s.histogram.snapshot(1e-9);
            write_histogram(
                out,
                format,
                NAME,
                &labels,
                &self.buckets,
                &snapshot,
                s.created,
            );
        }
    }
}
