//! The event as a log line (feature `logging`): JSON or text, after the
//! opening every line shares.

use super::{Finished, millis};
use crate::base::json;
use crate::base::line::LogFormat;
use crate::context::RequestContext;

/// Appends the event of `context`'s request to a line whose opening is
/// written already, redacted by the request's instance.
pub(crate) fn write(
    out: &mut String,
    format: LogFormat,
    context: &RequestContext,
    finished: &Finished<'_>,
) {
    let redactor = &context.service().redactor;
    let calls = context.calls();
    let cache = context.cache();
    match format {
        LogFormat::Json => {
            json::own_key!(out, "message");
            json::string(out, "request finished");
            json::own_key!(out, "event");
            out.push('{');
            json::own_key!(out, "method", first);
            json::string(out, finished.method);
            json::own_key!(out, "route");
            json::string(out, finished.route);
            json::own_key!(out, "status");
            json::integer(out, finished.status);
            json::own_key!(out, "duration_ms");
            json::number(out, millis(finished.duration));
            json::own_key!(out, "request_body_bytes");
            match finished.request_body_bytes {
                Some(n) => json::integer(out, n),
                None => out.push_str("null"),
            }
            json::own_key!(out, "response_body_bytes");
            json::integer(out, finished.response_body_bytes);
            if let Some(rate) = finished.sample_rate {
                json::own_key!(out, "sample_rate");
                json::integer(out, rate);
            }
            if let Some(error) = &finished.error_type {
                json::own_key!(out, "error_type");
                json::string(out, error);
            }
            json::own_key!(out, "dependencies");
            out.push('{');
            json::own_key!(out, "count", first);
            json::integer(out, calls.count);
            json::own_key!(out, "total_ms");
            json::number(out, millis(calls.total));
            json::own_key!(out, "calls");
            out.push('[');
            for (i, call) in calls.listed.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('{');
                json::own_key!(out, "dependency", first);
                json::string(out, &call.dependency);
                json::own_key!(out, "operation");
                json::string(out, &call.operation);
                json::own_key!(out, "duration_ms");
                json::number(out, millis(call.duration));
                json::own_key!(out, "outcome");
                json::string(out, call.outcome.as_str());
                json::own_key!(out, "span_id");
                crate::base::ids::push_quoted_hex(out, &call.span_id);
                out.push('}');
            }
            out.push_str("]}");
            json::own_key!(out, "cache");
            out.push('{');
            json::own_key!(out, "hits", first);
            json::integer(out, cache.hits);
            json::own_key!(out, "misses");
            json::integer(out, cache.misses);
            json::own_key!(out, "errors");
            json::integer(out, cache.errors);
            out.push('}');
            if let Some((service, method, code)) = finished.rpc {
                json::own_key!(out, "rpc");
                out.push('{');
                json::own_key!(out, "system", first);
                json::string(out, "grpc");
                json::own_key!(out, "service");
                json::string(out, service);
                json::own_key!(out, "method");
                json::string(out, method);
                json::own_key!(out, "grpc_status_code");
                json::integer(out, code);
                out.push('}');
            }
            let labels = context.http_labels();
            if !labels.is_empty() {
                json::own_key!(out, "labels");
                out.push('{');
                for (i, (name, value)) in labels.iter().enumerate() {
                    json::key(out, name, i == 0);
                    json::string(out, &redactor.redact_field(name, value));
                }
                out.push('}');
            }
            json::own_key!(out, "fields");
            out.push('{');
            for (i, (key, value)) in context.fields().iter().enumerate() {
                json::key(out, key, i == 0);
                json::string(out, &redactor.redact_field(key, value));
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
            if let Some(rate) = finished.sample_rate {
                let _ = write!(out, " sample_rate={rate}");
            }
            if let Some((_, _, code)) = finished.rpc {
                let _ = write!(out, " rpc_grpc_status_code={code}");
            }
            for (name, value) in context.http_labels() {
                let _ = write!(out, " {name}={:?}", redactor.redact_field(&name, &value));
            }
            for (key, value) in context.fields() {
                let _ = write!(out, " {key}={:?}", redactor.redact_field(&key, &value));
            }
        }
    }
    out.push('\n');
}
