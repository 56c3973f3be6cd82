//! One analytics event per request, written when the request has finished
//! (completed, failed, panicked or cancelled) as one structured log line at
//! INFO under the target [`EVENT_TARGET`].
//!
//! Schema (JSON format; see the README for each field):
//! `{"timestamp","level":"INFO","target":"observe::request","service",
//! "request_id","message":"request finished","event":{"method","route",
//! "status","duration_ms","request_body_bytes","response_body_bytes",
//! "error_type"?,"sample_rate"?,"dependencies":{"count","total_ms","calls":[{"dependency",
//! "operation","duration_ms","outcome"}]},"cache":{"hits","misses",
//! "errors"},"labels"?:{...},"rpc"?:{"system","service","method",
//! "grpc_status_code"},"fields":{...}}}` (`labels`: the request-derived
//! labels, when the `Observe` declares any; `rpc`: for a gRPC call). No query string, no client address, no
//! header: what the handler adds with
//! [`add_event_field`](crate::context::add_event_field) is redacted like any
//! log field, by the redactor of the request's `Observe`.

#[cfg(feature = "logging")]
mod line;
#[cfg(feature = "logging")]
pub(crate) use line::write;

use std::time::Duration;

use tracing::Level;

use crate::context::RequestContext;

/// The target of the per-request event (filter it with `RUST_LOG`, e.g.
/// `info,observe::request=off`).
pub const EVENT_TARGET: &str = "observe::request";

/// A finished request, as the event reports it.
pub(crate) struct Finished<'a> {
    pub(crate) method: &'a str,
    pub(crate) route: &'a str,
    pub(crate) status: u16,
    pub(crate) error_type: Option<String>,
    pub(crate) duration: Duration,
    pub(crate) request_body_bytes: Option<u64>,
    pub(crate) response_body_bytes: u64,
    /// With tail sampling on: how many requests this event stands for.
    pub(crate) sample_rate: Option<u32>,
    /// A gRPC call's service, method and status code.
    pub(crate) rpc: Option<(&'a str, &'a str, u8)>,
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The request-derived labels as `name=value,...`, when any is declared.
fn labels_text(context: &RequestContext) -> Option<String> {
    let labels = context.http_labels();
    (!labels.is_empty()).then(|| {
        labels
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// The level the event is written at, before remapping.
pub(crate) const LEVEL: Level = Level::INFO;

/// Without observe's logging, the event still goes to whatever `tracing`
/// subscriber the service installed, as flat fields.
pub(crate) fn emit_through_tracing(context: &RequestContext, finished: &Finished<'_>) {
    if !tracing::enabled!(target: EVENT_TARGET, Level::INFO) {
        return;
    }
    let calls = context.calls();
    let cache = context.cache();
    tracing::info!(
        target: EVENT_TARGET,
        request_id = context.request_id(),
        trace_id = context.trace_ids().trace_id_hex(),
        span_id = context.trace_ids().span_id_hex(),
        method = finished.method,
        route = finished.route,
        status = finished.status,
        duration_ms = millis(finished.duration),
        response_body_bytes = finished.response_body_bytes,
        error_type = finished.error_type.as_deref(),
        sample_rate = finished.sample_rate,
        dependency_calls = calls.count,
        dependency_ms = millis(calls.total),
        cache_hits = cache.hits,
        cache_misses = cache.misses,
        http_labels = labels_text(context).as_deref(),
        rpc_grpc_status_code = finished.rpc.map(|(_, _, code)| code),
        "request finished"
    );
}
