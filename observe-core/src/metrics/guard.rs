//! The cardinality guard every family observe owns goes through: at most
//! `limit` series; past it, new label sets share one overflow series and
//! are counted in `observe_series_overflow_total{metric}`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use crate::base::hash::FastHasher;

/// A family's series, keyed by `K`, bounded.
#[derive(Debug)]
pub(crate) struct Guarded<K, V> {
    pub(crate) metric: Box<str>,
    limit: usize,
    map: RwLock<HashMap<K, Arc<V>, BuildHasherDefault<FastHasher>>>,
    overflow: OnceLock<Arc<V>>,
    overflowed: AtomicU64,
}

impl<K: Hash + Eq, V> Guarded<K, V> {
    pub(crate) fn new(metric: &str, limit: usize) -> Self {
        Self {
            metric: metric.into(),
            limit,
            map: RwLock::default(),
            overflow: OnceLock::new(),
            overflowed: AtomicU64::new(0),
        }
    }

    /// Runs `f` on the series of `key`, created with `make(false)` on first
    /// use, or on the overflow series (`make(true)`) once the family is
    /// full. The common case is one read-locked lookup and no allocation.
    pub(crate) fn with<R>(
        &self,
        key: K,
        make: impl FnOnce(bool) -> V,
        f: impl FnOnce(&V) -> R,
    ) -> R {
        if let Some(series) = self.map.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return f(series);
        }
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if let Some(series) = map.get(&key) {
            return f(series);
        }
        if map.len() >= self.limit {
            drop(map);
            self.overflowed.fetch_add(1, Ordering::Relaxed);
            let overflow = self.overflow.get_or_init(|| Arc::new(make(true)));
            return f(overflow);
        }
        let series = map.entry(key).or_insert_with(|| Arc::new(make(false)));
        f(series)
    }

    /// Every series (overflow last), for rendering.
    pub(crate) fn snapshot(&self) -> Vec<Arc<V>> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.values()
            .cloned()
            .chain(self.overflow.get().cloned())
            .collect()
    }

    /// Label sets turned away since start.
    pub(crate) fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }
}

/// What the exposition needs of any guarded family.
pub(crate) trait OverflowCount: Send + Sync {
    fn metric(&self) -> &str;
    fn overflowed(&self) -> u64;
}

impl<K: Hash + Eq + Send + Sync, V: Send + Sync> OverflowCount for Guarded<K, V> {
    fn metric(&self) -> &str {
        &self.metric
    }
    fn overflowed(&self) -> u64 {
        Guarded::overflowed(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_limit_everything_shares_the_overflow_series() {
        let g: Guarded<u32, (bool, AtomicU64)> = Guarded::new("m", 2);
        for key in 0..5 {
            g.with(
                key,
                |o| (o, AtomicU64::new(0)),
                |v| v.1.fetch_add(1, Ordering::Relaxed),
            );
        }
        g.with(
            0,
            |o| (o, AtomicU64::new(0)),
            |v| v.1.fetch_add(1, Ordering::Relaxed),
        );
        let series = g.snapshot();
        assert_eq!(series.len(), 3);
        let overflow: Vec<_> = series.iter().filter(|s| s.0).collect();
        assert_eq!(overflow.len(), 1);
        assert_eq!(overflow[0].1.load(Ordering::Relaxed), 3);
        assert_eq!(g.overflowed(), 3);
    }
}
