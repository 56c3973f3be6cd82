//! One analytics event per request, written when the request has finished
//! (completed, failed, panicked or cancelled) as one structured log line at
//! INFO under the target [`EVENT_TARGET`] (`observe::request`). Requests on
//! excluded routes (probes) have none. Through observe's
//! [`logging`](crate::logging) it is a JSON line; without it, the event goes
//! to whatever `tracing` subscriber the service installed.
//!
//! ```json
//! {"timestamp":"2026-12-01T09:30:00.123456Z","level":"INFO","target":"observe::request",
//!  "service":"shop","request_id":"5f0c6e2a9d3b41e8a7c2d4f6b8e0a1c3","trace_id":"0af7651916cd43dd8448eb211c80319c",
//!  "span_id":"b7ad6b7169203331","message":"request finished",
//!  "event":{"method":"GET","route":"/users/{id}","status":200,"duration_ms":4.2,
//!   "request_body_bytes":null,"response_body_bytes":57,
//!   "dependencies":{"count":1,"total_ms":3.1,"calls":[{"dependency":"postgres",
//!    "operation":"select_user","duration_ms":3.1,"outcome":"ok","span_id":"00f067aa0ba902b7"}]},
//!   "cache":{"hits":0,"misses":1,"errors":0},"fields":{"user.plan":"pro"}}}
//! ```
//!
//! | field | meaning |
//! |---|---|
//! | `request_id`, `trace_id`, `span_id` | the request id, its trace (the caller's, from `traceparent`, or a new one) and its own span |
//! | `event.method`, `event.route`, `event.status` | as in the metrics labels (route template or `_UNMATCHED`; status 499 when cancelled before answering) |
//! | `event.duration_ms` | until the response body was sent |
//! | `event.request_body_bytes`, `event.response_body_bytes` | sizes (`null` when unknown) |
//! | `event.error_type` | present for 5xx (`"500"`), `panic`, `cancelled` |
//! | `event.sample_rate` | with tail sampling on: how many requests this event stands for |
//! | `event.dependencies.count`, `.total_ms` | every call the request made through [`Dependency`](crate::Dependency) |
//! | `event.dependencies.calls[]` | the first [`MAX_CALLS_LISTED`](crate::context::MAX_CALLS_LISTED) (32): `dependency`, `operation`, `duration_ms`, `outcome`, `span_id` (the parent id its outgoing `traceparent` carried) |
//! | `event.cache.hits`, `.misses`, `.errors` | lookups recorded through [`Cache`](crate::Cache) |
//! | `event.labels` | the request-derived labels, when the `Observe` declares any ([`ObserveBuilder::http_label`](crate::ObserveBuilder::http_label)) |
//! | `event.rpc` | a gRPC call's `system`, `service`, `method`, `grpc_status_code` |
//! | `event.fields` | what the handler added with [`add_event_field`](crate::context::add_event_field) (redacted, at most 32, values cut at 256 bytes) |
//!
//! No query string, client address or header is in the event. The request id
//! is the caller's `x-request-id` when it is sane (1 to 128 of `A-Za-z0-9._:-`),
//! else a generated one, and is echoed in the response.
//!
//! # Tail sampling
//!
//! Off by default: every request keeps its event. With
//! [`ObserveBuilder::event_sampling`](crate::ObserveBuilder::event_sampling)
//! (or `OBSERVE_EVENT_SAMPLE_RATIO=0.1`, `OBSERVE_EVENT_SLOW_MS=500`), every
//! failed (5xx), cancelled, panicked or slow request keeps its event, and one
//! in ten of the fast successful ones; each kept event carries
//! `event.sample_rate` (1, or 10 for a kept success), so `sum(sample_rate)`
//! in the log store counts requests without bias. The decision is made before
//! anything is formatted; metrics always see every request.
//!
//! ```
//! use std::time::Duration;
//! use observe_core::{EventSampling, Observe};
//!
//! let observe = Observe::builder()
//!     .event_sampling(EventSampling::keep_ratio(0.1).slow_above(Duration::from_millis(500)))
//!     .build()?;
//! # let _ = observe;
//! # Ok::<(), observe_core::BuildError>(())
//! ```

#[cfg(feature = "logging")]
mod line;
#[cfg(feature = "logging")]
pub(crate) use line::write;
#[cfg(all(feature = "logging", feature = "otlp"))]
pub(crate) use line::write_record;

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

/// Milliseconds to the microsecond observe measures to: the nearest
/// double to a whole number of microseconds over 1,000 prints as at most
/// three decimals (`0.411`, never `0.41106200000000004`).
fn millis(d: Duration) -> f64 {
    d.as_micros() as f64 / 1e3
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Durations print to the microsecond, with no float noise.
    #[test]
    fn milliseconds_print_without_float_noise() {
        for (micros, text) in [(411_062, "411.062"), (411, "0.411"), (1, "0.001"), (0, "0")] {
            let printed = millis(Duration::from_nanos(micros * 1000 + 999)).to_string();
            assert_eq!(printed, text);
        }
        for micros in 0..200_000u64 {
            let printed = millis(Duration::from_micros(micros)).to_string();
            let decimals = printed.split_once('.').map_or(0, |(_, d)| d.len());
            assert!(decimals <= 3, "{micros} µs printed as {printed}");
        }
    }
}
