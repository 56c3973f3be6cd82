//! Logging conventions: every field and message that leaves the process
//! through a log line or an error report goes through a [`Redactor`](crate::Redactor) first.
//!
//! Redaction has two layers: a field whose *name* is sensitive (`password`,
//! `authorization`, `set-cookie`, ...) is replaced whole by
//! [`REDACTED`](crate::REDACTED), as is one that names personal data (phone, ssn, iban,
//! a postal address, ...); any other value, including free-text messages,
//! is scanned for secrets (token shapes of the major clouds and SaaS, PEM
//! private keys, bearer tokens, JWTs, URL credentials, `key=value` pairs
//! with a sensitive key, secrets stated in prose) and personal data
//! (emails, cards, phone numbers, SSNs, IBANs), and has control
//! characters replaced so it cannot forge a new log line. The default
//! [`Redactor`](crate::Redactor) is on and production-safe; see its docs for the rules.
//!
//! [`Observe::logging`](crate::Observe::logging) sets up the service's
//! logging in one call: JSON lines on stdout through a bounded queue that
//! never blocks a request, `RUST_LOG` filtering, level remapping by target
//! (`OBSERVE_LOG_REMAP`), redaction, and `observe_log_events_total{level}`.
//! The subscriber it installs is process-wide; each line names the service
//! of the `Observe` it speaks for (inside a request, the request's), and
//! is redacted by that instance's redactor.
//!
//! The level policy every line follows: **ERROR** needs an operator now
//! (it is what alerts count); **WARN** someone should look within a
//! business day; **INFO** normal flow, useful when a problem is suspected;
//! **DEBUG** off in production, switched on with `RUST_LOG`, or at run
//! time with [`set_log_level`] (the admin listener's `PUT
//! /observe/log-level`), which reverts by itself. A library
//! whose levels mean something else is remapped by target.

mod builder;
mod layer;
mod level;
mod panic;
pub mod remap;
mod sink;

use std::sync::{Arc, OnceLock};

pub use crate::base::line::LogFormat;

pub use builder::{DEFAULT_BUFFER_LINES, LoggingBuilder, LoggingError};
pub(crate) use layer::{ErrorLine, ErrorLineHook, SpansLayer};
pub use level::{
    DEFAULT_REVERT_AFTER, LevelError, LogLevel, MAX_DIRECTIVES_LEN, MAX_REVERT_AFTER,
    parse_revert_after,
};
pub use panic::PANIC_TARGET;
pub use remap::{Remap, RemapError, RemapTable};
pub(crate) use sink::LogSink;
pub use sink::LoggingGuard;

/// The installed sink: logging is process-wide (one global subscriber, one
/// stdout), so every `Observe` in the process writes through it.
static SINK: OnceLock<Arc<LogSink>> = OnceLock::new();

/// The process's log sink, once logging is set up.
pub(crate) fn installed() -> Option<&'static Arc<LogSink>> {
    SINK.get()
}

/// The target of the WARN lines that audit every log-level change.
pub const LEVEL_TARGET: &str = "observe::log_level";

/// A change of the log level: what was in force before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelChange {
    /// Before the change.
    pub before: LogLevel,
    /// After it.
    pub after: LogLevel,
}

/// The log level in force; `None` when observe's logging is not set up.
pub fn log_level() -> Option<LogLevel> {
    installed().map(|sink| sink.level.current())
}

/// Puts `directives` (`RUST_LOG` syntax, e.g. `info,shop=debug`) in force
/// in the running subscriber now, and restores the start-up filter after
/// `revert_after` (at most [`MAX_REVERT_AFTER`]). Writes one WARN line
/// under [`LEVEL_TARGET`] with the old and new directives, the revert time
/// and `changed_by` (who asked, e.g. `admin token, peer 10.0.0.7:51234`),
/// and counts `observe_log_level_changes_total`. Invalid directives change
/// nothing and name the problem. Level remapping keeps applying: the
/// filter sees the remapped level.
pub fn set_log_level(
    directives: &str,
    revert_after: std::time::Duration,
    changed_by: &str,
) -> Result<LevelChange, LevelError> {
    let sink = installed().ok_or(LevelError::NotInstalled)?;
    let (before, after) = sink.level.set(directives, revert_after)?;
    let revert_at = after
        .revert_at
        .map(crate::base::time::rfc3339)
        .unwrap_or_default();
    tracing::warn!(
        target: LEVEL_TARGET,
        previous = before.directives.as_str(),
        directives = after.directives.as_str(),
        revert_at = revert_at.as_str(),
        changed_by,
        "log level changed"
    );
    Ok(LevelChange { before, after })
}

/// Restores the start-up filter now (audited like a change); `Ok(None)`
/// when it was in force already.
pub fn reset_log_level(changed_by: &str) -> Result<Option<LogLevel>, LevelError> {
    let sink = installed().ok_or(LevelError::NotInstalled)?;
    let Some(before) = sink.level.reset() else {
        return Ok(None);
    };
    let after = sink.level.current();
    tracing::warn!(
        target: LEVEL_TARGET,
        previous = before.directives.as_str(),
        directives = after.directives.as_str(),
        changed_by,
        "log level reset to the default"
    );
    Ok(Some(after))
}
