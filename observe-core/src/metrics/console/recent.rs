//! The operator console's two request lists: the last failed requests, and
//! the slowest of the last minutes. Both are bounded, whatever the traffic.
//!
//! A request that neither failed nor is slower than the slowest kept this
//! minute costs two relaxed loads and a comparison: the lists lock only for
//! the requests they will keep.

use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::base::ids::TraceIds;
use crate::metrics::CallOutcome;

/// Failed requests kept: the newest.
pub(crate) const FAILED_KEPT: usize = 100;
/// Slow requests shown: the slowest of [`SLOW_WINDOW`].
pub(crate) const SLOWEST_KEPT: usize = 100;
/// How far back the slow list looks.
pub(crate) const SLOW_WINDOW: Duration = Duration::from_secs(300);
/// Dependency calls kept per request (the request's first ones).
pub(crate) const CALLS_KEPT: usize = 5;

/// The slow list keeps the slowest of each minute; a minute older than the
/// window is forgotten whole.
const SLOW_BUCKET: Duration = Duration::from_secs(60);
const SLOW_BUCKETS: usize = (SLOW_WINDOW.as_secs() / SLOW_BUCKET.as_secs()) as usize + 1;

/// One dependency call of a kept request.
#[derive(Debug, Clone)]
pub(crate) struct KeptCall {
    pub(crate) dependency: Arc<str>,
    pub(crate) operation: Arc<str>,
    pub(crate) duration: Duration,
    pub(crate) outcome: CallOutcome,
}

/// A finished request, as the console lists it: no header, no query, no
/// body, no client address; the ids, the route template and the timings.
#[derive(Debug, Clone)]
pub(crate) struct KeptRequest {
    /// When it ended, for display.
    pub(crate) at: SystemTime,
    /// When it ended, for the window.
    pub(crate) ended: Instant,
    pub(crate) method: Box<str>,
    pub(crate) route: Arc<str>,
    pub(crate) status: u16,
    pub(crate) error_type: Option<Box<str>>,
    pub(crate) duration: Duration,
    pub(crate) request_id: Box<str>,
    pub(crate) trace: TraceIds,
    /// The first [`CALLS_KEPT`] calls.
    pub(crate) calls: Vec<KeptCall>,
    /// Every call made, kept or not.
    pub(crate) calls_made: u32,
}

/// Ordered by duration, for the slow list's min-heap.
#[derive(Debug)]
struct BySlowness(Arc<KeptRequest>);

impl PartialEq for BySlowness {
    fn eq(&self, other: &Self) -> bool {
        self.0.duration == other.0.duration
    }
}

impl Eq for BySlowness {}

impl PartialOrd for BySlowness {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for BySlowness {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Reversed: the heap's top is the fastest kept, the one to evict.
        other.0.duration.cmp(&self.0.duration)
    }
}

/// The slowest requests of one minute.
#[derive(Debug)]
struct SlowMinute {
    minute: u64,
    kept: BinaryHeap<BySlowness>,
}

/// The two lists.
#[derive(Debug)]
pub(crate) struct Recent {
    epoch: Instant,
    failed: Mutex<VecDeque<Arc<KeptRequest>>>,
    slow: Mutex<VecDeque<SlowMinute>>,
    /// The minute the current slow bucket is for.
    slow_minute: AtomicU64,
    /// Nanoseconds a request must exceed to enter the current minute's
    /// list: the fastest kept once the list is full, 0 before.
    slow_floor: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Recent {
    pub(crate) fn new(epoch: Instant) -> Self {
        Self {
            epoch,
            failed: Mutex::new(VecDeque::with_capacity(FAILED_KEPT)),
            slow: Mutex::new(VecDeque::with_capacity(SLOW_BUCKETS)),
            slow_minute: AtomicU64::new(0),
            slow_floor: AtomicU64::new(0),
        }
    }

    fn minute(&self, ended: Instant) -> u64 {
        ended.saturating_duration_since(self.epoch).as_secs() / SLOW_BUCKET.as_secs()
    }

    /// Whether a request that ended at `ended` after `duration_nanos`
    /// would be kept: the hot path's whole cost for most requests.
    #[inline]
    pub(crate) fn wants(&self, failed: bool, ended: Instant, duration_nanos: u64) -> bool {
        failed
            || duration_nanos > self.slow_floor.load(Ordering::Relaxed)
            || self.minute(ended) != self.slow_minute.load(Ordering::Relaxed)
    }

    /// Keeps `request` in the lists it belongs to.
    pub(crate) fn keep(&self, request: KeptRequest, failed: bool) {
        let request = Arc::new(request);
        if failed {
            let mut list = lock(&self.failed);
            if list.len() == FAILED_KEPT {
                list.pop_front();
            }
            list.push_back(Arc::clone(&request));
        }
        let minute = self.minute(request.ended);
        let mut slow = lock(&self.slow);
        // A request finishing late in an old minute still counts there.
        let bucket = match slow.iter().position(|b| b.minute == minute) {
            Some(at) => at,
            None => {
                if slow.back().is_some_and(|b| b.minute > minute) {
                    // Older than every bucket kept: the window passed it.
                    return;
                }
                slow.push_back(SlowMinute {
                    minute,
                    kept: BinaryHeap::with_capacity(SLOWEST_KEPT + 1),
                });
                while slow.len() > SLOW_BUCKETS {
                    slow.pop_front();
                }
                slow.len() - 1
            }
        };
        let kept = &mut slow[bucket].kept;
        kept.push(BySlowness(request));
        if kept.len() > SLOWEST_KEPT {
            kept.pop();
        }
        let floor = if kept.len() == SLOWEST_KEPT {
            kept.peek().map_or(0, |fastest| {
                u64::try_from(fastest.0.duration.as_nanos()).unwrap_or(u64::MAX)
            })
        } else {
            0
        };
        if bucket == slow.len() - 1 {
            self.slow_minute.store(minute, Ordering::Relaxed);
            self.slow_floor.store(floor, Ordering::Relaxed);
        }
    }

    /// The failed requests kept, newest first.
    pub(crate) fn failed(&self) -> Vec<Arc<KeptRequest>> {
        lock(&self.failed).iter().rev().cloned().collect()
    }

    /// The [`SLOWEST_KEPT`] slowest requests that ended within
    /// [`SLOW_WINDOW`] of `now`, slowest first.
    pub(crate) fn slowest(&self, now: Instant) -> Vec<Arc<KeptRequest>> {
        let since = now.checked_sub(SLOW_WINDOW);
        let mut all: Vec<Arc<KeptRequest>> = lock(&self.slow)
            .iter()
            .flat_map(|bucket| bucket.kept.iter().map(|kept| Arc::clone(&kept.0)))
            .filter(|r| since.is_none_or(|since| r.ended >= since))
            .collect();
        all.sort_by_key(|r| std::cmp::Reverse(r.duration));
        all.truncate(SLOWEST_KEPT);
        all
    }

    /// Bytes held, at most: every slot full, each request at its largest.
    #[cfg(test)]
    pub(crate) fn max_bytes(request_id_max: usize, route_max: usize) -> usize {
        let call = std::mem::size_of::<KeptCall>();
        let request = std::mem::size_of::<KeptRequest>()
            + 2 * std::mem::size_of::<usize>() // the Arc's counts
            + request_id_max
            + 16 // method
            + 16 // error_type
            + CALLS_KEPT * call;
        // Routes and dependency names are shared with the metric families;
        // counted once per slot anyway, as an upper bound.
        let request = request + route_max;
        let slots = FAILED_KEPT + SLOW_BUCKETS * (SLOWEST_KEPT + 1);
        slots * (request + std::mem::size_of::<usize>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(ended: Instant, ms: u64, status: u16) -> KeptRequest {
        KeptRequest {
            at: SystemTime::now(),
            ended,
            method: "GET".into(),
            route: Arc::from("/users/{id}"),
            status,
            error_type: (status >= 500).then(|| status.to_string().into()),
            duration: Duration::from_millis(ms),
            request_id: format!("req-{ms}").into(),
            trace: TraceIds {
                trace_id: [1; 16],
                span_id: [2; 8],
                sampled: false,
            },
            calls: Vec::new(),
            calls_made: 0,
        }
    }

    #[test]
    fn keeps_the_newest_failures_and_the_slowest_of_the_window() {
        let epoch = Instant::now();
        let recent = Recent::new(epoch);
        for ms in 0..1000u64 {
            let ended = epoch + Duration::from_millis(ms);
            let failed = ms % 3 == 0;
            if recent.wants(failed, ended, ms * 1_000_000) {
                recent.keep(request(ended, ms, if failed { 500 } else { 200 }), failed);
            }
        }
        let failed = recent.failed();
        assert_eq!(failed.len(), FAILED_KEPT);
        assert_eq!(&*failed[0].request_id, "req-999");
        let slowest = recent.slowest(epoch + Duration::from_secs(1));
        assert_eq!(slowest.len(), SLOWEST_KEPT);
        assert_eq!(&*slowest[0].request_id, "req-999");
        assert_eq!(&*slowest[99].request_id, "req-900");
        // Once full, a fast request is not even built.
        let ended = epoch + Duration::from_millis(1000);
        assert!(!recent.wants(false, ended, 5_000_000));
        assert!(recent.wants(false, ended, 950_000_000));
    }

    #[test]
    fn a_new_minute_starts_a_new_list_and_old_ones_expire() {
        let epoch = Instant::now();
        let recent = Recent::new(epoch);
        let slow = |at: u64, ms: u64| {
            let ended = epoch + Duration::from_secs(at);
            if recent.wants(false, ended, ms * 1_000_000) {
                recent.keep(request(ended, ms, 200), false);
            }
        };
        slow(1, 5000);
        for i in 0..200 {
            slow(70, 10 + i);
        }
        // A fast request in a new minute is kept: that minute's list is empty.
        assert!(recent.wants(false, epoch + Duration::from_secs(130), 1));
        let now = epoch + Duration::from_secs(200);
        assert_eq!(recent.slowest(now)[0].duration, Duration::from_secs(5));
        // Five minutes on, the 5 s request is out of the window.
        let later = epoch + Duration::from_secs(302);
        let slowest = recent.slowest(later);
        assert_eq!(slowest.len(), SLOWEST_KEPT);
        assert_eq!(slowest[0].duration, Duration::from_millis(209));
        // Many minutes of traffic keep a bounded number of buckets.
        for minute in 0..20 {
            slow(minute * 60 + 400, 1);
        }
        assert!(lock(&recent.slow).len() <= SLOW_BUCKETS);
    }
}
