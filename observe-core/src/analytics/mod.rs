//! One analytics event per request, written when the request has finished
//! (completed, failed, panicked or cancelled) as one structured log line at
//! INFO under the target [`EVENT_TARGET`].
//!
//! Schema (JSON format; see the README for each field):
//! `{"timestamp","level":"INFO","target":"observe::request","service",
//! "request_id","message":"request finished","event":{"method","route",
//! "status","duration_ms","request_body_bytes","response_body_bytes",
//! "error_type"?,"dependencies":{"count","total_ms","calls":[{"dependency",
//! "operation","duration_ms","outcome"}]},"cache":{"hits","misses",
//! "errors"},"fields":{...}}}`. No query string, no client address, no
//! header: what the handler adds with
//! [`add_event_field`](crate::context::add_event_field) is redacted like any
//! log field.

use std::time::Duration;

use tracing::Level;

use crate::context::RequestContext;
use crate::logging::json;
use crate::logging::layer::{LogFormat, sink};

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
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Writes the event of `context`'s request.
pub(crate) fn emit(context: &RequestContext, finished: &Finished<'_>) {
    let Some(sink) = sink() else {
        emit_through_tracing(context, finished);
        return;
    };
    let Some(level) = sink.decide(EVENT_TARGET, Level::INFO) else {
        return;
    };
    let redactor = &sink.redactor;
    let mut out = String::with_capacity(512);
    sink.begin(&mut out, level, Level::INFO, EVENT_TARGET, Some(context));
    let calls = context.calls();
    let cache = context.cache();
    match sink.format() {
        LogFormat::Json => {
            json::own_key!(&mut out, "message");
            json::string(&mut out, "request finished");
            json::own_key!(&mut out, "event");
            out.push('{');
            json::own_key!(&mut out, "method", first);
            json::string(&mut out, finished.method);
            json::own_key!(&mut out, "route");
            json::string(&mut out, finished.route);
            json::own_key!(&mut out, "status");
            json::integer(&mut out, finished.status);
            json::own_key!(&mut out, "duration_ms");
            json::number(&mut out, millis(finished.duration));
            json::own_key!(&mut out, "request_body_bytes");
            match finished.request_body_bytes {
                Some(n) => json::integer(&mut out, n),
                None => out.push_str("null"),
            }
            json::own_key!(&mut out, "response_body_bytes");
            json::integer(&mut out, finished.response_body_bytes);
            if let Some(error) = &finished.error_type {
                json::own_key!(&mut out, "error_type");
                json::string(&mut out, error);
            }
            json::own_key!(&mut out, "dependencies");
            out.push('{');
            json::own_key!(&mut out, "count", first);
            json::integer(&mut out, calls.count);
            json::own_key!(&mut out, "total_ms");
            json::number(&mut out, millis(calls.total));
            json::own_key!(&mut out, "calls");
            out.push('[');
            for (i, call) in calls.listed.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('{');
                json::own_key!(&mut out, "dependency", first);
                json::string(&mut out, &call.dependency);
                json::own_key!(&mut out, "operation");
                json::string(&mut out, &call.operation);
                json::own_key!(&mut out, "duration_ms");
                json::number(&mut out, millis(call.duration));
                json::own_key!(&mut out, "outcome");
                json::string(&mut out, call.outcome.as_str());
                out.push('}');
            }
            out.push_str("]}");
            json::own_key!(&mut out, "cache");
            out.push('{');
            json::own_key!(&mut out, "hits", first);
            json::integer(&mut out, cache.hits);
            json::own_key!(&mut out, "misses");
            json::integer(&mut out, cache.misses);
            json::own_key!(&mut out, "errors");
            json::integer(&mut out, cache.errors);
            out.push('}');
            json::own_key!(&mut out, "fields");
            out.push('{');
            for (i, (key, value)) in context.fields().iter().enumerate() {
                json::key(&mut out, key, i == 0);
                json::string(&mut out, &redactor.redact_field(key, value));
            }
            out.push_str("}}}");
        }
        LogFormat::Text => {
            use std::fmt::Write;
            let _ = write!(
                out,
                " request finished method={} route={:?} status={} duration_ms={:.3} dependency_calls={} dependency_ms={:.3} cache_hits={} cache_misses={}",
                finished.method,
                finished.route,
                finished.status,
                millis(finished.duration),
                calls.count,
                millis(calls.total),
                cache.hits,
                cache.misses,
            );
            if let Some(error) = &finished.error_type {
                let _ = write!(out, " error_type={error}");
            }
            for (key, value) in context.fields() {
                let _ = write!(out, " {key}={:?}", redactor.redact_field(&key, &value));
            }
        }
    }
    out.push('\n');
    sink.send(level, out);
}

/// Without observe's logging, the event still goes to whatever `tracing`
/// subscriber the service installed, as flat fields.
fn emit_through_tracing(context: &RequestContext, finished: &Finished<'_>) {
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
        dependency_calls = calls.count,
        dependency_ms = millis(calls.total),
        cache_hits = cache.hits,
        cache_misses = cache.misses,
        "request finished"
    );
}
