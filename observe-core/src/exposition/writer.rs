//! The encoder for observe's own families.

use std::fmt::Write;
use std::sync::Arc;

use super::Format;
use crate::Observe;
use crate::metrics::{Histogram, HistogramSnapshot, Outcome, RouteMetrics, Series};

const DURATION: &str = "http_server_request_duration_seconds";
const REQUEST_SIZE: &str = "http_server_request_body_size_bytes";
const RESPONSE_SIZE: &str = "http_server_response_body_size_bytes";
const ACTIVE: &str = "http_server_active_requests";
const TARGET_INFO: &str = "target_info";

/// One of the three histogram families that share a series' label set.
struct HistogramFamily<'a> {
    name: &'static str,
    unit: &'static str,
    help: &'static str,
    bounds: &'a [f64],
    /// Converts the integer sum to the family's unit.
    sum_unit: f64,
    pick: fn(&Series) -> &Histogram,
}

/// Appends `value` to `out` with the escapes both text formats require in
/// label values.
pub(crate) fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn header(
    out: &mut String,
    format: Format,
    name: &str,
    kind: &str,
    unit: Option<&str>,
    help: &str,
) {
    // An OpenMetrics info family is named without its `_info` suffix; text
    // 0.0.4 has no info type and reads it as a gauge.
    let (name, kind) = match (format, kind) {
        (Format::Text, "info") => (name, "gauge"),
        (Format::OpenMetrics, "info") => (name.strip_suffix("_info").unwrap_or(name), kind),
        _ => (name, kind),
    };
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    if let (Format::OpenMetrics, Some(unit)) = (format, unit) {
        let _ = writeln!(out, "# UNIT {name} {unit}");
    }
}

/// Writes `name="value"` pairs, escaped and comma-separated, then the
/// constant labels, into `out` (cleared first). The label set of one series
/// of any family observe writes.
pub(crate) fn write_labels<'a, N, V>(
    out: &mut String,
    pairs: impl Iterator<Item = (N, V)>,
    const_labels: &str,
) where
    N: AsRef<str>,
    V: AsRef<str> + 'a,
{
    out.clear();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(name.as_ref());
        out.push_str("=\"");
        escape_label_value(out, value.as_ref());
        out.push('"');
    }
    if out.is_empty() {
        out.push_str(const_labels.trim_start_matches(','));
    } else {
        out.push_str(const_labels);
    }
}

/// Header of a counter family named `name` (without `_total`): text 0.0.4
/// names the family after its sample, OpenMetrics without the suffix.
pub(crate) fn counter_header(out: &mut String, format: Format, name: &str, help: &str) {
    match format {
        Format::Text => header(out, format, &format!("{name}_total"), "counter", None, help),
        Format::OpenMetrics => header(out, format, name, "counter", None, help),
    }
}

/// Header of a gauge family.
pub(crate) fn gauge_header(out: &mut String, format: Format, name: &str, help: &str) {
    header(out, format, name, "gauge", None, help);
}

/// Header of a histogram family.
pub(crate) fn histogram_header(
    out: &mut String,
    format: Format,
    name: &str,
    unit: &str,
    help: &str,
) {
    header(out, format, name, "histogram", Some(unit), help);
}

/// One sample line, `name{labels} value`, without braces when there are no
/// labels. `labels` is a rendered label set (see [`write_labels`]).
pub(crate) fn write_sample(
    out: &mut String,
    name: &str,
    labels: &str,
    value: impl std::fmt::Display,
) {
    let labels = labels.trim_start_matches(',');
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

/// One counter series: `_total`, and `_created` in OpenMetrics.
pub(crate) fn write_counter(
    out: &mut String,
    format: Format,
    name: &str,
    labels: &str,
    value: impl std::fmt::Display,
    created: f64,
) {
    write_sample(out, &format!("{name}_total"), labels, value);
    if format == Format::OpenMetrics {
        write_sample(out, &format!("{name}_created"), labels, float(created));
    }
}

/// A float as both formats accept it (`1.5`, `NaN`, `+Inf`).
pub(crate) fn float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{value:?}")
    }
}

pub(crate) fn write_http(out: &mut String, observe: &Observe, format: Format) {
    let inner = &observe.inner;
    let http = &inner.http;
    let routes = http.snapshot_routes();
    // Copy the series pointers once; every family below reads the same set.
    let mut series: Vec<(Arc<RouteMetrics>, Arc<Series>)> = Vec::new();
    for route in &routes {
        let mut of_route = route.snapshot_series();
        of_route.sort_by_key(|s| s.key);
        series.extend(of_route.into_iter().map(|s| (Arc::clone(route), s)));
    }

    // target_info carries the resource attributes, as the OpenTelemetry
    // Prometheus exporters do.
    header(
        out,
        format,
        TARGET_INFO,
        "info",
        None,
        "Target metadata: the service this process runs.",
    );
    out.push_str(TARGET_INFO);
    out.push_str("{service_name=\"");
    escape_label_value(out, &inner.service_name);
    out.push('"');
    if let Some(version) = &inner.service_version {
        out.push_str(",service_version=\"");
        escape_label_value(out, version);
        out.push('"');
    }
    if let Some(commit) = &inner.git_commit {
        out.push_str(",git_commit=\"");
        escape_label_value(out, commit);
        out.push('"');
    }
    out.push_str(&inner.const_labels);
    out.push_str("} 1\n");

    let families = [
        HistogramFamily {
            name: DURATION,
            unit: "seconds",
            help: "Duration of HTTP server requests, until the response body was sent.",
            bounds: &http.shared.buckets.duration,
            sum_unit: 1e-9,
            pick: |s| &s.duration,
        },
        HistogramFamily {
            name: REQUEST_SIZE,
            unit: "bytes",
            help: "Size of HTTP server request bodies, where the size was known.",
            bounds: &http.shared.buckets.size,
            sum_unit: 1.0,
            pick: |s| &s.request_size,
        },
        HistogramFamily {
            name: RESPONSE_SIZE,
            unit: "bytes",
            help: "Size of HTTP server response bodies as sent.",
            bounds: &http.shared.buckets.size,
            sum_unit: 1.0,
            pick: |s| &s.response_size,
        },
    ];
    let mut labels = String::with_capacity(256);
    for family in families {
        let name = family.name;
        header(
            out,
            format,
            name,
            "histogram",
            Some(family.unit),
            family.help,
        );
        for (route, s) in &series {
            let snapshot = (family.pick)(s).snapshot(family.sum_unit);
            if snapshot.count() == 0 {
                continue;
            }
            labels.clear();
            series_labels(&mut labels, observe, route, s);
            write_histogram(
                out,
                format,
                name,
                &labels,
                family.bounds,
                &snapshot,
                s.created,
            );
        }
    }

    let route_overflowed = http
        .route_overflowed
        .load(std::sync::atomic::Ordering::Relaxed);
    inner
        .app
        .render(out, format, &inner.const_labels, route_overflowed);
    crate::app::process::render(out, format, &inner.const_labels);
    write_log_counters(out, format, inner);
    write_error_counters(out, format, inner);
    write_span_counters(out, format, inner);

    header(
        out,
        format,
        ACTIVE,
        "gauge",
        None,
        "Number of HTTP server requests in flight (until their body was sent), excluded routes included.",
    );
    for (method, value) in http.shared.active.snapshot() {
        out.push_str(ACTIVE);
        out.push_str("{http_request_method=\"");
        out.push_str(http.methods.name(method));
        out.push('"');
        out.push_str(&inner.const_labels);
        let _ = writeln!(out, "}} {value}");
    }
}

fn series_labels(out: &mut String, observe: &Observe, route: &RouteMetrics, s: &Series) {
    let http = &observe.inner.http;
    let status = s.key.status;
    out.push_str("http_request_method=\"");
    out.push_str(http.methods.name(s.key.method));
    let _ = write!(
        out,
        "\",http_response_status_code=\"{status}\",http_route=\""
    );
    escape_label_value(out, &route.name);
    out.push('"');
    match s.key.outcome {
        Outcome::Panic => out.push_str(",error_type=\"panic\""),
        Outcome::Cancelled => out.push_str(",error_type=\"cancelled\""),
        Outcome::Completed if status >= 500 => {
            let _ = write!(out, ",error_type=\"{status}\"");
        }
        Outcome::Completed => {}
    }
    out.push_str(&observe.inner.const_labels);
}

pub(crate) fn write_histogram(
    out: &mut String,
    format: Format,
    name: &str,
    labels: &str,
    bounds: &[f64],
    snapshot: &HistogramSnapshot,
    created: f64,
) {
    for (i, count) in snapshot.cumulative.iter().enumerate() {
        match bounds.get(i) {
            Some(bound) => {
                let _ = write!(out, "{name}_bucket{{{labels},le=\"{bound:?}\"}} {count}");
            }
            None => {
                let _ = write!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
            }
        }
        // Exemplars exist only in OpenMetrics; their label set (67
        // characters here) stays under the format's 128-character limit.
        if format == Format::OpenMetrics
            && let Some(Some(exemplar)) = snapshot.exemplars.get(i)
        {
            let _ = write!(
                out,
                " # {{trace_id=\"{}\",span_id=\"{}\"}} {:?} {:.3}",
                crate::trace::hex(&exemplar.trace_id),
                crate::trace::hex(&exemplar.span_id),
                exemplar.value,
                exemplar.timestamp
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{name}_sum{{{labels}}} {:?}", snapshot.sum);
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", snapshot.count());
    if format == Format::OpenMetrics {
        let _ = writeln!(out, "{name}_created{{{labels}}} {created:?}");
    }
}

/// `{name}_total{label="value"}` per `(value, count)`, for the counters
/// kept process-wide (logging, error tracking, trace export) rather than
/// in an `Observe`: the label values are observe's own constants.
fn write_totals<'a>(
    out: &mut String,
    name: &str,
    label: &str,
    samples: impl IntoIterator<Item = (&'a str, u64)>,
    const_labels: &str,
) {
    for (value, count) in samples {
        let _ = writeln!(
            out,
            "{name}_total{{{label}=\"{value}\"{const_labels}}} {count}"
        );
    }
}

/// `observe_log_events_total{level}` and `observe_log_lines_dropped_total`.
fn write_log_counters(out: &mut String, format: Format, inner: &crate::Inner) {
    let (by_level, dropped) = crate::logging::layer::counters().snapshot();
    counter_header(
        out,
        format,
        "observe_log_events",
        "Log lines by level, after remapping (dropped lines included).",
    );
    let levels = crate::logging::layer::LEVELS.map(|l| l.as_str().to_ascii_lowercase());
    write_totals(
        out,
        "observe_log_events",
        "level",
        levels.iter().map(String::as_str).zip(by_level),
        &inner.const_labels,
    );
    counter_header(
        out,
        format,
        "observe_log_lines_dropped",
        "Log lines dropped because the writer could not keep up (slow or blocked stdout).",
    );
    write_sample(
        out,
        "observe_log_lines_dropped_total",
        &inner.const_labels,
        dropped,
    );
}

/// `observe_error_events_total{kind}`, `observe_error_events_dropped_total{reason}`
/// and `observe_error_events_sent_total`: zero while error tracking is off.
fn write_error_counters(out: &mut String, format: Format, inner: &crate::Inner) {
    let (captured, dropped, sent) = crate::errors::counters().snapshot();
    counter_header(
        out,
        format,
        "observe_error_events",
        "Errors handed to the error tracker (panics, 5xx responses, ERROR lines), sent or not.",
    );
    write_totals(
        out,
        "observe_error_events",
        "kind",
        captured,
        &inner.const_labels,
    );
    counter_header(
        out,
        format,
        "observe_error_events_dropped",
        "Error events not delivered: queue full, throttled, rate-limited by Sentry, or failed sends.",
    );
    write_totals(
        out,
        "observe_error_events_dropped",
        "reason",
        dropped,
        &inner.const_labels,
    );
    counter_header(
        out,
        format,
        "observe_error_events_sent",
        "Error events Sentry accepted.",
    );
    write_sample(
        out,
        "observe_error_events_sent_total",
        &inner.const_labels,
        sent,
    );
}

/// `observe_trace_spans_exported_total` and
/// `observe_trace_spans_dropped_total{reason}`: zero while nothing is exported.
fn write_span_counters(out: &mut String, format: Format, inner: &crate::Inner) {
    let (exported, queue_full, export_failed) = crate::trace::counters().snapshot();
    counter_header(
        out,
        format,
        "observe_trace_spans_exported",
        "Spans the OTLP collector accepted.",
    );
    write_sample(
        out,
        "observe_trace_spans_exported_total",
        &inner.const_labels,
        exported,
    );
    counter_header(
        out,
        format,
        "observe_trace_spans_dropped",
        "Sampled spans not exported: export queue full, or the collector failed or timed out.",
    );
    write_totals(
        out,
        "observe_trace_spans_dropped",
        "reason",
        [("queue_full", queue_full), ("export_failed", export_failed)],
        &inner.const_labels,
    );
}
