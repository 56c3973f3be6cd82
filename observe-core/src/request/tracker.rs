//! The recorder: the one place where a request's start, response, end,
//! panic and cancellation become metrics, a request event, a span and
//! (for failures) an error report. Framework crates hand over a
//! [`RequestHead`] and the response's status, and nothing else.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use super::head::{self, Header, RequestHead};
use crate::base::ids::RequestId;
use crate::context::{RequestContext, RequestDetails, accept_request_id};
use crate::metrics::console::recent::CALLS_KEPT;
use crate::metrics::console::{KeptCall, KeptRequest};
use crate::metrics::labels::CANCELLED_STATUS;
use crate::metrics::request_labels::LabelRequest;
use crate::metrics::rpc::{self, RpcMetrics};
use crate::metrics::{Families, Observation, Outcome, RouteMetrics, SeriesKey};
use crate::signals::{event, trace};

/// The metrics of the first route a middleware instance saw, kept for the
/// next requests (axum's `Router::layer` makes one service per route):
/// the route's metrics are then found by one string comparison instead of
/// a locked hash lookup. Clones share the slot; use one only with one
/// `Observe`.
#[derive(Debug, Clone, Default)]
pub struct RouteCache {
    slot: Arc<OnceLock<Arc<RouteMetrics>>>,
}

/// Tracks one request from its start until its response body has been sent
/// (or dropped). Created by [`Observe::track`](crate::Observe::track) or
/// [`Observe::start_request`](crate::Observe::start_request).
///
/// Dropping a tracker without calling [`finish`](Self::finish) or
/// [`panicked`](Self::panicked) records the request as cancelled: this is
/// what happens when the server drops the request future or the response
/// body because the client went away; dropped while its thread unwinds
/// from a panic (no middleware caught it), as a panic. The in-flight gauge
/// is decremented in every case, by the drop.
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
    /// A gRPC call: its path and the `grpc-status` seen, if any (boxed:
    /// the tracker moves with every response, most of which are not gRPC).
    grpc: Option<Box<Grpc>>,
}

/// What the recorder keeps of a gRPC call until it ends.
#[derive(Debug)]
struct Grpc {
    path: Box<str>,
    status: Option<u8>,
}

/// Whether a `content-type` is gRPC's: `application/grpc`, alone or with
/// a `+codec` or parameters.
fn is_grpc(content_type: Option<&[u8]>) -> bool {
    content_type
        .and_then(|v| v.strip_prefix(b"application/grpc"))
        .is_some_and(|rest| matches!(rest.first(), None | Some(b'+' | b';')))
}

/// Starts tracking: the route's metrics (through `cache` when given), in
/// flight, and the request's context.
pub(crate) fn start(
    families: &Arc<Families>,
    method: &str,
    route: Option<&str>,
    cache: Option<&RouteCache>,
) -> RequestTracker {
    let metrics = route_metrics(families, route, cache);
    begin(families, method, metrics, route.is_some(), None, None)
}

/// The metrics of `route` (through `cache` when given); the unmatched
/// route's without one.
fn route_metrics(
    families: &Families,
    route: Option<&str>,
    cache: Option<&RouteCache>,
) -> Arc<RouteMetrics> {
    let http = &families.http;
    match (route, cache) {
        (Some(route), Some(cache)) => match cache.slot.get() {
            Some(cached) if &*cached.name == route => Arc::clone(cached),
            _ => {
                let found = http.route(Some(route));
                let _ = cache.slot.set(Arc::clone(&found));
                found
            }
        },
        (route, _) => http.route(route),
    }
}

/// Counts the request in flight and makes its context, with what is
/// already known of it.
fn begin(
    families: &Arc<Families>,
    method: &str,
    metrics: Arc<RouteMetrics>,
    route_known: bool,
    request_id: Option<RequestId>,
    details: Option<RequestDetails>,
) -> RequestTracker {
    let method = families.http.methods.index(method);
    metrics.active().inc(method);
    // Without a route the context names it lazily: the request may be
    // unmatched, or the framework may route after its middleware.
    let context = RequestContext::new(
        families,
        method,
        route_known.then(|| Arc::clone(&metrics)),
        request_id,
        details,
    );
    RequestTracker {
        route: metrics,
        context,
        method,
        started: Instant::now(),
        request_body_size: None,
        status: None,
        response_body_size: 0,
        recorded: false,
        grpc: None,
    }
}

/// Starts tracking the request `head` describes: everything observe reads
/// of a request, read here once.
pub(crate) fn track(
    families: &Arc<Families>,
    head: &impl RequestHead,
    route: Option<&str>,
    cache: Option<&RouteCache>,
) -> RequestTracker {
    // The first sane id the caller (or a middleware before ours) sent.
    let request_id = accept_request_id(head.values(Header::RequestId));
    let metrics = route_metrics(families, route, cache);
    // What an error report may need, copied while the request is at hand.
    let details = (errors_on() && !metrics.excluded)
        .then(|| RequestDetails::new(head.path(), head.query(), head.headers()));
    let mut tracker = begin(
        families,
        head.method(),
        metrics,
        route.is_some(),
        Some(request_id),
        details,
    );
    tracker.request_body_size = head::body_size(head);
    // gRPC calls are POSTs: other methods skip the header lookup.
    if head.method() == "POST" && is_grpc(head::only(head.values(Header::ContentType))) {
        tracker.grpc = Some(Box::new(Grpc {
            path: head.path().into(),
            status: None,
        }));
    }
    let traceparent = head::only(head.values(Header::Traceparent));
    if traceparent.is_some() || trace::is_exporting() {
        // Meaningless without a traceparent: not even looked up.
        let tracestate = traceparent.and_then(|_| head::joined(head.values(Header::Tracestate)));
        trace::start_request(
            &tracker.context,
            tracker.route.excluded,
            traceparent,
            tracestate.as_deref(),
        );
        trace::record_path(&tracker.context, head.path());
    }
    let labels = &families.http.labels;
    if labels.classifies() {
        let headers: Vec<(&str, &[u8])> = head.headers().collect();
        let request = LabelRequest::new(head.method(), head.path(), &headers);
        tracker.context.set_label_ids(labels.classify(&request));
    }
    tracker
}

#[cfg(feature = "errors")]
fn errors_on() -> bool {
    crate::signals::errors::installed().is_some()
}

#[cfg(not(feature = "errors"))]
fn errors_on() -> bool {
    false
}

#[cfg(feature = "logging")]
fn panic_line_written() -> bool {
    crate::base::panic_hook::writes_lines()
}

#[cfg(not(feature = "logging"))]
fn panic_line_written() -> bool {
    false
}

#[cfg(feature = "errors")]
fn report_server_error(context: &RequestContext, route: &str, status: u16) {
    if let Some(errors) = crate::signals::errors::installed() {
        errors.server_error(context, route, status);
    }
}

#[cfg(not(feature = "errors"))]
fn report_server_error(_context: &RequestContext, _route: &str, _status: u16) {}

/// Writes the request event: through observe's logging when it is set up,
/// else through whatever `tracing` subscriber the service installed.
#[cfg(feature = "logging")]
fn write_event(context: &RequestContext, finished: &event::Finished<'_>) {
    let Some(sink) = crate::signals::logging::installed() else {
        event::emit_through_tracing(context, finished);
        return;
    };
    let Some(level) = sink.decide(event::EVENT_TARGET, event::LEVEL) else {
        return;
    };
    let request = crate::base::line::LineRequest {
        request_id: context.request_id(),
        trace: context.trace_ids(),
    };
    let mut line = sink.begin(
        level,
        event::LEVEL,
        event::EVENT_TARGET,
        context.service(),
        Some(request),
        512,
    );
    if let Some(out) = &mut line.text {
        event::write(out, sink.format(), context, finished);
    }
    #[cfg(feature = "otlp")]
    if let Some(record) = &mut line.record {
        event::write_record(record, context, finished);
    }
    sink.send(level, line);
}

#[cfg(not(feature = "logging"))]
fn write_event(context: &RequestContext, finished: &event::Finished<'_>) {
    event::emit_through_tracing(context, finished);
}

/// The console's copy of a finished request: ids, route, timings and the
/// first dependency calls; nothing of the request's headers or body.
fn kept_request(
    context: &RequestContext,
    route: &RouteMetrics,
    status: u16,
    error_type: &Option<String>,
    duration: std::time::Duration,
    ended: Instant,
) -> KeptRequest {
    let calls = context.calls();
    KeptRequest {
        at: std::time::SystemTime::now(),
        ended,
        method: context.method().into(),
        route: Arc::clone(&route.name),
        status,
        error_type: error_type.as_deref().map(Box::from),
        duration,
        request_id: context.request_id().into(),
        trace: context.trace_ids(),
        calls: calls
            .listed
            .iter()
            .take(CALLS_KEPT)
            .map(|call| KeptCall {
                dependency: Arc::clone(&call.dependency),
                operation: Arc::clone(&call.operation),
                duration: call.duration,
                outcome: call.outcome,
            })
            .collect(),
        calls_made: calls.count,
    }
}

impl RequestTracker {
    /// Records the request body size, when known (`Content-Length` or an
    /// exact size hint). Unknown sizes are not observed rather than guessed.
    pub fn request_body_size(&mut self, bytes: u64) {
        self.request_body_size = Some(bytes);
    }

    /// The handler produced a response with this status code; returns the
    /// request id's bytes (visible ASCII) to echo in the response's
    /// request-id header. Latency keeps running until
    /// [`finish`](Self::finish): the body still has to be sent.
    pub fn response(&mut self, status: u16) -> &[u8] {
        self.status = Some(status);
        self.context.request_id_bytes()
    }

    /// Whether the request is a HEAD, whose answer has no body.
    pub(crate) fn is_head(&self) -> bool {
        self.context.method() == "HEAD"
    }

    /// Whether the request is a gRPC call (`content-type:
    /// application/grpc...`): the framework crate then reports its
    /// `grpc-status`, from the response headers of a trailers-only answer
    /// or from the trailers.
    pub fn is_grpc(&self) -> bool {
        self.grpc.is_some()
    }

    /// The call's `grpc-status` value; a malformed one counts as UNKNOWN
    /// (2), as gRPC clients read it. The last one given wins.
    pub fn grpc_status(&mut self, value: &[u8]) {
        if let Some(grpc) = &mut self.grpc {
            grpc.status = Some(rpc::parse_status(value));
        }
    }

    /// Sets the route learned after the handler ran (frameworks that resolve
    /// the route late). `None` keeps the route given at the start.
    pub fn route_after_handler(&mut self, route: Option<&str>) {
        if let Some(route) = route {
            self.route = self.context.families.http.route(Some(route));
            self.context.settle_route(&self.route);
        }
    }

    /// The request id: the caller's when it was sane, else generated.
    pub fn request_id(&self) -> &str {
        self.context.request_id()
    }

    /// The request's context, to [`enter`](crate::context::enter) around
    /// each poll of the handler.
    pub fn context(&self) -> &Arc<RequestContext> {
        &self.context
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
        self.record_panic();
    }

    fn record_panic(&mut self) {
        if self.recorded {
            return;
        }
        // Observe's panic hook wrote the panic as a line already, with its
        // message and location; else say it here, inside the request's
        // context so the line carries its request id.
        if !panic_line_written() {
            crate::context::enter(&self.context, || {
                tracing::error!(
                    target: event::EVENT_TARGET,
                    route = &*self.route.name,
                    "request handler panicked"
                );
            });
        }
        self.status = Some(500);
        self.record(Outcome::Panic);
    }

    fn record(&mut self, outcome: Outcome) {
        if std::mem::replace(&mut self.recorded, true) {
            return;
        }
        if let Some(grpc) = self.grpc.take() {
            self.record_grpc(outcome, &grpc);
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
        trace::finish_request(
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
            labels: self.context.label_ids(),
            method: self.method,
            status,
            outcome,
        };
        let duration = self.started.elapsed();
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        route.observe(
            key,
            &Observation {
                duration_nanos: nanos,
                request_body_size: self.request_body_size,
                response_body_size: self.response_body_size,
                trace: trace::exemplar(&self.context),
            },
        );
        if let Some(console) = self.context.families.console.get() {
            let failed = status >= 500 && outcome != Outcome::Cancelled;
            let ended = self.started + duration;
            if console.recent.wants(failed, ended, nanos) {
                let kept = kept_request(&self.context, route, status, &error_type, duration, ended);
                console.recent.keep(kept, failed);
            }
        }
        if outcome == Outcome::Completed && status >= 500 {
            report_server_error(&self.context, &route.name, status);
        }
        self.event(&route.name, status, error_type, duration, None);
    }

    /// Writes the request event, unless tail sampling drops it (decided
    /// before anything is formatted).
    fn event(
        &self,
        route: &str,
        status: u16,
        error_type: Option<String>,
        duration: std::time::Duration,
        rpc: Option<(&str, &str, u8)>,
    ) {
        let sampling = &self.context.families.event_sampling;
        let Some(sample_rate) = sampling.decide(error_type.is_some(), duration) else {
            return;
        };
        let finished = event::Finished {
            method: self.context.method(),
            route,
            status,
            error_type,
            duration,
            request_body_bytes: self.request_body_size,
            response_body_bytes: self.response_body_size,
            sample_rate: sampling.is_on().then_some(sample_rate),
            rpc,
        };
        write_event(&self.context, &finished);
        #[cfg(feature = "clickhouse")]
        crate::sinks::clickhouse::record(&self.context, &finished);
    }
}

impl RequestTracker {
    /// A gRPC call ends: `rpc_server_duration_seconds` instead of the
    /// HTTP families, and the RPC conventions on the span and the event.
    fn record_grpc(&mut self, outcome: Outcome, grpc: &Grpc) {
        let code = match outcome {
            Outcome::Panic => rpc::INTERNAL,
            Outcome::Cancelled => rpc::CANCELLED,
            Outcome::Completed => match (grpc.status, self.status) {
                (Some(code), _) => code,
                // No grpc-status at all: a broken answer.
                (None, Some(200) | None) => rpc::UNKNOWN,
                (None, Some(status)) => rpc::code_of_http_status(status),
            },
        };
        let (service, method) = RpcMetrics::labels_for(&grpc.path, code);
        let error_type = rpc::error_type(code, outcome);
        trace::finish_rpc(&self.context, service, method, code, error_type.as_deref());
        let duration = self.started.elapsed();
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        let families = &self.context.families;
        families.rpc.observe(service, method, code, outcome, nanos);
        if outcome == Outcome::Completed && rpc::is_server_error(code) {
            report_rpc_error(&self.context, service, method, code);
        }
        let route = format!("/{service}/{method}");
        let status = self.status.unwrap_or(CANCELLED_STATUS);
        self.event(
            &route,
            status,
            error_type,
            duration,
            Some((service, method, code)),
        );
    }
}

#[cfg(feature = "errors")]
fn report_rpc_error(context: &RequestContext, service: &str, method: &str, code: u8) {
    if let Some(errors) = crate::signals::errors::installed() {
        errors.rpc_error(context, service, method, code);
    }
}

#[cfg(not(feature = "errors"))]
fn report_rpc_error(_context: &RequestContext, _service: &str, _method: &str, _code: u8) {}

impl Drop for RequestTracker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Nothing caught the handler's panic (catching is off, e.g. for
            // tower-http's CatchPanicLayer outside): it is still one panic.
            self.record_panic();
        } else {
            self.record(Outcome::Cancelled);
        }
        self.route.active().dec(self.method);
    }
}
