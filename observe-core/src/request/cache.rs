//! The handle a service records cache lookups with.

use std::sync::Arc;

use crate::context::with_current;
use crate::metrics::{CacheResult, Families};

/// A named cache's instrumentation, from [`Observe::cache`](crate::Observe::cache).
/// Cheap to clone; create it once and keep it next to the cache.
///
/// Each lookup counts in `observe_cache_requests_total{cache, http_route,
/// result}` under the current request's route (`_NONE` outside a request,
/// see [`context`](crate::context)), and in the request's event
/// (`cache.hits`, `.misses`, `.errors`); the status page shows each
/// route's hit ratio. A hit costs ~41 ns inside a request (bench/README.md).
///
/// ```
/// let observe = observe_core::Observe::builder().build().unwrap();
/// let users = observe.cache("users");
/// users.hit();
/// users.miss();
/// let text = observe.render(observe_core::Format::Text).into_text();
/// assert!(text.contains(r#"observe_cache_requests_total{cache="users",http_route="_NONE",result="hit"} 1"#));
/// ```
#[derive(Debug, Clone)]
pub struct Cache {
    families: Arc<Families>,
    name: Arc<str>,
}

impl Cache {
    pub(crate) fn new(families: &Arc<Families>, name: &str) -> Self {
        Self {
            families: Arc::clone(families),
            name: families.app.names.intern(name),
        }
    }

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
        let families = &self.families;
        with_current(|context| {
            let route = match context {
                Some(context) => {
                    context.count_cache(result);
                    &context.route_metrics().name
                }
                None => &families.http.outside.name,
            };
            families.app.cache.record(&self.name, route, result);
        });
    }
}
