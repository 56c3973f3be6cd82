//! The one place where a request's start, response, end, panic and
//! cancellation become metrics. Framework crates translate their types into
//! calls on [`RequestTracker`] and nothing else.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::context::RequestContext;
use crate::metrics::labels::CANCELLED_STATUS;
use crate::metrics::{Observation, Outcome, RouteMetrics, SeriesKey};
use crate::{Observe, analytics};

/// The metrics of the first route a middleware instance saw, kept for the
/// next requests; see [`Observe::start_request_cached`]. Clones share the
/// slot.
#[derive(Debug, Clone, Default)]
pub struct RouteCache {
    slot: Arc<OnceLock<Arc<RouteMetrics>>>,
}

/// Tracks one request from its start until its response body has been sent
/// (or dropped). Created by [`Observe::start_request`].
///
/// Dropping a tracker without calling [`finish`](Self::finish) or
/// [`panicked`](Self::panicked) records the request as cancelled: this is
/// what happens when the server drops the request future or the response
/// body because the client went away. The in-flight gauge is decremented in
/// every case, by the drop.
#[derive(Debug)]
#[must_use = "dropping a tracker records the request as cancelled"]
pub struct RequestTracker {
    /// The matched route; the unmatched one until a route is known.
    route: Arc<RouteMetrics>,
    context: Arc<RequestContext>,
    method: u8,
    started: Instant,
    request_body_size: Option<u64>,
    status: Option<u16>,
    response_body_size: u64,
    recorded: bool,
}

impl Observe {
    /// Starts tracking a request and counts it in flight.
    ///
    /// `method` is the request method as sent; anything outside the standard
    /// nine and the configured extras is recorded as `_OTHER`. `route` is the
    /// matched route template (`/users/{id}`), never a raw path; `None` means
    /// the request matched no route, or that the framework only knows the
    /// route after the handler ran (then call
    /// [`RequestTracker::route_after_handler`]).
    ///
    /// ```
    /// let observe = observe_core::Observe::builder().build().unwrap();
    /// let mut tracker = observe.start_request("GET", Some("/users/{id}"));
    /// tracker.response(200);
    /// tracker.add_response_body_bytes(42);
    /// tracker.finish();
    /// assert!(observe.render(observe_core::Format::Text).contains("http_route=\"/users/{id}\""));
    /// ```
    pub fn start_request(&self, method: &str, route: Option<&str>) -> RequestTracker {
        self.start_with(method, self.inner.http.route(route), route.is_some())
    }

    /// [`start_request`](Self::start_request) for a middleware instance
    /// that usually sees one route, as under axum, where `Router::layer`
    /// wraps each route separately: the route's metrics are found by one
    /// string comparison instead of a locked hash lookup. `cache` must only
    /// ever be used with this `Observe`.
    pub fn start_request_cached(
        &self,
        method: &str,
        route: Option<&str>,
        cache: &RouteCache,
    ) -> RequestTracker {
        let http = &self.inner.http;
        let metrics = match route {
            Some(route) => match cache.slot.get() {
                Some(cached) if &*cached.name == route => Arc::clone(cached),
                _ => {
                    let found = http.route(Some(route));
                    let _ = cache.slot.set(Arc::clone(&found));
                    found
                }
            },
            None => http.route(None),
        };
        self.start_with(method, metrics, route.is_some())
    }

    fn start_with(&self, method: &str, route: Arc<RouteMetrics>, known: bool) -> RequestTracker {
        let method = self.inner.http.methods.index(method);
        route.active().inc(method);
        // Without a route the context names it lazily: the request may be
        // unmatched, or the framework may route after its middleware.
        let context = RequestContext::new(self, method, known.then(|| Arc::clone(&route)));
        RequestTracker {
            route,
            context,
            method,
            started: Instant::now(),
            request_body_size: None,
            status: None,
            response_body_size: 0,
            recorded: false,
        }
    }
}

impl RequestTracker {
    /// Records the request body size, when known (`Content-Length` or an
    /// exact size hint). Unknown sizes are not observed rather than guessed.
    pub fn request_body_size(&mut self, bytes: u64) {
        self.request_body_size = Some(bytes);
    }

    /// The handler produced a response with this status code. Latency keeps
    /// running until [`finish`](Self::finish): the body still has to be sent.
    pub fn response(&mut self, status: u16) {
        self.status = Some(status);
    }

    /// Sets the route learned after the handler ran (frameworks that resolve
    /// the route late), for the `observe` that started this tracker. `None`
    /// keeps the route given at the start.
    pub fn route_after_handler(&mut self, observe: &Observe, route: Option<&str>) {
        if let Some(route) = route {
            self.route = observe.inner.http.route(Some(route));
            self.context.settle_route(&self.route);
        }
    }

    /// Takes the caller's `x-request-id` header value when it is sane, else
    /// generates an id; returns the id to echo in the response's
    /// `x-request-id`.
    pub fn request_id(&mut self, header: Option<&[u8]>) -> &str {
        self.context.accept_request_id(header)
    }

    /// The request's context, to [`enter`](crate::context::enter) around
    /// each poll of the handler.
    pub fn context(&self) -> &Arc<RequestContext> {
        &self.context
    }

    /// Whether error tracking wants this request's details (see
    /// [`error_details`](Self::error_details)); false unless
    /// [`Observe::errors`] was set up with a DSN.
    pub fn wants_error_details(&self) -> bool {
        crate::errors::is_enabled() && !self.route.excluded
    }

    /// Keeps what an error event may report about this request: the path
    /// and query, and the headers (at most
    /// [`MAX_HEADERS`](crate::errors::MAX_HEADERS); sensitive values are
    /// replaced before any event is sent). Does nothing unless
    /// error tracking is on; call it when
    /// [`wants_error_details`](Self::wants_error_details) says so.
    pub fn error_details<'a>(
        &mut self,
        path_and_query: &str,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) {
        crate::errors::take_details(&self.context, path_and_query, headers);
    }

    /// Continues the caller's trace from its `traceparent` and `tracestate`
    /// headers (malformed ones are ignored: a new trace starts) and, when
    /// spans are exported, starts the request's server span; `path` is
    /// recorded on it, redacted, when the span is sampled. Cheap when there
    /// is neither a header nor an exporter.
    pub fn trace_headers(
        &mut self,
        path: &str,
        traceparent: Option<&[u8]>,
        tracestate: Option<&[u8]>,
    ) {
        if traceparent.is_none() && crate::trace::exporting().is_none() {
            return;
        }
        crate::trace::start_request(&self.context, self.route.excluded, traceparent, tracestate);
        crate::trace::record_path(&self.context, path);
    }

    /// Counts bytes of the response body as they are sent.
    pub fn add_response_body_bytes(&mut self, bytes: u64) {
        self.response_body_size = self.response_body_size.saturating_add(bytes);
    }

    /// The response body has been sent completely.
    pub fn finish(mut self) {
        self.record(Outcome::Completed);
    }

    /// The handler panicked; the framework answers with a 500. Logged at
    /// ERROR: a panic is a bug an operator must see.
    pub fn panicked(mut self) {
        // Inside the request's context, so the line carries its request id.
        crate::context::enter(&self.context, || {
            tracing::error!(
                target: analytics::EVENT_TARGET,
                route = &*self.route.name,
                "request handler panicked"
            );
        });
        self.status = Some(500);
        self.record(Outcome::Panic);
    }

    fn record(&mut self, outcome: Outcome) {
        if std::mem::replace(&mut self.recorded, true) {
            return;
        }
        let route = &self.route;
        let error_type = match outcome {
            Outcome::Panic => Some("panic".to_string()),
            Outcome::Cancelled => Some("cancelled".to_string()),
            Outcome::Completed if self.status.is_some_and(|s| s >= 500) => {
                self.status.map(|s| s.to_string())
            }
            Outcome::Completed => None,
        };
        crate::trace::finish_request(
            &self.context,
            &route.name,
            route.excluded,
            self.status,
            error_type.as_deref(),
        );
        if route.excluded {
            return;
        }
        let status = self.status.unwrap_or(CANCELLED_STATUS);
        let key = SeriesKey {
            method: self.method,
            status,
            outcome,
        };
        let duration = self.started.elapsed();
        route.observe(
            key,
            &Observation {
                duration_nanos: u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX),
                request_body_size: self.request_body_size,
                response_body_size: self.response_body_size,
                trace: crate::trace::exemplar(&self.context),
            },
        );
        if outcome == Outcome::Completed
            && status >= 500
            && let Some(errors) = crate::errors::tracker()
        {
            errors.server_error(&self.context, &route.name, status);
        }
        let observe = &self.context.observe;
        analytics::emit(
            &self.context,
            &analytics::Finished {
                method: observe.inner.http.methods.name(self.method),
                route: &route.name,
                status,
                error_type,
                duration,
                request_body_bytes: self.request_body_size,
                response_body_bytes: self.response_body_size,
            },
        );
    }
}

/// What a framework's response-body wrapper reports, so the end-of-request
/// rules live here once: bytes are counted as they are sent, the request
/// finishes when the body ends, and a body dropped before its end is a
/// cancellation unless it had nothing left to send.
#[derive(Debug, Default)]
pub struct BodyRecorder {
    tracker: Option<RequestTracker>,
}

impl BodyRecorder {
    /// Records the body of the request `tracker` follows (`None` for an
    /// excluded route or a synthetic response: nothing is recorded).
    pub fn new(tracker: Option<RequestTracker>) -> Self {
        Self { tracker }
    }

    /// A chunk of `bytes` was produced for sending.
    pub fn data(&mut self, bytes: u64) {
        if let Some(tracker) = self.tracker.as_mut() {
            tracker.add_response_body_bytes(bytes);
        }
    }

    /// The body reported its end: the request is complete.
    pub fn end(&mut self) {
        if let Some(tracker) = self.tracker.take() {
            tracker.finish();
        }
    }

    /// The body is being dropped. `exhausted` says whether it had nothing
    /// left to send (servers need not poll a body that says so); otherwise
    /// the request is recorded as cancelled.
    pub fn dropped(&mut self, exhausted: bool) {
        match self.tracker.take() {
            Some(tracker) if exhausted => tracker.finish(),
            // The tracker's own drop records the cancellation.
            other => drop(other),
        }
    }
}

/// The request body size to record, from the request headers, by the rules
/// of HTTP/1.1 (RFC 9112 section 6.3): a valid `Content-Length` is the size;
/// a request with neither `Content-Length` nor `Transfer-Encoding` has no
/// body (0); a chunked or malformed one has an unknown size (`None`), which
/// is left unrecorded rather than guessed. Every framework crate uses this,
/// so the same request yields the same series everywhere.
///
/// ```
/// use observe_core::request_body_size;
/// assert_eq!(request_body_size(Some(b"42"), false), Some(42));
/// assert_eq!(request_body_size(None, false), Some(0));
/// assert_eq!(request_body_size(None, true), None);
/// assert_eq!(request_body_size(Some(b"-1"), false), None);
/// ```
pub fn request_body_size(content_length: Option<&[u8]>, transfer_encoding: bool) -> Option<u64> {
    match content_length {
        Some(value) => std::str::from_utf8(value).ok()?.trim().parse().ok(),
        None if transfer_encoding => None,
        None => Some(0),
    }
}

impl Drop for RequestTracker {
    fn drop(&mut self) {
        self.record(Outcome::Cancelled);
        self.route.active().dec(self.method);
    }
}
