//! Distributed tracing: W3C trace context in and out of every request
//! (always), and with the `tracing` feature, OpenTelemetry spans: a server
//! span per request (`GET /users/{id}`, with the HTTP semantic-convention
//! attributes), a client span per dependency call, `tracing` spans of the
//! application as children (through `tracing-opentelemetry`), OTLP/HTTP
//! export, and trace ids in log lines, events and exemplars.
//!
//! Set it up with `observe.tracing().try_init()` (feature `tracing`) before
//! `observe.logging().try_init()`; see `TracingBuilder`.
//!
//! Without an endpoint no span is built at all: a request's ids are made
//! (or continued) only when a log line, the event or an outgoing call asks
//! for them. The tracer provider is process-wide and installed once; each
//! `Observe` exports its spans under its own `service.name`.

mod propagate;

#[cfg(feature = "tracing")]
mod otel;
#[cfg(feature = "tracing")]
pub(crate) use otel::{
    ClientSpan, current_span_ids, exemplar, finish_request, finish_rpc, in_client_span,
    is_exporting, record_path, start_client_span, start_request, subscriber_layer,
};
#[cfg(feature = "tracing")]
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
pub use with_reqwest::inject_reqwest;

pub use crate::base::ids::TraceIds;
pub use crate::base::trace_context::{
    MAX_TRACESTATE, MAX_TRACESTATE_MEMBERS, Traceparent, accept_tracestate, parse_traceparent,
};
pub use propagate::{inject, traceparent, tracestate};
