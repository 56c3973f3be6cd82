//! The HTTP server metrics of the OpenTelemetry semantic conventions, stored
//! so that recording a request costs two read-locked hash lookups and a few
//! atomic adds, and a scrape holds a lock only while copying pointers.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use super::histogram::Histogram;
use super::labels::{Methods, OUTSIDE_REQUEST_ROUTE, OVERFLOW_ROUTE, UNMATCHED_ROUTE};
use super::request_labels::{HttpLabels, LabelIds};
use crate::base::hash::FastMap;
use crate::base::ids::TraceIds;
use crate::base::time::unix_now;
use crate::encoding::protobuf::{self, HistogramSeries, wire::Writer};
use crate::encoding::{
    Exemplar, Format, NativeHistograms, escape_label_value, header, write_histogram,
};

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
    /// The request-derived labels' value ids ([`HttpLabels`]).
    pub(crate) labels: LabelIds,
}

impl SeriesKey {
    fn packed(self) -> u64 {
        let [a, b, c] = self.labels;
        (u64::from(a) << 56)
            | (u64::from(b) << 48)
            | (u64::from(c) << 40)
            | (u64::from(self.method) << 24)
            | ((self.outcome as u64) << 16)
            | u64::from(self.status)
    }
}

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

    /// Requests in flight, every method together.
    pub(crate) fn total(&self) -> u64 {
        self.by_method
            .iter()
            .map(|n| n.load(Ordering::Relaxed).max(0).unsigned_abs())
            .sum()
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
    /// Whether duration histograms carry native buckets.
    pub(crate) native: bool,
}

/// One finished request, as the histograms see it.
pub(crate) struct Observation {
    pub(crate) duration_nanos: u64,
    pub(crate) request_body_size: Option<u64>,
    pub(crate) response_body_size: u64,
    /// The request's trace, when sampled and exported: kept as exemplar.
    pub(crate) trace: Option<TraceIds>,
}

/// Everything recorded for one `http_route` label value.
#[derive(Debug)]
pub(crate) struct RouteMetrics {
    pub(crate) name: Arc<str>,
    pub(crate) excluded: bool,
    shared: Arc<Shared>,
    series: RwLock<FastMap<u64, Arc<Series>>>,
    /// The route's first series (usually its `200`), reachable without the
    /// lock or a hash.
    hot: OnceLock<(u64, Arc<Series>)>,
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
                duration: match self.shared.native {
                    true => Histogram::with_native(&self.shared.buckets.duration),
                    false => Histogram::new(&self.shared.buckets.duration),
                },
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

/// The HTTP metric families of one `Observe`.
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
    /// The request-derived labels every series carries.
    pub(crate) labels: HttpLabels,
}

impl HttpMetrics {
    pub(crate) fn new(
        extra_methods: &[String],
        duration_buckets: Vec<f64>,
        size_buckets: Vec<f64>,
        excluded_routes: &[String],
        max_routes: usize,
        native_histograms: bool,
    ) -> Self {
        let methods = Methods::new(extra_methods);
        let n = methods.len();
        let shared = Arc::new(Shared {
            buckets: Buckets {
                duration: duration_buckets.into(),
                size: size_buckets.into(),
            },
            active: ActiveRequests::new(n),
            native: native_histograms,
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
            labels: HttpLabels::default(),
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

const DURATION: &str = "http_server_request_duration_seconds";
const REQUEST_SIZE: &str = "http_server_request_body_size_bytes";
const RESPONSE_SIZE: &str = "http_server_response_body_size_bytes";
const ACTIVE: &str = "http_server_active_requests";

/// One of the three histogram families that share a series' label set.
struct HistogramFamily<'a> {
    name: &'static str,
    unit: &'static str,
    help: &'static str,
    bounds: &'a [f64],
    /// Converts the integer sum to the family's unit.
    sum_unit: f64,
    pick: fn(&Series) -> &Histogram,
}

impl HttpMetrics {
    /// Writes the three histogram families, and the duration series' native
    /// buckets into `natives` when given one.
    pub(crate) fn render_histograms(
        &self,
        out: &mut String,
        format: Format,
        const_labels: &str,
        mut natives: Option<&mut NativeHistograms>,
    ) {
        let series = self.series_snapshot();
        let mut labels = String::with_capacity(256);
        for family in self.histogram_families() {
            let name = family.name;
            header(
                out,
                format,
                name,
                "histogram",
                Some(family.unit),
                family.help,
            );
            for (route, s) in &series {
                let histogram = (family.pick)(s);
                // Native first: read before the classic buckets, they
                // rarely count more than the series' count.
                let native = match natives {
                    Some(_) => histogram.native_snapshot(),
                    None => None,
                };
                let snapshot = histogram.snapshot(family.sum_unit);
                if snapshot.count() == 0 {
                    continue;
                }
                labels.clear();
                self.series_labels(&mut labels, route, s, const_labels);
                if let (Some(natives), Some(native)) = (natives.as_deref_mut(), native) {
                    natives.insert(name, labels.clone(), native);
                }
                write_histogram(
                    out,
                    format,
                    name,
                    &labels,
                    family.bounds,
                    &snapshot,
                    s.created,
                );
            }
        }
    }

    /// The three histogram families in the protobuf format, straight from
    /// the series (no text in between): the same series, labels, buckets
    /// and exemplars [`render_histograms`](Self::render_histograms) writes
    /// in OpenMetrics, with the native buckets of those that have them.
    pub(crate) fn encode_histograms(&self, w: &mut Writer, const_labels: &str) {
        let series = self.series_snapshot();
        let mut encoded = Vec::with_capacity(series.len());
        for family in self.histogram_families() {
            encoded.clear();
            for (route, s) in &series {
                let histogram = (family.pick)(s);
                let native = histogram.native_snapshot();
                let snapshot = histogram.snapshot(family.sum_unit);
                if snapshot.count() == 0 {
                    continue;
                }
                let mut labels = String::with_capacity(128);
                self.series_labels(&mut labels, route, s, const_labels);
                encoded.push(HistogramSeries {
                    labels,
                    snapshot,
                    native,
                });
            }
            protobuf::write_histogram_family(
                w,
                family.name,
                family.unit,
                family.help,
                family.bounds,
                &encoded,
            );
        }
    }

    /// Every series, each with its route, routes in their order and each
    /// route's series by key: every family reads the same set.
    fn series_snapshot(&self) -> Vec<(Arc<RouteMetrics>, Arc<Series>)> {
        let routes = self.snapshot_routes();
        let mut series: Vec<(Arc<RouteMetrics>, Arc<Series>)> = Vec::new();
        for route in &routes {
            let mut of_route = route.snapshot_series();
            of_route.sort_by_key(|s| s.key);
            series.extend(of_route.into_iter().map(|s| (Arc::clone(route), s)));
        }
        series
    }

    /// Duration, request size and response size, in that order.
    fn histogram_families(&self) -> [HistogramFamily<'_>; 3] {
        [
            HistogramFamily {
                name: DURATION,
                unit: "seconds",
                help: "Duration of HTTP server requests, until the response body was sent.",
                bounds: &self.shared.buckets.duration,
                sum_unit: 1e-9,
                pick: |s| &s.duration,
            },
            HistogramFamily {
                name: REQUEST_SIZE,
                unit: "bytes",
                help: "Size of HTTP server request bodies, where the size was known.",
                bounds: &self.shared.buckets.size,
                sum_unit: 1.0,
                pick: |s| &s.request_size,
            },
            HistogramFamily {
                name: RESPONSE_SIZE,
                unit: "bytes",
                help: "Size of HTTP server response bodies as sent.",
                bounds: &self.shared.buckets.size,
                sum_unit: 1.0,
                pick: |s| &s.response_size,
            },
        ]
    }

    /// Writes `http_server_active_requests`.
    pub(crate) fn render_active(&self, out: &mut String, format: Format, const_labels: &str) {
        header(
            out,
            format,
            ACTIVE,
            "gauge",
            None,
            "Number of HTTP server requests in flight (until their body was sent), excluded routes included.",
        );
        for (method, value) in self.shared.active.snapshot() {
            out.push_str(ACTIVE);
            out.push_str("{http_request_method=\"");
            out.push_str(self.methods.name(method));
            out.push('"');
            out.push_str(const_labels);
            let _ = writeln!(out, "}} {value}");
        }
    }

    fn series_labels(
        &self,
        out: &mut String,
        route: &RouteMetrics,
        s: &Series,
        const_labels: &str,
    ) {
        let status = s.key.status;
        out.push_str("http_request_method=\"");
        out.push_str(self.methods.name(s.key.method));
        let _ = write!(
            out,
            "\",http_response_status_code=\"{status}\",http_route=\""
        );
        escape_label_value(out, &route.name);
        out.push('"');
        match s.key.outcome {
            Outcome::Panic => out.push_str(",error_type=\"panic\""),
            Outcome::Cancelled => out.push_str(",error_type=\"cancelled\""),
            Outcome::Completed if status >= 500 => {
                let _ = write!(out, ",error_type=\"{status}\"");
            }
            Outcome::Completed => {}
        }
        self.labels.write(out, &s.key.labels);
        out.push_str(const_labels);
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
            false,
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
            labels: [0; 3],
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
