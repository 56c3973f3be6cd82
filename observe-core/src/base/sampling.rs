//! Tail sampling of request events: which finished requests keep their
//! event line. Off by default (every request keeps its event).

use std::cell::Cell;
use std::time::Duration;

/// How an `Observe` samples its request events, decided when a request
/// has finished, so every interesting one is kept: every failed (5xx),
/// cancelled, panicked or slow request keeps its event, and one in `every`
/// of the fast successful ones; each kept event carries `sample_rate`,
/// how many requests it stands for, so counts from the log store stay
/// unbiased. Metrics always see every request.
///
/// ```
/// use std::time::Duration;
/// use observe_core::EventSampling;
/// let sampling = EventSampling::keep_ratio(0.1).slow_above(Duration::from_millis(500));
/// let observe = observe_core::Observe::builder().event_sampling(sampling).build().unwrap();
/// # let _ = observe;
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventSampling {
    /// One in `every` fast successful requests keeps its event.
    every: u32,
    /// A request at least this slow always keeps its event.
    slow: Duration,
}

/// Default for [`EventSampling::slow_above`].
pub const DEFAULT_SLOW_EVENT: Duration = Duration::from_secs(1);

impl Default for EventSampling {
    /// Every event kept.
    fn default() -> Self {
        Self {
            every: 1,
            slow: DEFAULT_SLOW_EVENT,
        }
    }
}

impl EventSampling {
    /// Keeps `ratio` (0 < ratio ≤ 1) of the fast successful requests'
    /// events, as one in `round(1 / ratio)`; a ratio outside that range is
    /// taken as 1 (see [`ObserveBuilder::build`](crate::ObserveBuilder::build),
    /// which rejects it, naming the value).
    pub fn keep_ratio(ratio: f64) -> Self {
        let every = if ratio > 0.0 && ratio <= 1.0 {
            (1.0 / ratio).round().clamp(1.0, f64::from(u32::MAX)) as u32
        } else {
            1
        };
        Self {
            every,
            slow: DEFAULT_SLOW_EVENT,
        }
    }

    /// Requests at least this slow always keep their event (default one
    /// second).
    pub fn slow_above(mut self, threshold: Duration) -> Self {
        self.slow = threshold;
        self
    }

    /// Whether sampling is on (some events may be left out).
    pub(crate) fn is_on(&self) -> bool {
        self.every > 1
    }

    /// The `sample_rate` of a finished request's event, or `None` when the
    /// event is left out. `failed`: 5xx, panic or cancelled.
    pub(crate) fn decide(&self, failed: bool, duration: Duration) -> Option<u32> {
        if self.every <= 1 || failed || duration >= self.slow {
            return Some(1);
        }
        thread_local! {
            static SEEN: Cell<u32> = const { Cell::new(0) };
        }
        // A counter per thread: no shared cache line, and over many
        // requests exactly one in `every` on each thread.
        let seen = SEEN.get();
        SEEN.set(seen.wrapping_add(1));
        seen.is_multiple_of(self.every).then_some(self.every)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_and_slow_requests_always_keep_their_event() {
        let sampling = EventSampling::keep_ratio(0.1).slow_above(Duration::from_millis(500));
        let fast = Duration::from_millis(5);
        let kept: Vec<_> = (0..1000)
            .filter_map(|_| sampling.decide(false, fast))
            .collect();
        assert_eq!(kept.len(), 100);
        assert!(kept.iter().all(|rate| *rate == 10));
        assert_eq!(sampling.decide(true, fast), Some(1));
        assert_eq!(sampling.decide(false, Duration::from_millis(500)), Some(1));
        assert_eq!(EventSampling::default().decide(false, fast), Some(1));
        assert_eq!(EventSampling::keep_ratio(0.0), EventSampling::default());
    }
}
