//! The signals' own counters: log lines by level and dropped, error events
//! captured, dropped and sent, spans exported and dropped.
//!
//! They are process-wide, as what they count is: one log writer, one
//! Sentry client, one span exporter per process. Every `Observe` renders
//! them (with its constant labels); they read zero while a signal is off.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::base::time::unix_now;
use crate::encoding::{Format, counter_header, write_counter, write_totals};

/// The level label values, in the order of [`LogCounters`]' slots.
pub(crate) const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// Lines by level and lines dropped.
#[derive(Debug, Default)]
pub(crate) struct LogCounters {
    by_level: [AtomicU64; 5],
    dropped: AtomicU64,
    level_changes: AtomicU64,
}

impl LogCounters {
    /// Counts a line at `level` (an index into [`LEVELS`]).
    pub(crate) fn line(&self, level: usize) {
        self.by_level[level.min(4)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a change of the log filter at run time.
    pub(crate) fn level_changed(&self) {
        self.level_changes.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a line the writer could not take.
    pub(crate) fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// What produced an error event; the `kind` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    Panic,
    ServerError,
    Log,
    /// Sent by the application with the `sentry` API.
    Application,
}

const KINDS: [&str; 4] = ["panic", "server_error", "log", "application"];

/// Why an error event was not delivered; the `reason` label.
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

/// Error events captured by kind, dropped by reason, and sent.
#[derive(Debug, Default)]
pub(crate) struct ErrorCounters {
    captured: [AtomicU64; 4],
    dropped: [AtomicU64; 4],
    sent: AtomicU64,
}

impl ErrorCounters {
    pub(crate) fn captured(&self, kind: ErrorKind) {
        self.captured[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn dropped(&self, reason: DropReason) {
        self.dropped[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }
}

/// Spans exported, and sampled spans dropped.
#[derive(Debug, Default)]
pub(crate) struct SpanCounters {
    pub(crate) exported: AtomicU64,
    pub(crate) queue_full: AtomicU64,
    pub(crate) export_failed: AtomicU64,
}

/// OTLP exports (feature `otlp`), by signal ([`OTLP_SIGNALS`]): requests
/// taken or failed, and items (data points, log records) dropped.
#[derive(Debug, Default)]
pub(crate) struct OtlpCounters {
    /// `[signal][0: success, 1: failure]`
    exports: [[AtomicU64; 2]; 2],
    /// `[signal][0: queue_full, 1: export_failed]`
    dropped: [[AtomicU64; 2]; 2],
}

/// The OTLP signals observe exports itself, in the counters' order.
pub(crate) const OTLP_SIGNALS: [&str; 2] = ["metrics", "logs"];

impl OtlpCounters {
    /// One export request to `signal`'s endpoint ended.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(crate) fn export(&self, signal: usize, ok: bool) {
        self.exports[signal][usize::from(!ok)].fetch_add(1, Ordering::Relaxed);
    }

    /// `count` items of `signal` lost: the queue was full, or their export
    /// failed for good.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(crate) fn dropped(&self, signal: usize, queue_full: bool, count: u64) {
        self.dropped[signal][usize::from(!queue_full)].fetch_add(count, Ordering::Relaxed);
    }
}

/// Request-event rows for ClickHouse (feature `clickhouse`).
#[derive(Debug, Default)]
pub(crate) struct ClickHouseCounters {
    inserted: AtomicU64,
    dropped: AtomicU64,
}

impl ClickHouseCounters {
    /// `rows` taken by the server.
    #[cfg_attr(not(feature = "clickhouse"), allow(dead_code))]
    pub(crate) fn inserted(&self, rows: u64) {
        self.inserted.fetch_add(rows, Ordering::Relaxed);
    }

    /// `rows` lost: the queue was full, or the insert failed for good.
    #[cfg_attr(not(feature = "clickhouse"), allow(dead_code))]
    pub(crate) fn dropped(&self, rows: u64) {
        self.dropped.fetch_add(rows, Ordering::Relaxed);
    }
}

/// The process's signal counters and when they started counting.
#[derive(Debug)]
pub(crate) struct SignalCounters {
    pub(crate) logs: LogCounters,
    pub(crate) errors: ErrorCounters,
    pub(crate) spans: SpanCounters,
    pub(crate) otlp: OtlpCounters,
    pub(crate) clickhouse: ClickHouseCounters,
    created: f64,
}

/// The counters of this process.
pub(crate) fn counters() -> &'static SignalCounters {
    static COUNTERS: OnceLock<SignalCounters> = OnceLock::new();
    COUNTERS.get_or_init(|| SignalCounters {
        logs: LogCounters::default(),
        errors: ErrorCounters::default(),
        spans: SpanCounters::default(),
        otlp: OtlpCounters::default(),
        clickhouse: ClickHouseCounters::default(),
        created: unix_now(),
    })
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// What the signals dropped since start, as the console shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Drops {
    pub(crate) log_lines: u64,
    pub(crate) error_events: u64,
    pub(crate) spans: u64,
}

/// The drop counters now.
pub(crate) fn drops() -> Drops {
    let counters = counters();
    Drops {
        log_lines: load(&counters.logs.dropped),
        error_events: counters.errors.dropped.iter().map(load).sum(),
        spans: load(&counters.spans.queue_full) + load(&counters.spans.export_failed),
    }
}

/// Writes the counter families of the signals compiled in: a build without
/// a signal lists none of its families (they could only ever read zero).
pub(crate) fn render(out: &mut String, format: Format, const_labels: &str) {
    let counters = counters();
    let created = counters.created;
    if cfg!(feature = "logging") {
        render_logs(out, format, const_labels, &counters.logs, created);
    }
    if cfg!(feature = "errors") {
        render_errors(out, format, const_labels, &counters.errors, created);
    }
    if cfg!(feature = "tracing") {
        render_spans(out, format, const_labels, &counters.spans, created);
    }
    if cfg!(feature = "otlp") {
        render_otlp(out, format, const_labels, &counters.otlp, created);
    }
    if cfg!(feature = "clickhouse") {
        counter_header(
            out,
            format,
            "observe_clickhouse_rows",
            "Request-event rows for ClickHouse: inserted, or dropped (queue full, or the insert failed after its retries).",
        );
        write_totals(
            out,
            format,
            "observe_clickhouse_rows",
            "outcome",
            [
                ("inserted", load(&counters.clickhouse.inserted)),
                ("dropped", load(&counters.clickhouse.dropped)),
            ],
            const_labels,
            created,
        );
    }
}

fn render_otlp(
    out: &mut String,
    format: Format,
    const_labels: &str,
    otlp: &OtlpCounters,
    created: f64,
) {
    // A series per signal and per value of the family's second label,
    // read from `counters[signal][value]`.
    let mut family = |name: &str,
                      help: &str,
                      (label, values): (&str, [&str; 2]),
                      counters: &[[AtomicU64; 2]; OTLP_SIGNALS.len()]| {
        counter_header(out, format, name, help);
        let mut labels = String::new();
        for (signal, signal_name) in OTLP_SIGNALS.iter().enumerate() {
            for (i, value) in values.iter().enumerate() {
                labels.clear();
                let _ = write!(
                    labels,
                    "signal=\"{signal_name}\",{label}=\"{value}\"{const_labels}"
                );
                let count = load(&counters[signal][i]);
                write_counter(out, format, name, &labels, count, created);
            }
        }
    };
    family(
        "observe_otlp_exports",
        "OTLP export requests by signal and outcome (a failure is one that was not taken after its retries).",
        ("outcome", ["success", "failure"]),
        &otlp.exports,
    );
    family(
        "observe_otlp_items_dropped",
        "Data points and log records not delivered over OTLP: the export queue was full, or the export failed after its retries.",
        ("reason", ["queue_full", "export_failed"]),
        &otlp.dropped,
    );
}

fn render_logs(
    out: &mut String,
    format: Format,
    const_labels: &str,
    logs: &LogCounters,
    created: f64,
) {
    counter_header(
        out,
        format,
        "observe_log_events",
        "Log lines by level, after remapping (dropped lines included).",
    );
    write_totals(
        out,
        format,
        "observe_log_events",
        "level",
        LEVELS.iter().copied().zip(logs.by_level.iter().map(load)),
        const_labels,
        created,
    );
    counter_header(
        out,
        format,
        "observe_log_lines_dropped",
        "Log lines dropped because the writer could not keep up (slow or blocked stdout).",
    );
    write_counter(
        out,
        format,
        "observe_log_lines_dropped",
        const_labels,
        load(&logs.dropped),
        created,
    );
    counter_header(
        out,
        format,
        "observe_log_level_changes",
        "Changes of the log filter at run time (the admin listener's PUT /observe/log-level and automatic reverts).",
    );
    write_counter(
        out,
        format,
        "observe_log_level_changes",
        const_labels,
        load(&logs.level_changes),
        created,
    );
}

fn render_errors(
    out: &mut String,
    format: Format,
    const_labels: &str,
    errors: &ErrorCounters,
    created: f64,
) {
    counter_header(
        out,
        format,
        "observe_error_events",
        "Errors handed to the error tracker (panics, 5xx responses, ERROR lines, events the application sent), sent or not.",
    );
    write_totals(
        out,
        format,
        "observe_error_events",
        "kind",
        KINDS.iter().copied().zip(errors.captured.iter().map(load)),
        const_labels,
        created,
    );
    counter_header(
        out,
        format,
        "observe_error_events_dropped",
        "Error events not delivered: queue full, throttled, rate-limited by Sentry, or failed sends.",
    );
    write_totals(
        out,
        format,
        "observe_error_events_dropped",
        "reason",
        DROP_REASONS
            .iter()
            .copied()
            .zip(errors.dropped.iter().map(load)),
        const_labels,
        created,
    );
    counter_header(
        out,
        format,
        "observe_error_events_sent",
        "Error events Sentry accepted.",
    );
    write_counter(
        out,
        format,
        "observe_error_events_sent",
        const_labels,
        load(&errors.sent),
        created,
    );
}

fn render_spans(
    out: &mut String,
    format: Format,
    const_labels: &str,
    spans: &SpanCounters,
    created: f64,
) {
    counter_header(
        out,
        format,
        "observe_trace_spans_exported",
        "Spans the OTLP collector accepted.",
    );
    write_counter(
        out,
        format,
        "observe_trace_spans_exported",
        const_labels,
        load(&spans.exported),
        created,
    );
    counter_header(
        out,
        format,
        "observe_trace_spans_dropped",
        "Sampled spans not exported: export queue full, or the collector failed or timed out.",
    );
    write_totals(
        out,
        format,
        "observe_trace_spans_dropped",
        "reason",
        [
            ("queue_full", load(&spans.queue_full)),
            ("export_failed", load(&spans.export_failed)),
        ],
        const_labels,
        created,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each signal's families are listed exactly when it is compiled in.
    #[test]
    fn only_the_signals_compiled_in_are_listed() {
        let mut out = String::new();
        render(&mut out, Format::Text, "");
        for (feature, on, family) in [
            ("logging", cfg!(feature = "logging"), "observe_log_events"),
            ("errors", cfg!(feature = "errors"), "observe_error_events"),
            ("tracing", cfg!(feature = "tracing"), "observe_trace_spans"),
            ("otlp", cfg!(feature = "otlp"), "observe_otlp_exports"),
            (
                "clickhouse",
                cfg!(feature = "clickhouse"),
                "observe_clickhouse_rows",
            ),
        ] {
            assert_eq!(out.contains(family), on, "{feature}: {out}");
        }
    }
}
