//! A lock-free classic histogram: one atomic counter per bucket and an
//! integer sum (nanoseconds, bytes), so an observation is a few atomic adds
//! and no compare-and-swap loop. Bounds live once in the metric family, not
//! per series.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::encoding::{Exemplar, HistogramSnapshot};

#[derive(Debug)]
pub(crate) struct Histogram {
    /// Non-cumulative counts; the last slot is the `+Inf` bucket.
    buckets: Box<[AtomicU64]>,
    /// Sum in integer units (nanoseconds, bytes); scaled when rendered.
    sum: AtomicU64,
    /// The latest exemplar per bucket, allocated on the first one.
    exemplars: OnceLock<Box<[Mutex<Option<Exemplar>>]>>,
}

impl Histogram {
    pub(crate) fn new(bounds: &[f64]) -> Self {
        Self {
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            exemplars: OnceLock::new(),
        }
    }

    /// Observes `value` (in the unit of `bounds`), adding `units` to the
    /// integer sum.
    pub(crate) fn observe(&self, bounds: &[f64], value: f64, units: u64) {
        // `le` semantics: the first bucket whose bound is >= value.
        let index = bounds.partition_point(|bound| *bound < value);
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(units, Ordering::Relaxed);
    }

    /// [`observe`](Self::observe), keeping `exemplar` as its bucket's
    /// latest (one per bucket, as OpenMetrics allows).
    pub(crate) fn observe_with_exemplar(
        &self,
        bounds: &[f64],
        value: f64,
        units: u64,
        exemplar: Exemplar,
    ) {
        self.observe(bounds, value, units);
        let index = bounds.partition_point(|bound| *bound < value);
        let slots = self
            .exemplars
            .get_or_init(|| (0..=bounds.len()).map(|_| Mutex::new(None)).collect());
        if let Some(slot) = slots.get(index) {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(exemplar);
        }
    }

    /// Adds this histogram's per-bucket (non-cumulative) counts into `out`,
    /// which has one slot per bucket, `+Inf` last.
    pub(crate) fn add_counts(&self, out: &mut [u64]) {
        for (slot, bucket) in out.iter_mut().zip(self.buckets.iter()) {
            *slot += bucket.load(Ordering::Relaxed);
        }
    }

    /// A copy for rendering; `unit` converts the integer sum (1e-9 for
    /// nanoseconds to seconds).
    pub(crate) fn snapshot(&self, unit: f64) -> HistogramSnapshot {
        let mut total = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|b| {
                total += b.load(Ordering::Relaxed);
                total
            })
            .collect();
        let exemplars = self.exemplars.get().map_or_else(Vec::new, |slots| {
            slots
                .iter()
                .map(|slot| *slot.lock().unwrap_or_else(|p| p.into_inner()))
                .collect()
        });
        HistogramSnapshot {
            cumulative,
            sum: self.sum.load(Ordering::Relaxed) as f64 * unit,
            exemplars,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_le_and_cumulative() {
        let bounds = [0.1, 1.0];
        let h = Histogram::new(&bounds);
        for ms in [50, 100, 500, 1000, 3000] {
            h.observe(&bounds, ms as f64 / 1e3, ms * 1_000_000);
        }
        let s = h.snapshot(1e-9);
        assert_eq!(s.cumulative, vec![2, 4, 5]);
        assert_eq!(s.count(), 5);
        assert!((s.sum - 4.65).abs() < 1e-9);
    }
}
