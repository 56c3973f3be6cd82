//! Enum metrics: the OpenMetrics StateSet (a gauge per state in text 0.0.4,
//! 1 for the current one), for feature flags and application states.

use std::fmt::Write;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{MetricError, Render};
use crate::encoding::{Format, escape_label_value, header};

/// An enum whose value a [`StateSet`] exposes. Implement it with the
/// [`states!`](crate::states) macro, or by hand.
pub trait States: Copy + PartialEq + Send + Sync + 'static {
    /// Every state, in the order they are exposed.
    const ALL: &'static [Self];
    /// The state's label value.
    fn label(self) -> &'static str;
}

/// Declares an enum implementing [`States`]:
///
/// ```
/// observe_core::states! {
///     /// How /orders behaves.
///     pub enum CheckoutFlag {
///         InUse => "in_use",
///         Disabled => "disabled",
///         Shadowing => "shadowing",
///     }
/// }
/// let observe = observe_core::Observe::builder().build().unwrap();
/// let flag = observe.state_set("shop_checkout_flag", "New checkout flow.", CheckoutFlag::Disabled).unwrap();
/// flag.set(CheckoutFlag::Shadowing);
/// let text = observe.render(observe_core::Format::OpenMetrics).into_text();
/// assert!(text.contains("# TYPE shop_checkout_flag stateset"));
/// assert!(text.contains(r#"shop_checkout_flag{shop_checkout_flag="shadowing"} 1"#));
/// assert!(text.contains(r#"shop_checkout_flag{shop_checkout_flag="in_use"} 0"#));
/// ```
#[macro_export]
macro_rules! states {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident => $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name { $(#[doc = $label] $variant),+ }

        impl $crate::States for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }
    };
}

/// The current state of an enum, exposed as an OpenMetrics StateSet (in
/// text 0.0.4, a gauge per state, 1 for the current one), from
/// [`Observe::state_set`](crate::Observe::state_set): a feature flag, a
/// circuit breaker, a mode. Declare the enum with [`states!`](crate::states)
/// (example there). The status page lists every StateSet, and observe-slo's
/// judge can take a flag's last change as the moment to compare before and
/// after. Cheap to clone; clones share the state.
#[derive(Debug)]
pub struct StateSet<E> {
    current: Arc<AtomicUsize>,
    _states: PhantomData<fn() -> E>,
}

impl<E> Clone for StateSet<E> {
    fn clone(&self) -> Self {
        Self {
            current: Arc::clone(&self.current),
            _states: PhantomData,
        }
    }
}

impl<E: States> StateSet<E> {
    /// Makes `state` the current one.
    pub fn set(&self, state: E) {
        let index = E::ALL.iter().position(|s| *s == state).unwrap_or(0);
        self.current.store(index, Ordering::Relaxed);
    }

    /// The current state.
    pub fn get(&self) -> E {
        E::ALL[self.current.load(Ordering::Relaxed).min(E::ALL.len() - 1)]
    }
}

#[derive(Debug)]
struct StateSetFamily {
    name: String,
    help: String,
    labels: Vec<&'static str>,
    current: Arc<AtomicUsize>,
}

impl Render for StateSetFamily {
    fn name(&self) -> &str {
        &self.name
    }

    fn states(&self) -> Option<(&[&'static str], usize)> {
        Some((&self.labels, self.current.load(Ordering::Relaxed)))
    }

    fn render(&self, out: &mut String, format: Format, const_labels: &str) {
        let kind = match format {
            Format::OpenMetrics | Format::Protobuf => "stateset",
            Format::Text => "gauge",
        };
        header(out, format, &self.name, kind, None, &self.help);
        let current = self.current.load(Ordering::Relaxed);
        for (i, label) in self.labels.iter().enumerate() {
            // The state's label is named after the metric, as OpenMetrics
            // requires of a StateSet.
            out.push_str(&self.name);
            out.push('{');
            out.push_str(&self.name);
            out.push_str("=\"");
            escape_label_value(out, label);
            out.push('"');
            out.push_str(const_labels);
            let _ = writeln!(out, "}} {}", u8::from(i == current));
        }
    }
}

/// Registration, called by the `Observe` facade (which carries the docs).
impl super::AppMetrics {
    pub(crate) fn state_set<E: States>(
        &self,
        name: &str,
        help: &str,
        initial: E,
    ) -> Result<StateSet<E>, MetricError> {
        let set = StateSet {
            current: Arc::new(AtomicUsize::new(0)),
            _states: PhantomData,
        };
        set.set(initial);
        self.custom().register(Arc::new(StateSetFamily {
            name: name.to_string(),
            help: help.to_string(),
            labels: E::ALL.iter().map(|s| s.label()).collect(),
            current: Arc::clone(&set.current),
        }))?;
        Ok(set)
    }
}
