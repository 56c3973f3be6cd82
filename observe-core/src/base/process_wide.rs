//! What is installed once per process, and by whom.
//!
//! A `tracing` subscriber, a panic hook, a Sentry client and a tracer
//! provider belong to the process, not to one `Observe`: each is installed
//! by an explicit call, once. This module remembers which instance (by
//! service name) installed each, so that a second installation fails with
//! an error that says what is already there.

use std::sync::Mutex;

/// A process-wide installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Installation {
    /// The global `tracing` subscriber and `log` logger (logging).
    Subscriber = 0,
    /// The Sentry client and the panic hook (error tracking).
    ErrorTracking = 1,
    /// The OpenTelemetry tracer provider (span export).
    TracerProvider = 2,
}

impl Installation {
    fn describe(self) -> &'static str {
        match self {
            Installation::Subscriber => "the global tracing subscriber (logging)",
            Installation::ErrorTracking => "the Sentry client and panic hook (error tracking)",
            Installation::TracerProvider => "the OpenTelemetry tracer provider (tracing)",
        }
    }
}

/// A second installation of something process-wide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} is already installed in this process, by the Observe of service {by:?}: it is process-wide and set up once"
)]
pub struct AlreadyInstalled {
    /// What was installed.
    pub what: &'static str,
    /// The service name of the instance that installed it.
    pub by: String,
}

static INSTALLED: Mutex<[Option<String>; 3]> = Mutex::new([None, None, None]);

/// Records that `service` installs `what`; fails if anything installed it
/// already.
pub(crate) fn claim(what: Installation, service: &str) -> Result<(), AlreadyInstalled> {
    let mut installed = INSTALLED.lock().unwrap_or_else(|p| p.into_inner());
    match &installed[what as usize] {
        Some(by) => Err(AlreadyInstalled {
            what: what.describe(),
            by: by.clone(),
        }),
        None => {
            installed[what as usize] = Some(service.to_string());
            Ok(())
        }
    }
}

/// Gives a claim back when the installation failed after all.
pub(crate) fn release(what: Installation) {
    INSTALLED.lock().unwrap_or_else(|p| p.into_inner())[what as usize] = None;
}

/// Whether `what` is installed.
pub(crate) fn is_installed(what: Installation) -> bool {
    INSTALLED.lock().unwrap_or_else(|p| p.into_inner())[what as usize].is_some()
}
