//! The HTTP server metrics of the OpenTelemetry semantic conventions, stored
//! so that recording a request costs two read-locked hash lookups and a few
//! atomic adds, and a scrape holds a lock only while copying pointers.

mod histogram;
pub mod labels;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::SystemTime;

pub(crate) use histogram::{Exemplar, Histogram, HistogramSnapshot};
use labels::{Methods, OUTSIDE_REQUEST_ROUTE, OVERFLOW_ROUTE, UNMATCHED_ROUTE};

/// Bucket bounds (seconds) advised by the OpenTelemetry HTTP semantic
/// conventions for `http.server.request.duration`.
pub const DEFAULT_DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Bucket bounds (bytes) for request and response body sizes: powers of four
/// from 64 B to 16 MiB, which separates empty, small JSON, pages and uploads.
pub const DEFAULT_SIZE_BUCKETS: [f64; 10] = [
    64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
];

/// How a request ended, as far as the `error_type` label is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub(crate) enum Outcome {
    /// A response was fully sent; `error_type` is the status code for 5xx.
    Completed = 0,
    /// The handler panicked; answered with a 500.
    Panic = 1,
    /// The request future or the response body was dropped before the end.
    Cancelled = 2,
}

/// Identity of one series within a route: method index, status, outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct SeriesKey {
    pub(crate) method: u8,
    pub(crate) status: u16,
    pub(crate) outcome: Outcome,
}

impl SeriesKey {
    fn packed(self) -> u32 {
        (u32::from(self.method) << 24) | ((self.outcome as u32) << 16) | u32::from(self.status)
    }
}

/// A tiny multiplicative hasher: keys are short, trusted route templates and
/// packed integers, so SipHash's DoS resistance buys nothing here and costs
/// a measurable share of the per-request budget.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// The three histograms that share one label set.
#[derive(Debug)]
pub(crate) struct Series {
    pub(crate) key: SeriesKey,
    /// Unix time of the first observation, for the OpenMetrics `_created`.
    pub(crate) created: f64,
    pub(crate) duration: Histogram,
    pub(crate) request_size: Histogram,
    pub(crate) response_size: Histogram,
}

/// Bucket bounds of the histogram families, shared by every route.
#[derive(Debug)]
pub(crate) struct Buckets {
    pub(crate) duration: Box<[f64]>,
    pub(crate) size: Box<[f64]>,
}

/// `http_server_active_requests`, by method. No route label: frameworks
/// route after middleware runs (actix-web would have to route every request
/// twice to know it), and the OpenTelemetry conventions leave it out too.
#[derive(Debug)]
pub(crate) struct ActiveRequests {
    by_method: Box<[AtomicI64]>,
    /// Bit `i` set once method `i` has been in flight, so the gauge shows 0
    /// afterwards instead of vanishing.
    seen: AtomicU64,
}

impl ActiveRequests {
    fn new(methods: usize) -> Self {
        Self {
            by_method: (0..methods).map(|_| AtomicI64::new(0)).collect(),
            seen: AtomicU64::new(0),
        }
    }

    pub(crate) fn inc(&self, method: u8) {
        self.by_method[usize::from(method)].fetch_add(1, Ordering::Relaxed);
        let bit = 1u64 << method;
        if self.seen.load(Ordering::Relaxed) & bit == 0 {
            self.seen.fetch_or(bit, Ordering::Relaxed);
        }
    }

    pub(crate) fn dec(&self, method: u8) {
        self.by_method[usize::from(method)].fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Vec<(u8, i64)> {
        let seen = self.seen.load(Ordering::Relaxed);
        (0..self.by_method.len())
            .filter(|i| seen & (1u64 << i) != 0)
            .map(|i| {
                let index = u8::try_from(i).expect("at most 42 methods");
                (index, self.by_method[i].load(Ordering::Relaxed))
            })
            .collect()
    }
}

/// What every route shares: bucket bounds and the in-flight gauge, reached
/// through the route a tracker already holds, so no extra reference count
/// is taken per request.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) buckets: Buckets,
    pub(crate) active: ActiveRequests,
}

/// One finished request, as the histograms see it.
pub(crate) struct Observation {
    pub(crate) duration_nanos: u64,
    pub(crate) request_body_size: Option<u64>,
    pub(crate) response_body_size: u64,
    /// The request's trace, when sampled and exported: kept as exemplar.
    pub(crate) trace: Option<crate::trace::TraceIds>,
}

/// Everything recorded for one `http_route` label value.
#[derive(Debug)]
pub struct RouteMetrics {
    pub(crate) name: Arc<str>,
    pub(crate) excluded: bool,
    shared: Arc<Shared>,
    series: RwLock<FastMap<u32, Arc<Series>>>,
    /// The route's first series (usually its `200`), reachable without the
    /// lock or a hash.
    hot: OnceLock<(u32, Arc<Series>)>,
}

impl RouteMetrics {
    fn new(name: &str, excluded: bool, shared: &Arc<Shared>) -> Self {
        Self {
            name: name.into(),
            excluded,
            shared: Arc::clone(shared),
            series: RwLock::default(),
            hot: OnceLock::new(),
        }
    }

    pub(crate) fn active(&self) -> &ActiveRequests {
        &self.shared.active
    }

    /// Records a finished request in the series for `key`, created on
    /// first use. The common case holds a read lock for one hash lookup and
    /// a few atomic adds, and clones nothing.
    pub(crate) fn observe(&self, key: SeriesKey, observation: &Observation) {
        let packed = key.packed();
        if let Some((hot, series)) = self.hot.get()
            && *hot == packed
        {
            self.observe_in(series, observation);
            return;
        }
        if let Some(series) = read(&self.series).get(&packed) {
            self.observe_in(series, observation);
            return;
        }
        let mut map = self.series.write().unwrap_or_else(|p| p.into_inner());
        let series = map.entry(packed).or_insert_with(|| {
            let series = Arc::new(Series {
                key,
                created: unix_now(),
                duration: Histogram::new(&self.shared.buckets.duration),
                request_size: Histogram::new(&self.shared.buckets.size),
                response_size: Histogram::new(&self.shared.buckets.size),
            });
            let _ = self.hot.set((packed, Arc::clone(&series)));
            series
        });
        self.observe_in(series, observation);
    }

    fn observe_in(&self, series: &Series, observation: &Observation) {
        let buckets = &self.shared.buckets;
        let nanos = observation.duration_nanos;
        let seconds = nanos as f64 * 1e-9;
        match &observation.trace {
            Some(ids) => series.duration.observe_with_exemplar(
                &buckets.duration,
                seconds,
                nanos,
                Exemplar {
                    trace_id: ids.trace_id,
                    span_id: ids.span_id,
                    value: seconds,
                    timestamp: unix_now(),
                },
            ),
            None => series.duration.observe(&buckets.duration, seconds, nanos),
        }
        if let Some(size) = observation.request_body_size {
            series
                .request_size
                .observe(&buckets.size, size as f64, size);
        }
        let size = observation.response_body_size;
        series
            .response_size
            .observe(&buckets.size, size as f64, size);
    }

    pub(crate) fn snapshot_series(&self) -> Vec<Arc<Series>> {
        read(&self.series).values().cloned().collect()
    }
}

/// Read-lock that survives poisoning: the maps hold only atomics and
/// pointers, so a panic elsewhere cannot leave them half-updated.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The HTTP metric families of one [`crate::Observe`].
#[derive(Debug)]
pub(crate) struct HttpMetrics {
    pub(crate) methods: Methods,
    pub(crate) shared: Arc<Shared>,
    routes: RwLock<FastMap<Box<str>, Arc<RouteMetrics>>>,
    unmatched: Arc<RouteMetrics>,
    overflow: Arc<RouteMetrics>,
    /// The `http_route` of application metrics recorded outside a request.
    pub(crate) outside: Arc<RouteMetrics>,
    max_routes: usize,
    /// Requests recorded under `_OVERFLOW` because the route table was full.
    pub(crate) route_overflowed: AtomicU64,
}

impl HttpMetrics {
    pub(crate) fn new(
        extra_methods: &[String],
        duration_buckets: Vec<f64>,
        size_buckets: Vec<f64>,
        excluded_routes: &[String],
        max_routes: usize,
    ) -> Self {
        let methods = Methods::new(extra_methods);
        let n = methods.len();
        let shared = Arc::new(Shared {
            buckets: Buckets {
                duration: duration_buckets.into(),
                size: size_buckets.into(),
            },
            active: ActiveRequests::new(n),
        });
        let routes = excluded_routes
            .iter()
            .map(|r| {
                let metrics = RouteMetrics::new(r, true, &shared);
                (r.as_str().into(), Arc::new(metrics))
            })
            .collect();
        Self {
            methods,
            routes: RwLock::new(routes),
            unmatched: Arc::new(RouteMetrics::new(UNMATCHED_ROUTE, false, &shared)),
            overflow: Arc::new(RouteMetrics::new(OVERFLOW_ROUTE, false, &shared)),
            outside: Arc::new(RouteMetrics::new(OUTSIDE_REQUEST_ROUTE, false, &shared)),
            route_overflowed: AtomicU64::new(0),
            shared,
            max_routes,
        }
    }

    /// The metrics of `route` (a template such as `/users/{id}`), or of the
    /// fixed unmatched value for `None`.
    pub(crate) fn route(&self, route: Option<&str>) -> Arc<RouteMetrics> {
        let Some(route) = route else {
            return Arc::clone(&self.unmatched);
        };
        if let Some(found) = read(&self.routes).get(route) {
            return Arc::clone(found);
        }
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = routes.get(route) {
            return Arc::clone(found);
        }
        if routes.len() >= self.max_routes {
            self.route_overflowed.fetch_add(1, Ordering::Relaxed);
            return Arc::clone(&self.overflow);
        }
        let created = Arc::new(RouteMetrics::new(route, false, &self.shared));
        routes.insert(route.into(), Arc::clone(&created));
        created
    }

    /// Every route that can have series, sorted by
    /// name so the exposition is stable between scrapes.
    pub(crate) fn snapshot_routes(&self) -> Vec<Arc<RouteMetrics>> {
        let mut routes: Vec<_> = read(&self.routes)
            .values()
            .filter(|r| !r.excluded)
            .cloned()
            .chain([Arc::clone(&self.unmatched), Arc::clone(&self.overflow)])
            .collect();
        routes.sort_by(|a, b| a.name.cmp(&b.name));
        routes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(max_routes: usize) -> HttpMetrics {
        HttpMetrics::new(
            &[],
            DEFAULT_DURATION_BUCKETS.to_vec(),
            DEFAULT_SIZE_BUCKETS.to_vec(),
            &["/health".to_string()],
            max_routes,
        )
    }

    #[test]
    fn routes_are_shared_and_capped() {
        let m = metrics(3);
        let a = m.route(Some("/a"));
        assert!(Arc::ptr_eq(&a, &m.route(Some("/a"))));
        assert!(m.route(Some("/health")).excluded);
        assert_eq!(&*m.route(None).name, UNMATCHED_ROUTE);
        let _b = m.route(Some("/b"));
        // "/health", "/a" and "/b" fill the table of three.
        assert_eq!(&*m.route(Some("/c")).name, OVERFLOW_ROUTE);
    }

    #[test]
    fn series_are_created_once() {
        let m = metrics(10);
        let route = m.route(Some("/a"));
        let key = SeriesKey {
            method: 0,
            status: 200,
            outcome: Outcome::Completed,
        };
        let observation = Observation {
            duration_nanos: 10_000_000,
            request_body_size: None,
            response_body_size: 10,
            trace: None,
        };
        route.observe(key, &observation);
        route.observe(key, &observation);
        let series = route.snapshot_series();
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].duration.snapshot(1e-9).count(), 2);
        assert_eq!(series[0].request_size.snapshot(1.0).count(), 0);
    }
}
