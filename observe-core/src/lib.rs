//! Framework-free core of **observe**: the HTTP server metrics of the
//! OpenTelemetry semantic conventions, their exposition for Prometheus, and
//! the request recording every framework crate shares.
//!
//! A framework crate (`observe-tower`, `observe-axum`, `observe-actix`)
//! hands its request over as a [`RequestHead`](integration::RequestHead)
//! and its response to the [`RequestTracker`](integration::RequestTracker)
//! it gets back; everything that decides names, labels and values lives
//! here, once.
//!
//! # Layers
//! Each module uses only those below it (a test reads the sources and
//! fails on a cycle):
//! 1. `base`: ids and W3C trace context, the bounded-queue flush, JSON and
//!    time formatting, the [`Redactor`], the service identity, what is
//!    installed process-wide;
//! 2. `encoding`: Prometheus text, OpenMetrics and the Prometheus protobuf
//!    format, [`negotiate`];
//! 3. `metrics`: the HTTP, application, process and signal families;
//! 4. [`context`]: the request being handled;
//! 5. `signals`: [`logging`], [`errors`], [`trace`], [`event`] (none uses
//!    another);
//! 6. `request`: the recorder, the only caller of every signal per request;
//! 7. the [`Observe`] facade and its builder, which wire the signals;
//! 8. [`console`]: the admin listener's endpoints (health, the runtime log
//!    level, the status page), which the framework crates serve.
//!
//! # Features
//! `logging` (JSON lines through tracing-subscriber), `errors` (Sentry)
//! and `tracing` (OpenTelemetry spans over OTLP/HTTP) are on by default;
//! `reqwest` adds [`trace::inject_reqwest`], `judge` the canary judge's
//! Prometheus client (`slo::PrometheusApi`). With `default-features =
//! false` what remains is the HTTP and application metrics, the
//! exposition, the request context and W3C trace-context propagation.
//!
//! ```
//! use observe_core::{Format, Observe};
//!
//! let observe = Observe::builder()
//!     .service_name("shop")
//!     .exclude_route("/health")
//!     .const_label("region", "eu-west-1")
//!     .build()?;
//!
//! let mut request = observe.start_request("GET", Some("/users/{id}"));
//! request.response(200);
//! request.finish();
//!
//! let text = observe.render(Format::Text).into_text();
//! assert!(text.contains("http_server_request_duration_seconds_count{http_request_method=\"GET\""));
//! # Ok::<(), observe_core::BuildError>(())
//! ```
//!
//! # Metrics
//! | name | type | labels |
//! |---|---|---|
//! | `http_server_request_duration_seconds` | histogram | `http_request_method`, `http_route`, `http_response_status_code`, `error_type` (failures only) |
//! | `http_server_request_body_size_bytes` | histogram | same |
//! | `http_server_response_body_size_bytes` | histogram | same |
//! | `http_server_active_requests` | gauge | `http_request_method` |
//! | `target_info` | info | `service_name`, `service_version`, `git_commit`, the resource attributes (`deployment_track`, ...) |
//! | `rpc_server_duration_seconds` | histogram | `rpc_system`, `rpc_service`, `rpc_method`, `rpc_grpc_status_code`, `error_type` (gRPC calls, instead of the HTTP families) |
//!
//! The HTTP families also carry the request-derived labels the builder
//! declares ([`ObserveBuilder::http_label`]).
//!
//! Label values are bounded by construction: see [`labels`]. With
//! [`ObserveBuilder::native_histograms`] the duration histogram also has
//! native (exponential) buckets, which `/metrics` sends in the protobuf
//! format ([`Format::Protobuf`]) to a scraper that prefers it.
//!
//! # The rest of the set-up
//! - [`logging`]: `observe.logging().try_init()`, JSON lines, redaction, the
//!   per-request [`event`];
//! - [`errors`]: `observe.errors().try_init()`, Sentry;
//! - [`trace`]: `observe.tracing().try_init()`, OpenTelemetry spans, W3C trace
//!   context, exemplars;
//! - [`Cache`], [`Dependency`], [`Gauge`], [`CounterFamily`], [`StateSet`]
//!   and [`context`]: application metrics recorded per route.

// A build without every signal leaves parts of the shared layers unused
// (the JSON writer without logging, the request copy without error
// tracking); the full build, which CI lints with `-D warnings`, still
// checks every item.
#![cfg_attr(
    not(all(feature = "logging", feature = "errors", feature = "tracing")),
    allow(dead_code, unused_imports)
)]

mod base;
pub mod console;
pub mod context;
mod encoding;
mod metrics;
mod observe;
mod request;
#[cfg(feature = "shutdown")]
#[cfg_attr(docsrs, doc(cfg(feature = "shutdown")))]
pub mod shutdown;
mod signals;

/// RFC 3339 timestamps, as the log lines and the deploy tools write them.
pub mod time {
    pub use crate::base::time::{format_rfc3339, parse_rfc3339};
}

pub use base::process_wide::AlreadyInstalled;
pub use base::sampling::{DEFAULT_SLOW_EVENT, EventSampling};
#[cfg(feature = "tls")]
pub use base::tls::install_crypto_provider;
pub use context::{RequestContext, add_event_field, in_current_request};
pub use encoding::{Format, Scrape, negotiate};
pub use metrics::app::DEFAULT_SERIES_LIMIT;
pub use metrics::labels;
pub use metrics::request_labels::{
    DEFAULT_HTTP_LABEL_VALUES, LabelRequest, MAX_HTTP_LABEL_VALUE_LEN, MAX_HTTP_LABEL_VALUES,
    MAX_HTTP_LABELS,
};
pub use metrics::rpc::{GRPC_CODES, is_server_error as is_grpc_server_error};
pub use metrics::{
    CacheResult, CounterFamily, DEFAULT_DURATION_BUCKETS, DEFAULT_SIZE_BUCKETS, Gauge, MetricError,
    StateSet, States,
};
pub use observe::{
    BuildError, DEFAULT_MAX_ROUTES, DEFAULT_REQUEST_ID_HEADER, Observe, ObserveBuilder,
};
pub use observe_redact::{REDACTED, Redactor, RedactorBuilder};
pub use request::{Cache, Dependency};

pub mod integration {
    //! What a framework crate uses to record a request; an application needs
    //! none of it.
    //!
    //! A framework crate hands each request over as a [`RequestHead`]
    //! (method, path, headers, body size) to [`Observe::track`](crate::Observe::track), gets a
    //! [`RequestTracker`] back, polls the handler through [`poll_handler`]
    //! (which catches or records a panic) and wraps the response body in a
    //! [`BodyRecorder`], so the request ends when its body has been sent or
    //! dropped. [`RouteCache`] resolves a route's series once. Every rule about
    //! what a request means lives behind these types, once, for every
    //! framework: `observe-tower`'s and `observe-actix`'s `head.rs` (about 60
    //! lines each) show all an adapter has to write.

    pub use crate::request::{
        BodyRecorder, CaughtPanic, Header, RequestHead, RequestTracker, RouteCache, poll_handler,
        request_body_size,
    };
}
#[cfg(feature = "errors")]
pub use signals::errors;
pub use signals::event;
pub use signals::health;
#[cfg(feature = "logging")]
pub use signals::logging;
pub use signals::trace;
