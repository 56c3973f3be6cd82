//! The trace a request carries: its ids (continued from the caller or made
//! on first use), the caller's `tracestate`, and, with the `tracing`
//! feature, the OpenTelemetry context of its server span, kept inline (no
//! allocation of its own) and made current around every poll.

use std::sync::OnceLock;

use crate::base::ids::TraceIds;

/// The context of a request's server span (feature `tracing`).
#[cfg(feature = "tracing")]
pub(crate) type SpanContext = opentelemetry::Context;

/// Without the `tracing` feature a request never has a span.
#[cfg(not(feature = "tracing"))]
#[derive(Debug, Clone)]
pub(crate) enum SpanContext {}

/// Runs `f` with `span` current on this thread, so what runs inside
/// becomes its child.
#[cfg(feature = "tracing")]
pub(crate) fn within<R>(span: &SpanContext, f: impl FnOnce() -> R) -> R {
    let _attached = span.clone().attach();
    f()
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn within<R>(span: &SpanContext, _f: impl FnOnce() -> R) -> R {
    match *span {}
}

/// The per-request tracing state kept in the request context.
#[derive(Debug, Default)]
pub(crate) struct RequestTrace {
    /// The ids, with the server span when spans are exported: set once
    /// (at the start, or made on first use when nothing set them), one
    /// initialisation for both.
    started: OnceLock<(TraceIds, Option<SpanContext>)>,
    /// The caller's `tracestate`, passed on.
    state: OnceLock<Box<str>>,
    /// The caller's span id, from a valid `traceparent`: the parent of the
    /// request's own span.
    parent: OnceLock<[u8; 8]>,
}

impl RequestTrace {
    /// The ids, made now if nothing set them.
    pub(crate) fn ids(&self) -> &TraceIds {
        &self.started.get_or_init(|| (TraceIds::new_root(), None)).0
    }

    /// The ids, if set or made already.
    pub(crate) fn ids_if_set(&self) -> Option<&TraceIds> {
        self.started.get().map(|(ids, _)| ids)
    }

    /// Sets the ids (once: the first setting wins).
    pub(crate) fn set_ids(&self, ids: TraceIds) {
        let _ = self.started.set((ids, None));
    }

    /// The server span, if there is one.
    pub(crate) fn span(&self) -> Option<&SpanContext> {
        self.started.get().and_then(|(_, span)| span.as_ref())
    }

    /// Sets the ids and the server span they belong to (once: the first
    /// setting wins).
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn set_span(&self, ids: TraceIds, span: SpanContext) {
        let _ = self.started.set((ids, Some(span)));
    }

    /// The caller's `tracestate`, to pass on.
    pub(crate) fn state(&self) -> Option<&str> {
        self.state.get().map(|s| &**s)
    }

    /// The caller's span id, when it sent a valid `traceparent`.
    #[cfg_attr(not(feature = "errors"), allow(dead_code))]
    pub(crate) fn parent_span_id(&self) -> Option<[u8; 8]> {
        self.parent.get().copied()
    }

    /// Keeps the caller's span id (once).
    pub(crate) fn set_parent_span_id(&self, span_id: [u8; 8]) {
        let _ = self.parent.set(span_id);
    }

    /// Keeps the caller's `tracestate` (once).
    pub(crate) fn set_state(&self, state: &str) {
        let _ = self.state.set(state.into());
    }
}
