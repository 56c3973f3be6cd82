//! The handle a service times dependency calls with: the family's
//! histogram, the request's list of calls, and a client span when spans
//! are exported.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use crate::base::ids::{TraceIds, new_span_id};
use crate::context::{CallRecord, RequestContext, in_call};
use crate::metrics::{CallOutcome, Families};
use crate::signals::trace::{self, ClientSpan};

/// A dependency's instrumentation (a database, another service), from
/// [`Observe::dependency`](crate::Observe::dependency). Cheap to clone;
/// create it once.
///
/// [`call`](Self::call) times a future returning a `Result`: `Ok` is
/// `outcome="ok"`, `Err` is `"error"`, dropped before the end is
/// `"cancelled"`. Each call counts in
/// `observe_dependency_duration_seconds{dependency, http_route, operation,
/// outcome}` under the current request's route (`_NONE` outside one), is
/// listed in the request's event (the first 32, with the count and total
/// time of all), and with span export on is a client span under the
/// request's. Inside the call, [`trace::inject`](crate::trace::inject)
/// names it as the parent of an outgoing request.
///
/// ```
/// # async fn example() {
/// let observe = observe_core::Observe::builder().build().unwrap();
/// let db = observe.dependency("postgres");
/// let user: Result<u64, std::io::Error> = db.call("select_user", async { Ok(7) }).await;
/// assert_eq!(user.unwrap(), 7);
/// let text = observe.render(observe_core::Format::Text).into_text();
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
    families: Arc<Families>,
    name: Arc<str>,
}

impl Dependency {
    pub(crate) fn new(families: &Arc<Families>, name: &str) -> Self {
        Self {
            families: Arc::clone(families),
            name: families.app.names.intern(name),
        }
    }

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
        let future = in_call(timer.ids, future);
        let result = trace::in_client_span(timer.span.as_ref(), future).await;
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
        let future = in_call(timer.ids, future);
        let value = trace::in_client_span(timer.span.as_ref(), future).await;
        timer.finish(CallOutcome::Ok);
        value
    }

    fn start(&self, operation: &str) -> CallTimer<'_> {
        let context = RequestContext::current();
        let span = trace::start_client_span(&self.name, operation);
        // Inside a request the call has a span id of its own: the client
        // span's when exported, else a fresh one in the request's trace.
        let ids = context.as_ref().map(|context| {
            let request = context.trace_ids();
            span.as_ref().map_or(
                TraceIds {
                    span_id: new_span_id(),
                    ..request
                },
                ClientSpan::ids,
            )
        });
        CallTimer {
            dependency: self,
            operation: self.families.app.names.intern(operation),
            context,
            span,
            ids,
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
    span: Option<ClientSpan>,
    /// The call's ids inside a request.
    ids: Option<TraceIds>,
    started: Instant,
    done: bool,
}

impl CallTimer<'_> {
    fn finish(&mut self, outcome: CallOutcome) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let duration = self.started.elapsed();
        let families = &self.dependency.families;
        let route = match &self.context {
            Some(context) => &context.route_metrics().name,
            None => &families.http.outside.name,
        };
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        let exemplar = self
            .span
            .as_ref()
            .and_then(|span| span.exemplar(nanos as f64 * 1e-9));
        families.app.dependency.record(
            [&self.dependency.name, &self.operation, route],
            outcome,
            nanos,
            exemplar,
        );
        if let Some(span) = &self.span {
            span.end(outcome);
        }
        if let Some(context) = &self.context {
            context.record_call(CallRecord {
                dependency: Arc::clone(&self.dependency.name),
                operation: Arc::clone(&self.operation),
                duration,
                outcome,
                span_id: self.ids.map_or([0; 8], |ids| ids.span_id),
            });
        }
    }
}

impl Drop for CallTimer<'_> {
    fn drop(&mut self) {
        self.finish(CallOutcome::Cancelled);
    }
}
