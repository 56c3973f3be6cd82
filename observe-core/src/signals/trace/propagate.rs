//! W3C trace context in and out of a request: the caller's trace is
//! continued, and outgoing calls carry the current span as their parent.
//! Works with or without span export.

use crate::base::ids::{TraceIds, new_span_id};
use crate::base::trace_context::{
    Traceparent, accept_tracestate, format_traceparent, parse_traceparent,
};
use crate::context::{RequestContext, with_current};

/// The caller's span from `traceparent` (the header's only value) and
/// `tracestate` (all its lines, joined); the caller's span id is kept as
/// the request's parent, the state to pass on.
/// `None`, and nothing kept, when the caller sent no valid trace.
pub(crate) fn caller<'a>(
    context: &'a RequestContext,
    traceparent: Option<&[u8]>,
    tracestate: Option<&[u8]>,
) -> Option<(Traceparent, Option<&'a str>)> {
    let remote = traceparent.and_then(parse_traceparent)?;
    context.trace.set_parent_span_id(remote.span_id);
    if let Some(state) = tracestate.and_then(accept_tracestate) {
        context.trace.set_state(&state);
    }
    Some((remote, context.trace.state()))
}

/// Continues the caller's trace without a tracer: the request keeps the
/// caller's trace id under a span id of its own.
pub(crate) fn continue_untraced(context: &RequestContext, remote: &Traceparent) {
    context.trace.set_ids(TraceIds {
        trace_id: remote.trace_id,
        span_id: new_span_id(),
        sampled: remote.sampled,
    });
}

/// The `traceparent` to send on an outgoing call made now: the current
/// dependency call (its client span, or with nothing exported its own span
/// id), else the request's span. `None` outside a request and outside any
/// span.
pub fn traceparent() -> Option<String> {
    let ids = super::current_span_ids()
        .or_else(|| with_current(|c| c.map(RequestContext::current_ids)))?;
    Some(format_traceparent(&ids.trace_id, &ids.span_id, ids.sampled))
}

/// The caller's `tracestate` to pass on, if any.
pub fn tracestate() -> Option<String> {
    with_current(|c| c.and_then(|c| c.trace.state().map(str::to_string)))
}

/// Adds `traceparent` (and `tracestate`) of the current request or
/// dependency call to outgoing request headers.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// observe_core::trace::inject(&mut headers); // outside a request: nothing
/// assert!(headers.is_empty());
/// ```
pub fn inject(headers: &mut http::HeaderMap) {
    if let Some(parent) = traceparent().and_then(|v| http::HeaderValue::from_str(&v).ok()) {
        headers.insert("traceparent", parent);
        if let Some(state) = tracestate().and_then(|v| http::HeaderValue::from_str(&v).ok()) {
            headers.insert("tracestate", state);
        }
    }
}
