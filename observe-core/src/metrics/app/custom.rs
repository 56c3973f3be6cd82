//! The service's own gauges, callback gauges and labelled counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{MetricError, Render, check_metric_name};
use crate::base::time::unix_now;
use crate::encoding::{
    Format, counter_header, float, gauge_header, write_counter, write_labels, write_sample,
};
use crate::metrics::guard::{Guarded, OverflowCount};
use crate::metrics::labels::{OVERFLOW_VALUE, is_valid_label_name};

/// Families registered by the service, in registration order.
#[derive(Debug, Default)]
pub(crate) struct Custom {
    pub(crate) families: Vec<Arc<dyn Render>>,
    pub(crate) guards: Vec<Arc<dyn OverflowCount>>,
}

impl std::fmt::Debug for dyn OverflowCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.metric())
    }
}

impl Custom {
    pub(crate) fn register(&mut self, family: Arc<dyn Render>) -> Result<(), MetricError> {
        check_metric_name(family.name())?;
        if self.families.iter().any(|f| f.name() == family.name()) {
            return Err(MetricError::Duplicate(family.name().to_string()));
        }
        self.families.push(family);
        Ok(())
    }
}

/// A gauge the service sets: cache size, queue depth, allocated memory.
/// Cheap to clone; clones share the value. For a value read at scrape time
/// instead, see [`Observe::gauge_fn`](crate::Observe::gauge_fn).
///
/// ```
/// let observe = observe_core::Observe::builder().build().unwrap();
/// let queue = observe.gauge("shop_queue_depth", "Jobs waiting.").unwrap();
/// queue.set(3.0);
/// queue.inc();
/// assert!(observe.render(observe_core::Format::Text).into_text().contains("shop_queue_depth 4"));
/// ```
#[derive(Debug, Clone)]
pub struct Gauge {
    value: Arc<AtomicU64>,
}

impl Gauge {
    /// Sets the value.
    pub fn set(&self, value: f64) {
        self.value.store(value.to_bits(), Ordering::Relaxed);
    }

    /// Adds `delta` (negative to subtract).
    pub fn add(&self, delta: f64) {
        let _ = self
            .value
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + delta).to_bits())
            });
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.add(-1.0);
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.value.load(Ordering::Relaxed))
    }
}

enum GaugeSource {
    Value(Gauge),
    Callback(Box<dyn Fn() -> f64 + Send + Sync>),
}

struct GaugeFamily {
    name: String,
    help: String,
    source: GaugeSource,
}

impl std::fmt::Debug for GaugeFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GaugeFamily")
            .field("name", &self.name)
            .finish()
    }
}

impl Render for GaugeFamily {
    fn name(&self) -> &str {
        &self.name
    }

    fn render(&self, out: &mut String, format: Format, const_labels: &str) {
        let value = match &self.source {
            GaugeSource::Value(gauge) => gauge.get(),
            GaugeSource::Callback(read) => read(),
        };
        gauge_header(out, format, &self.name, &self.help);
        write_sample(out, &self.name, const_labels, float(value));
    }
}

/// A counter with labels of the service's own, guarded: past the series
/// limit ([`ObserveBuilder::series_limit`](crate::ObserveBuilder::series_limit),
/// default 2,000), new label sets share one series whose labels are all
/// `_OVERFLOW`, and `observe_series_overflow_total{metric}` counts them, so
/// an alert catches a leak while memory stays bounded. This makes a label
/// taken from the request (a tenant header, say) safe to add. Metrics
/// registered directly in the prometheus-client registry
/// ([`Observe::with_registry`](crate::Observe::with_registry)) are not
/// guarded: use a counter family for labels you do not control.
///
/// ```
/// let observe = observe_core::Observe::builder().series_limit(2).build().unwrap();
/// let logins = observe.counter_family("shop_logins", "Logins by tenant.", &["tenant"]).unwrap();
/// for tenant in ["a", "b", "c", "d"] {
///     logins.inc(&[tenant]).unwrap();
/// }
/// let text = observe.render(observe_core::Format::Text).into_text();
/// assert!(text.contains(r#"shop_logins_total{tenant="_OVERFLOW"} 2"#));
/// assert!(text.contains(r#"observe_series_overflow_total{metric="shop_logins_total"} 2"#));
/// ```
#[derive(Debug, Clone)]
pub struct CounterFamily {
    inner: Arc<CounterFamilyInner>,
}

#[derive(Debug)]
struct CounterFamilyInner {
    name: String,
    help: String,
    label_names: Vec<String>,
    series: Guarded<String, CounterSeries>,
}

#[derive(Debug)]
struct CounterSeries {
    values: Vec<Box<str>>,
    value: AtomicU64,
    created: f64,
}

impl CounterFamily {
    /// Adds one to the series of these label values (in the order of the
    /// label names).
    pub fn inc(&self, values: &[&str]) -> Result<(), MetricError> {
        self.add(values, 1)
    }

    /// Adds `n` to the series of these label values.
    pub fn add(&self, values: &[&str], n: u64) -> Result<(), MetricError> {
        let inner = &self.inner;
        if values.len() != inner.label_names.len() {
            return Err(MetricError::LabelCount {
                metric: inner.name.clone(),
                expected: inner.label_names.clone(),
                got: values.len(),
            });
        }
        let key = values.join("\u{1f}");
        let make = |overflow: bool| CounterSeries {
            values: values
                .iter()
                .map(|v| Box::from(if overflow { OVERFLOW_VALUE } else { v }))
                .collect(),
            value: AtomicU64::new(0),
            created: unix_now(),
        };
        inner
            .series
            .with(key, make, |s| s.value.fetch_add(n, Ordering::Relaxed));
        Ok(())
    }
}

impl Render for CounterFamilyInner {
    fn name(&self) -> &str {
        &self.name
    }

    fn render(&self, out: &mut String, format: Format, const_labels: &str) {
        counter_header(out, format, &self.name, &self.help);
        let mut series = self.series.snapshot();
        series.sort_by(|a, b| a.values.cmp(&b.values));
        let mut labels = String::new();
        for s in series {
            write_labels(
                &mut labels,
                self.label_names.iter().zip(s.values.iter()),
                const_labels,
            );
            write_counter(
                out,
                format,
                &self.name,
                &labels,
                s.value.load(Ordering::Relaxed),
                s.created,
            );
        }
    }
}

/// Registration, called by the `Observe` facade (which carries the docs).
impl super::AppMetrics {
    pub(crate) fn gauge(&self, name: &str, help: &str) -> Result<Gauge, MetricError> {
        let gauge = Gauge {
            value: Arc::new(AtomicU64::new(0f64.to_bits())),
        };
        self.custom().register(Arc::new(GaugeFamily {
            name: name.to_string(),
            help: help.to_string(),
            source: GaugeSource::Value(gauge.clone()),
        }))?;
        Ok(gauge)
    }

    pub(crate) fn gauge_fn(
        &self,
        name: &str,
        help: &str,
        read: impl Fn() -> f64 + Send + Sync + 'static,
    ) -> Result<(), MetricError> {
        self.custom().register(Arc::new(GaugeFamily {
            name: name.to_string(),
            help: help.to_string(),
            source: GaugeSource::Callback(Box::new(read)),
        }))
    }

    pub(crate) fn counter_family(
        &self,
        name: &str,
        help: &str,
        label_names: &[&str],
    ) -> Result<CounterFamily, MetricError> {
        if let Some(bad) = label_names
            .iter()
            .find(|l| !is_valid_label_name(l) || **l == "le")
        {
            return Err(MetricError::LabelName(bad.to_string()));
        }
        let inner = Arc::new(CounterFamilyInner {
            name: name.to_string(),
            help: help.to_string(),
            label_names: label_names.iter().map(|l| l.to_string()).collect(),
            series: Guarded::new(&format!("{name}_total"), self.series_limit),
        });
        let mut custom = self.custom();
        custom.register(Arc::clone(&inner) as Arc<dyn Render>)?;
        custom.guards.push(Arc::new(GuardRef(Arc::clone(&inner))));
        Ok(CounterFamily { inner })
    }
}

/// Lets the overflow counter read a counter family's guard.
struct GuardRef(Arc<CounterFamilyInner>);

impl OverflowCount for GuardRef {
    fn metric(&self) -> &str {
        &self.0.series.metric
    }
    fn overflowed(&self) -> u64 {
        self.0.series.overflowed()
    }
}
