//! A lock-free classic histogram: one atomic counter per bucket and an
//! integer sum (nanoseconds, bytes), so an observation is a few atomic adds
//! and no compare-and-swap loop. Bounds live once in the metric family, not
//! per series. A duration histogram can carry native (exponential) buckets
//! beside the classic ones: [`NativeBuckets`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::encoding::{Exemplar, HistogramSnapshot, NativeSnapshot};

#[derive(Debug)]
pub(crate) struct Histogram {
    /// Non-cumulative counts; the last slot is the `+Inf` bucket.
    buckets: Box<[AtomicU64]>,
    /// Sum in integer units (nanoseconds, bytes); scaled when rendered.
    sum: AtomicU64,
    /// The latest exemplar per bucket, allocated on the first one.
    exemplars: OnceLock<Box<[Mutex<Option<Exemplar>>]>>,
    /// Native buckets, for a duration histogram of an `Observe` with
    /// native histograms on.
    native: Option<NativeBuckets>,
}

impl Histogram {
    pub(crate) fn new(bounds: &[f64]) -> Self {
        Self {
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            exemplars: OnceLock::new(),
            native: None,
        }
    }

    /// A histogram of seconds with native buckets beside the classic ones.
    pub(crate) fn with_native(bounds: &[f64]) -> Self {
        Self {
            native: Some(NativeBuckets::new()),
            ..Self::new(bounds)
        }
    }

    /// Observes `value` (in the unit of `bounds`), adding `units` to the
    /// integer sum.
    pub(crate) fn observe(&self, bounds: &[f64], value: f64, units: u64) {
        // `le` semantics: the first bucket whose bound is >= value.
        let index = bounds.partition_point(|bound| *bound < value);
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(units, Ordering::Relaxed);
        // After the classic bucket: a scrape reads the native buckets
        // first, so they rarely run ahead of the count (the encoder raises
        // the count when they do).
        if let Some(native) = &self.native {
            native.observe(value);
        }
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

    /// The native buckets, when this histogram has them. Read before
    /// [`snapshot`](Self::snapshot) so their total never exceeds its count.
    pub(crate) fn native_snapshot(&self) -> Option<NativeSnapshot> {
        self.native.as_ref().map(NativeBuckets::snapshot)
    }
}

/// Schema 3: each power of two split into 8 buckets, a bucket's bound
/// `2^(1/8)` ≈ 1.09 times the one before: the schema client_golang picks
/// for its default `NativeHistogramBucketFactor` of 1.1.
pub(crate) const NATIVE_SCHEMA: i32 = 3;

/// Observations up to 2^-20 s (about 0.95 µs) count in the zero bucket:
/// below what a request can take, and a bucket bound at schema 3, so the
/// zero bucket and bucket [`NATIVE_MIN_INDEX`] meet without overlap.
pub(crate) const NATIVE_ZERO_THRESHOLD: f64 = 1.0 / 1_048_576.0;

/// The first regular bucket, `(2^-20, 2^(-159/8)]` s.
pub(crate) const NATIVE_MIN_INDEX: i32 = -159;

/// The last bucket, `(2^(55/8), 2^7]` ≈ (117.4 s, 128 s]. Slower requests
/// count in it too (their sum stays exact): a fixed range keeps an
/// observation one index computation and one add, with no allocation.
pub(crate) const NATIVE_MAX_INDEX: i32 = 56;

/// `2^(k/8) / 2` for k in 0..8, rounded to the nearest f64 (the values
/// client_golang and Prometheus use): the sub-bucket bounds of a mantissa
/// in [0.5, 1).
const SCHEMA_3_BOUNDS: [f64; 8] = [
    0.5,
    0.5452538663326288,
    0.5946035575013605,
    0.6484197773255048,
    0.7071067811865475,
    0.7711054127039704,
    0.8408964152537144,
    0.9170040432046711,
];

/// The native histogram bucket of `value` (seconds, above the zero
/// threshold) at schema 3: the `i` with `2^((i-1)/8) < value <= 2^(i/8)`,
/// so 1.0 is bucket 0, 2.0 bucket 8, and a value just above 1.0 bucket 1.
/// From the float's exponent bits and a search among 8 bounds, no `log`.
pub(crate) fn native_index(value: f64) -> i32 {
    const MANTISSA: u64 = (1 << 52) - 1;
    let bits = value.to_bits();
    // value = fraction * 2^exponent with fraction in [0.5, 1), as frexp
    // gives it; subnormals never get here (they are in the zero bucket).
    let exponent = ((bits >> 52) & 0x7ff) as i32 - 1022;
    let fraction = f64::from_bits((bits & MANTISSA) | (1022 << 52));
    let sub = SCHEMA_3_BOUNDS.partition_point(|bound| *bound < fraction) as i32;
    (exponent - 1) * 8 + sub
}

/// The native buckets of one series: the zero bucket and a fixed range of
/// atomic counters from [`NATIVE_MIN_INDEX`] to [`NATIVE_MAX_INDEX`] (216
/// of them, 1.7 KiB per series), allocated with the series.
#[derive(Debug)]
pub(crate) struct NativeBuckets {
    zero: AtomicU64,
    buckets: Box<[AtomicU64]>,
}

impl NativeBuckets {
    fn new() -> Self {
        let len = (NATIVE_MAX_INDEX - NATIVE_MIN_INDEX + 1) as usize;
        Self {
            zero: AtomicU64::new(0),
            buckets: (0..len).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn observe(&self, value: f64) {
        // NaN too, which a duration never is.
        if value.is_nan() || value <= NATIVE_ZERO_THRESHOLD {
            self.zero.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let index = native_index(value).clamp(NATIVE_MIN_INDEX, NATIVE_MAX_INDEX);
        let slot = (index - NATIVE_MIN_INDEX) as usize;
        if let Some(bucket) = self.buckets.get(slot) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counts, trimmed of the empty buckets at both ends.
    fn snapshot(&self) -> NativeSnapshot {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let first = counts.iter().position(|c| *c > 0).unwrap_or(counts.len());
        let last = counts.iter().rposition(|c| *c > 0).map_or(first, |l| l + 1);
        NativeSnapshot {
            schema: NATIVE_SCHEMA,
            zero_threshold: NATIVE_ZERO_THRESHOLD,
            zero_count: self.zero.load(Ordering::Relaxed),
            first_index: NATIVE_MIN_INDEX + first as i32,
            counts: counts[first..last].to_vec(),
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

    #[test]
    fn native_index_follows_the_bucket_convention() {
        // Bucket i covers (2^((i-1)/8), 2^(i/8)].
        assert_eq!(native_index(1.0), 0);
        assert_eq!(native_index(2.0), 8);
        assert_eq!(native_index(0.5), -8);
        assert_eq!(native_index(4.0), 16);
        assert_eq!(native_index(f64::from_bits(1.0f64.to_bits() + 1)), 1);
        assert_eq!(native_index(f64::from_bits(2.0f64.to_bits() - 1)), 8);
        assert_eq!(native_index(f64::from_bits(2.0f64.to_bits() + 1)), 9);
        // A bound itself is in the bucket it closes.
        let bound = 2.0 * SCHEMA_3_BOUNDS[1];
        assert_eq!(native_index(bound), 1);
        assert_eq!(native_index(f64::from_bits(bound.to_bits() + 1)), 2);
        assert_eq!(native_index(NATIVE_ZERO_THRESHOLD), -160);
        assert_eq!(native_index(128.0), NATIVE_MAX_INDEX);
        // log2(0.3) * 8 = -13.9: bucket -13.
        assert_eq!(native_index(0.3), -13);
    }

    #[test]
    fn schema_3_bounds_are_powers_of_two() {
        for (k, bound) in SCHEMA_3_BOUNDS.iter().enumerate() {
            let exact = 2f64.powf(k as f64 / 8.0) / 2.0;
            assert!(
                (bound - exact).abs() <= f64::EPSILON,
                "{k}: {bound} vs {exact}"
            );
        }
    }

    #[test]
    fn native_buckets_count_zero_and_clamp_at_the_top() {
        let bounds = [0.1, 1.0];
        let h = Histogram::with_native(&bounds);
        for seconds in [0.0, 1e-7, 1.0, 1.0, 2.0, 1e6] {
            h.observe(&bounds, seconds, 0);
        }
        let native = h.native_snapshot().expect("native buckets");
        assert_eq!(native.schema, 3);
        assert_eq!(native.zero_count, 2);
        assert_eq!(native.first_index, 0);
        let mut counts = vec![0; (NATIVE_MAX_INDEX + 1) as usize];
        counts[0] = 2;
        counts[8] = 1;
        counts[NATIVE_MAX_INDEX as usize] = 1;
        assert_eq!(native.counts, counts);
        assert_eq!(h.snapshot(1.0).count(), 6);
        assert!(Histogram::new(&bounds).native_snapshot().is_none());
        let empty = Histogram::with_native(&bounds)
            .native_snapshot()
            .expect("native");
        assert!(empty.counts.is_empty());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// Every value from a microsecond to a hundred seconds lands in the
        /// bucket whose bounds hold it.
        #[test]
        fn every_value_is_inside_its_bucket(value in 1e-6f64..100.0) {
            let index = native_index(value);
            let upper = 2f64.powf(f64::from(index) / 8.0);
            let lower = 2f64.powf(f64::from(index - 1) / 8.0);
            // powf is within an ulp or two; the bounds table is exact.
            proptest::prop_assert!(value <= upper * (1.0 + 1e-15), "{value} above bucket {index}'s {upper}");
            proptest::prop_assert!(value > lower * (1.0 - 1e-15), "{value} below bucket {index}'s {lower}");
        }
    }
}
