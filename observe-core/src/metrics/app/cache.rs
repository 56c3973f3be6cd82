//! `observe_cache_requests_total{cache, result, http_route}`: the family;
//! the handle a service records with is `crate::request::Cache`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::base::time::unix_now;
use crate::encoding::{Format, counter_header, write_counter, write_labels};
use crate::metrics::guard::Guarded;
use crate::metrics::intern::key_of;
use crate::metrics::labels::OVERFLOW_VALUE;

/// The result of a cache lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheResult {
    /// Found.
    Hit,
    /// Not found.
    Miss,
    /// The lookup itself failed.
    Error,
}

impl CacheResult {
    fn as_str(self) -> &'static str {
        match self {
            CacheResult::Hit => "hit",
            CacheResult::Miss => "miss",
            CacheResult::Error => "error",
        }
    }
}

#[derive(Debug)]
pub(crate) struct CacheSeries {
    /// cache, http_route, result.
    labels: [Arc<str>; 3],
    value: AtomicU64,
    created: f64,
}

#[derive(Debug)]
pub(crate) struct CacheFamily {
    pub(crate) series: Guarded<(usize, usize, CacheResult), CacheSeries>,
}

const NAME: &str = "observe_cache_requests";

impl CacheFamily {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            series: Guarded::new("observe_cache_requests_total", limit),
        }
    }

    /// Counts one lookup of cache `name` under `route`.
    pub(crate) fn record(&self, name: &Arc<str>, route: &Arc<str>, result: CacheResult) {
        let key = (key_of(name), key_of(route), result);
        let make = |overflow: bool| CacheSeries {
            labels: if overflow {
                [
                    OVERFLOW_VALUE.into(),
                    OVERFLOW_VALUE.into(),
                    OVERFLOW_VALUE.into(),
                ]
            } else {
                [Arc::clone(name), Arc::clone(route), result.as_str().into()]
            },
            value: AtomicU64::new(0),
            created: unix_now(),
        };
        self.series
            .with(key, make, |s| s.value.fetch_add(1, Ordering::Relaxed));
    }

    /// Every series' route, result and count (overflowed ones aside).
    pub(crate) fn counts(&self) -> Vec<(Arc<str>, &'static str, u64)> {
        self.series
            .snapshot()
            .iter()
            .filter(|s| &*s.labels[0] != OVERFLOW_VALUE)
            .map(|s| {
                let result = match &*s.labels[2] {
                    "hit" => "hit",
                    "miss" => "miss",
                    _ => "error",
                };
                (
                    Arc::clone(&s.labels[1]),
                    result,
                    s.value.load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    pub(crate) fn render(&self, out: &mut String, format: Format, const_labels: &str) {
        counter_header(
            out,
            format,
            NAME,
            "Cache lookups by cache, route and result.",
        );
        let mut series = self.series.snapshot();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        let mut labels = String::new();
        for s in series {
            write_labels(
                &mut labels,
                ["cache", "http_route", "result"]
                    .iter()
                    .zip(s.labels.iter()),
                const_labels,
            );
            write_counter(
                out,
                format,
                NAME,
                &labels,
                s.value.load(Ordering::Relaxed),
                s.created,
            );
        }
    }
}
