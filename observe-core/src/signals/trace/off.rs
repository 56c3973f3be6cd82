//! Tracing without span export compiled in (feature `tracing` off):
//! requests still continue the caller's trace, so logs, request events and
//! outgoing calls carry its ids; no span is built.

use std::future::Future;

use super::propagate;
use crate::base::ids::TraceIds;
use crate::context::RequestContext;
use crate::encoding::Exemplar;
use crate::metrics::CallOutcome;

/// Whether spans are exported: never, without the feature.
pub(crate) fn is_exporting() -> bool {
    false
}

/// Continues the caller's trace, if it sent one.
pub(crate) fn start_request(
    context: &RequestContext,
    _excluded: bool,
    traceparent: Option<&[u8]>,
    tracestate: Option<&[u8]>,
) {
    if let Some((remote, _)) = propagate::caller(context, traceparent, tracestate) {
        propagate::continue_untraced(context, &remote);
    }
}

/// Nothing to record without a span.
pub(crate) fn record_path(_context: &RequestContext, _path: &str) {}

/// Nothing to end without a span.
pub(crate) fn finish_request(
    _context: &RequestContext,
    _route: &str,
    _excluded: bool,
    _status: Option<u16>,
    _error_type: Option<&str>,
) {
}

/// Nothing to end without a span.
pub(crate) fn finish_rpc(
    _context: &RequestContext,
    _service: &str,
    _method: &str,
    _code: u8,
    _error_type: Option<&str>,
) {
}

/// No exemplar without an exported trace.
pub(crate) fn exemplar(_context: &RequestContext) -> Option<TraceIds> {
    None
}

/// A dependency call's span: there is none without the feature.
#[derive(Debug)]
pub(crate) enum ClientSpan {}

impl ClientSpan {
    pub(crate) fn ids(&self) -> TraceIds {
        match *self {}
    }

    pub(crate) fn exemplar(&self, _value: f64) -> Option<Exemplar> {
        match *self {}
    }

    pub(crate) fn end(&self, _outcome: CallOutcome) {
        match *self {}
    }
}

/// No client span without the feature.
pub(crate) fn start_client_span(_dependency: &str, _operation: &str) -> Option<ClientSpan> {
    None
}

/// Runs `future` as it is.
pub(crate) async fn in_client_span<F: Future>(_span: Option<&ClientSpan>, future: F) -> F::Output {
    future.await
}

/// No span is current without the feature.
pub(crate) fn current_span_ids() -> Option<TraceIds> {
    None
}
