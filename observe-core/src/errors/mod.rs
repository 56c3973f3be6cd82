//! Error tracking with Sentry (or a self-hosted Sentry): handler panics,
//! 5xx responses and ERROR log lines become events carrying the request's
//! method, route, status, request id and trace id, scrubbed before they
//! leave the process, sent from a background thread.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let observe = observe_core::Observe::builder().service_name("shop").build()?;
//! let _logs = observe.logging().init()?;
//! // SENTRY_DSN unset: error tracking is off and one INFO line says so.
//! let _errors = observe.errors().init()?;
//! # Ok(()) }
//! ```
//!
//! What is sent, and what never is:
//! - grouping: one bug is one Sentry issue. The fingerprint is the kind,
//!   method and route plus the error type (status), the panic's source
//!   location or the log line's callsite, never a message that may hold ids;
//! - headers are kept (in memory, for the request's lifetime) only while
//!   error tracking is on, at most [`MAX_HEADERS`]; when an event is built,
//!   sensitive ones (`Authorization`, `Cookie`, API keys, anything the
//!   [`Redactor`] calls sensitive) are replaced and client address headers
//!   dropped unless [`ErrorsBuilder::send_client_ip`];
//! - request bodies are never read or sent;
//! - the query string, messages, exception values, tags, extra data and
//!   breadcrumbs go through the same [`Redactor`] as log lines, also for
//!   events the application captures itself with the `sentry` API.
//!
//! Sending never happens on the request path: events go to a bounded queue
//! ([`ErrorsBuilder::queue`]) drained by one thread; a full queue, a
//! throttled burst, a rate-limited or failed send are counted in
//! `observe_error_events_dropped_total{reason}`. Every error is counted in
//! `observe_error_events_total{kind}` whether or not Sentry is reachable.

mod event;
mod transport;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sentry::types::Dsn;

use crate::Observe;
use crate::context::RequestContext;
use crate::logging::Redactor;
use crate::queue::{Flushed, flush_through};

pub(crate) use event::RequestDetails;

/// The most request headers kept for an error event.
pub const MAX_HEADERS: usize = 32;

/// Default for [`ErrorsBuilder::queue`].
pub const DEFAULT_QUEUE: usize = 100;

/// Default for [`ErrorsBuilder::max_events_per_second`].
pub const DEFAULT_MAX_EVENTS_PER_SECOND: u32 = 20;

/// Default for [`ErrorsBuilder::send_timeout`].
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Why error tracking could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorsError {
    /// The DSN does not parse.
    #[error(
        "invalid {source_name}={value:?}: {reason}; expected https://PUBLIC_KEY@HOST[:PORT]/PROJECT_ID (http:// for a self-hosted Sentry without TLS)"
    )]
    Dsn {
        /// `SENTRY_DSN` or `builder`.
        source_name: String,
        /// The value given, its key masked.
        value: String,
        /// The parser's complaint.
        reason: String,
    },
    /// Error tracking was already set up in this process.
    #[error("error tracking is already set up in this process")]
    AlreadySet,
    /// The sending thread could not be started.
    #[error("cannot start the error sending thread: {0}")]
    Thread(String),
}

/// What produced an error event; the `kind` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Panic,
    ServerError,
    Log,
}

const KINDS: [&str; 3] = ["panic", "server_error", "log"];

/// Why an event was not delivered; the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// The queue to the sending thread was full (Sentry slow or down).
    QueueFull,
    /// More than the allowed events per second.
    Throttled,
    /// Sentry asked us to back off (HTTP 429).
    RateLimited,
    /// The send failed: connection error, timeout, or a non-2xx answer.
    SendFailed,
}

const DROP_REASONS: [&str; 4] = ["queue_full", "throttled", "rate_limited", "send_failed"];

/// Captured by kind, dropped by reason, sent.
pub(crate) type ErrorCounts = ([(&'static str, u64); 3], [(&'static str, u64); 4], u64);

/// Counters rendered in every `Observe`'s exposition (error tracking is
/// process-wide, like the panic hook it installs).
#[derive(Debug, Default)]
pub(crate) struct ErrorCounters {
    captured: [AtomicU64; 3],
    dropped: [AtomicU64; 4],
    sent: AtomicU64,
}

impl ErrorCounters {
    pub(crate) fn captured(&self, kind: Kind) {
        self.captured[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn dropped(&self, reason: DropReason) {
        self.dropped[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// `(kind, count)`, `(reason, count)` and the sent count.
    pub(crate) fn snapshot(&self) -> ErrorCounts {
        (
            std::array::from_fn(|i| (KINDS[i], self.captured[i].load(Ordering::Relaxed))),
            std::array::from_fn(|i| (DROP_REASONS[i], self.dropped[i].load(Ordering::Relaxed))),
            self.sent.load(Ordering::Relaxed),
        )
    }
}

pub(crate) fn counters() -> &'static ErrorCounters {
    static COUNTERS: OnceLock<ErrorCounters> = OnceLock::new();
    COUNTERS.get_or_init(ErrorCounters::default)
}

/// The process's error tracker, once [`ErrorsBuilder::init`] found a DSN.
#[derive(Debug)]
pub(crate) struct Tracker {
    server_errors: bool,
    throttle: Throttle,
    /// To the capture thread, which finishes events (backtraces, scrubbing)
    /// and hands them to the Sentry client.
    capture: std::sync::mpsc::SyncSender<Job>,
}

/// An event on its way to the capture thread.
pub(crate) enum Job {
    Event(Box<sentry::protocol::Event<'static>>),
    Panic(Box<sentry::protocol::Event<'static>>, backtrace::Backtrace),
    /// Acknowledged once every job before it was handed to the client.
    Flush(std::sync::mpsc::SyncSender<()>),
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

/// The capture thread: everything slow about an event happens here.
fn capture_events(jobs: std::sync::mpsc::Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        let event = match job {
            Job::Event(event) => *event,
            Job::Panic(mut event, backtrace) => {
                event::attach_backtrace(&mut event, backtrace);
                *event
            }
            Job::Flush(ack) => {
                let _ = ack.send(());
                continue;
            }
        };
        sentry::capture_event(event);
    }
}

static TRACKER: OnceLock<Tracker> = OnceLock::new();

pub(crate) fn tracker() -> Option<&'static Tracker> {
    TRACKER.get()
}

/// At most `limit` events per wall-clock second, for the whole process: a
/// panic on every request must not spend the service's CPU on backtraces
/// nor flood the queue.
#[derive(Debug)]
struct Throttle {
    limit: u32,
    /// `second << 32 | count`.
    window: AtomicU64,
}

impl Throttle {
    fn admit(&self) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut current = self.window.load(Ordering::Relaxed);
        loop {
            let (second, count) = (current >> 32, current & 0xffff_ffff);
            let next = if second == now & 0xffff_ffff {
                if count >= u64::from(self.limit) {
                    return false;
                }
                current + 1
            } else {
                ((now & 0xffff_ffff) << 32) | 1
            };
            match self.window.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }
}

impl Tracker {
    /// Counts the error and decides whether it may be sent now.
    fn admit(&self, kind: Kind) -> bool {
        counters().captured(kind);
        if self.throttle.admit() {
            true
        } else {
            counters().dropped(DropReason::Throttled);
            false
        }
    }

    /// Hands an event to the capture thread; never blocks.
    fn submit(&self, job: Job) {
        if self.capture.try_send(job).is_err() {
            counters().dropped(DropReason::QueueFull);
        }
    }

    /// A 5xx response (not a panic, not already reported by an ERROR line).
    pub(crate) fn server_error(&self, context: &RequestContext, route: &str, status: u16) {
        if !self.server_errors || context.mark_error_reported() || !self.admit(Kind::ServerError) {
            return;
        }
        self.submit(Job::Event(Box::new(event::server_error(
            context, route, status,
        ))));
    }

    /// An ERROR line (after remapping) from the logging layer.
    pub(crate) fn log_line(&self, target: &str, callsite: &str, message: &str, fields: &str) {
        let context = RequestContext::current();
        if let Some(context) = &context {
            context.mark_error_reported();
        }
        if !self.admit(Kind::Log) {
            return;
        }
        let event = event::log_line(context.as_deref(), target, callsite, message, fields);
        self.submit(Job::Event(Box::new(event)));
    }

    fn panic(&self, info: &std::panic::PanicHookInfo<'_>) {
        let context = RequestContext::current();
        if let Some(context) = &context {
            context.mark_error_reported();
        }
        if !self.admit(Kind::Panic) {
            return;
        }
        let event = event::panic(context.as_deref(), info);
        // Walking the stack is quick; resolving symbols takes milliseconds
        // and happens on the capture thread.
        let backtrace = backtrace::Backtrace::new_unresolved();
        self.submit(Job::Panic(Box::new(event), backtrace));
    }
}

/// Takes what the error tracker may report about a request, when error
/// tracking is on (framework crates call it through
/// [`RequestTracker::error_details`](crate::RequestTracker::error_details)).
pub(crate) fn take_details<'a>(
    context: &RequestContext,
    path_and_query: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) {
    if tracker().is_some() {
        context.set_details(RequestDetails::new(path_and_query, headers));
    }
}

/// Whether an ERROR line of `target` should become an error event (not
/// observe's own panic line: the panic itself is the event).
pub(crate) fn reports_log_target(target: &str) -> bool {
    target != crate::analytics::EVENT_TARGET
}

/// Sends pending events when dropped (at most [`ErrorsBuilder`]'s shutdown
/// timeout): keep it alive for the life of `main`. Holds nothing when error
/// tracking is off.
#[must_use = "dropping the guard flushes and ends error tracking"]
pub struct ErrorGuard {
    client: Option<sentry::ClientInitGuard>,
    shutdown_timeout: Duration,
}

impl Drop for ErrorGuard {
    fn drop(&mut self) {
        // Events still on the capture thread reach the client before the
        // client's own guard flushes it (its shutdown timeout).
        if self.client.is_some() {
            self.flush(self.shutdown_timeout);
            // The flush had the whole budget; close the client now so its
            // guard's own close (another shutdown timeout) has nothing left
            // to wait for.
            if let Some(client) = sentry::Hub::main().client() {
                client.close(Some(Duration::ZERO));
            }
        }
    }
}

impl std::fmt::Debug for ErrorGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorGuard")
            .field("enabled", &self.client.is_some())
            .finish()
    }
}

impl ErrorGuard {
    /// Whether error tracking is on (a DSN was found).
    pub fn is_enabled(&self) -> bool {
        self.client.is_some()
    }

    /// Waits until the events queued so far are sent, at most `timeout`;
    /// returns whether everything was sent.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (Some(_), Some(tracker)) = (&self.client, tracker()) else {
            return true;
        };
        let deadline = std::time::Instant::now() + timeout;
        // First the capture thread, then the sending thread.
        if flush_through(&tracker.capture, Job::Flush, deadline) != Flushed::Done {
            return false;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        sentry::Hub::main()
            .client()
            .is_none_or(|client| client.flush(Some(left)))
    }
}

/// Configures error tracking; from [`Observe::errors`].
#[derive(Debug)]
pub struct ErrorsBuilder {
    observe: Observe,
    dsn: Option<String>,
    environment: Option<String>,
    release: Option<String>,
    server_errors: bool,
    client_ip: bool,
    queue: usize,
    max_per_second: u32,
    send_timeout: Duration,
    shutdown_timeout: Duration,
    redactor: Redactor,
}

impl Observe {
    /// Error tracking for this service, configured from `SENTRY_DSN`,
    /// `SENTRY_ENVIRONMENT` and `SENTRY_RELEASE` (default: the service name,
    /// version and git commit). Finish with [`ErrorsBuilder::init`].
    pub fn errors(&self) -> ErrorsBuilder {
        ErrorsBuilder {
            observe: self.clone(),
            dsn: None,
            environment: None,
            release: None,
            server_errors: true,
            client_ip: false,
            queue: DEFAULT_QUEUE,
            max_per_second: DEFAULT_MAX_EVENTS_PER_SECOND,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            shutdown_timeout: Duration::from_secs(2),
            redactor: Redactor::default(),
        }
    }
}

impl ErrorsBuilder {
    /// The DSN, used instead of `SENTRY_DSN`; an empty string turns error
    /// tracking off.
    pub fn dsn(mut self, dsn: impl Into<String>) -> Self {
        self.dsn = Some(dsn.into());
        self
    }

    /// The environment (`production`, `staging`), used instead of
    /// `SENTRY_ENVIRONMENT`.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// The release, used instead of `SENTRY_RELEASE` and the default
    /// `service@version+commit`.
    pub fn release(mut self, release: impl Into<String>) -> Self {
        self.release = Some(release.into());
        self
    }

    /// Whether 5xx responses that are not panics become events (default
    /// on). They are counted in the request metrics either way.
    pub fn capture_server_errors(mut self, on: bool) -> Self {
        self.server_errors = on;
        self
    }

    /// Sends the client address headers (`X-Forwarded-For`, `X-Real-IP`,
    /// `Forwarded`) with events. Off by default: an IP address is personal
    /// data.
    pub fn send_client_ip(mut self, on: bool) -> Self {
        self.client_ip = on;
        self
    }

    /// Events waiting to be sent at most (default [`DEFAULT_QUEUE`]); past
    /// that they are dropped and counted.
    pub fn queue(mut self, events: usize) -> Self {
        self.queue = events.max(1);
        self
    }

    /// Events captured per second at most, for the whole process (default
    /// [`DEFAULT_MAX_EVENTS_PER_SECOND`]); the rest are counted as
    /// `throttled`.
    pub fn max_events_per_second(mut self, events: u32) -> Self {
        self.max_per_second = events.max(1);
        self
    }

    /// How long one send may take before it counts as failed (default
    /// [`DEFAULT_SEND_TIMEOUT`]).
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
        self
    }

    /// How long dropping the [`ErrorGuard`] waits for pending events
    /// (default two seconds).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The redactor applied to everything sent (default:
    /// [`Redactor::default`]).
    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// Starts error tracking if a DSN is configured (once per process):
    /// starts the sending thread, binds the Sentry client and installs a
    /// panic hook that reports panics before calling the previous hook.
    /// Without a DSN it logs one INFO line and returns a guard that does
    /// nothing.
    pub fn init(self) -> Result<ErrorGuard, ErrorsError> {
        let (source_name, value) = match self.dsn {
            Some(dsn) => ("builder", dsn),
            None => (
                "SENTRY_DSN",
                std::env::var("SENTRY_DSN").unwrap_or_default(),
            ),
        };
        let value = value.trim().to_string();
        if value.is_empty() {
            tracing::info!(
                target: "observe::errors",
                "error tracking is off: SENTRY_DSN is not set"
            );
            return Ok(ErrorGuard {
                client: None,
                shutdown_timeout: self.shutdown_timeout,
            });
        }
        let dsn: Dsn =
            value
                .parse()
                .map_err(|e: sentry::types::ParseDsnError| ErrorsError::Dsn {
                    source_name: source_name.to_string(),
                    value: mask_dsn(&value),
                    reason: e.to_string(),
                })?;
        if TRACKER.get().is_some() {
            return Err(ErrorsError::AlreadySet);
        }
        // reqwest is built without a default crypto provider; an https DSN
        // needs one.
        crate::install_crypto_provider();
        let transport = transport::Sender::start(&dsn, self.queue, self.send_timeout)
            .map_err(|e| ErrorsError::Thread(e.to_string()))?;
        let (capture, jobs) = std::sync::mpsc::sync_channel(self.queue);
        std::thread::Builder::new()
            .name("observe-capture".into())
            .spawn(move || capture_events(jobs))
            .map_err(|e| ErrorsError::Thread(e.to_string()))?;
        let tracker = Tracker {
            capture,
            server_errors: self.server_errors,
            throttle: Throttle {
                limit: self.max_per_second,
                window: AtomicU64::new(0),
            },
        };
        TRACKER.set(tracker).map_err(|_| ErrorsError::AlreadySet)?;
        let environment = self
            .environment
            .or_else(|| std::env::var("SENTRY_ENVIRONMENT").ok())
            .filter(|e| !e.is_empty());
        let release = self
            .release
            .or_else(|| std::env::var("SENTRY_RELEASE").ok())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| default_release(&self.observe));
        let redactor = self.redactor;
        let client_ip = self.client_ip;
        let mut options = sentry::ClientOptions::default();
        options.dsn = Some(dsn);
        options.release = Some(release.into());
        options.environment = environment.map(Into::into);
        options.server_name = Some(self.observe.service_name().to_string().into());
        options.send_default_pii = false;
        options.max_breadcrumbs = 20;
        options.shutdown_timeout = self.shutdown_timeout;
        options.transport = Some(Arc::new(transport));
        options.before_send = Some(Arc::new(move |event| {
            Some(event::scrub(event, &redactor, client_ip))
        }));
        let client = sentry::init(options);
        install_panic_hook();
        tracing::info!(
            target: "observe::errors",
            "error tracking is on, reporting to {}",
            mask_dsn(&value)
        );
        Ok(ErrorGuard {
            client: Some(client),
            shutdown_timeout: self.shutdown_timeout,
        })
    }
}

/// `shop@1.2.0+abc1234`: Sentry's release naming.
fn default_release(observe: &Observe) -> String {
    let mut release = observe.service_name().to_string();
    release.push('@');
    release.push_str(
        observe
            .inner
            .service_version
            .as_deref()
            .unwrap_or(env!("CARGO_PKG_VERSION")),
    );
    if let Some(commit) = &observe.inner.git_commit {
        release.push('+');
        release.push_str(commit);
    }
    release
}

/// The DSN with its key (and secret) replaced, fit for a log line or an
/// error message.
fn mask_dsn(dsn: &str) -> String {
    match (dsn.find("://"), dsn.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &dsn[..scheme], &dsn[at..])
        }
        _ => dsn.to_string(),
    }
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(tracker) = tracker() {
            tracker.panic(info);
        }
        previous(info);
    }));
}

/// Whether error tracking is on in this process.
pub fn is_enabled() -> bool {
    tracker().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_keys_are_masked() {
        assert_eq!(
            mask_dsn("https://abc123@o1.ingest.sentry.io/42"),
            "https://***@o1.ingest.sentry.io/42"
        );
        assert_eq!(mask_dsn("not a dsn"), "not a dsn");
    }

    #[test]
    fn throttle_admits_up_to_the_limit_per_second() {
        let throttle = Throttle {
            limit: 3,
            window: AtomicU64::new(0),
        };
        let admitted = (0..10).filter(|_| throttle.admit()).count();
        // A second boundary may fall inside the loop: at most twice the limit.
        assert!((3..=6).contains(&admitted), "{admitted}");
    }

    #[test]
    fn a_bad_dsn_names_the_variable_and_the_form() {
        let observe = Observe::builder().build().expect("defaults");
        let err = observe
            .errors()
            .dsn("https://o1.ingest.sentry.io")
            .init()
            .expect_err("no key, no project");
        let text = err.to_string();
        assert!(text.contains("builder"), "{text}");
        assert!(text.contains("PROJECT_ID"), "{text}");
    }
}
