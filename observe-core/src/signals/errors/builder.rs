//! `observe.errors()`: settings, the one installation of the process-wide
//! Sentry client and panic hook, and the guard that flushes them.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use sentry::types::Dsn;

use super::scrub::scrub;
use super::tracker::{
    Job, Throttle, Tracker, capture_events, install_panic_hook, own_event, scrubbed_already,
};
use super::transport;
use super::{
    DEFAULT_EVENT_QUEUE, DEFAULT_MAX_EVENTS_PER_SECOND, DEFAULT_SEND_TIMEOUT, TRACKER, event,
};
use crate::base::process_wide::{self, Installation};
use crate::base::queue::{Flushed, flush_through};
use crate::base::service::Service;
use crate::context::RequestContext;
use crate::metrics::signals::{ErrorKind, counters};
use observe_redact::Redactor;

/// An event the application captured with the `sentry` API: counted, and
/// inside a request given the request's context (scrubbed with that
/// instance's redactor) and marked, so the request's 5xx is not reported
/// a second time. observe's own events pass through unchanged.
fn application_event(
    mut event: sentry::protocol::Event<'static>,
    client_ip: bool,
) -> sentry::protocol::Event<'static> {
    if own_event() {
        return event;
    }
    counters().errors.captured(ErrorKind::Application);
    let Some(context) = RequestContext::current() else {
        return event;
    };
    context.mark_error_reported();
    event::with_request(&mut event, &context);
    if TRACKER.get().is_some_and(|t| !t.release_fixed)
        && let Some(release) = event::default_release(context.service())
    {
        event.release = Some(release.into());
    }
    // The client's before_send scrubs with the installer's redactor too.
    scrub(event, &context.service().redactor, client_ip)
}

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
    /// Error tracking was already set up in this process (the message names
    /// the instance that did).
    #[error("error tracking is already set up in this process: {0}")]
    AlreadySet(String),
    /// The sending thread could not be started.
    #[error("cannot start the error sending thread: {0}")]
    Thread(String),
}

/// Sends pending events when dropped (at most [`ErrorsBuilder`]'s shutdown
/// timeout): keep it alive for the life of `main`. Holds nothing when error
/// tracking is off.
#[must_use = "dropping the guard flushes and ends error tracking"]
pub struct ErrorsGuard {
    client: Option<sentry::ClientInitGuard>,
    shutdown_timeout: Duration,
}

impl Drop for ErrorsGuard {
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

impl std::fmt::Debug for ErrorsGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorsGuard")
            .field("enabled", &self.client.is_some())
            .finish()
    }
}

impl ErrorsGuard {
    /// Whether error tracking is on (a DSN was found).
    pub fn is_enabled(&self) -> bool {
        self.client.is_some()
    }

    /// Waits until the events queued so far are sent, at most `timeout`;
    /// returns whether everything was sent.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (Some(_), Some(tracker)) = (&self.client, TRACKER.get()) else {
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

/// Configures error tracking; from [`Observe::errors`](crate::Observe::errors).
#[derive(Debug)]
pub struct ErrorsBuilder {
    service: Service,
    dsn: Option<String>,
    environment: Option<String>,
    release: Option<String>,
    server_errors: bool,
    client_ip: bool,
    queue: usize,
    max_per_second: u32,
    send_timeout: Duration,
    shutdown_timeout: Duration,
}

impl ErrorsBuilder {
    /// Error tracking speaking for `service`.
    pub(crate) fn new(service: Service) -> Self {
        Self {
            service,
            dsn: None,
            environment: None,
            release: None,
            server_errors: true,
            client_ip: false,
            queue: DEFAULT_EVENT_QUEUE,
            max_per_second: DEFAULT_MAX_EVENTS_PER_SECOND,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            shutdown_timeout: Duration::from_secs(2),
        }
    }

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
    /// `service@version+commit` (from the `Observe`'s own version).
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

    /// Events waiting to be sent at most (default [`DEFAULT_EVENT_QUEUE`]); past
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

    /// How long dropping the [`ErrorsGuard`] waits for pending events
    /// (default two seconds).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The redactor applied to everything sent, instead of the `Observe`'s
    /// own ([`ObserveBuilder::redactor`](crate::ObserveBuilder::redactor)).
    /// Events made inside a request of another instance use that
    /// instance's redactor first.
    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.service.redactor = redactor;
        self
    }

    /// [`try_init`](Self::try_init), panicking with its error: for `main`,
    /// where a bad setting should stop the process with a message that
    /// names it (as `tracing_subscriber`'s `init` does).
    ///
    /// # Panics
    /// When error tracking cannot start; the message is the error's.
    #[track_caller]
    pub fn init(self) -> ErrorsGuard {
        match self.try_init() {
            Ok(guard) => guard,
            Err(error) => panic!("{error}"),
        }
    }

    /// Starts error tracking if a DSN is configured (once per process):
    /// starts the sending thread, binds the Sentry client and installs a
    /// panic hook that reports panics before calling the previous hook.
    /// Without a DSN it logs one INFO line and returns a guard that does
    /// nothing.
    pub fn try_init(self) -> Result<ErrorsGuard, ErrorsError> {
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
            return Ok(ErrorsGuard {
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
        process_wide::claim(Installation::ErrorTracking, &self.service.name)
            .map_err(|e| ErrorsError::AlreadySet(e.to_string()))?;
        // reqwest is built without a default crypto provider; an https DSN
        // needs one.
        crate::base::tls::install_crypto_provider();
        let started = transport::Sender::start(&dsn, self.queue, self.send_timeout)
            .map_err(|e| ErrorsError::Thread(e.to_string()))
            .and_then(|transport| {
                let (capture, jobs) = std::sync::mpsc::sync_channel(self.queue);
                let client_ip = self.client_ip;
                std::thread::Builder::new()
                    .name("observe-capture".into())
                    .spawn(move || capture_events(jobs, client_ip))
                    .map_err(|e| ErrorsError::Thread(e.to_string()))?;
                Ok((transport, capture))
            });
        let (transport, capture) = match started {
            Ok(started) => started,
            Err(e) => {
                process_wide::release(Installation::ErrorTracking);
                return Err(e);
            }
        };
        let environment = self
            .environment
            .or_else(|| std::env::var("SENTRY_ENVIRONMENT").ok())
            .filter(|e| !e.is_empty());
        let release = self
            .release
            .or_else(|| std::env::var("SENTRY_RELEASE").ok())
            .filter(|r| !r.is_empty());
        let tracker = TRACKER.get_or_init(|| Tracker {
            capture,
            server_errors: self.server_errors,
            release_fixed: release.is_some(),
            throttle: Throttle {
                limit: self.max_per_second,
                window: AtomicU64::new(0),
            },
        });
        let release = release.or_else(|| event::default_release(&self.service));
        let redactor = self.service.redactor.clone();
        let client_ip = self.client_ip;
        let mut options = sentry::ClientOptions::default();
        options.dsn = Some(dsn);
        options.release = release.map(Into::into);
        options.environment = environment.map(Into::into);
        options.server_name = Some(self.service.name.clone().into());
        options.send_default_pii = false;
        options.max_breadcrumbs = 20;
        options.shutdown_timeout = self.shutdown_timeout;
        options.transport = Some(Arc::new(transport));
        options.before_send = Some(Arc::new(move |event| {
            if scrubbed_already() {
                Some(event)
            } else {
                Some(scrub(event, &redactor, client_ip))
            }
        }));
        let client = sentry::init(options);
        // Events the application sends itself with the `sentry` API carry
        // their request too. An event processor on the main hub's scope
        // (which every thread's hub starts from) runs as such an event is
        // captured, on the handler's thread, inside the request: no
        // per-request hub is bound, so requests without an error pay
        // nothing.
        sentry::Hub::main().configure_scope(move |scope| {
            scope.add_event_processor(move |event| Some(application_event(event, client_ip)));
        });
        install_panic_hook(tracker);
        tracing::info!(
            target: "observe::errors",
            "error tracking is on, reporting to {}",
            mask_dsn(&value)
        );
        Ok(ErrorsGuard {
            client: Some(client),
            shutdown_timeout: self.shutdown_timeout,
        })
    }
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
        let observe = crate::Observe::builder().build().expect("defaults");
        let err = observe
            .errors()
            .dsn("https://o1.ingest.sentry.io")
            .try_init()
            .expect_err("no key, no project");
        let text = err.to_string();
        assert!(text.contains("builder"), "{text}");
        assert!(text.contains("PROJECT_ID"), "{text}");
    }

    #[test]
    fn the_default_release_is_the_services_own_version() {
        let observe = crate::Observe::builder()
            .service_name("shop")
            .service_version("1.4.2")
            .git_commit("abc1234")
            .build()
            .expect("valid");
        assert_eq!(
            event::default_release(observe.service()).as_deref(),
            Some("shop@1.4.2+abc1234")
        );
        let unversioned = crate::Observe::builder()
            .service_name("shop")
            .build()
            .expect("valid");
        assert_eq!(event::default_release(unversioned.service()), None);
    }
}
