//! The trace a request carries: its ids (continued from the caller or made
//! on first use), the caller's `tracestate`, and the span a tracing signal
//! keeps for it, behind a narrow interface so this layer needs no tracer.

use std::any::Any;
use std::sync::OnceLock;

use crate::base::ids::TraceIds;

/// A signal's span of one request: made current around every poll of the
/// handler, so what runs inside becomes its child.
pub(crate) trait RequestSpan: Send + Sync + std::fmt::Debug {
    /// Runs `f` with this span current on this thread.
    fn within(&self, f: &mut dyn FnMut());
    /// The signal's own type, for the signal that made it.
    fn as_any(&self) -> &dyn Any;
}

/// The per-request tracing state kept in the request context.
#[derive(Debug, Default)]
pub(crate) struct RequestTrace {
    /// The ids, made on first use when nothing set them at the start.
    ids: OnceLock<TraceIds>,
    /// The server span, when spans are exported.
    span: OnceLock<Box<dyn RequestSpan>>,
    /// The caller's `tracestate`, passed on.
    state: OnceLock<Box<str>>,
}

impl RequestTrace {
    /// The ids, made now if nothing set them.
    pub(crate) fn ids(&self) -> &TraceIds {
        self.ids.get_or_init(TraceIds::new_root)
    }

    /// The ids, if set or made already.
    pub(crate) fn ids_if_set(&self) -> Option<&TraceIds> {
        self.ids.get()
    }

    /// Sets the ids (once: the first setting wins).
    pub(crate) fn set_ids(&self, ids: TraceIds) {
        let _ = self.ids.set(ids);
    }

    /// The server span, if a signal keeps one.
    pub(crate) fn span(&self) -> Option<&dyn RequestSpan> {
        self.span.get().map(|s| &**s)
    }

    /// Keeps the server span (once).
    pub(crate) fn set_span(&self, span: Box<dyn RequestSpan>) {
        let _ = self.span.set(span);
    }

    /// The caller's `tracestate`, to pass on.
    pub(crate) fn state(&self) -> Option<&str> {
        self.state.get().map(|s| &**s)
    }

    /// Keeps the caller's `tracestate` (once).
    pub(crate) fn set_state(&self, state: &str) {
        let _ = self.state.set(state.into());
    }
}
