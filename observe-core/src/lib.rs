//! Framework-free core of **observe**: the HTTP server metrics of the
//! OpenTelemetry semantic conventions and their exposition for Prometheus,
//! the request context, and the signals (logging, error tracking, tracing,
//! the request event, health) that every framework crate (`observe-tower`,
//! `observe-axum`, `observe-actix`) records through. A service depends on its
//! framework crate, which re-exports all of this; every rule about names,
//! labels and values lives here, once, so the same traffic gives the same
//! series on every framework.
//!
//! # The set-up
//!
//! In `main`, four lines; each is optional and reads the standard environment
//! variables ([below](#environment-variables)):
//!
//! ```no_run
//! # #[cfg(all(feature = "logging", feature = "errors", feature = "tracing"))]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let observe = observe_core::Observe::builder().service_name("shop").build()?;
//! let _traces = observe.tracing().try_init()?; // OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_SAMPLER
//! let _logs = observe.logging().try_init()?;   // RUST_LOG, OBSERVE_LOG_FORMAT
//! let _errors = observe.errors().try_init()?;  // SENTRY_DSN, SENTRY_ENVIRONMENT
//! # Ok(()) }
//! # #[cfg(not(all(feature = "logging", feature = "errors", feature = "tracing")))]
//! # fn main() {}
//! ```
//!
//! [`ObserveBuilder::build`] reads the variables listed on its docs (the
//! service's identity, native histograms, tail sampling); each signal's
//! `init` reads its own. [`Observe::logging`], [`Observe::errors`] and
//! [`Observe::tracing`] each return a builder whose `init()` panics with the error (as
//! tracing-subscriber's does) and whose `try_init()` returns it; the guards
//! ([`LoggingGuard`](logging::LoggingGuard), [`ErrorsGuard`](errors::ErrorsGuard),
//! [`TracingGuard`](trace::TracingGuard)) flush when dropped, and
//! `flush(timeout)` says whether everything went out in time. Tracing comes
//! before logging: logging's subscriber carries the span layer. What they
//! install (the `tracing` subscriber, the panic hook, the Sentry client, the
//! tracer provider) is process-wide and installed once, explicitly; see
//! [`Observe`] for several services in one process.
//!
//! The tracing signal's module is [`trace`], not `tracing`, so that a `use`
//! of it never shadows the `tracing` crate in the service's scope.
//!
//! Recording without a framework, as a test does:
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
//! # Features
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `logging` | on | [`logging`]: JSON (or text) lines through tracing-subscriber, redaction, the per-request [`event`], level remapping, `log` records |
//! | `errors` | on | [`errors`]: Sentry events for panics, 5xx and ERROR lines, from a bounded background queue |
//! | `tracing` | on | [`trace`]'s OpenTelemetry spans over OTLP/HTTP, exemplars |
//! | `shutdown` | on | [`shutdown`]: SIGTERM/SIGINT and a drain deadline |
//! | `reqwest` | off | `trace::inject_reqwest` |
//! | `tls` | with `errors` or `tracing` | [`install_crypto_provider`] |
//!
//! With `default-features = false` what remains is the HTTP and application
//! metrics, the exposition, the request [`context`], [`health`], the
//! [`console`] and W3C trace-context propagation ([`trace::inject`]).
//!
//! # Metrics
//!
//! Every family an `Observe` writes; a test renders a real `/metrics` and
//! checks each row's name and labels (`tests/tests/docs_tables.rs`).
//!
//! | name | type | labels | when |
//! |---|---|---|---|
//! | `http_server_request_duration_seconds` | histogram | `http_request_method`, `http_route`, `http_response_status_code`, `error_type` | every HTTP request; `error_type` on failures only |
//! | `http_server_request_body_size_bytes` | histogram | `http_request_method`, `http_route`, `http_response_status_code`, `error_type` | when the size is known (`Content-Length` or an exact body size) |
//! | `http_server_response_body_size_bytes` | histogram | `http_request_method`, `http_route`, `http_response_status_code`, `error_type` | the bytes of body actually sent |
//! | `http_server_active_requests` | gauge | `http_request_method` | requests in flight, excluded routes included |
//! | `target_info` | info (a gauge in text 0.0.4) | `service_name`, `service_version`, `git_commit`, `deployment_track` | always; one label per resource attribute (`deployment.track` becomes `deployment_track`) |
//! | `rpc_server_duration_seconds` | histogram | `rpc_system`, `rpc_service`, `rpc_method`, `rpc_grpc_status_code`, `error_type` | gRPC calls, instead of the HTTP families (`observe_tower`'s docs) |
//! | `observe_http_label_overflow_total` | counter | `label` | with request-derived labels ([`ObserveBuilder::http_label`]) |
//! | `observe_cache_requests_total` | counter | `cache`, `http_route`, `result` | [`Cache`]: `result` is `hit`, `miss` or `error` |
//! | `observe_dependency_duration_seconds` | histogram | `dependency`, `http_route`, `operation`, `outcome` | [`Dependency`]: `outcome` is `ok`, `error` or `cancelled` |
//! | `observe_series_overflow_total` | counter | `metric` | label sets turned away by a family's series limit |
//! | `observe_health_check_up`, `observe_health_check_duration_seconds` | gauge, histogram | `check` | with readiness checks ([`health`]) |
//! | `observe_admin_unauthorized_total` | counter | | once an admin listener is set up ([`console`]) |
//! | `observe_log_events_total` | counter | `level` | feature `logging`: lines by level, after remapping |
//! | `observe_log_lines_dropped_total`, `observe_log_level_changes_total` | counter | | feature `logging` |
//! | `observe_error_events_total` | counter | `kind` | feature `errors`: `panic`, `server_error`, `log`, `application` |
//! | `observe_error_events_dropped_total` | counter | `reason` | feature `errors`: `queue_full`, `throttled`, `rate_limited`, `send_failed` |
//! | `observe_error_events_sent_total` | counter | | feature `errors` |
//! | `observe_trace_spans_exported_total` | counter | | feature `tracing` |
//! | `observe_trace_spans_dropped_total` | counter | `reason` | feature `tracing`: `queue_full`, `export_failed` |
//! | `process_cpu_seconds_total` | counter | | Linux, read from `/proc` at scrape time |
//! | `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds`, `process_start_time_seconds`, `process_threads` | gauge | | Linux, read from `/proc` at scrape time |
//! | `tokio_worker_busy_seconds_total`, `tokio_worker_parks_total` | counter | | saturation of the tokio runtimes serving requests ([`Observe::add_runtime`]; the framework layers add theirs), summed over workers and runtimes, read at scrape time |
//! | `tokio_workers`, `tokio_global_queue_depth`, `tokio_alive_tasks`, `tokio_runtimes` | gauge | | the same runtimes |
//! | `observe_otlp_exports_total` | counter | `signal`, `outcome` | feature `otlp`: export requests by signal (`metrics`, `logs`) and `success` or `failure` (after retries) |
//! | `observe_clickhouse_rows_total` | counter | `outcome` | feature `clickhouse`: request-event rows `inserted` or `dropped` (queue full, or the insert failed after its retries) |
//! | `observe_otlp_items_dropped_total` | counter | `signal`, `reason` | feature `otlp`: data points and log records lost, `queue_full` or `export_failed` |
//!
//! The HTTP families also carry the request-derived labels the builder
//! declares ([`ObserveBuilder::http_label`]), and every series the constant
//! labels ([`ObserveBuilder::const_label`]), observe's and the registry's
//! alike. The signals' counters are process-wide, as what they count is (one
//! log writer, one Sentry client, one exporter), and read zero while a signal
//! is off; the others belong to their `Observe`: two instances in one process
//! (two servers, parallel tests) never share a series.
//!
//! - **Duration** runs from the request's arrival at the layer until the
//!   response body has been sent (or dropped), not only until the headers.
//!   Buckets default to the OpenTelemetry advisory list
//!   ([`DEFAULT_DURATION_BUCKETS`], 0.005 to 10 s); body sizes to powers of
//!   four from 64 B to 16 MiB ([`DEFAULT_SIZE_BUCKETS`]); both configurable.
//!   With [`ObserveBuilder::native_histograms`] the duration histogram also
//!   has native (exponential) buckets.
//! - **Saturation**: the `tokio_` families are read from tokio's stable
//!   `RuntimeMetrics` at scrape time (nothing per request). OpenTelemetry
//!   has no convention for an async runtime's scheduler; the names are
//!   tokio's own (`worker_total_busy_duration`, `worker_park_count`,
//!   `global_queue_depth`, `num_alive_tasks`) in Prometheus' style.
//!   `rate(tokio_worker_busy_seconds_total[1m]) / tokio_workers` near 1
//!   means requests wait for a worker; a global queue that stays above 0
//!   says the same. actix-web's tasks run on a `LocalSet`, which tokio
//!   does not count in `tokio_alive_tasks`. Built with
//!   `RUSTFLAGS="--cfg tokio_unstable"`, tokio's unstable metrics come too
//!   (their names may change with tokio): the counters
//!   `tokio_worker_steals_total`, `tokio_worker_polls_total` and
//!   `tokio_budget_forced_yields_total`; the gauges
//!   `tokio_blocking_threads`, `tokio_blocking_idle_threads`,
//!   `tokio_blocking_queue_depth` and
//!   `tokio_worker_mean_poll_time_seconds`; and, when the runtime was built
//!   with `enable_metrics_poll_time_histogram()`, the histogram
//!   `tokio_task_poll_duration_seconds` (buckets only: tokio keeps no sum).
//!   The blocking pool (where
//!   `spawn_blocking` work waits, and where the framework crates render
//!   `/metrics`) is reported only with `--cfg tokio_unstable`: tokio has no
//!   stable figure for it. Nor for scheduling delay: with tokio_unstable,
//!   `tokio_worker_steals_total` and the poll-time histogram come closest.
//! - **Label values are bounded** whatever the traffic: route templates,
//!   never paths; `_UNMATCHED`, `_OTHER`, `_OVERFLOW`, status 499 for a
//!   request cancelled before answering. See [`labels`].
//! - **Exactly once**: each request is recorded once, completed, failed,
//!   panicked or cancelled; the in-flight gauge is decremented by a drop
//!   guard, so an aborted request never leaks a count. The gauge has no route
//!   label: actix-web routes after its middleware runs and would have to route
//!   every request twice to know it (about 9,000 instructions, a third of a
//!   small request), and OpenTelemetry's conventions leave it out for the same
//!   reason. It counts excluded routes too (it measures load), so a scrape
//!   sees itself as 1.
//! - **Excluded routes** ([`ObserveBuilder::exclude_route`]) add nothing to
//!   the histograms and have no request event.
//! - **Application metrics**: [`Cache`], [`Dependency`], [`Gauge`] (also
//!   [`Observe::gauge_fn`], read at scrape time), [`CounterFamily`] for
//!   labels of your own, [`StateSet`] for enum states and feature flags.
//!   Your own prometheus-client metrics go in the same document through
//!   [`Observe::with_registry`].
//!
//! # Exposition
//!
//! [`Observe::scrape`] negotiates on `Accept` ([`negotiate`]) and renders
//! (the axum and actix-web endpoints call it on the blocking pool):
//!
//! - `application/openmetrics-text` (version 1.0.0 or unversioned) preferred
//!   at least as much as plain text: **OpenMetrics 1.0.0**
//!   ([`Format::OpenMetrics`]), with `# UNIT` lines, `_created` samples
//!   (when a series was first observed, so a restarted process is told
//!   apart from a counter reset) and `# EOF`. Prometheus asks for it by
//!   default.
//! - anything else, or no header: **Prometheus text 0.0.4** ([`Format::Text`]).
//! - with native histograms on, and only then, a scraper preferring
//!   `application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
//!   encoding=delimited` at least as much as every text format gets the
//!   **Prometheus protobuf format** ([`Format::Protobuf`]); a wildcard never
//!   selects it.
//!
//! prometheus-client 0.26 cannot write `_created` samples, so observe writes
//! its own families with a small encoder of its own and appends the
//! prometheus-client `Registry` with prometheus-client's encoder, in one
//! document. The tests check both text formats with `promtool check metrics`
//! and the reference strict OpenMetrics parser. To keep `/metrics` off the
//! public port, serve it on the admin listener ([`console`]).
//!
//! # Environment variables
//!
//! Every variable observe reads; a test checks this table against the
//! `std::env::var` calls in the sources (`tests/tests/docs_tables.rs`). A bad
//! value stops start-up (`build` or the signal's `init`) with an error naming
//! the variable and what it accepts.
//!
//! | variable | read by | meaning | default |
//! |---|---|---|---|
//! | `OTEL_SERVICE_NAME` | [`ObserveBuilder::build`] | the service name when the code names none | `unknown_service` |
//! | `OTEL_RESOURCE_ATTRIBUTES` | [`ObserveBuilder::build`]; [`trace`] | `key=value,...` as `target_info` labels and on the exported resource; wins over code, but for `service.name` | unset |
//! | `OBSERVE_GIT_COMMIT` | [`ObserveBuilder::build`] | `git_commit` of `target_info` when the code sets none | unset |
//! | `OBSERVE_NATIVE_HISTOGRAMS` | [`ObserveBuilder::build`] | `1`/`true` or `0`/`false`: native histograms on or off; wins over code | the builder's setting (off) |
//! | `OBSERVE_EVENT_SAMPLE_RATIO` | [`ObserveBuilder::build`] | tail sampling: keep this ratio, above 0 and at most 1, of the fast successful requests' events ([`event`]) | unset: every event |
//! | `OBSERVE_EVENT_SLOW_MS` | [`ObserveBuilder::build`] | with the above: a request at least this slow always keeps its event | `1000` |
//! | `RUST_LOG` | [`logging`] | filter directives, `TARGET=LEVEL,...` | `info` |
//! | `OBSERVE_LOG_FORMAT` | [`logging`] | `json` or `text` | `json` |
//! | `OBSERVE_LOG_REMAP` | [`logging`] | level remapping, `TARGET=FROM:TO,...` | unset |
//! | `SENTRY_DSN` | [`errors`] | where error events go; unset or empty: error tracking off | unset |
//! | `SENTRY_ENVIRONMENT` | [`errors`] | the events' environment | unset |
//! | `SENTRY_RELEASE` | [`errors`] | the events' release | `service@version+commit` |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | [`trace`] | OTLP/HTTP base URL; spans go to `/v1/traces` under it; unset: no export | unset |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | [`trace`] | the full traces URL; wins over the above | unset |
//! | `OTEL_METRICS_EXPORTER` | `otlp` (feature `otlp`) | `otlp` pushes the `/metrics` families over OTLP (`Observe::metrics_export`); `none` | unset: no push |
//! | `OTEL_LOGS_EXPORTER` | `otlp` (features `otlp`, `logging`) | `otlp` exports the log lines as OTLP log records, `console` writes them to stdout, `otlp,console` both; `none` | `console` |
//! | `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` | `otlp` | one signal's full URL; wins over `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/metrics` or `/v1/logs` | unset |
//! | `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_METRICS_HEADERS`, `OTEL_EXPORTER_OTLP_LOGS_HEADERS` | `otlp` | `key=value,...`, percent-decoded: a tenant's `X-Scope-OrgID=acme`; the signal's own wins | none |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_EXPORTER_OTLP_METRICS_TIMEOUT`, `OTEL_EXPORTER_OTLP_LOGS_TIMEOUT` | `otlp` | milliseconds per export request | `10000` |
//! | `OTEL_EXPORTER_OTLP_COMPRESSION`, `OTEL_EXPORTER_OTLP_METRICS_COMPRESSION`, `OTEL_EXPORTER_OTLP_LOGS_COMPRESSION` | `otlp` | `gzip` or `none` | `none` |
//! | `OTEL_METRIC_EXPORT_INTERVAL` | `otlp` | milliseconds between metrics pushes | `60000` |
//! | `OBSERVE_CLICKHOUSE_URL` | `clickhouse` (feature) | `http(s)://[user[:password]@]host:port[/database]`: one row per request event there | unset: no rows |
//! | `OBSERVE_CLICKHOUSE_TABLE` | `clickhouse` | the table, or a `Distributed` one over a cluster | `observe_requests` |
//! | `OBSERVE_CLICKHOUSE_CREATE` | `clickhouse` | `1`/`true` or `0`/`false`: create the table if it is missing | `1` |
//! | `OTEL_TRACES_SAMPLER` | [`trace`] | sampler name | `parentbased_always_on` |
//! | `OTEL_TRACES_SAMPLER_ARG` | [`trace`] | ratio from 0 to 1 for the ratio samplers | `1` |
//! | `OBSERVE_ADMIN_ADDR` | [`console::AdminConfig::from_env`] | the admin listener's address; `off` for none | `127.0.0.1:9464` |
//! | `OBSERVE_ADMIN_TOKEN` | [`console::AdminConfig::from_env`] | bearer token admin writes need, 16 to 256 visible ASCII characters; required off loopback | unset: writes only on loopback |
//! | `OBSERVE_METRICS_ADDR` | [`console::AdminConfig::from_env`] | the old name of `OBSERVE_ADMIN_ADDR`, read when that is unset (with a WARN line) | unset |
//! | `OBSERVE_ALERT_QUALITY_KEEP` | observe-slo's `quality` (`observe alert-quality`) | set (to anything): each scenario's `rules.yml` and `tests.yml` stay in the temporary directory for a rerun with promtool | unset: removed |
//!
//! The drain timeout is read from a variable the service names
//! ([`shutdown::Shutdown::drain_timeout_from_env`]; the examples use
//! `SHUTDOWN_TIMEOUT`). The example services' own variables are in
//! `examples/README.md`.
//!
//! # Layers
//!
//! Each module uses only those below it (`tests/layers.rs` reads the sources
//! and fails on an import that runs back up):
//! 1. `base`: ids and W3C trace context, the bounded-queue flush, JSON and
//!    time formatting, the [`Redactor`] (from observe-redact), the service
//!    identity, what is installed process-wide;
//! 2. `encoding`: Prometheus text, OpenMetrics and the Prometheus protobuf
//!    format, [`negotiate`];
//! 3. `metrics`: the HTTP, gRPC, application, process and signal families;
//! 4. [`context`]: the request being handled;
//! 5. `otlp` (feature `otlp`): the OTLP/HTTP transport, the metrics push
//!    and the log-record exporter logging hands its lines to;
//! 6. `signals`: [`logging`], [`errors`], [`trace`], [`event`], [`health`]
//!    (none uses another), and beside them `profile` (feature `profiling`);
//! 7. `request`: the recorder, the only caller of every signal per request
//!    ([`integration`] is what a framework crate sees of it);
//! 8. the [`Observe`] facade and its builder, which wire the signals;
//! 9. [`console`]: the admin listener's endpoints, which the framework crates
//!    serve; [`shutdown`].
//!
//! Performance, and the guarantees with the tests that hold them:
//! `bench/README.md`.

#![cfg_attr(docsrs, feature(doc_cfg))]
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
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub mod otlp;
#[cfg(feature = "profiling")]
#[cfg_attr(docsrs, doc(cfg(feature = "profiling")))]
pub mod profile;
mod request;
#[cfg(feature = "shutdown")]
#[cfg_attr(docsrs, doc(cfg(feature = "shutdown")))]
pub mod shutdown;
mod signals;
mod sinks;

/// RFC 3339 timestamps, as the log lines and the deploy tools write them.
pub mod time {
    pub use crate::base::time::{format_rfc3339, parse_rfc3339};
}

pub use base::process_wide::AlreadyInstalled;
pub use base::sampling::{DEFAULT_SLOW_EVENT, EventSampling};
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
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

    pub use crate::observe::add_current_runtime;
    pub use crate::request::{
        BodyRecorder, CaughtPanic, Header, RequestHead, RequestTracker, RouteCache, poll_handler,
        request_body_size,
    };
}
#[cfg(feature = "errors")]
#[cfg_attr(docsrs, doc(cfg(feature = "errors")))]
pub use signals::errors;
pub use signals::event;
pub use signals::health;
#[cfg(feature = "logging")]
#[cfg_attr(docsrs, doc(cfg(feature = "logging")))]
pub use signals::logging;
pub use signals::trace;
#[cfg(feature = "clickhouse")]
#[cfg_attr(docsrs, doc(cfg(feature = "clickhouse")))]
pub use sinks::clickhouse;
