//! Distributed tracing: W3C trace context in and out of every request
//! (always), and with the `tracing` feature, OpenTelemetry spans exported over
//! OTLP/HTTP, with trace ids in log lines, request events, error events and
//! exemplars.
//!
//! ```no_run
//! # #[cfg(all(feature = "logging", feature = "tracing"))]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let observe = observe_core::Observe::builder().service_name("shop").build()?;
//! // Before logging: logging installs the subscriber that carries the span layer.
//! let _traces = observe.tracing().try_init()?; // OTEL_EXPORTER_OTLP_ENDPOINT unset: ids only
//! let _logs = observe.logging().try_init()?;
//! # Ok(()) }
//! # #[cfg(not(all(feature = "logging", feature = "tracing")))]
//! # fn main() {}
//! ```
//!
//! (The module is `trace`, not `tracing`, so a `use` of it never shadows the
//! `tracing` crate.)
//!
//! # Trace context in
//!
//! By W3C Trace Context Level 1, on every framework: exactly one
//! `traceparent` continues the caller's trace. Two headers, a value with a
//! comma, uppercase, all-zero ids, version `ff`, wrong lengths or separators:
//! a new trace starts; surrounding whitespace is fine; later versions are
//! read by their first four fields ([`parse_traceparent`]). Every
//! `tracestate` line is joined in order, whitespace around members trimmed,
//! empty members skipped, a repeated key keeps its first member; one invalid
//! member or a member past [`MAX_TRACESTATE_MEMBERS`] discards the whole
//! tracestate (the key and value rules are on [`accept_tracestate`]). Past
//! [`MAX_TRACESTATE`] bytes, members over 128 bytes go first, then members
//! from the end. The request never fails for any of it. Generated
//! trace ids are unpredictable (SipHash over a counter, keyed from the
//! operating system's randomness).
//!
//! # Ids everywhere
//!
//! Every log line inside a request and the request [`event`](crate::event)
//! carry `trace_id` and `span_id`; error events carry them as tags. Without
//! an exporter no span is built at all: the ids are continued or made only
//! when a log line, the event or an outgoing call asks for them.
//!
//! # Spans out
//!
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set: one server span per request,
//! named `GET /users/{id}` (`shop.v1.Users/GetUser` for a gRPC call), with
//! `http.request.method`, `http.route`, `http.response.status_code`,
//! `url.scheme`, `url.path` (redacted), `error.type` and the request-derived
//! labels; 5xx and panics set the status to error, 4xx and cancellations do
//! not. Each [`Dependency::call`](crate::Dependency::call) is a client span
//! under it, and the application's own `tracing` spans (`#[instrument]`,
//! `info_span!`) become its children through `tracing-opentelemetry`.
//! Requests on excluded routes (probes) are not exported.
//!
//! Export is OTLP over HTTP/protobuf (no protoc at build time), to
//! `{OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces`, or to
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given. Finished spans wait in a
//! bounded queue (`DEFAULT_SPAN_QUEUE`, 2,048) for one export thread that
//! sends batches of up to 512 every half second, with a 5 s timeout. A dead,
//! slow or black-holed collector costs requests nothing: spans beyond the
//! queue are dropped and counted in
//! `observe_trace_spans_dropped_total{reason="queue_full"|"export_failed"}`
//! (`observe_trace_spans_exported_total` counts the rest). The guard flushes
//! for at most two seconds when dropped. The tracer provider is process-wide
//! and installed once; each `Observe` exports under its own `service.name`,
//! with `OTEL_RESOURCE_ATTRIBUTES` on the resource.
//!
//! # Sampling
//!
//! `OTEL_TRACES_SAMPLER`: `parentbased_always_on` (default),
//! `parentbased_always_off`, `parentbased_traceidratio`, `always_on`,
//! `always_off` or `traceidratio`, with `OTEL_TRACES_SAMPLER_ARG` a ratio
//! from 0 to 1 (checked even for a sampler that takes none, so a typo does not
//! wait for the day someone switches). An unknown value stops start-up with
//! the accepted ones. [`TracingBuilder::sampler`] takes any sampler instead,
//! an application's own among them (`Sampler::ParentBased(Box::new(..))`
//! around a `ShouldSample` of yours).
//!
//! observe asks the sampler about a request's server span before the SDK
//! builds anything, with what the SDK would pass (the caller's context,
//! the trace id, the name, `SpanKind::Server` and the span's
//! `http.request.method` and `url.scheme`, built only for a sampler that
//! may read them). A request sampled out then gets its trace and span ids
//! and a non-recording span context (what runs inside it, a dependency call
//! or an application span, is its sampled-out child) and no SDK span: it
//! costs ~900 instructions over the same request with tracing off, not
//! the ~2,200 the SDK's unsampled span did. A span that is kept is built by
//! the SDK on that same decision, so the sampler runs once per server span
//! and a ratio sampler decides on the trace id the span gets.
//!
//! # Context out
//!
//! Inside a dependency call, [`inject`] (an `http::HeaderMap`) or
//! `inject_reqwest` (feature `reqwest`) adds `traceparent` naming the call:
//! its client span, or with nothing exported a span id of its own (three
//! calls, three parent ids); the request's span outside a call. The next
//! service continues the trace. The call's span id is in the request event
//! (`calls[].span_id`) and in log lines written during the call.
//!
//! ```
//! # async fn example(observe: observe_core::Observe) -> Result<(), std::io::Error> {
//! let api = observe.dependency("users-api");
//! let user = api
//!     .call("get_user", async {
//!         let mut headers = http::HeaderMap::new();
//!         observe_core::trace::inject(&mut headers); // traceparent of this call
//!         // client.get(url).headers(headers).send().await
//!         Ok::<_, std::io::Error>("user 7")
//!     })
//!     .await?;
//! # let _ = user; Ok(()) }
//! ```
//!
//! # Exemplars
//!
//! For sampled traces, the buckets of `http_server_request_duration_seconds`
//! and `observe_dependency_duration_seconds` carry the latest
//! `# {trace_id="...",span_id="..."} value timestamp` in the OpenMetrics
//! output (one per bucket, 67 characters of labels, under the limit of 128);
//! Prometheus keeps them with `--enable-feature=exemplar-storage`, and Grafana
//! links a slow bucket to its trace. The text format 0.0.4 has none.

mod propagate;

#[cfg(feature = "tracing")]
mod otel;
#[cfg(feature = "tracing")]
pub(crate) use otel::{
    ClientSpan, current_span_ids, exemplar, finish_request, finish_rpc, in_client_span,
    is_exporting, record_path, start_client_span, start_request, subscriber_layer,
};
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use otel::{DEFAULT_SPAN_QUEUE, Sampler, TracingBuilder, TracingError, TracingGuard};

#[cfg(not(feature = "tracing"))]
mod off;
#[cfg(not(feature = "tracing"))]
pub(crate) use off::{
    ClientSpan, current_span_ids, exemplar, finish_request, finish_rpc, in_client_span,
    is_exporting, record_path, start_client_span, start_request,
};

#[cfg(feature = "reqwest")]
mod with_reqwest;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use with_reqwest::inject_reqwest;

pub use crate::base::ids::TraceIds;
pub use crate::base::trace_context::{
    MAX_TRACESTATE, MAX_TRACESTATE_MEMBERS, Traceparent, accept_tracestate, parse_traceparent,
};
pub use propagate::{inject, traceparent, tracestate};
