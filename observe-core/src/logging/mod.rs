//! Logging conventions: every field and message that leaves the process
//! through a log line or an error report goes through a [`Redactor`] first.
//!
//! Redaction has two layers: a field whose *name* is sensitive (`password`,
//! `authorization`, `set-cookie`, ...) is replaced whole by
//! [`REDACTED`](redact::REDACTED); any other value, including free-text
//! messages, is scanned for secrets (bearer tokens, JWTs, URL credentials,
//! `key=value` pairs with a sensitive key, emails, card numbers) and has
//! control characters replaced so it cannot forge a new log line. The
//! default [`Redactor`] is on and production-safe.
//!
//! [`Observe::logging`](crate::Observe::logging) sets up the service's
//! logging in one call: JSON lines on stdout through a bounded queue that
//! never blocks a request, `RUST_LOG` filtering, level remapping by target
//! (`OBSERVE_LOG_REMAP`), redaction, and `observe_log_events_total{level}`.
//!
//! The level policy every line follows: **ERROR** needs an operator now
//! (it is what alerts count); **WARN** someone should look within a
//! business day; **INFO** normal flow, useful when a problem is suspected;
//! **DEBUG** off in production, switched on with `RUST_LOG`. A library
//! whose levels mean something else is remapped by target.

pub(crate) mod json;
pub mod layer;
pub mod redact;
pub mod remap;
mod time;

pub use layer::{LogFormat, LogGuard, LoggingBuilder, LoggingError};
pub use redact::{Redactor, RedactorBuilder};
pub use remap::{Remap, RemapError, RemapTable};
