//! Distributed tracing with OpenTelemetry: a server span per request
//! (`GET /users/{id}`, with the HTTP semantic-convention attributes), W3C
//! trace context in and out, a client span per dependency call, `tracing`
//! spans of the application as children (through `tracing-opentelemetry`),
//! OTLP/HTTP export, and trace ids in log lines, events and exemplars.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let observe = observe_core::Observe::builder().service_name("shop").build()?;
//! // OTEL_EXPORTER_OTLP_ENDPOINT unset: nothing is exported, but requests
//! // still get trace ids (continued from `traceparent`) for logs and events.
//! let _traces = observe.tracing().init()?;
//! let _logs = observe.logging().init()?; // after tracing: adds its layer
//! # Ok(()) }
//! ```
//!
//! Without an endpoint no span is built at all: a request's ids are made
//! (or continued) only when a log line, the event or an outgoing call asks
//! for them.

mod export;
mod propagation;

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context as OtelContext, KeyValue};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use crate::Observe;
use crate::context::{RequestContext, with_current};

pub(crate) use export::counters;
/// The sampler type [`TracingBuilder::sampler`] takes (OpenTelemetry's).
pub use opentelemetry_sdk::trace::Sampler;
pub use propagation::{MAX_TRACESTATE, Traceparent, accept_tracestate, parse_traceparent};

use propagation::{format_traceparent, new_span_id};
pub(crate) use propagation::{hex, new_trace_id};

/// Default for [`TracingBuilder::queue`].
pub const DEFAULT_QUEUE: usize = 2048;

/// The ids of a request's server span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceIds {
    /// The trace id.
    pub trace_id: [u8; 16],
    /// The request's own span id.
    pub span_id: [u8; 8],
    /// Whether the trace is sampled (recorded and exported).
    pub sampled: bool,
}

impl TraceIds {
    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The span id as 16 lowercase hex digits.
    pub fn span_id_hex(&self) -> String {
        hex(&self.span_id)
    }

    /// Appends the trace id, quoted, to a JSON line (no allocation).
    pub(crate) fn write_trace_id(&self, out: &mut String) {
        propagation::push_quoted_hex(out, &self.trace_id);
    }

    /// Appends the span id, quoted, to a JSON line (no allocation).
    pub(crate) fn write_span_id(&self, out: &mut String) {
        propagation::push_quoted_hex(out, &self.span_id);
    }

    /// Fresh ids for a request nobody sent a `traceparent` for.
    pub(crate) fn new_root() -> Self {
        Self {
            trace_id: new_trace_id(),
            span_id: new_span_id(),
            sampled: false,
        }
    }
}

/// Why tracing could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TracingError {
    /// The endpoint is not an http(s) URL.
    #[error(
        "invalid {variable}={value:?}: expected an http:// or https:// URL such as http://localhost:4318"
    )]
    Endpoint {
        /// The variable (or `builder`).
        variable: String,
        /// The value given.
        value: String,
    },
    /// `OTEL_TRACES_SAMPLER` names no known sampler.
    #[error(
        "invalid OTEL_TRACES_SAMPLER={0:?}: expected always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio"
    )]
    Sampler(String),
    /// `OTEL_TRACES_SAMPLER_ARG` is not a ratio.
    #[error("invalid OTEL_TRACES_SAMPLER_ARG={0:?}: expected a number from 0 to 1, e.g. 0.25")]
    SamplerArg(String),
    /// `OTEL_RESOURCE_ATTRIBUTES` is malformed.
    #[error("invalid OTEL_RESOURCE_ATTRIBUTES={0:?}: expected comma-separated key=value pairs")]
    ResourceAttributes(String),
    /// The exporter could not be built.
    #[error("cannot start trace export: {0}")]
    Export(String),
    /// Tracing was already set up, or logging was set up first (the
    /// `tracing` layer must be added when logging installs the subscriber).
    #[error("{0}")]
    Order(&'static str),
}

/// The process's tracer, once [`TracingBuilder::init`] found an endpoint.
#[derive(Debug)]
pub(crate) struct Exporting {
    pub(crate) tracer: SdkTracer,
    redactor: crate::logging::Redactor,
}

static EXPORTING: OnceLock<Exporting> = OnceLock::new();
static INITIALISED: OnceLock<()> = OnceLock::new();

pub(crate) fn exporting() -> Option<&'static Exporting> {
    EXPORTING.get()
}

/// Flushes and stops export when dropped (at most its shutdown timeout).
#[must_use = "dropping the guard flushes and ends trace export"]
#[derive(Debug)]
pub struct TracingGuard {
    provider: Option<SdkTracerProvider>,
    timeout: Duration,
}

impl TracingGuard {
    /// Whether spans are exported (an endpoint was found).
    pub fn is_exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Waits until the spans finished so far are exported (at most five
    /// seconds); returns whether that worked.
    pub fn flush(&self) -> bool {
        self.provider
            .as_ref()
            .is_none_or(|provider| provider.force_flush().is_ok())
    }
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown_with_timeout(self.timeout);
        }
    }
}

/// Configures tracing; from [`Observe::tracing`].
#[derive(Debug)]
pub struct TracingBuilder {
    observe: Observe,
    endpoint: Option<String>,
    sampler: Option<Sampler>,
    queue: usize,
    export_timeout: Duration,
    shutdown_timeout: Duration,
}

impl Observe {
    /// Tracing for this service, configured by the standard variables
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`),
    /// `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` and
    /// `OTEL_RESOURCE_ATTRIBUTES`. Call [`TracingBuilder::init`] before
    /// [`Observe::logging`]'s `init`.
    pub fn tracing(&self) -> TracingBuilder {
        TracingBuilder {
            observe: self.clone(),
            endpoint: None,
            sampler: None,
            queue: DEFAULT_QUEUE,
            export_timeout: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(2),
        }
    }
}

impl TracingBuilder {
    /// The OTLP/HTTP base URL (`http://collector:4318`), used instead of
    /// the variables; spans go to `{endpoint}/v1/traces`. Empty: no export.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The sampler, used instead of `OTEL_TRACES_SAMPLER` (default: parent
    /// based, always on).
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// Finished spans waiting for export at most (default
    /// [`DEFAULT_QUEUE`]); past that they are dropped and counted.
    pub fn queue(mut self, spans: usize) -> Self {
        self.queue = spans.max(1);
        self
    }

    /// How long one export may take (default 5 s).
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = timeout;
        self
    }

    /// Starts tracing (once per process, before logging). Without an
    /// endpoint nothing is exported and the guard does nothing; request ids
    /// for logs are still made. Errors name the variable and what it
    /// accepts.
    pub fn init(self) -> Result<TracingGuard, TracingError> {
        let (variable, endpoint) = match self.endpoint {
            Some(endpoint) => ("builder".to_string(), endpoint),
            None => match std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
                Ok(full) if !full.trim().is_empty() => {
                    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".to_string(), full)
                }
                _ => (
                    "OTEL_EXPORTER_OTLP_ENDPOINT".to_string(),
                    std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or_default(),
                ),
            },
        };
        let endpoint = endpoint.trim().to_string();
        let sampler = match self.sampler {
            Some(sampler) => sampler,
            None => sampler_from_env()?,
        };
        let attributes = resource_attributes_from_env()?;
        let url = if endpoint.is_empty() {
            None
        } else {
            Some(
                signal_url(&variable, &endpoint).ok_or_else(|| TracingError::Endpoint {
                    variable: variable.clone(),
                    value: endpoint.clone(),
                })?,
            )
        };
        if crate::logging::layer::sink().is_some() {
            return Err(TracingError::Order(
                "set up tracing before logging: logging installs the subscriber that carries the tracing layer",
            ));
        }
        if INITIALISED.set(()).is_err() {
            return Err(TracingError::Order(
                "tracing is already set up in this process",
            ));
        }
        let Some(url) = url else {
            return Ok(TracingGuard {
                provider: None,
                timeout: self.shutdown_timeout,
            });
        };
        crate::install_crypto_provider();
        let timeout = self.export_timeout;
        let processor = export::QueueProcessor::start(self.queue, move || {
            use opentelemetry_otlp::WithExportConfig;
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(url)
                .with_timeout(timeout)
                .build()
                .map_err(|e| e.to_string())
        })
        .map_err(TracingError::Export)?;
        let mut resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(self.observe.service_name().to_string())
            .with_attributes(attributes);
        if let Some(version) = &self.observe.inner.service_version {
            resource = resource.with_attribute(KeyValue::new("service.version", version.clone()));
        }
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_sampler(sampler)
            .with_resource(resource.build())
            .build();
        let tracer = provider.tracer("observe");
        let _ = EXPORTING.set(Exporting {
            tracer,
            redactor: crate::logging::Redactor::default(),
        });
        Ok(TracingGuard {
            provider: Some(provider),
            timeout: self.shutdown_timeout,
        })
    }
}

/// `{base}/v1/traces` for the generic variable or the builder, the URL as
/// given for the traces-specific variable; `None` unless http(s).
fn signal_url(variable: &str, endpoint: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(endpoint).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return None;
    }
    if variable == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" {
        Some(endpoint.to_string())
    } else {
        Some(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
    }
}

fn sampler_from_env() -> Result<Sampler, TracingError> {
    let name = std::env::var("OTEL_TRACES_SAMPLER").unwrap_or_default();
    let arg = std::env::var("OTEL_TRACES_SAMPLER_ARG").ok();
    // Checked even when the sampler takes no argument: a typo must not
    // wait for the day someone switches to a ratio sampler.
    let ratio = match arg.as_deref().map(str::trim) {
        None | Some("") => 1.0,
        Some(text) => text
            .parse::<f64>()
            .ok()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(|| TracingError::SamplerArg(text.to_string()))?,
    };
    Ok(match name.trim() {
        "" | "parentbased_always_on" => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        "parentbased_always_off" => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        "parentbased_traceidratio" => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
        }
        "always_on" => Sampler::AlwaysOn,
        "always_off" => Sampler::AlwaysOff,
        "traceidratio" => Sampler::TraceIdRatioBased(ratio),
        other => return Err(TracingError::Sampler(other.to_string())),
    })
}

fn resource_attributes_from_env() -> Result<Vec<KeyValue>, TracingError> {
    let Ok(text) = std::env::var("OTEL_RESOURCE_ATTRIBUTES") else {
        return Ok(Vec::new());
    };
    let mut attributes = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                attributes.push(KeyValue::new(
                    key.trim().to_string(),
                    value.trim().to_string(),
                ));
            }
            _ => return Err(TracingError::ResourceAttributes(text.clone())),
        }
    }
    Ok(attributes)
}

/// The per-request tracing state kept in the request context.
#[derive(Debug, Default)]
pub(crate) struct RequestTrace {
    /// The ids, made on first use when nothing set them at the start.
    ids: OnceLock<TraceIds>,
    /// The server span and its context, when exporting.
    otel: OnceLock<OtelContext>,
    /// The caller's `tracestate`, passed on.
    state: OnceLock<Box<str>>,
}

impl RequestTrace {
    pub(crate) fn ids(&self) -> &TraceIds {
        self.ids.get_or_init(TraceIds::new_root)
    }

    pub(crate) fn otel(&self) -> Option<&OtelContext> {
        self.otel.get()
    }
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
    let remote = traceparent.and_then(parse_traceparent);
    let state = tracestate.and_then(accept_tracestate);
    let trace = &context.trace;
    if let Some(state) = state.filter(|_| remote.is_some()) {
        let _ = trace.state.set(state.into());
    }
    let exporting = exporting().filter(|_| !excluded);
    let Some(exporting) = exporting else {
        if let Some(remote) = remote {
            let _ = trace.ids.set(TraceIds {
                trace_id: remote.trace_id,
                span_id: new_span_id(),
                sampled: remote.sampled,
            });
        }
        return;
    };
    let parent = match remote {
        Some(remote) => OtelContext::new().with_remote_span_context(SpanContext::new(
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
    let tracer = &exporting.tracer;
    let span = tracer
        // Named by the method alone until the route is known, at the end.
        .span_builder(context.method().to_string())
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", context.method().to_string()),
            KeyValue::new("url.scheme", "http"),
        ])
        .start_with_context(tracer, &parent);
    let span_context = span.span_context().clone();
    let _ = trace.ids.set(TraceIds {
        trace_id: span_context.trace_id().to_bytes(),
        span_id: span_context.span_id().to_bytes(),
        sampled: span_context.is_sampled(),
    });
    let _ = trace.otel.set(parent.with_span(span));
}

/// Records the path on the server span (redacted: paths can hold ids and
/// personal data), only when the span is recorded.
pub(crate) fn record_path(context: &RequestContext, path: &str) {
    if let (Some(cx), Some(exporting)) = (context.trace.otel(), exporting()) {
        let span = cx.span();
        if span.is_recording() {
            let path = exporting.redactor.redact_value(path).into_owned();
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
    let Some(cx) = context.trace.otel() else {
        return;
    };
    let span = cx.span();
    if excluded {
        span.set_attribute(KeyValue::new(export::DISCARD, true));
    } else if span.is_recording() {
        span.update_name(format!("{} {route}", context.method()));
        span.set_attribute(KeyValue::new("http.route", route.to_string()));
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

/// The `traceparent` to send on an outgoing call made now: the current
/// dependency call's client span, else the request's span. `None` outside a
/// request and outside any span.
pub fn traceparent() -> Option<String> {
    let current = OtelContext::current();
    let span = current.span();
    let span_context = span.span_context();
    if span_context.is_valid() {
        return Some(format_traceparent(
            &span_context.trace_id().to_bytes(),
            &span_context.span_id().to_bytes(),
            span_context.is_sampled(),
        ));
    }
    with_current(|c| {
        c.map(|c| {
            let ids = c.trace.ids();
            format_traceparent(&ids.trace_id, &ids.span_id, ids.sampled)
        })
    })
}

/// The caller's `tracestate` to pass on, if any.
pub fn tracestate() -> Option<String> {
    with_current(|c| c.and_then(|c| c.trace.state.get().map(|s| s.to_string())))
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

/// [`inject`] for a `reqwest` request being built.
pub fn inject_reqwest(builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    let mut headers = http::HeaderMap::new();
    inject(&mut headers);
    builder.headers(headers)
}

/// A client span for a dependency call, child of the current request's
/// span, when exporting; the context to enter while the call runs.
pub(crate) fn start_client_span(dependency: &str, operation: &str) -> Option<OtelContext> {
    let exporting = exporting()?;
    let parent = with_current(|c| c.and_then(|c| c.trace.otel().cloned()))?;
    let tracer = &exporting.tracer;
    let span = tracer
        .span_builder(format!("{dependency} {operation}"))
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new("peer.service", dependency.to_string()),
            KeyValue::new("observe.operation", operation.to_string()),
        ])
        .start_with_context(tracer, &parent);
    Some(parent.with_span(span))
}

/// Ends a dependency call's client span with its outcome.
pub(crate) fn end_client_span(cx: &OtelContext, outcome: crate::context::CallOutcome) {
    let span = cx.span();
    if outcome != crate::context::CallOutcome::Ok {
        span.set_attribute(KeyValue::new("error.type", outcome.as_str()));
        if outcome == crate::context::CallOutcome::Error {
            span.set_status(Status::error(Cow::Borrowed("error")));
        }
    }
    span.end();
}

/// The exemplar for a request's observation: its ids when its trace is
/// sampled and exported.
pub(crate) fn exemplar(context: &RequestContext) -> Option<TraceIds> {
    context.trace.otel()?;
    context.trace.ids.get().copied().filter(|ids| ids.sampled)
}

/// The `tracing-opentelemetry` layer for observe's subscriber, when
/// exporting: the application's `tracing` spans become children of the
/// request's span.
pub(crate) fn layer<S>() -> Option<impl tracing_subscriber::Layer<S>>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::Layer as _;
    let exporting = exporting()?;
    Some(
        tracing_opentelemetry::layer()
            .with_tracer(exporting.tracer.clone())
            .with_filter(tracing_subscriber::filter::filter_fn(|m| m.is_span())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_http_urls() {
        assert_eq!(
            signal_url("builder", "http://localhost:4318/").as_deref(),
            Some("http://localhost:4318/v1/traces")
        );
        assert_eq!(
            signal_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://c:1/x").as_deref(),
            Some("https://c:1/x")
        );
        assert_eq!(signal_url("builder", "localhost:4318"), None);
        assert_eq!(signal_url("builder", "ftp://c"), None);
    }
}
