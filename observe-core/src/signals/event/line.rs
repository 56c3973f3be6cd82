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
            out.push_str(r#","message":"request finished","event":{"method":"#);
            json::string(out, finished.method);
            json::own_key!(out, "route");
            json::string(out, finished.route);
            json::own_key!(out, "status");
            json::integer(out, finished.status);
            json::own_key!(out, "duration_ms");
            json::millis(out, finished.duration);
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
            json::millis(out, calls.total);
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
                json::millis(out, call.duration);
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
                let pairs = labels.iter().map(|(name, value)| (name.as_str(), &**value));
                json::redacted_object(out, redactor, pairs);
            }
            json::own_key!(out, "fields");
            let fields = context.fields();
            json::redacted_object(out, redactor, fields.iter().map(|(k, v)| (&**k, &**v)));
            out.push_str("}}");
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

/// The event of `context`'s request as an OTLP record's body and
/// attributes (what [`write`]'s JSON line holds, under the semantic
/// conventions' names where one exists), redacted by the request's
/// instance.
#[cfg(feature = "otlp")]
pub(crate) fn write_record(
    record: &mut crate::otlp::logs::Record,
    context: &RequestContext,
    finished: &Finished<'_>,
) {
    let redactor = &context.service().redactor;
    let calls = context.calls();
    let cache = context.cache();
    record.body("request finished");
    let mut event = record.event();
    event.string("http.request.method", finished.method);
    event.string("http.route", finished.route);
    event.int("http.response.status_code", finished.status);
    event.double("duration_ms", millis(finished.duration));
    if let Some(n) = finished.request_body_bytes {
        event.int("http.request.body.size", n);
    }
    event.int("http.response.body.size", finished.response_body_bytes);
    if let Some(rate) = finished.sample_rate {
        event.int("sample_rate", rate);
    }
    if let Some(error) = &finished.error_type {
        event.string("error.type", error);
    }
    event.map("dependencies", |dependencies| {
        dependencies.int("count", calls.count);
        dependencies.double("total_ms", millis(calls.total));
        dependencies.maps("calls", &calls.listed, |call_map, call| {
            call_map.string("dependency", &call.dependency);
            call_map.string("operation", &call.operation);
            call_map.double("duration_ms", millis(call.duration));
            call_map.string("outcome", call.outcome.as_str());
            call_map.string("span_id", &crate::base::ids::hex(&call.span_id));
        });
    });
    event.map("cache", |tally| {
        tally.int("hits", cache.hits);
        tally.int("misses", cache.misses);
        tally.int("errors", cache.errors);
    });
    if let Some((service, method, code)) = finished.rpc {
        event.map("rpc", |rpc| {
            rpc.string("system", "grpc");
            rpc.string("service", service);
            rpc.string("method", method);
            rpc.int("grpc_status_code", code);
        });
    }
    let labels = context.http_labels();
    if !labels.is_empty() {
        event.map("labels", |map| {
            for (name, value) in &labels {
                map.string(name, &redactor.redact_field(name, value));
            }
        });
    }
    event.map("fields", |map| {
        for (key, value) in context.fields() {
            map.string(&key, &redactor.redact_field(&key, &value));
        }
    });
}

#[cfg(test)]
#[cfg(feature = "otlp")]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::base::line::LineRequest;
    use crate::context::CallRecord;
    use crate::otlp::logs::Record;
    use crate::otlp::logs::reference::assert_same;
    use tracing::Level;

    /// The record holds what the JSON line holds, for an event with every
    /// part: calls, a gRPC call, labels, fields (one redacted), an error.
    #[test]
    fn the_record_is_the_line() {
        let observe = crate::Observe::builder()
            .service_name("shop")
            .http_label("tenant")
            .build()
            .unwrap();
        let context = RequestContext::new(observe.families(), 0, None, None, None);
        context.set_http_label("tenant", "acme").unwrap();
        context.add_field("user.plan", "pro");
        context.add_field("password", "hunter2");
        for (dependency, micros) in [("postgres", 3_100), ("redis", 250)] {
            context.record_call(CallRecord {
                dependency: Arc::from(dependency),
                operation: Arc::from("get"),
                duration: Duration::from_micros(micros),
                outcome: crate::metrics::CallOutcome::Ok,
                span_id: [0xb7; 8],
            });
        }
        let finished = Finished {
            method: "POST",
            route: "/users/{id}",
            status: 503,
            error_type: Some("503".into()),
            duration: Duration::from_micros(4_217),
            request_body_bytes: Some(12),
            response_body_bytes: 57,
            sample_rate: Some(10),
            rpc: Some(("shop.Users", "Get", 14)),
        };
        let request = || LineRequest {
            request_id: context.request_id(),
            trace: context.trace_ids(),
        };
        let mut line = String::new();
        crate::base::line::begin(
            &mut line,
            LogFormat::Json,
            Level::INFO,
            Level::INFO,
            super::super::EVENT_TARGET,
            context.service(),
            Some(request()),
        );
        write(&mut line, LogFormat::Json, &context, &finished);
        assert!(
            line.contains("[REDACTED]") && line.contains("acme"),
            "{line}"
        );
        let mut record = Record::begin(
            Level::INFO,
            Level::INFO,
            super::super::EVENT_TARGET,
            Some(request()),
            512,
        );
        write_record(&mut record, &context, &finished);
        let mut exported = record.finish();
        // The line names its service; the record only another one.
        exported.set_service_for_test("shop");
        assert_same(&line, exported);
    }
}
