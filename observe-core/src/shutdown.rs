//! Graceful shutdown: stop on SIGTERM (what Kubernetes, Docker and systemd
//! send on every deploy) or Ctrl-C, let the requests in flight finish within
//! a drain timeout, then return so `main` can flush error events, spans and
//! logs, in that order, before the process exits.
//!
//! Nothing here depends on a framework: it needs only tokio, and each
//! framework crate re-exports it (`observe_axum::Shutdown`,
//! `observe_actix::Shutdown`, `observe_tower::Shutdown`). Feature `shutdown`.
//!
//! For servers that drain on their own, for as long as they need,
//! [`shutdown_signal`] is enough:
//!
//! ```no_run
//! # async fn run() {
//! // axum: axum::serve(listener, app).with_graceful_shutdown(shutdown_signal())
//! observe_core::shutdown::shutdown_signal().await;
//! // Stop accepting, finish what is in flight, flush, exit.
//! # }
//! ```
//!
//! [`Shutdown`] adds the deadline and the bookkeeping: when the signal comes,
//! readiness turns 503 at once (see [`health`](crate::health)); requests in
//! flight get the drain timeout ([`DEFAULT_DRAIN_TIMEOUT`], 25 s) to finish. If
//! it passes, one WARN line (target `observe::shutdown`) says how many
//! requests were abandoned (they are recorded as cancelled, 499, when the
//! runtime shutting down drops them), and [`Shutdown::drain`] still returns
//! `Ok`: the stop was asked for, and a failing exit status would mark a
//! routine deploy as a crash.
//!
//! # On Kubernetes
//!
//! - Keep `terminationGracePeriodSeconds` (default 30) above the drain
//!   timeout plus a few seconds for the flush: the default 25 s fits. The
//!   example services read the timeout from `SHUTDOWN_TIMEOUT`
//!   ([`Shutdown::drain_timeout_from_env`]).
//! - Behind a Service, add a short `preStop` sleep (5 s) so the endpoints are
//!   removed before the pod stops accepting connections:
//!
//! ```yaml
//! spec:
//!   terminationGracePeriodSeconds: 30
//!   containers:
//!     - name: shop
//!       lifecycle:
//!         preStop: { exec: { command: ["sleep", "5"] } }
//! ```

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use crate::observe::Observe;
use tokio::sync::watch;
use tokio::time::Instant;

/// Default for [`Shutdown::drain_timeout`]: 25 seconds, so that draining
/// and the flush after it fit in Kubernetes' default
/// `terminationGracePeriodSeconds` (30) before its SIGKILL.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(25);

/// The target of the lines logged here.
const TARGET: &str = "observe::shutdown";

/// Why a shutdown setting was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShutdownError {
    /// The drain timeout variable is not a whole number of seconds.
    #[error(
        "invalid {name}={value:?}: expected the drain timeout in whole seconds, e.g. {name}=10 (default {default}; 0 abandons requests in flight at once)",
        default = DEFAULT_DRAIN_TIMEOUT.as_secs()
    )]
    DrainTimeout {
        /// The variable's name.
        name: String,
        /// The value given.
        value: String,
    },
}

/// Completes when the process receives SIGTERM or SIGINT (Ctrl-C), or
/// Ctrl-C where there are no Unix signals, after logging one INFO line
/// "shutdown signal received" (target `observe::shutdown`, field `signal`).
///
/// For servers that drain on their own and may take as long as they need;
/// [`Shutdown`] adds a deadline.
///
/// ```no_run
/// # async fn run() {
/// // axum: axum::serve(listener, app).with_graceful_shutdown(shutdown_signal())
/// observe_core::shutdown::shutdown_signal().await;
/// // Stop accepting, finish what is in flight, flush, exit.
/// # }
/// ```
pub async fn shutdown_signal() {
    let signal = os_signal().await;
    tracing::info!(target: TARGET, signal, "shutdown signal received");
}

/// Graceful shutdown with a deadline: [`signal`](Self::signal) tells the
/// server to stop accepting connections, [`drain`](Self::drain) runs the
/// server and gives its requests in flight at most the drain timeout to
/// finish. Clones share one shutdown, so several listeners stop together.
///
/// ```no_run
/// # async fn serve_until(stop: impl std::future::Future<Output = ()>) -> std::io::Result<()> { Ok(()) }
/// # async fn run(observe: observe_core::Observe) -> Result<(), Box<dyn std::error::Error>> {
/// use observe_core::shutdown::Shutdown;
///
/// // SHUTDOWN_TIMEOUT=10 drains for 10 s instead of 25; a bad value is an
/// // error that names the variable.
/// let shutdown = Shutdown::new(&observe).drain_timeout_from_env("SHUTDOWN_TIMEOUT")?;
/// // axum: axum::serve(listener, app).with_graceful_shutdown(shutdown.signal())
/// // actix-web: see `observe_actix`'s crate docs.
/// let server = serve_until(shutdown.signal());
/// // Returns once every request finished, or at the deadline (with a WARN
/// // line saying how many were abandoned): then flush logs and exit.
/// shutdown.drain(server).await?;
/// # Ok(()) }
/// ```
///
/// At the deadline `drain` returns `Ok` with requests still running: the
/// process is stopping either way (Kubernetes sends SIGKILL after the grace
/// period), so a failing exit status would only mark a routine deploy as a
/// crash. The abandoned requests are still tasks on the runtime; shutting
/// the runtime down drops them, which records each as cancelled.
#[derive(Debug, Clone)]
pub struct Shutdown {
    observe: Observe,
    timeout: Duration,
    /// When shutdown began; `None` until then.
    started: Arc<watch::Sender<Option<Instant>>>,
}

impl Shutdown {
    /// A shutdown reporting on `observe`'s requests in flight, with the
    /// default drain timeout ([`DEFAULT_DRAIN_TIMEOUT`]).
    pub fn new(observe: &Observe) -> Self {
        Self {
            observe: observe.clone(),
            timeout: DEFAULT_DRAIN_TIMEOUT,
            started: Arc::new(watch::Sender::new(None)),
        }
    }

    /// How long requests in flight may take to finish once the signal came.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The drain timeout from the environment variable `name`, in whole
    /// seconds; unset or empty keeps the current one. The service chooses
    /// the name (the example services read `SHUTDOWN_TIMEOUT`).
    pub fn drain_timeout_from_env(self, name: &str) -> Result<Self, ShutdownError> {
        match std::env::var_os(name) {
            None => Ok(self),
            Some(value) => {
                let value = value.to_string_lossy();
                match parse_seconds(&value) {
                    Some(None) => Ok(self),
                    Some(Some(timeout)) => Ok(self.drain_timeout(timeout)),
                    None => Err(ShutdownError::DrainTimeout {
                        name: name.to_string(),
                        value: value.into_owned(),
                    }),
                }
            }
        }
    }

    /// The drain timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Completes when shutdown begins: on SIGTERM or SIGINT (Ctrl-C; Ctrl-C
    /// only where there are no Unix signals), or on [`trigger`](Self::trigger).
    /// The first to arrive logs one INFO line "shutdown signal received"
    /// (target `observe::shutdown`, fields `signal` and
    /// `drain_timeout_seconds`). Hand it to the server, e.g. axum's
    /// `with_graceful_shutdown`.
    pub fn signal(&self) -> impl Future<Output = ()> + Send + 'static {
        let shutdown = self.clone();
        async move {
            let mut started = shutdown.started.subscribe();
            tokio::select! {
                signal = os_signal() => shutdown.begin(signal),
                _ = started.wait_for(Option::is_some) => {}
            }
        }
    }

    /// Begins shutdown without a signal, as if one had come (logged with
    /// `signal="trigger"`): for a service that decides to stop by itself.
    pub fn trigger(&self) {
        self.begin("trigger");
    }

    /// Completes at the deadline: the drain timeout after shutdown began.
    /// Never completes if shutdown does not begin.
    pub async fn deadline(&self) {
        let mut started = self.started.subscribe();
        // The sender lives in `self`: waiting cannot fail.
        let started = match started.wait_for(Option::is_some).await {
            Ok(started) => *started,
            Err(_) => None,
        };
        match started.and_then(|at| at.checked_add(self.timeout)) {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            // A timeout too large to add: no deadline.
            None => std::future::pending().await,
        }
    }

    /// Runs `server` (a server told to stop by [`signal`](Self::signal))
    /// until it finished, or until the [deadline](Self::deadline), whichever
    /// comes first. At the deadline it logs a WARN line with the number of
    /// requests still in flight (field `abandoned`) and returns `Ok(())`
    /// without waiting for them.
    pub async fn drain<S, E>(&self, server: S) -> Result<(), E>
    where
        S: IntoFuture<Output = Result<(), E>>,
    {
        tokio::select! {
            served = server => {
                if let Some(started) = *self.started.borrow() {
                    tracing::info!(
                        target: TARGET,
                        drain_ms = started.elapsed().as_millis() as u64,
                        "every request finished; stopping"
                    );
                }
                served
            }
            () = self.deadline() => {
                self.warn_abandoned();
                Ok(())
            }
        }
    }

    /// Logs the WARN line of a drain that ran out of time. For a server
    /// that enforces the drain timeout itself (actix-web's
    /// `shutdown_timeout`): call it when [`deadline`](Self::deadline)
    /// completes, before the server drops its requests.
    pub fn warn_abandoned(&self) {
        tracing::warn!(
            target: TARGET,
            abandoned = in_flight(&self.observe),
            drain_timeout_seconds = self.timeout.as_secs(),
            "drain timeout passed with requests still in flight; abandoning them"
        );
    }

    /// Marks shutdown as begun; only the first call logs.
    fn begin(&self, signal: &'static str) {
        let first = self.started.send_if_modified(|started| {
            let first = started.is_none();
            if first {
                *started = Some(Instant::now());
            }
            first
        });
        if first {
            // Readiness fails from now on: load balancers stop sending
            // new requests while those in flight finish.
            self.observe.begin_draining();
            tracing::info!(
                target: TARGET,
                signal,
                drain_timeout_seconds = self.timeout.as_secs(),
                "shutdown signal received"
            );
        }
    }
}

/// `Some(None)` for an empty value (the default), `Some(Some(timeout))` for
/// whole seconds, `None` for anything else.
fn parse_seconds(value: &str) -> Option<Option<Duration>> {
    let value = value.trim();
    if value.is_empty() {
        return Some(None);
    }
    // `u64::from_str` takes a leading `+`; a timeout is digits only.
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok().map(|s| Some(Duration::from_secs(s)))
}

/// Requests in flight, as `http_server_active_requests` counts them.
fn in_flight(observe: &Observe) -> u64 {
    observe.requests_in_flight()
}

/// The first of SIGTERM and SIGINT; its name.
#[cfg(unix)]
async fn os_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    async fn first(kind: SignalKind, name: &'static str) -> &'static str {
        match signal(kind) {
            Ok(mut signal) => {
                if signal.recv().await.is_some() {
                    return name;
                }
            }
            Err(error) => {
                tracing::warn!(target: TARGET, %error, "cannot listen for {name}");
            }
        }
        // Failed to listen, or no more signals can come: never this one.
        std::future::pending().await
    }
    let term = first(SignalKind::terminate(), "SIGTERM");
    let int = first(SignalKind::interrupt(), "SIGINT");
    tokio::select! {
        name = term => name,
        name = int => name,
    }
}

/// Ctrl-C, where there are no Unix signals.
#[cfg(not(unix))]
async fn os_signal() -> &'static str {
    if let Err(error) = tokio::signal::ctrl_c().await {
        tracing::warn!(target: TARGET, %error, "cannot listen for Ctrl-C");
        std::future::pending::<()>().await;
    }
    "Ctrl-C"
}

#[cfg(test)]
mod tests {
    // Test scaffolding: a failed unwrap is a failed test.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn observe() -> Observe {
        Observe::builder().service_name("shop").build().unwrap()
    }

    #[test]
    fn whole_seconds_or_empty_only() {
        assert_eq!(parse_seconds("10"), Some(Some(Duration::from_secs(10))));
        assert_eq!(parse_seconds(" 0 "), Some(Some(Duration::ZERO)));
        assert_eq!(parse_seconds(""), Some(None));
        for bad in ["nonsense", "-1", "+5", "1.5", "10s", "99999999999999999999"] {
            assert_eq!(parse_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_error_names_the_variable_and_the_form_expected() {
        let error = ShutdownError::DrainTimeout {
            name: "SHUTDOWN_TIMEOUT".into(),
            value: "nonsense".into(),
        };
        let message = error.to_string();
        assert!(
            message.starts_with("invalid SHUTDOWN_TIMEOUT=\"nonsense\": "),
            "{message}"
        );
        assert!(message.contains("whole seconds, e.g. SHUTDOWN_TIMEOUT=10 (default 25"));
    }

    #[tokio::test]
    async fn a_trigger_completes_every_signal_and_starts_the_deadline() {
        let shutdown = Shutdown::new(&observe()).drain_timeout(Duration::from_millis(50));
        let (a, b) = (shutdown.signal(), shutdown.clone().signal());
        shutdown.trigger();
        a.await;
        b.await;
        // Begun already: a signal asked for later completes at once too.
        shutdown.signal().await;
        let begun = Instant::now();
        shutdown.deadline().await;
        assert!(begun.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn drain_returns_the_servers_result_or_ok_at_the_deadline() {
        let shutdown = Shutdown::new(&observe()).drain_timeout(Duration::from_millis(50));
        // Before any signal: the server's own outcome.
        let failed = shutdown.drain(async { Err::<(), _>("bind failed") }).await;
        assert_eq!(failed, Err("bind failed"));
        shutdown.trigger();
        let stuck = shutdown.drain(std::future::pending::<Result<(), &str>>());
        assert_eq!(stuck.await, Ok(()));
    }
}
