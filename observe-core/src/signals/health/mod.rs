//! Health: readiness checks the service registers
//! ([`Observe::health_check`](crate::Observe::health_check), or
//! [`Observe::add_health_check`](crate::Observe::add_health_check) with a
//! [`HealthCheck`] for other settings) and the draining state a graceful
//! shutdown sets. The admin listener ([`console`](crate::console)) answers the
//! probes from them.
//!
//! ```
//! let observe = observe_core::Observe::builder().build().unwrap();
//! observe
//!     .health_check("postgres", || async {
//!         // e.g. `sqlx::query("SELECT 1").execute(&pool).await.map(|_| ())`
//!         Ok::<(), std::io::Error>(())
//!     })
//!     .unwrap();
//! ```
//!
//! A check runs at most once per interval (default [`DEFAULT_INTERVAL`])
//! however often probes come: concurrent probes wait for the one run in
//! progress and share its result, bounded by the check's timeout (default
//! [`DEFAULT_TIMEOUT`]). Every run sets `observe_health_check_up{check}` (1 or
//! 0) and observes `observe_health_check_duration_seconds{check}`; a failed
//! check's last error is kept, redacted.
//!
//! - `/health/live` answers 200 while the process serves and never runs a
//!   check: a slow database must not get the pod restarted.
//! - `/health/ready` answers 200 when every check passes and the service is
//!   not draining, else 503, with each check's status, latency and last error
//!   as JSON.
//! - When the stop signal comes
//!   ([`Shutdown`](crate::shutdown::Shutdown) calls
//!   [`Observe::begin_draining`](crate::Observe::begin_draining)), readiness
//!   turns 503 `"draining"` at once while requests in flight finish; liveness
//!   stays 200.
//!
//! Kubernetes, with the admin listener on the pod IP
//! (`OBSERVE_ADMIN_ADDR=0.0.0.0:9464`, which needs `OBSERVE_ADMIN_TOKEN`):
//!
//! ```yaml
//! livenessProbe:  { httpGet: { path: /health/live,  port: 9464 } }
//! readinessProbe: { httpGet: { path: /health/ready, port: 9464 }, periodSeconds: 5 }
//! ```

mod join;

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

use observe_redact::Redactor;

/// How long a check may take before it counts as failed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a check's result is reused.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Checks one `Observe` may register: the `check` label stays bounded.
pub const MAX_CHECKS: usize = 32;
/// A check's name: 1 to 64 of `a-z`, `0-9`, `_`, `-`, `.`.
pub const MAX_NAME_LEN: usize = 64;
/// The longest error message kept, after redaction.
const MAX_ERROR_LEN: usize = 300;

/// What a check's closure returns.
pub type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

type RunCheck = Box<dyn Fn() -> CheckFuture + Send + Sync>;

/// Why a check was not registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HealthError {
    /// The name is empty, too long or has other characters.
    #[error(
        "invalid health check name {0:?}: expected 1 to {MAX_NAME_LEN} of a-z, 0-9, '_', '-', '.' (e.g. \"postgres\")"
    )]
    Name(String),
    /// A check of that name exists.
    #[error("a health check named {0:?} is already registered")]
    Duplicate(String),
    /// [`MAX_CHECKS`] are registered.
    #[error("too many health checks: at most {MAX_CHECKS}")]
    TooMany,
    /// A zero timeout or interval.
    #[error("invalid health check {name:?}: {what} must be more than zero")]
    Zero {
        /// The check.
        name: String,
        /// `timeout` or `interval`.
        what: &'static str,
    },
}

/// A readiness check: a name, a closure that returns a future, a timeout
/// and an interval. [`Observe::health_check`](crate::Observe::health_check)
/// builds one with the defaults.
pub struct HealthCheck {
    name: String,
    run: RunCheck,
    timeout: Duration,
    interval: Duration,
}

impl std::fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthCheck")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl HealthCheck {
    /// A check named `name` (the `check` label) that passes when the future
    /// `check` returns resolves to `Ok`; an `Err`'s message is shown,
    /// redacted, on `/health/ready` and the status page.
    ///
    /// ```
    /// use observe_core::health::HealthCheck;
    /// use std::time::Duration;
    ///
    /// let check = HealthCheck::new("postgres", || async { Ok::<(), String>(()) })
    ///     .timeout(Duration::from_millis(500))
    ///     .interval(Duration::from_secs(10));
    /// # let _ = check;
    /// ```
    pub fn new<F, Fut, E>(name: impl Into<String>, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display,
    {
        Self {
            name: name.into(),
            run: Box::new(move || {
                let future = check();
                Box::pin(async move { future.await.map_err(|e| e.to_string()) })
            }),
            timeout: DEFAULT_TIMEOUT,
            interval: DEFAULT_INTERVAL,
        }
    }

    /// How long a run may take; past it the check fails with "timed out".
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a result is reused before the check runs again.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }
}

/// The result of a check's last run.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// Whether it passed; `None` before its first run.
    pub up: Option<bool>,
    /// How long the run took.
    pub latency: Duration,
    /// Why it failed, redacted.
    pub error: Option<String>,
    /// When it ran.
    pub checked_at: Option<SystemTime>,
}

/// The readiness of a service: its checks and whether it drains.
#[derive(Debug, Clone, PartialEq)]
pub struct Readiness {
    /// Shutdown began: not ready, whatever the checks say.
    pub draining: bool,
    /// Every check, in registration order.
    pub checks: Vec<CheckResult>,
}

impl Readiness {
    /// Ready: not draining and every check passed.
    pub fn ready(&self) -> bool {
        !self.draining && self.checks.iter().all(|c| c.up == Some(true))
    }

    /// `up`, `down` or `draining`.
    pub fn status(&self) -> &'static str {
        if self.draining {
            "draining"
        } else if self.ready() {
            "up"
        } else {
            "down"
        }
    }
}

#[derive(Debug, Clone)]
struct LastRun {
    up: bool,
    latency: Duration,
    error: Option<String>,
    at: SystemTime,
    /// tokio's clock, so a test can move it.
    ran: tokio::time::Instant,
}

struct Registered {
    name: String,
    run: RunCheck,
    timeout: Duration,
    interval: Duration,
    /// Held while a run is in progress: probes arriving meanwhile wait and
    /// take its result.
    running: tokio::sync::Mutex<()>,
    last: Mutex<Option<LastRun>>,
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The check label set.
type CheckLabels = Vec<(String, String)>;

/// The metric families of the checks.
#[derive(Debug, Clone)]
pub(crate) struct HealthMetrics {
    pub(crate) up: Family<CheckLabels, Gauge>,
    pub(crate) duration: Family<CheckLabels, Histogram>,
}

impl Default for HealthMetrics {
    fn default() -> Self {
        fn buckets() -> Histogram {
            Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
        }
        Self {
            up: Family::default(),
            duration: Family::new_with_constructor(buckets as fn() -> Histogram),
        }
    }
}

/// The checks of one `Observe`.
#[derive(Debug, Default)]
pub(crate) struct Health {
    checks: RwLock<Vec<Arc<Registered>>>,
    draining: AtomicBool,
    metrics: HealthMetrics,
}

fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
        })
}

impl Health {
    /// The metric families, to register once in the instance's registry.
    pub(crate) fn metrics(&self) -> &HealthMetrics {
        &self.metrics
    }

    /// Registers `check`; whether it is the first (the caller then
    /// registers the metric families).
    pub(crate) fn register(&self, check: HealthCheck) -> Result<bool, HealthError> {
        if !valid_name(&check.name) {
            return Err(HealthError::Name(check.name.chars().take(100).collect()));
        }
        for (what, value) in [("timeout", check.timeout), ("interval", check.interval)] {
            if value.is_zero() {
                return Err(HealthError::Zero {
                    name: check.name,
                    what,
                });
            }
        }
        let mut checks = self.checks.write().unwrap_or_else(|p| p.into_inner());
        if checks.iter().any(|c| c.name == check.name) {
            return Err(HealthError::Duplicate(check.name));
        }
        if checks.len() >= MAX_CHECKS {
            return Err(HealthError::TooMany);
        }
        checks.push(Arc::new(Registered {
            name: check.name,
            run: check.run,
            timeout: check.timeout,
            interval: check.interval,
            running: tokio::sync::Mutex::new(()),
            last: Mutex::new(None),
        }));
        Ok(checks.len() == 1)
    }

    /// Marks the service as draining: readiness fails from now on.
    pub(crate) fn begin_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    fn registered(&self) -> Vec<Arc<Registered>> {
        self.checks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The last results, without running anything.
    pub(crate) fn cached(&self) -> Readiness {
        Readiness {
            draining: self.is_draining(),
            checks: self
                .registered()
                .iter()
                .map(|check| {
                    result(
                        check,
                        check
                            .last
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .as_ref(),
                    )
                })
                .collect(),
        }
    }

    /// Readiness now: every check whose result is older than its interval
    /// runs (concurrently, each within its timeout). Needs a tokio runtime
    /// with time enabled.
    pub(crate) async fn check(&self, redactor: &Redactor) -> Readiness {
        let checks = self.registered();
        let runs = checks
            .iter()
            .map(|check| {
                let check = Arc::clone(check);
                let metrics = self.metrics.clone();
                let redactor = redactor.clone();
                Box::pin(async move { fresh(&check, &metrics, &redactor).await })
                    as Pin<Box<dyn Future<Output = CheckResult> + Send>>
            })
            .collect();
        Readiness {
            draining: self.is_draining(),
            checks: join::all(runs).await,
        }
    }
}

fn result(check: &Registered, last: Option<&LastRun>) -> CheckResult {
    CheckResult {
        name: check.name.clone(),
        up: last.map(|l| l.up),
        latency: last.map_or(Duration::ZERO, |l| l.latency),
        error: last.and_then(|l| l.error.clone()),
        checked_at: last.map(|l| l.at),
    }
}

fn is_fresh(check: &Registered) -> Option<CheckResult> {
    let last = check.last.lock().unwrap_or_else(|p| p.into_inner());
    let last = last.as_ref()?;
    (last.ran.elapsed() < check.interval).then(|| result(check, Some(last)))
}

/// The check's result, run if the cached one is stale; one run at a time.
async fn fresh(check: &Registered, metrics: &HealthMetrics, redactor: &Redactor) -> CheckResult {
    if let Some(fresh) = is_fresh(check) {
        return fresh;
    }
    let _running = check.running.lock().await;
    // Another probe may have run it while this one waited.
    if let Some(fresh) = is_fresh(check) {
        return fresh;
    }
    let started = tokio::time::Instant::now();
    let outcome = tokio::time::timeout(check.timeout, (check.run)()).await;
    let latency = started.elapsed();
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(message)) => Some(bounded(&redactor.redact_value(&message))),
        Err(_) => Some(format!("timed out after {} ms", check.timeout.as_millis())),
    };
    let labels = vec![("check".to_string(), check.name.clone())];
    metrics
        .up
        .get_or_create(&labels)
        .set(i64::from(error.is_none()));
    metrics
        .duration
        .get_or_create(&labels)
        .observe(latency.as_secs_f64());
    let last = LastRun {
        up: error.is_none(),
        latency,
        error,
        at: SystemTime::now(),
        ran: tokio::time::Instant::now(),
    };
    let result = result(check, Some(&last));
    *check.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(last);
    result
}

fn bounded(message: &str) -> String {
    let mut end = message.len().min(MAX_ERROR_LEN);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn names_are_bounded_label_values() {
        let health = Health::default();
        let ok = || async { Ok::<(), String>(()) };
        assert_eq!(health.register(HealthCheck::new("postgres", ok)), Ok(true));
        assert_eq!(
            health.register(HealthCheck::new("postgres", ok)),
            Err(HealthError::Duplicate("postgres".into()))
        );
        assert!(matches!(
            health.register(HealthCheck::new("Postgres DB", ok)),
            Err(HealthError::Name(_))
        ));
        assert!(matches!(
            health.register(HealthCheck::new("cache", ok).timeout(Duration::ZERO)),
            Err(HealthError::Zero {
                what: "timeout",
                ..
            })
        ));
        for i in 1..MAX_CHECKS {
            health
                .register(HealthCheck::new(format!("c{i}"), ok))
                .unwrap();
        }
        assert_eq!(
            health.register(HealthCheck::new("one-more", ok)),
            Err(HealthError::TooMany)
        );
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_check_runs_once_per_interval_and_times_out() {
        let health = Arc::new(Health::default());
        let runs = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&runs);
        health
            .register(HealthCheck::new("db", move || {
                let runs = Arc::clone(&counted);
                async move {
                    runs.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Err::<(), _>("connection refused: password=hunter2")
                }
            }))
            .unwrap();
        health
            .register(
                HealthCheck::new("slow", || async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    Ok::<(), String>(())
                })
                .timeout(Duration::from_millis(100)),
            )
            .unwrap();
        let redactor = Redactor::default();
        // 50 probes at once: one run, the others wait for it.
        let probes = (0..50)
            .map(|_| {
                let health = Arc::clone(&health);
                let redactor = redactor.clone();
                Box::pin(async move { health.check(&redactor).await })
                    as Pin<Box<dyn Future<Output = Readiness> + Send>>
            })
            .collect();
        let results = join::all(probes).await;
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        let readiness = &results[49];
        assert!(!readiness.ready());
        assert_eq!(readiness.status(), "down");
        let db = &readiness.checks[0];
        assert_eq!(db.up, Some(false));
        let error = db.error.as_deref().unwrap();
        assert!(!error.contains("hunter2"), "{error}");
        assert_eq!(
            readiness.checks[1].error.as_deref(),
            Some("timed out after 100 ms")
        );
        tokio::time::advance(DEFAULT_INTERVAL).await;
        health.check(&redactor).await;
        assert_eq!(runs.load(Ordering::Relaxed), 2);
        health.begin_draining();
        assert_eq!(health.cached().status(), "draining");
    }
}
