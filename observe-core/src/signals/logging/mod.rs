//! Logging conventions: every field and message that leaves the process
//! through a log line or an error report goes through a [`Redactor`] first.
//!
//! Redaction has two layers: a field whose *name* is sensitive (`password`,
//! `authorization`, `set-cookie`, ...) is replaced whole by
//! [`REDACTED`], as is one that names personal data (phone, ssn, iban,
//! a postal address, ...); any other value, including free-text messages,
//! is scanned for secrets (token shapes of the major clouds and SaaS, PEM
//! private keys, bearer tokens, JWTs, URL credentials, `key=value` pairs
//! with a sensitive key, secrets stated in prose) and personal data
//! (emails, cards, phone numbers, SSNs, IBANs), and has control
//! characters replaced so it cannot forge a new log line. The default
//! [`Redactor`] is on and production-safe; see its docs for the rules.
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
//! **DEBUG** off in production, switched on with `RUST_LOG`. A library
//! whose levels mean something else is remapped by target.

mod builder;
mod layer;
mod panic;
pub mod remap;
mod sink;

use std::sync::{Arc, OnceLock};

pub use crate::base::line::LogFormat;
pub use crate::base::redact::{REDACTED, Redactor, RedactorBuilder};
pub use builder::{DEFAULT_BUFFER_LINES, LoggingBuilder, LoggingError};
pub(crate) use layer::{ErrorLine, ErrorLineHook, SpansLayer};
pub use panic::PANIC_TARGET;
pub use remap::{Remap, RemapError, RemapTable};
pub use sink::LogGuard;
pub(crate) use sink::LogSink;

/// The installed sink: logging is process-wide (one global subscriber, one
/// stdout), so every `Observe` in the process writes through it.
static SINK: OnceLock<Arc<LogSink>> = OnceLock::new();

/// The process's log sink, once logging is set up.
pub(crate) fn installed() -> Option<&'static Arc<LogSink>> {
    SINK.get()
}
