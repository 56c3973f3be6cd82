//! A lock-free classic histogram: one atomic counter per bucket and an
//! atomic `f64` sum. Bounds live once in the metric family, not per series.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub(crate) struct Histogram {
    /// Non-cumulative counts; the last slot is the `+Inf` bucket.
    buckets: Box<[AtomicU64]>,
    sum_bits: AtomicU64,
}

/// A consistent-enough copy of a histogram for rendering: cumulative bucket
/// counts, with `count` equal to the `+Inf` bucket by construction.
pub(crate) struct HistogramSnapshot {
    pub(crate) cumulative: Vec<u64>,
    pub(crate) sum: f64,
}

impl HistogramSnapshot {
    pub(crate) fn count(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }
}

impl Histogram {
    pub(crate) fn new(bounds: &[f64]) -> Self {
        Self {
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_bits: AtomicU64::new(0f64.to_bits()),
        }
    }

    pub(crate) fn observe(&self, bounds: &[f64], value: f64) {
        // `le` semantics: the first bucket whose bound is >= value.
        let index = bounds.partition_point(|bound| *bound < value);
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        let mut current = self.sum_bits.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + value).to_bits();
            match self.sum_bits.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
    }

    pub(crate) fn snapshot(&self) -> HistogramSnapshot {
        let mut total = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|b| {
                total += b.load(Ordering::Relaxed);
                total
            })
            .collect();
        HistogramSnapshot {
            cumulative,
            sum: f64::from_bits(self.sum_bits.load(Ordering::Relaxed)),
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
        for v in [0.05, 0.1, 0.5, 1.0, 3.0] {
            h.observe(&bounds, v);
        }
        let s = h.snapshot();
        assert_eq!(s.cumulative, vec![2, 4, 5]);
        assert_eq!(s.count(), 5);
        assert!((s.sum - 4.65).abs() < 1e-9);
    }
}
