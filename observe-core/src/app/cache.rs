//! `observe_cache_requests_total{cache, result, http_route}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::guard::Guarded;
use super::intern::key_of;
use crate::Observe;
use crate::context::with_current;
use crate::exposition::{Format, counter_header, write_counter, write_labels};
use crate::metrics::labels::OVERFLOW_VALUE;
use crate::metrics::unix_now;

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

/// A named cache's instrumentation, from [`Observe::cache`]. Cheap to clone;
/// create it once and keep it next to the cache.
///
/// ```
/// let observe = observe_core::Observe::builder().build().unwrap();
/// let users = observe.cache("users");
/// users.hit();
/// users.miss();
/// let text = observe.render(observe_core::Format::Text);
/// assert!(text.contains(r#"observe_cache_requests_total{cache="users",http_route="_NONE",result="hit"} 1"#));
/// ```
#[derive(Debug, Clone)]
pub struct Cache {
    observe: Observe,
    name: Arc<str>,
}

impl Observe {
    /// Instrumentation for the cache called `name` (a fixed name from your
    /// code, such as `users`).
    pub fn cache(&self, name: &str) -> Cache {
        Cache {
            observe: self.clone(),
            name: self.inner.app.names.intern(name),
        }
    }
}

impl Cache {
    /// Records a hit.
    pub fn hit(&self) {
        self.record(CacheResult::Hit);
    }

    /// Records a miss.
    pub fn miss(&self) {
        self.record(CacheResult::Miss);
    }

    /// Records a failed lookup.
    pub fn error(&self) {
        self.record(CacheResult::Error);
    }

    /// Records a lookup with this result, under the current request's route
    /// (or `_NONE` outside a request), and counts it in the request's
    /// context.
    pub fn record(&self, result: CacheResult) {
        let inner = &self.observe.inner;
        with_current(|context| {
            let route = match context {
                Some(context) => {
                    context.count_cache(result);
                    context.route_metrics()
                }
                None => &inner.http.outside,
            };
            let key = (key_of(&self.name), key_of(route), result);
            let make = |overflow: bool| CacheSeries {
                labels: if overflow {
                    [
                        OVERFLOW_VALUE.into(),
                        OVERFLOW_VALUE.into(),
                        OVERFLOW_VALUE.into(),
                    ]
                } else {
                    [
                        Arc::clone(&self.name),
                        Arc::clone(&route.name),
                        result.as_str().into(),
                    ]
                },
                value: AtomicU64::new(0),
                created: unix_now(),
            };
            inner
                .app
                .cache
                .series
                .with(key, make, |s| s.value.fetch_add(1, Ordering::Relaxed));
        });
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
