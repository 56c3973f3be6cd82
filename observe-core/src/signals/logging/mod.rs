//! Logging: JSON lines on stdout, redacted, filtered by `RUST_LOG`, with
//! levels that mean the same everywhere and one event per request.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let observe = observe_core::Observe::builder().service_name("shop").build()?;
//! let _logs = observe.logging().try_init()?; // once, in main; the guard flushes on drop
//! tracing::info!(user.id = 7, "user looked up");
//! # Ok(()) }
//! ```
//!
//! [`Observe::logging`](crate::Observe::logging) installs the process-wide
//! `tracing` subscriber (and captures `log`-crate records) in one call: JSON
//! lines written by one thread behind a bounded queue
//! ([`DEFAULT_BUFFER_LINES`], 8,192 lines), so a slow or blocked stdout never
//! blocks a request; lines dropped under pressure are counted in
//! `observe_log_lines_dropped_total`. `OBSERVE_LOG_FORMAT=text` (or
//! [`LoggingBuilder::format`]) gives a human format for local runs. Each line
//! names the service of the `Observe` it speaks for (inside a request, the
//! request's) and is redacted by that instance's redactor.
//!
//! # Levels
//!
//! The level policy every line follows: **ERROR** needs an operator now (it
//! is what alerts count; a handler panic is one); **WARN** someone should
//! look within a business day; **INFO** normal flow, useful once a problem is
//! suspected; **DEBUG** off in production.
//!
//! - `RUST_LOG` filters, in `TARGET=LEVEL` directives (default `info`); a
//!   value that does not parse stops start-up, quoting it. At run time
//!   [`set_log_level`] (the admin listener's `PUT /observe/log-level`, see
//!   [`console`](crate::console)) replaces the filter and reverts by itself.
//! - A library whose levels mean something else is fixed by configuration:
//!   `OBSERVE_LOG_REMAP="hyper=error:warn,sqlx=info:debug"` (or
//!   [`LoggingBuilder::remap`]). A target matches itself and its `::`
//!   children; the longest target wins. The remapped level is what is
//!   filtered, written and counted; the line keeps `original_level`.
//! - `observe_log_events_total{level}` counts lines by (remapped) level, so
//!   "errors per minute" can alert without the log pipeline.
//!
//! # Lines
//!
//! Every line: `timestamp` (RFC 3339, UTC), `level`, `target`, `service`,
//! inside a request `request_id`, `trace_id` and `span_id` (see
//! [`trace`](crate::trace)), `message`, and the event's `fields`.
//!
//! **A panic is one line**, on any thread: ERROR under the target
//! [`PANIC_TARGET`] with the message (redacted), `fields.panic.location`
//! (`file:line:column`), `fields.thread.name`, inside a request its
//! `request_id`, `trace_id` and `fields.http.route`, and with
//! `RUST_BACKTRACE=1` the backtrace as the one field `fields.backtrace`. The
//! standard hook's multi-line text is then not written to stderr, so a
//! pipeline that parses stdout and stderr as JSON (Kubernetes collects both)
//! gets one record per panic; [`LoggingBuilder::std_panic_output`] keeps it
//! for local runs. The panic hook is process-wide: observe installs one,
//! once, for logging and error tracking together.
//!
//! **One event per request** is written at INFO under the target
//! `observe::request` when the request has finished; its fields are in
//! [`event`](crate::event).
//!
//! # Redaction
//!
//! Every message and field goes through the `Observe`'s
//! [`Redactor`](crate::Redactor) ([`ObserveBuilder::redactor`](crate::ObserveBuilder::redactor))
//! before it is written, in one pass that allocates nothing for a clean
//! value. Replaced by [`REDACTED`](crate::REDACTED):
//!
//! - fields whose name is sensitive (password, secret, token, API key, auth,
//!   cookie, session, credential, private key, JWT, bearer, CSRF, ...,
//!   compared without case, `-` or `_`) or names personal data (phone,
//!   passport, birth date, SSN, IBAN, tax or national id, a postal address);
//!   a name that counts something (`tokens_used`, `max_tokens`) keeps a
//!   numeric value;
//! - token shapes as secret scanners know them (AWS, GCP, GitHub, GitLab,
//!   Slack, Stripe, Twilio, SendGrid, npm, PyPI, OpenAI-style `sk-`, Hugging
//!   Face, ...), PEM private-key blocks, bearer and basic credentials, JWTs,
//!   URL credentials;
//! - `key=value`, `key: value` and query parameters with a sensitive key,
//!   OAuth `code`, `id_token`, `client_secret`, Azure `AccountKey`; prose such
//!   as `the password is hunter2`;
//! - values whose shape is unambiguous: emails, Luhn-valid cards, E.164 phone
//!   numbers, US SSNs, IBANs.
//!
//! UUIDs, trace ids, hashes, timestamps, prices and versions are left alone,
//! and line breaks cannot forge a line. The full rules are in observe-redact's
//! docs. The same redactor guards error events and the span's `url.path`.
//!
//! # Asking the lines questions
//!
//! ```sh
//! # jq over a file: p99 latency per route
//! jq -s 'map(select(.target=="observe::request").event) | group_by(.route)
//!   | map({route: .[0].route, p99: (map(.duration_ms) | sort | .[(length*0.99|floor)])})' service.log
//! ```
//!
//! ```text
//! # LogQL (Loki): error lines per target per minute
//! sum by (target) (count_over_time({service="shop"} | json | level="ERROR" [1m]))
//! ```
//!
//! ```sql
//! -- SQL over JSON (DuckDB): requests that made more than 5 database calls
//! SELECT request_id, event.route, event.dependencies.count
//! FROM read_json_auto('service.log')
//! WHERE target = 'observe::request' AND event.dependencies.count > 5;
//! ```

pub(crate) mod audit;
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
/// whatever the filter says, the new one included (an audit line `off`
/// cannot silence),
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
    audit::audit(
        LEVEL_TARGET,
        "log level changed",
        &[
            ("previous", &before.directives),
            ("directives", &after.directives),
            ("revert_at", &revert_at),
            ("changed_by", changed_by),
        ],
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
    audit::audit(
        LEVEL_TARGET,
        "log level reset to the default",
        &[
            ("previous", &before.directives),
            ("directives", &after.directives),
            ("changed_by", changed_by),
        ],
    );
    Ok(Some(after))
}
