//! Rolling windows over the HTTP duration histograms, computed in-process
//! from their deltas: per route, the requests, 5xx and bucket counts of
//! each [`TICK`] of the last [`TICKS_KEPT`] ticks, from which the console
//! derives rates, error ratios and quantiles over the last minute and the
//! last five, and a sparkline. No Prometheus needed.
//!
//! The cost is off the request path: a tick reads the histograms' atomics
//! (as a scrape does) every [`TICK`]. Memory is bounded: at most
//! [`MAX_ROUTES`] routes are followed, fewer when the configured buckets
//! are many, so the windows stay within [`BUDGET_BYTES`].

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::metrics::HttpMetrics;

/// How often the windows advance.
pub(crate) const TICK: Duration = Duration::from_secs(10);
/// Ticks kept: five minutes.
pub(crate) const TICKS_KEPT: usize = 30;
/// Routes followed at most.
pub(crate) const MAX_ROUTES: usize = 200;
/// What the windows may hold, whatever the traffic and the buckets.
pub(crate) const BUDGET_BYTES: usize = 480 * 1024;

/// Slots per route and tick: requests, 5xx, then the duration buckets.
const REQUESTS: usize = 0;
const ERRORS: usize = 1;
const FIRST_BUCKET: usize = 2;

/// One followed route.
#[derive(Debug)]
struct Followed {
    route: Arc<str>,
    /// Cumulative counts at the last tick.
    last: Box<[u64]>,
    /// Per-tick deltas, `TICKS_KEPT` rows of `stride`, oldest overwritten.
    deltas: Box<[u32]>,
}

/// Counts over one window of one route.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WindowCounts {
    pub(crate) requests: u64,
    pub(crate) errors: u64,
    /// Per duration bucket (not cumulative), `+Inf` last.
    pub(crate) buckets: Vec<u64>,
    /// The time the window actually covers.
    pub(crate) covered: Duration,
}

impl WindowCounts {
    /// Requests per second over the covered time.
    pub(crate) fn rate(&self) -> f64 {
        let seconds = self.covered.as_secs_f64();
        if seconds > 0.0 {
            self.requests as f64 / seconds
        } else {
            0.0
        }
    }

    /// The `q` quantile in seconds, interpolated linearly inside its
    /// bucket as Prometheus' `histogram_quantile` does; `None` without
    /// requests. In the `+Inf` bucket: the highest finite bound.
    pub(crate) fn quantile(&self, q: f64, bounds: &[f64]) -> Option<f64> {
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = q * total as f64;
        let mut below = 0u64;
        for (i, &count) in self.buckets.iter().enumerate() {
            if (below + count) as f64 >= rank && count > 0 {
                let Some(&upper) = bounds.get(i) else {
                    return bounds.last().copied();
                };
                let lower = if i == 0 { 0.0 } else { bounds[i - 1] };
                let inside = (rank - below as f64) / count as f64;
                return Some(lower + (upper - lower) * inside.clamp(0.0, 1.0));
            }
            below += count;
        }
        bounds.last().copied()
    }
}

/// One route's numbers for the console.
#[derive(Debug, Clone)]
pub(crate) struct RouteWindows {
    pub(crate) route: Arc<str>,
    pub(crate) last_minute: WindowCounts,
    pub(crate) last_five: WindowCounts,
    /// Requests and 5xx per second, one point per tick, oldest first; the
    /// tick in progress last.
    pub(crate) spark: Vec<(f64, f64)>,
}

/// The windows of one `Observe`.
#[derive(Debug)]
pub(crate) struct Windows {
    /// When following began: the start of the first tick.
    start: Instant,
    /// The end of each kept tick, oldest first.
    ticks: VecDeque<Instant>,
    /// The ring's row of the newest tick.
    newest: usize,
    routes: Vec<Followed>,
    /// The routes that had requests at the last tick (or when following
    /// began): one not among them had all its requests since.
    had_traffic: HashSet<Arc<str>>,
    stride: usize,
    max_routes: usize,
}

/// Cumulative counts per route now: requests, 5xx, buckets.
fn cumulative(http: &HttpMetrics, stride: usize) -> Vec<(Arc<str>, Vec<u64>)> {
    http.snapshot_routes()
        .into_iter()
        .map(|route| {
            let mut counts = vec![0u64; stride];
            for series in route.snapshot_series() {
                let before: u64 = counts[FIRST_BUCKET..].iter().sum();
                series.duration.add_counts(&mut counts[FIRST_BUCKET..]);
                let added = counts[FIRST_BUCKET..].iter().sum::<u64>() - before;
                counts[REQUESTS] += added;
                if series.key.status >= 500 {
                    counts[ERRORS] += added;
                }
            }
            (Arc::clone(&route.name), counts)
        })
        .collect()
}

impl Windows {
    /// Windows over `http`'s duration histograms from `start` on: what
    /// was counted before is the baseline.
    pub(crate) fn new(http: &HttpMetrics, start: Instant) -> Self {
        let stride = FIRST_BUCKET + http.shared.buckets.duration.len() + 1;
        let mut windows = Self {
            start,
            ticks: VecDeque::with_capacity(TICKS_KEPT),
            newest: TICKS_KEPT - 1,
            routes: Vec::new(),
            had_traffic: HashSet::new(),
            stride,
            max_routes: Self::routes_within_budget(stride),
        };
        for (route, counts) in cumulative(http, stride) {
            if counts[REQUESTS] == 0 {
                continue;
            }
            if windows.routes.len() < windows.max_routes {
                windows.routes.push(windows.follow(&route, counts.clone()));
            }
            windows.had_traffic.insert(route);
        }
        windows
    }

    fn follow(&self, route: &Arc<str>, last: Vec<u64>) -> Followed {
        Followed {
            route: Arc::clone(route),
            last: last.into_boxed_slice(),
            deltas: vec![0; self.stride * TICKS_KEPT].into_boxed_slice(),
        }
    }

    fn bytes_per_route(stride: usize) -> usize {
        stride * (8 + 4 * TICKS_KEPT) + std::mem::size_of::<Followed>() + 2 * 16
    }

    fn routes_within_budget(stride: usize) -> usize {
        (BUDGET_BYTES / Self::bytes_per_route(stride)).clamp(1, MAX_ROUTES)
    }

    /// Bytes held at most (the seen-route set aside: it points at the
    /// families' own names).
    #[cfg(test)]
    pub(crate) fn max_bytes(&self) -> usize {
        self.max_routes * Self::bytes_per_route(self.stride)
            + TICKS_KEPT * std::mem::size_of::<Instant>()
    }

    /// Routes followed at most.
    #[cfg(test)]
    pub(crate) fn max_routes(&self) -> usize {
        self.max_routes
    }

    /// Closes the tick in progress at `now`.
    pub(crate) fn tick(&mut self, http: &HttpMetrics, now: Instant) {
        let stride = self.stride;
        let live = cumulative(http, stride);
        self.newest = (self.newest + 1) % TICKS_KEPT;
        let row = self.newest * stride..(self.newest + 1) * stride;
        for followed in &mut self.routes {
            followed.deltas[row.clone()].fill(0);
        }
        let mut had_traffic = HashSet::with_capacity(live.len());
        for (route, counts) in live {
            let followed = match self.routes.iter().position(|f| f.route == route) {
                Some(at) => Some(&mut self.routes[at]),
                None if counts[REQUESTS] > 0 && self.routes.len() < self.max_routes => {
                    // A route without requests at the last tick had all
                    // its requests in this one.
                    let last = if self.had_traffic.contains(&route) {
                        counts.clone()
                    } else {
                        vec![0; stride]
                    };
                    let followed = self.follow(&route, last);
                    self.routes.push(followed);
                    self.routes.last_mut()
                }
                None => None,
            };
            if let Some(followed) = followed {
                for (i, (&now, last)) in counts.iter().zip(followed.last.iter_mut()).enumerate() {
                    let delta = now.saturating_sub(*last);
                    followed.deltas[row.start + i] = u32::try_from(delta).unwrap_or(u32::MAX);
                    *last = now;
                }
            }
            if counts[REQUESTS] > 0 {
                had_traffic.insert(route);
            }
        }
        self.had_traffic = had_traffic;
        if self.ticks.len() == TICKS_KEPT {
            self.ticks.pop_front();
        }
        self.ticks.push_back(now);
    }

    /// The ring row of the `age`-th newest tick (0: the newest).
    fn row(&self, age: usize) -> usize {
        (self.newest + TICKS_KEPT - age) % TICKS_KEPT
    }

    /// Every followed route's windows at `now`, with the tick in progress
    /// read live from `http`.
    pub(crate) fn read(&self, http: &HttpMetrics, now: Instant) -> Vec<RouteWindows> {
        let stride = self.stride;
        let live = cumulative(http, stride);
        let last_tick = self.ticks.back().copied().unwrap_or(self.start);
        let in_progress = now.saturating_duration_since(last_tick);
        // Routes whose first requests came after the last tick: shown at
        // once, followed from the next tick (while there is room).
        let arrived: Vec<Followed> = live
            .iter()
            .filter(|(route, counts)| {
                counts[REQUESTS] > 0
                    && !self.had_traffic.contains(route)
                    && !self.routes.iter().any(|f| f.route == *route)
            })
            .map(|(route, _)| self.follow(route, vec![0; stride]))
            .collect();
        self.routes
            .iter()
            .chain(&arrived)
            .map(|followed| {
                let current: Vec<u64> = live
                    .iter()
                    .find(|(route, _)| *route == followed.route)
                    .map(|(_, counts)| {
                        counts
                            .iter()
                            .zip(followed.last.iter())
                            .map(|(now, last)| now.saturating_sub(*last))
                            .collect()
                    })
                    .unwrap_or_else(|| vec![0; stride]);
                let window = |span: Duration| self.window(followed, &current, now, span);
                let mut spark: Vec<(f64, f64)> = (0..self.ticks.len())
                    .rev()
                    .map(|age| {
                        let at = self.row(age) * stride;
                        let seconds = self.tick_length(self.ticks.len() - 1 - age);
                        (
                            f64::from(followed.deltas[at + REQUESTS]) / seconds,
                            f64::from(followed.deltas[at + ERRORS]) / seconds,
                        )
                    })
                    .collect();
                let seconds = in_progress.as_secs_f64().max(1.0);
                spark.push((
                    current[REQUESTS] as f64 / seconds,
                    current[ERRORS] as f64 / seconds,
                ));
                RouteWindows {
                    route: Arc::clone(&followed.route),
                    last_minute: window(Duration::from_secs(60)),
                    last_five: window(Duration::from_secs(300)),
                    spark,
                }
            })
            .collect()
    }

    /// When the kept tick at `index` (0: the oldest) began.
    fn began(&self, index: usize) -> Instant {
        match index {
            0 if self.ticks.len() < TICKS_KEPT => self.start,
            0 => self.ticks[0].checked_sub(TICK).unwrap_or(self.ticks[0]),
            i => self.ticks[i - 1],
        }
    }

    /// The length in seconds of the kept tick at `index` (0: the oldest).
    fn tick_length(&self, index: usize) -> f64 {
        self.ticks[index]
            .saturating_duration_since(self.began(index))
            .as_secs_f64()
            .max(1e-3)
    }

    /// The counts of the ticks that ended within `span` of `now`, plus the
    /// tick in progress.
    fn window(
        &self,
        followed: &Followed,
        current: &[u64],
        now: Instant,
        span: Duration,
    ) -> WindowCounts {
        let stride = self.stride;
        let mut sums = current.to_vec();
        let mut from = self.ticks.back().copied().unwrap_or(self.start);
        let since = now.checked_sub(span);
        for index in (0..self.ticks.len()).rev() {
            // A tick counts when it began within the span.
            let began = self.began(index);
            if since.is_some_and(|since| began < since) {
                break;
            }
            let age = self.ticks.len() - 1 - index;
            let at = self.row(age) * stride;
            for (sum, delta) in sums.iter_mut().zip(&followed.deltas[at..at + stride]) {
                *sum += u64::from(*delta);
            }
            from = began;
        }
        WindowCounts {
            requests: sums[REQUESTS],
            errors: sums[ERRORS],
            buckets: sums[FIRST_BUCKET..].to_vec(),
            covered: now.saturating_duration_since(from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Observation, Outcome, SeriesKey};

    fn http() -> HttpMetrics {
        HttpMetrics::new(&[], vec![0.1, 1.0], vec![100.0], &[], 10, false)
    }

    fn observe(http: &HttpMetrics, route: &str, status: u16, ms: u64, times: usize) {
        let metrics = http.route(Some(route));
        for _ in 0..times {
            metrics.observe(
                SeriesKey {
                    labels: [0; 3],
                    method: 0,
                    status,
                    outcome: Outcome::Completed,
                },
                &Observation {
                    duration_nanos: ms * 1_000_000,
                    request_body_size: None,
                    response_body_size: 0,
                    trace: None,
                },
            );
        }
    }

    #[test]
    fn windows_count_what_happened_in_them() {
        let http = http();
        observe(&http, "/before", 200, 5, 50);
        let start = Instant::now();
        let mut windows = Windows::new(&http, start);
        let at = |s: u64| start + Duration::from_secs(s);
        // Requests before following began are not counted.
        windows.tick(&http, at(10));
        observe(&http, "/users/{id}", 200, 50, 90);
        observe(&http, "/users/{id}", 500, 500, 10);
        // Shown before the next tick.
        let early = windows.read(&http, at(15));
        let users = early.iter().find(|r| &*r.route == "/users/{id}").unwrap();
        assert_eq!(users.last_minute.requests, 100);
        assert_eq!(users.last_minute.errors, 10);
        windows.tick(&http, at(20));
        // Four minutes of quiet, then one slow request in progress.
        for s in 3..27 {
            windows.tick(&http, at(s * 10));
        }
        observe(&http, "/users/{id}", 200, 2000, 1);
        let read = windows.read(&http, at(275));
        let users = read.iter().find(|r| &*r.route == "/users/{id}").unwrap();
        assert_eq!(users.last_minute.requests, 1);
        assert_eq!(users.last_minute.errors, 0);
        assert_eq!(users.last_five.requests, 101);
        assert_eq!(users.last_five.errors, 10);
        assert_eq!(users.last_five.covered, Duration::from_secs(275));
        assert_eq!(users.last_minute.quantile(0.5, &[0.1, 1.0]), Some(1.0));
        let p50 = users.last_five.quantile(0.5, &[0.1, 1.0]).unwrap();
        assert!((0.05..=0.1).contains(&p50), "{p50}");
        assert_eq!(users.spark.len(), 27);
        assert!((users.spark[1].0 - 10.0).abs() < 1e-9, "{:?}", users.spark);
        assert!((users.spark[1].1 - 1.0).abs() < 1e-9);
        assert!(
            read.iter()
                .all(|r| &*r.route != "/before" || r.last_five.requests == 0)
        );
        // Past five minutes, the burst leaves the window.
        for s in 27..40 {
            windows.tick(&http, at(s * 10));
        }
        let read = windows.read(&http, at(401));
        let users = read.iter().find(|r| &*r.route == "/users/{id}").unwrap();
        assert_eq!(users.last_five.requests, 1);
        assert_eq!(users.spark.len(), TICKS_KEPT + 1);
    }

    #[test]
    fn routes_followed_stay_within_the_budget() {
        let buckets = |n: usize| {
            let bounds = (1..n).map(|i| i as f64).collect();
            HttpMetrics::new(&[], bounds, vec![100.0], &[], 10, false)
        };
        let small = Windows::new(&buckets(15), Instant::now());
        assert_eq!(small.max_routes(), MAX_ROUTES);
        assert!(small.max_bytes() <= BUDGET_BYTES + TICKS_KEPT * 16);
        let many_buckets = Windows::new(&buckets(200), Instant::now());
        assert!(many_buckets.max_routes() < MAX_ROUTES);
        assert!(many_buckets.max_bytes() <= BUDGET_BYTES + TICKS_KEPT * 16);
    }

    #[test]
    fn quantiles_interpolate_like_prometheus() {
        let counts = WindowCounts {
            requests: 100,
            errors: 0,
            buckets: vec![50, 50, 0],
            covered: Duration::from_secs(60),
        };
        assert_eq!(counts.quantile(0.5, &[0.1, 1.0]), Some(0.1));
        let p99 = counts.quantile(0.99, &[0.1, 1.0]).unwrap();
        assert!((p99 - 0.982).abs() < 1e-9, "{p99}");
        let inf = WindowCounts {
            buckets: vec![0, 0, 3],
            ..counts
        };
        assert_eq!(inf.quantile(0.5, &[0.1, 1.0]), Some(1.0));
    }
}
