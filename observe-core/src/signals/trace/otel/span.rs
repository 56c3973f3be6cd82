//! The spans: a server span per request (named `GET /users/{id}` once the
//! route is known, with the HTTP semantic-convention attributes), a client
//! span per dependency call, and the application's `tracing` spans as
//! their children.

use std::borrow::Cow;
use std::future::Future;
use std::str::FromStr;

use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer as _,
};
use opentelemetry::{Context as OtelContext, KeyValue};
use opentelemetry_sdk::trace::SamplingDecision;

use super::export::DISCARD;
use super::{exporting, sampling};
use crate::base::ids::{TraceIds, new_span_id, new_trace_id};
use crate::base::time::unix_now;
use crate::context::{RequestContext, with_current};
use crate::encoding::Exemplar;
use crate::metrics::CallOutcome;
use crate::signals::trace::propagate;

/// The request's server span context, if it has one.
fn server_span(context: &RequestContext) -> Option<&OtelContext> {
    context.trace.span()
}

/// Starts the request's trace from its headers: continues the caller's
/// trace when `traceparent` is valid; builds the server span when
/// exporting (not for excluded routes).
pub(crate) fn start_request(
    context: &RequestContext,
    excluded: bool,
    traceparent: Option<&[u8]>,
    tracestate: Option<&[u8]>,
) {
    let remote = propagate::caller(context, traceparent, tracestate);
    let Some(exporting) = exporting().filter(|_| !excluded) else {
        if let Some((remote, _)) = &remote {
            propagate::continue_untraced(context, remote);
        }
        return;
    };
    let parent = match remote {
        Some((remote, state)) => OtelContext::new().with_remote_span_context(SpanContext::new(
            TraceId::from_bytes(remote.trace_id),
            SpanId::from_bytes(remote.span_id),
            if remote.sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            },
            true,
            state
                .and_then(|s| TraceState::from_str(s).ok())
                .unwrap_or_default(),
        )),
        None => OtelContext::new(),
    };
    // Decided here, as the SDK would (same parent, trace id, name, kind
    // and attributes): a sampled-out request needs only its ids.
    let trace_id = {
        let parent_span = parent.span();
        let parent_ids = parent_span.span_context();
        if parent_ids.is_valid() {
            parent_ids.trace_id()
        } else {
            TraceId::from_bytes(new_trace_id())
        }
    };
    let method = context.method_owned();
    let attributes = || {
        [
            KeyValue::new("http.request.method", method.clone()),
            KeyValue::new("url.scheme", "http"),
        ]
    };
    // Built for the decision only when the sampler may read them.
    let shown = exporting.sampler_reads_attributes().then(attributes);
    // Named by the method alone until the route is known, at the end.
    let decision = sampling::decide(
        exporting.sampler(),
        &parent,
        trace_id,
        &method,
        shown.as_ref().map_or(&[], |a| &a[..]),
    );
    if decision.decision == SamplingDecision::Drop {
        let span_id = new_span_id();
        // A span context alone: not recording, and what runs inside (a
        // dependency call, an application span) is its sampled-out child.
        let span = SpanContext::new(
            trace_id,
            SpanId::from_bytes(span_id),
            TraceFlags::default(),
            false,
            decision.trace_state,
        );
        let ids = TraceIds {
            trace_id: trace_id.to_bytes(),
            span_id,
            sampled: false,
        };
        context
            .trace
            .set_span(ids, parent.with_remote_span_context(span));
        return;
    }
    let tracer = exporting.tracer_for(context.service());
    let attributes = shown.unwrap_or_else(attributes);
    let span = sampling::build_decided(trace_id, decision, || {
        tracer
            .span_builder(method)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes)
            .start_with_context(tracer, &parent)
    });
    let span_context = span.span_context();
    let ids = TraceIds {
        trace_id: span_context.trace_id().to_bytes(),
        span_id: span_context.span_id().to_bytes(),
        sampled: span_context.is_sampled(),
    };
    context.trace.set_span(ids, parent.with_span(span));
}

/// Records the path on the server span (redacted by the request's
/// instance: paths can hold ids and personal data), only when the span is
/// recorded.
pub(crate) fn record_path(context: &RequestContext, path: &str) {
    if let Some(cx) = server_span(context) {
        let span = cx.span();
        if span.is_recording() {
            let path = context.service().redactor.redact_value(path).into_owned();
            span.set_attribute(KeyValue::new("url.path", path));
        }
    }
}

/// Ends the server span with the outcome.
pub(crate) fn finish_request(
    context: &RequestContext,
    route: &str,
    excluded: bool,
    status: Option<u16>,
    error_type: Option<&str>,
) {
    let Some(cx) = server_span(context) else {
        return;
    };
    let span = cx.span();
    if excluded {
        span.set_attribute(KeyValue::new(DISCARD, true));
    } else if span.is_recording() {
        span.update_name(format!("{} {route}", context.method()));
        span.set_attribute(KeyValue::new("http.route", route.to_string()));
        for (name, value) in context.http_labels() {
            span.set_attribute(KeyValue::new(name, value.to_string()));
        }
        if let Some(status) = status {
            span.set_attribute(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
        }
        if let Some(error_type) = error_type {
            span.set_attribute(KeyValue::new("error.type", error_type.to_string()));
            // 5xx and panics are the server's failure; a cancellation is
            // the client's choice.
            if error_type != "cancelled" {
                span.set_status(Status::error(error_type.to_string()));
            }
        }
    }
    span.end();
}

/// Ends a gRPC call's server span, named and attributed by the RPC
/// conventions: `package.Service/Method`, `rpc.system`, `rpc.service`,
/// `rpc.method`, `rpc.grpc.status_code`; a server-error code, a panic or a
/// cancellation sets `error.type`, and all but a cancellation the error
/// status.
pub(crate) fn finish_rpc(
    context: &RequestContext,
    service: &str,
    method: &str,
    code: u8,
    error_type: Option<&str>,
) {
    let Some(cx) = server_span(context) else {
        return;
    };
    let span = cx.span();
    if span.is_recording() {
        span.update_name(format!("{service}/{method}"));
        span.set_attribute(KeyValue::new("rpc.system", "grpc"));
        span.set_attribute(KeyValue::new("rpc.service", service.to_string()));
        span.set_attribute(KeyValue::new("rpc.method", method.to_string()));
        span.set_attribute(KeyValue::new("rpc.grpc.status_code", i64::from(code)));
        for (name, value) in context.http_labels() {
            span.set_attribute(KeyValue::new(name, value.to_string()));
        }
        if let Some(error_type) = error_type {
            span.set_attribute(KeyValue::new("error.type", error_type.to_string()));
            if error_type != "cancelled" {
                span.set_status(Status::error(error_type.to_string()));
            }
        }
    }
    span.end();
}

/// The exemplar for a request's observation: its ids when its trace is
/// sampled and exported.
pub(crate) fn exemplar(context: &RequestContext) -> Option<TraceIds> {
    server_span(context)?;
    context
        .trace
        .ids_if_set()
        .copied()
        .filter(|ids| ids.sampled)
}

/// The ids of the span current on this thread (a dependency call's client
/// span, or the request's), if any.
pub(crate) fn current_span_ids() -> Option<TraceIds> {
    let current = OtelContext::current();
    let span = current.span();
    let span_context = span.span_context();
    span_context.is_valid().then(|| TraceIds {
        trace_id: span_context.trace_id().to_bytes(),
        span_id: span_context.span_id().to_bytes(),
        sampled: span_context.is_sampled(),
    })
}

/// A dependency call's client span and its context.
#[derive(Debug)]
pub(crate) struct ClientSpan(OtelContext);

impl ClientSpan {
    /// The span's ids.
    pub(crate) fn ids(&self) -> TraceIds {
        let span = self.0.span();
        let ids = span.span_context();
        TraceIds {
            trace_id: ids.trace_id().to_bytes(),
            span_id: ids.span_id().to_bytes(),
            sampled: ids.is_sampled(),
        }
    }

    /// The exemplar of the call's observation, when its trace is sampled.
    pub(crate) fn exemplar(&self, value: f64) -> Option<Exemplar> {
        let span = self.0.span();
        let ids = span.span_context();
        ids.is_sampled().then(|| Exemplar {
            trace_id: ids.trace_id().to_bytes(),
            span_id: ids.span_id().to_bytes(),
            value,
            timestamp: unix_now(),
        })
    }

    /// Ends the span with the call's outcome.
    pub(crate) fn end(&self, outcome: CallOutcome) {
        let span = self.0.span();
        if outcome != CallOutcome::Ok {
            span.set_attribute(KeyValue::new("error.type", outcome.as_str()));
            if outcome == CallOutcome::Error {
                span.set_status(Status::error(Cow::Borrowed("error")));
            }
        }
        span.end();
    }
}

/// A client span for a dependency call, child of the current request's
/// span, when exporting.
pub(crate) fn start_client_span(dependency: &str, operation: &str) -> Option<ClientSpan> {
    let exporting = exporting()?;
    let (parent, tracer) = with_current(|c| {
        c.and_then(|c| Some((server_span(c)?.clone(), exporting.tracer_for(c.service()))))
    })?;
    let span = tracer
        .span_builder(format!("{dependency} {operation}"))
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new("peer.service", dependency.to_string()),
            KeyValue::new("observe.operation", operation.to_string()),
        ])
        .start_with_context(tracer, &parent);
    Some(ClientSpan(parent.with_span(span)))
}

/// Runs `future` with the client span current, so what it calls is the
/// span's child and carries it in `traceparent`.
pub(crate) async fn in_client_span<F: Future>(span: Option<&ClientSpan>, future: F) -> F::Output {
    match span {
        Some(span) => future.with_context(span.0.clone()).await,
        None => future.await,
    }
}

/// The `tracing-opentelemetry` layer for the subscriber logging installs,
/// when exporting: the application's `tracing` spans become children of
/// the request's span, exported under the request's instance.
pub(crate) fn subscriber_layer()
-> Option<Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static>>
{
    use tracing_subscriber::Layer as _;
    let exporting = exporting()?;
    Some(Box::new(
        tracing_opentelemetry::layer()
            .with_tracer(InstanceTracer { exporting })
            .with_filter(tracing_subscriber::filter::filter_fn(|m| m.is_span())),
    ))
}

/// Builds each span with the tracer of the instance whose request is
/// current (outside a request, the installing instance's), so an
/// application span is exported under the same service as its parent.
#[derive(Debug)]
struct InstanceTracer {
    exporting: &'static super::Exporting,
}

impl opentelemetry::trace::Tracer for InstanceTracer {
    type Span = opentelemetry_sdk::trace::Span;

    fn build_with_context(
        &self,
        builder: opentelemetry::trace::SpanBuilder,
        parent_cx: &OtelContext,
    ) -> Self::Span {
        let instance = with_current(|c| c.map(|c| self.exporting.instance_for(c.service())))
            .or_else(|| self.exporting.installer());
        match instance {
            Some(instance) => instance.tracer().build_with_context(builder, parent_cx),
            // Not reached: `init` makes the installer's instance first.
            None => opentelemetry::trace::TracerProvider::tracer(
                &opentelemetry_sdk::trace::SdkTracerProvider::default(),
                "observe",
            )
            .build_with_context(builder, parent_cx),
        }
    }
}
