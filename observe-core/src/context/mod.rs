//! The current request, available to code running inside the handler
//! without passing anything around: its route, ids and request-derived
//! labels, and what it did (dependency calls, cache lookups, fields of its
//! own) for the per-request [`event`](crate::event).
//!
//! The middleware *enters* the request's context around every poll of the
//! handler, so nested `async` calls see it: a
//! [`Cache`](crate::Cache) or [`Dependency`](crate::Dependency) records under
//! the request's route without being told it, and outside any request under
//! `_NONE`. A task the handler spawns runs elsewhere; wrap its future with
//! [`in_current_request`] to take the context along.
//!
//! ```
//! # async fn handler(observe: observe_core::Observe) {
//! use observe_core::context::{add_event_field, in_current_request, set_http_label};
//!
//! // Inside a handler:
//! add_event_field("user.plan", "pro"); // in this request's event, redacted
//! let _ = set_http_label("plan", "pro"); // declared with ObserveBuilder::http_label
//! let users = observe.cache("users");
//! let task = in_current_request(async move {
//!     users.miss(); // counted for the request that spawned it
//! });
//! task.await; // or tokio::spawn(task)
//! # }
//! ```
//!
//! Outside a request [`add_event_field`] does nothing and [`set_http_label`]
//! returns an error.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;

use crate::base::ids::{RequestId, TraceIds};
use crate::base::service::Service;
use crate::metrics::request_labels::{LabelIds, MAX_HTTP_LABELS};
use crate::metrics::{CacheResult, Families, RouteMetrics};

mod call;
mod details;
mod trace;

pub(crate) use call::{current_call, in_call};

pub use crate::metrics::CallOutcome;
pub use details::MAX_HEADERS;
pub(crate) use details::RequestDetails;
pub(crate) use trace::RequestTrace;

/// The most dependency calls kept per request; further calls are counted
/// (`count`, `total`) but not listed, so one pathological request cannot
/// hold unbounded memory.
pub const MAX_CALLS_LISTED: usize = 32;

/// The longest `x-request-id` accepted from a caller.
pub const MAX_REQUEST_ID: usize = 128;

/// The most fields a handler can add to its request's event.
pub const MAX_EVENT_FIELDS: usize = 32;

/// The longest value of an added event field, in bytes.
pub const MAX_FIELD_LEN: usize = 256;

/// Why a request-derived label was not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpLabelError {
    /// Called outside any request.
    #[error("set_http_label({0:?}) outside a request: there is no request to label")]
    NoRequest(String),
    /// The request's `Observe` declares no label of that name.
    #[error(
        "http label {name:?} is not declared: declare it with ObserveBuilder::http_label (declared: {declared:?})"
    )]
    Undeclared {
        /// The name given.
        name: String,
        /// The names declared.
        declared: Vec<String>,
    },
}

/// Sets the request-derived label `name` of the current request to
/// `value`, for its HTTP metrics, its event and its span; it wins over the
/// label's classifier. The label must be declared with
/// [`ObserveBuilder::http_label`](crate::ObserveBuilder::http_label); past
/// the label's limit of values, a new value is recorded as `_OVERFLOW`.
///
/// ```
/// // Inside a handler, once the tenant is known:
/// let _ = observe_core::context::set_http_label("tenant_tier", "gold");
/// ```
pub fn set_http_label(name: &str, value: &str) -> Result<(), HttpLabelError> {
    with_current(|c| match c {
        Some(c) => c.set_http_label(name, value),
        None => Err(HttpLabelError::NoRequest(name.chars().take(100).collect())),
    })
}

/// Adds a field to the current request's event; outside a request it does
/// nothing. See [`RequestContext::add_field`].
pub fn add_event_field(key: &str, value: impl std::fmt::Display) {
    with_current(|c| {
        if let Some(c) = c {
            c.add_field(key, value);
        }
    });
}

/// One call a request made to a dependency.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// The dependency (`postgres`, `payments-api`).
    pub dependency: Arc<str>,
    /// The operation (`select_user`, `charge`).
    pub operation: Arc<str>,
    /// How long it took.
    pub duration: Duration,
    /// How it ended.
    pub outcome: CallOutcome,
    /// The call's own span id: the parent id its outgoing `traceparent`
    /// carried (the client span's, when spans are exported).
    pub span_id: [u8; 8],
}

/// The dependency calls of one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calls {
    /// Every call made, listed or not.
    pub count: u32,
    /// Their total duration.
    pub total: Duration,
    /// The first [`MAX_CALLS_LISTED`] calls.
    pub listed: Vec<CallRecord>,
}

/// Cache lookups of one request, by result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheTally {
    /// Hits.
    pub hits: u32,
    /// Misses.
    pub misses: u32,
    /// Lookups that failed.
    pub errors: u32,
}

/// What observe knows about the request being handled.
///
/// Only what every request needs is made when it starts; what a handler
/// does (fields, dependency calls, cache lookups) gets its place on the
/// first record, so a request that does none of it costs no more.
#[derive(Debug)]
pub struct RequestContext {
    pub(crate) families: Arc<Families>,
    /// The route, when known at the start.
    route: Option<Arc<RouteMetrics>>,
    /// Else the route, named once: by the framework after routing, or on
    /// demand when handler code asks first.
    late_route: OnceLock<Arc<RouteMetrics>>,
    request_id: RequestId,
    /// What the handler did, made on its first record.
    activity: OnceLock<Box<Activity>>,
    method: u8,
    /// What the error tracker may report about the request; only taken
    /// while error tracking is on.
    details: Option<RequestDetails>,
    /// An error event (panic, ERROR line) was already sent for this
    /// request, so its 5xx is not reported again.
    error_reported: AtomicBool,
    pub(crate) trace: RequestTrace,
    /// The request-derived labels' value ids; 0 is `_NONE`.
    labels: [AtomicU8; MAX_HTTP_LABELS],
}

/// What a request's handler did, beyond being called.
#[derive(Debug, Default)]
struct Activity {
    fields: Mutex<Vec<(Box<str>, Box<str>)>>,
    calls: Mutex<Calls>,
    hits: AtomicU32,
    misses: AtomicU32,
    errors: AtomicU32,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<RequestContext>>> = const { RefCell::new(None) };
    /// For frameworks that route after their middleware (actix-web): names
    /// the current request's route on demand, on the handler's thread.
    static LATE_ROUTE: RefCell<Option<Rc<dyn LateRoute>>> = const { RefCell::new(None) };
}

impl RequestContext {
    pub(crate) fn new(
        families: &Arc<Families>,
        method: u8,
        route: Option<Arc<RouteMetrics>>,
        request_id: Option<RequestId>,
        details: Option<RequestDetails>,
    ) -> Arc<Self> {
        Arc::new(Self {
            families: Arc::clone(families),
            route,
            late_route: OnceLock::new(),
            request_id: request_id.unwrap_or_else(RequestId::new),
            activity: OnceLock::new(),
            method,
            details,
            error_reported: AtomicBool::new(false),
            trace: RequestTrace::default(),
            labels: Default::default(),
        })
    }

    /// What the handler did so far, if it did anything.
    fn activity(&self) -> Option<&Activity> {
        self.activity.get().map(|a| &**a)
    }

    /// Where the handler's records go, made on the first.
    fn activity_or_new(&self) -> &Activity {
        self.activity.get_or_init(Box::default)
    }

    /// Sets the request-derived label `name` to `value`; see
    /// [`set_http_label`].
    pub fn set_http_label(&self, name: &str, value: &str) -> Result<(), HttpLabelError> {
        let labels = &self.families.http.labels;
        let Some(index) = labels.index_of(name) else {
            return Err(HttpLabelError::Undeclared {
                name: name.chars().take(100).collect(),
                declared: labels.names().map(str::to_string).collect(),
            });
        };
        self.labels[index].store(labels.id(index, value), Ordering::Relaxed);
        Ok(())
    }

    /// The request-derived labels' value ids now.
    pub(crate) fn label_ids(&self) -> LabelIds {
        std::array::from_fn(|i| self.labels[i].load(Ordering::Relaxed))
    }

    /// Sets the ids the classifiers gave; the handler may override them.
    pub(crate) fn set_label_ids(&self, ids: LabelIds) {
        for (slot, id) in self.labels.iter().zip(ids) {
            slot.store(id, Ordering::Relaxed);
        }
    }

    /// The request-derived labels and their values now, for the event and
    /// the span; empty when none is declared.
    pub fn http_labels(&self) -> Vec<(String, Arc<str>)> {
        let labels = &self.families.http.labels;
        if !labels.any() {
            return Vec::new();
        }
        labels
            .pairs(&self.label_ids())
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect()
    }

    /// The context of the request whose handler is running on this thread,
    /// if any.
    pub fn current() -> Option<Arc<RequestContext>> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// The route template of this request (`/users/{id}`), or the fixed
    /// unmatched value.
    pub fn route(&self) -> Arc<str> {
        Arc::clone(&self.route_metrics().name)
    }

    pub(crate) fn route_metrics(&self) -> &Arc<RouteMetrics> {
        if let Some(route) = &self.route {
            return route;
        }
        self.late_route.get_or_init(|| {
            let late = LATE_ROUTE.with(|l| l.borrow().clone());
            let name = late.and_then(|resolve| resolve.late_route());
            self.families.http.route(name.as_deref())
        })
    }

    /// The request method as recorded (`GET`, or `_OTHER` for unknown ones).
    pub fn method(&self) -> &str {
        self.families.http.methods.name(self.method)
    }

    /// The method for an API that keeps it: borrowed for a standard
    /// method, copied only for an extra one.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn method_owned(&self) -> std::borrow::Cow<'static, str> {
        use crate::metrics::labels::Methods;
        Methods::static_name(self.method)
            .map_or_else(|| self.method().to_string().into(), Into::into)
    }

    /// The service this request is served by (its `Observe`'s identity).
    pub(crate) fn service(&self) -> &Service {
        &self.families.service
    }

    pub(crate) fn details(&self) -> Option<&RequestDetails> {
        self.details.as_ref()
    }

    /// Marks that an error event was sent for this request; returns whether
    /// one already had been.
    pub(crate) fn mark_error_reported(&self) -> bool {
        self.error_reported.swap(true, Ordering::Relaxed)
    }

    /// The trace and span ids of this request: the caller's trace when it
    /// sent a valid `traceparent`, else a new one.
    pub fn trace_ids(&self) -> TraceIds {
        *self.trace.ids()
    }

    /// The ids a log line written now belongs to: the dependency call in
    /// progress on this thread, else the request itself.
    pub(crate) fn current_ids(&self) -> TraceIds {
        current_call()
            .filter(|call| call.trace_id == self.trace.ids().trace_id)
            .unwrap_or_else(|| self.trace_ids())
    }

    /// Sets the route once the framework knows it, if nothing read it yet.
    pub(crate) fn settle_route(&self, route: &Arc<RouteMetrics>) {
        if self.route.is_none() {
            let _ = self.late_route.set(Arc::clone(route));
        }
    }

    /// The request id: the caller's `x-request-id` when it was sane, else
    /// one generated for this request.
    pub fn request_id(&self) -> &str {
        self.request_id.as_str()
    }

    /// The request id's bytes, to echo as a header value (no check that
    /// they are text: they are ASCII).
    pub(crate) fn request_id_bytes(&self) -> &[u8] {
        self.request_id.as_bytes()
    }

    /// Adds a field to this request's event (at most
    /// [`MAX_EVENT_FIELDS`]; values longer than [`MAX_FIELD_LEN`] bytes are
    /// cut). Redacted like every log field.
    pub fn add_field(&self, key: &str, value: impl std::fmt::Display) {
        let activity = self.activity_or_new();
        let mut fields = activity.fields.lock().unwrap_or_else(|p| p.into_inner());
        if fields.len() >= MAX_EVENT_FIELDS {
            return;
        }
        let mut value = value.to_string();
        if value.len() > MAX_FIELD_LEN {
            let mut cut = MAX_FIELD_LEN;
            while !value.is_char_boundary(cut) {
                cut -= 1;
            }
            value.truncate(cut);
        }
        fields.push((key.into(), value.into()));
    }

    /// The fields added with [`add_field`](Self::add_field).
    pub fn fields(&self) -> Vec<(Box<str>, Box<str>)> {
        self.activity().map_or_else(Vec::new, |a| {
            a.fields.lock().unwrap_or_else(|p| p.into_inner()).clone()
        })
    }

    /// The dependency calls made so far.
    pub fn calls(&self) -> Calls {
        self.activity().map_or_else(Calls::default, |a| {
            a.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
        })
    }

    /// The cache lookups made so far.
    pub fn cache(&self) -> CacheTally {
        self.activity()
            .map_or_else(CacheTally::default, |a| CacheTally {
                hits: a.hits.load(Ordering::Relaxed),
                misses: a.misses.load(Ordering::Relaxed),
                errors: a.errors.load(Ordering::Relaxed),
            })
    }

    pub(crate) fn record_call(&self, record: CallRecord) {
        let mut calls = self
            .activity_or_new()
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        calls.count = calls.count.saturating_add(1);
        calls.total = calls.total.saturating_add(record.duration);
        if calls.listed.len() < MAX_CALLS_LISTED {
            calls.listed.push(record);
        }
    }

    pub(crate) fn count_cache(&self, result: CacheResult) {
        let activity = self.activity_or_new();
        let counter = match result {
            CacheResult::Hit => &activity.hits,
            CacheResult::Miss => &activity.misses,
            CacheResult::Error => &activity.errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The first of the caller's request ids that is sane (1 to 128
/// characters of `A-Z a-z 0-9 . _ : -`), else a generated one.
pub(crate) fn accept_request_id<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> RequestId {
    values
        .into_iter()
        .find(|h| is_sane_request_id(h))
        .and_then(|h| std::str::from_utf8(h).ok())
        .map_or_else(RequestId::new, |id| RequestId::Given(id.into()))
}

/// Whether a request id from outside may be used as it is: it reaches log
/// lines unescaped, so only a short run of harmless characters.
fn is_sane_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Runs `f` with the current request's context, without cloning it.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&RequestContext>) -> R) -> R {
    CURRENT.with(|c| f(c.borrow().as_deref()))
}

/// Runs `f` with `context` as the current request on this thread, restoring
/// what was current before (contexts nest). Framework crates call this
/// around each poll of the handler.
pub fn enter<R>(context: &Arc<RequestContext>, f: impl FnOnce() -> R) -> R {
    let previous = CURRENT.with(|c| c.replace(Some(Arc::clone(context))));
    let _restore = Restore(previous);
    // The request's span (when a signal keeps one) is the parent of what
    // runs inside.
    match context.trace.span() {
        None => f(),
        Some(span) => trace::within(span, f),
    }
}

/// Names a request's route on demand, for frameworks that route inside
/// the service their middleware wraps (actix-web).
pub trait LateRoute {
    /// The route template, or `None` if the request matches no route.
    fn late_route(&self) -> Option<String>;
}

/// Like [`enter`], with a resolver naming the route on demand for
/// frameworks that only know it after routing, which happens inside the
/// inner service (actix-web). It runs at most once per request, and only if
/// handler code asks for the route before the framework tells it.
pub fn enter_with_late_route<R>(
    context: &Arc<RequestContext>,
    resolve: &Rc<dyn LateRoute>,
    f: impl FnOnce() -> R,
) -> R {
    let previous = LATE_ROUTE.with(|l| l.replace(Some(Rc::clone(resolve))));
    let _restore = RestoreLate(previous);
    enter(context, f)
}

struct Restore(Option<Arc<RequestContext>>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

struct RestoreLate(Option<Rc<dyn LateRoute>>);

impl Drop for RestoreLate {
    fn drop(&mut self) {
        let previous = self.0.take();
        LATE_ROUTE.with(|l| *l.borrow_mut() = previous);
    }
}

pin_project! {
    /// A future that runs inside a request's context; see
    /// [`in_current_request`].
    pub struct InRequest<F> {
        #[pin]
        inner: F,
        context: Option<Arc<RequestContext>>,
    }
}

impl<F: Future> Future for InRequest<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        match this.context {
            Some(context) => enter(context, || this.inner.poll(cx)),
            None => this.inner.poll(cx),
        }
    }
}

/// Takes the current request's context along into `future`, for a task the
/// handler spawns (`tokio::spawn(in_current_request(async { ... }))`): cache
/// and dependency records made there count for the request. The route is
/// settled now, on the handler's thread. Outside a request it changes
/// nothing.
pub fn in_current_request<F: Future>(future: F) -> InRequest<F> {
    let context = RequestContext::current();
    if let Some(context) = &context {
        context.route_metrics();
    }
    InRequest {
        inner: future,
        context,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_taken_when_sane_and_generated_otherwise() {
        let observe = crate::Observe::builder().build().expect("defaults");
        let id = |header: Option<&[u8]>| {
            let id = accept_request_id(header);
            RequestContext::new(observe.families(), 0, None, Some(id), None)
                .request_id()
                .to_string()
        };
        // The first sane one of several.
        let first_sane = accept_request_id([&b"bad id!"[..], b"good-2", b"good-3"])
            .as_str()
            .to_string();
        assert_eq!(first_sane, "good-2");
        assert_eq!(id(Some(b"abc-123.X_y:z")), "abc-123.X_y:z");
        let long = [b'a'; MAX_REQUEST_ID + 1];
        for hostile in [
            Some(&b"evil\r\nINFO forged"[..]),
            Some(&b""[..]),
            Some(&long[..]),
            Some(&b"caf\xc3\xa9"[..]),
            None,
        ] {
            let generated = id(hostile);
            assert_eq!(generated.len(), 32, "{generated}");
            assert!(generated.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_ne!(id(None), id(None));
    }

    #[test]
    fn added_fields_are_bounded() {
        let observe = crate::Observe::builder().build().expect("defaults");
        let context = RequestContext::new(observe.families(), 0, None, None, None);
        for i in 0..100 {
            context.add_field(&format!("k{i}"), "é".repeat(1000));
        }
        let fields = context.fields();
        assert_eq!(fields.len(), MAX_EVENT_FIELDS);
        assert!(fields.iter().all(|(_, v)| v.len() <= MAX_FIELD_LEN));
    }
}
