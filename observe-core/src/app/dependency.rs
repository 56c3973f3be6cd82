//! `observe_dependency_duration_seconds{dependency, operation, outcome,
//! http_route}` and the request's list of calls.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use super::guard::Guarded;
use super::intern::key_of;
use crate::Observe;
use crate::context::{CallOutcome, CallRecord, RequestContext};
use crate::exposition::{Format, histogram_header, write_histogram, write_labels};
use crate::metrics::labels::OVERFLOW_VALUE;
use crate::metrics::{Exemplar, Histogram, unix_now};
use opentelemetry::context::FutureExt as _;

/// A dependency's instrumentation (a database, another service), from
/// [`Observe::dependency`]. Cheap to clone; create it once.
///
/// ```
/// # async fn example() {
/// let observe = observe_core::Observe::builder().build().unwrap();
/// let db = observe.dependency("postgres");
/// let user: Result<u64, std::io::Error> = db.call("select_user", async { Ok(7) }).await;
/// assert_eq!(user.unwrap(), 7);
/// let text = observe.render(observe_core::Format::Text);
/// assert!(text.contains(r#"observe_dependency_duration_seconds_count{dependency="postgres",http_route="_NONE",operation="select_user",outcome="ok"} 1"#));
/// # }
/// # futures_executor_block_on(example());
/// # fn futures_executor_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Dependency {
    observe: Observe,
    name: Arc<str>,
}

impl Observe {
    /// Instrumentation for the dependency called `name` (`postgres`,
    /// `payments-api`).
    pub fn dependency(&self, name: &str) -> Dependency {
        Dependency {
            observe: self.clone(),
            name: self.inner.app.names.intern(name),
        }
    }
}

impl Dependency {
    /// Awaits `future` as a call of `operation`, timed, with the outcome
    /// taken from its `Result`. Dropped before it finishes, it is recorded
    /// as `cancelled`. Inside a request the call is labelled with its route
    /// and listed in the request's context.
    pub async fn call<T, E>(
        &self,
        operation: &str,
        future: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let mut timer = self.start(operation);
        let result = match timer.span.clone() {
            Some(span) => future.with_context(span).await,
            None => future.await,
        };
        timer.finish(if result.is_ok() {
            CallOutcome::Ok
        } else {
            CallOutcome::Error
        });
        result
    }

    /// Awaits `future` as a call of `operation` that cannot fail (`ok`
    /// unless dropped before it finishes).
    pub async fn time<T>(&self, operation: &str, future: impl Future<Output = T>) -> T {
        let mut timer = self.start(operation);
        let value = match timer.span.clone() {
            Some(span) => future.with_context(span).await,
            None => future.await,
        };
        timer.finish(CallOutcome::Ok);
        value
    }

    fn start(&self, operation: &str) -> CallTimer<'_> {
        CallTimer {
            dependency: self,
            operation: self.observe.inner.app.names.intern(operation),
            context: RequestContext::current(),
            span: crate::trace::start_client_span(&self.name, operation),
            started: Instant::now(),
            done: false,
        }
    }
}

/// Records a call when finished, or as cancelled when dropped first.
struct CallTimer<'a> {
    dependency: &'a Dependency,
    operation: Arc<str>,
    context: Option<Arc<RequestContext>>,
    /// The client span, current while the call runs, when exporting.
    span: Option<opentelemetry::Context>,
    started: Instant,
    done: bool,
}

impl CallTimer<'_> {
    fn finish(&mut self, outcome: CallOutcome) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let duration = self.started.elapsed();
        let inner = &self.dependency.observe.inner;
        let route = match &self.context {
            Some(context) => Arc::clone(context.route_metrics()),
            None => Arc::clone(&inner.http.outside),
        };
        let key = (
            key_of(&self.dependency.name),
            key_of(&self.operation),
            key_of(&route),
            outcome,
        );
        let family = &inner.app.dependency;
        let make = |overflow: bool| DependencySeries {
            labels: if overflow {
                [
                    OVERFLOW_VALUE,
                    OVERFLOW_VALUE,
                    OVERFLOW_VALUE,
                    OVERFLOW_VALUE,
                ]
                .map(Arc::from)
            } else {
                [
                    Arc::clone(&self.dependency.name),
                    Arc::clone(&route.name),
                    Arc::clone(&self.operation),
                    outcome.as_str().into(),
                ]
            },
            histogram: Histogram::new(&family.buckets),
            created: unix_now(),
        };
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        let seconds = nanos as f64 * 1e-9;
        let exemplar = self.span.as_ref().and_then(|cx| {
            use opentelemetry::trace::TraceContextExt as _;
            let span = cx.span();
            let ids = span.span_context();
            ids.is_sampled().then(|| Exemplar {
                trace_id: ids.trace_id().to_bytes(),
                span_id: ids.span_id().to_bytes(),
                value: seconds,
                timestamp: unix_now(),
            })
        });
        family.series.with(key, make, |s| match exemplar {
            Some(exemplar) => {
                s.histogram
                    .observe_with_exemplar(&family.buckets, seconds, nanos, exemplar)
            }
            None => s.histogram.observe(&family.buckets, seconds, nanos),
        });
        if let Some(span) = &self.span {
            crate::trace::end_client_span(span, outcome);
        }
        if let Some(context) = &self.context {
            context.record_call(CallRecord {
                dependency: Arc::clone(&self.dependency.name),
                operation: Arc::clone(&self.operation),
                duration,
                outcome,
            });
        }
    }
}

impl Drop for CallTimer<'_> {
    fn drop(&mut self) {
        self.finish(CallOutcome::Cancelled);
    }
}

#[derive(Debug)]
pub(crate) struct DependencySeries {
    /// dependency, http_route, operation, outcome.
    labels: [Arc<str>; 4],
    histogram: Histogram,
    created: f64,
}

#[derive(Debug)]
pub(crate) struct DependencyFamily {
    pub(crate) series: Guarded<(usize, usize, usize, CallOutcome), DependencySeries>,
    buckets: Box<[f64]>,
}

const NAME: &str = "observe_dependency_duration_seconds";

impl DependencyFamily {
    pub(crate) fn new(limit: usize, buckets: &[f64]) -> Self {
        Self {
            series: Guarded::new(NAME, limit),
            buckets: buckets.into(),
        }
    }

    pub(crate) fn render(&self, out: &mut String, format: Format, const_labels: &str) {
        histogram_header(
            out,
            format,
            NAME,
            "seconds",
            "Duration of calls to dependencies, by dependency, operation, outcome and route.",
        );
        let mut series = self.series.snapshot();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        let mut labels = String::new();
        for s in series {
            write_labels(
                &mut labels,
                ["dependency", "http_route", "operation", "outcome"]
                    .iter()
                    .zip(s.labels.iter()),
                const_labels,
            );
            let snapshot = s.histogram.snapshot(1e-9);
            write_histogram(
                out,
                format,
                NAME,
                &labels,
                &self.buckets,
                &snapshot,
                s.created,
            );
        }
    }
}
