//! Error tracking with Sentry (sentry.io or a self-hosted Sentry; a plain
//! `http://` DSN with a custom host and port works): handler panics, 5xx
//! responses and ERROR log lines become events carrying the request's method,
//! route, status, request id and trace id, scrubbed before they leave the
//! process, sent from a background thread.
//!
//! ```no_run
//! # #[cfg(feature = "logging")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let observe = observe_core::Observe::builder().service_name("shop").build()?;
//! let _logs = observe.logging().try_init()?; // ERROR lines become events through logging
//! // SENTRY_DSN unset: error tracking is off and one INFO line says so.
//! let _errors = observe.errors().try_init()?;
//! # Ok(()) }
//! # #[cfg(not(feature = "logging"))]
//! # fn main() {}
//! ```
//!
//! | kind | when | grouped by (fingerprint) |
//! |---|---|---|
//! | `panic` | a handler (or any thread) panics; with the backtrace | source location of the panic, method, route |
//! | `server_error` | a handler answers 5xx without panicking ([`ErrorsBuilder::capture_server_errors`] turns it off), or a gRPC call ends with a server-error code | method, route, status |
//! | `log` | an ERROR line, after level remapping, through observe's logging | target and callsite (file:line), method, route |
//! | `application` | the handler sends one itself (`sentry::capture_message`, `capture_error`) | Sentry's own |
//!
//! One bug is one Sentry issue: fingerprints never contain the message, which
//! may hold ids. A request reports once: if its handler logged an ERROR or
//! panicked, its 500 is not reported again. Every event carries the tags
//! `http.request.method`, `http.route`, `http.response.status_code` or
//! `error.type`, `request_id` (the one in the logs and the `x-request-id`
//! response header), the trace and span ids, the release
//! (`service@version+commit`, or `SENTRY_RELEASE`) and the environment
//! (`SENTRY_ENVIRONMENT`). Inside a request, Sentry's trace context
//! (`contexts.trace`, what links an event to its trace) is the request's:
//! the trace id (the caller's, from `traceparent`), the span the event
//! happened in (the same ids the log lines and exported spans carry) and
//! its parent (the caller's span), with or without span export.
//!
//! **Events the handler sends carry the request.** Inside a request, an event
//! sent with the `sentry` API gets the transaction (`GET /users/{id}`), the
//! tags above, the service's name, version and release, and the scrubbed
//! request, where it does not set them itself, and the request's trace
//! context (replacing the hub's own); it is scrubbed by the request's
//! instance's redactor, goes through the same bounded, counted queue, and the
//! request's own 500 is then not reported a second time. This is one event
//! processor on the main hub's scope, run on the handler's thread when such
//! an event is captured: no hub is bound per request, so requests without an
//! error pay nothing for it.
//!
//! # What leaves the process
//!
//! A stack trace cannot be trusted to be free of secrets, so:
//! - the request's path, query string and headers are kept (in memory, for
//!   the request's lifetime, at most [`MAX_HEADERS`](crate::context::MAX_HEADERS))
//!   only while error tracking is on, and classified and scrubbed only when
//!   an event is built, which keeps the per-request cost to one allocation;
//! - `Authorization`, `Cookie`, `Set-Cookie`, API-key and token headers
//!   (anything the [`Redactor`](crate::Redactor) calls sensitive) are
//!   replaced by `[REDACTED]`; client address headers (`X-Forwarded-For`,
//!   `X-Real-IP`, `Forwarded`) are left out unless
//!   [`ErrorsBuilder::send_client_ip`];
//! - request bodies are never read or sent;
//! - the query string, messages, exception values, tags, extra data and
//!   breadcrumbs go through the same [`Redactor`](crate::Redactor) as log
//!   lines (as Sentry's `before_send`), also for events the application
//!   captures itself.
//!
//! # Never in the request path
//!
//! Events go to a bounded queue ([`ErrorsBuilder::queue`], default
//! [`DEFAULT_EVENT_QUEUE`]) drained by one thread (`observe-errors`) with a
//! send timeout ([`DEFAULT_SEND_TIMEOUT`]); a burst beyond
//! [`DEFAULT_MAX_EVENTS_PER_SECOND`] events a second is throttled (a panic on
//! every request must not spend the CPU on backtraces); a 429 pauses sending
//! for as long as Sentry asked. A slow, failing or black-holed Sentry costs
//! requests nothing: the queue fills and further events are dropped and
//! counted. Dropping the guard at the end of `main` flushes for at most two
//! seconds. Counted whether or not Sentry is reachable:
//!
//! | metric | labels |
//! |---|---|
//! | `observe_error_events_total` | `kind`: `panic`, `server_error`, `log`, `application` |
//! | `observe_error_events_dropped_total` | `reason`: `queue_full`, `throttled`, `rate_limited`, `send_failed` |
//! | `observe_error_events_sent_total` | |
//!
//! The Sentry client and the panic hook are process-wide and installed once;
//! each event still names the service (name, version, release) of the
//! `Observe` whose request it comes from. Sending uses reqwest with rustls
//! (see [`install_crypto_provider`](crate::install_crypto_provider)).
//!
//! We do not use `sentry-tower` or `sentry-actix`: their per-request hub would
//! be a second request context beside ours (and cost every request a hub),
//! they copy the full URL and headers by default, and each framework would
//! report differently. observe builds the event once, in observe-core, from
//! what every framework crate already reports, so the three frameworks send
//! the same events (the test suite checks it against a Sentry stand-in that
//! parses the real envelopes).

mod builder;
mod event;
mod scrub;
mod tracker;
mod transport;

use std::sync::OnceLock;
use std::time::Duration;

pub use builder::{ErrorsBuilder, ErrorsError, ErrorsGuard};
pub(crate) use tracker::Tracker;

/// Default for [`ErrorsBuilder::queue`].
pub const DEFAULT_EVENT_QUEUE: usize = 100;

/// Default for [`ErrorsBuilder::max_events_per_second`].
pub const DEFAULT_MAX_EVENTS_PER_SECOND: u32 = 20;

/// Default for [`ErrorsBuilder::send_timeout`].
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// The process's error tracker: the Sentry client and panic hook it feeds
/// are process-wide, so is it.
static TRACKER: OnceLock<Tracker> = OnceLock::new();

/// The installed tracker, once [`ErrorsBuilder::init`] found a DSN.
pub(crate) fn installed() -> Option<&'static Tracker> {
    TRACKER.get()
}

/// Whether error tracking is on in this process.
pub fn is_enabled() -> bool {
    installed().is_some()
}
