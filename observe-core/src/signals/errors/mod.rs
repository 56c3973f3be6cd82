//! Error tracking with Sentry (or a self-hosted Sentry): handler panics,
//! 5xx responses and ERROR log lines become events carrying the request's
//! method, route, status, request id and trace id, scrubbed before they
//! leave the process, sent from a background thread.
//!
//! The Sentry client and the panic hook are process-wide and installed
//! once; each event still names the service (name, version, release) of
//! the `Observe` whose request it comes from.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let observe = observe_core::Observe::builder().service_name("shop").build()?;
//! // SENTRY_DSN unset: error tracking is off and one INFO line says so.
//! let _errors = observe.errors().try_init()?;
//! # Ok(()) }
//! ```
//!
//! What is sent, and what never is:
//! - grouping: one bug is one Sentry issue. The fingerprint is the kind,
//!   method and route plus the error type (status), the panic's source
//!   location or the log line's callsite, never a message that may hold ids;
//! - headers are kept (in memory, for the request's lifetime) only while
//!   error tracking is on, at most [`MAX_HEADERS`](crate::context::MAX_HEADERS); when an event is built,
//!   sensitive ones (`Authorization`, `Cookie`, API keys, anything the
//!   [`Redactor`](crate::Redactor) calls sensitive) are replaced and client address headers
//!   dropped unless [`ErrorsBuilder::send_client_ip`];
//! - request bodies are never read or sent;
//! - the query string, messages, exception values, tags, extra data and
//!   breadcrumbs go through the same [`Redactor`](crate::Redactor) as log lines, also for
//!   events the application captures itself with the `sentry` API.
//!
//! Sending never happens on the request path: events go to a bounded queue
//! ([`ErrorsBuilder::queue`]) drained by one thread; a full queue, a
//! throttled burst, a rate-limited or failed send are counted in
//! `observe_error_events_dropped_total{reason}`. Every error is counted in
//! `observe_error_events_total{kind}` whether or not Sentry is reachable.

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
