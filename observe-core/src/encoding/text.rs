//! The text encoders (Prometheus 0.0.4 and OpenMetrics 1.0.0) for
//! observe's own families: a pure leaf that writes what it is given.

use std::fmt::Write;

use super::Format;
use crate::base::ids::hex;

/// The trace of one observation, shown beside its bucket in OpenMetrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Exemplar {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    pub(crate) value: f64,
    /// Unix seconds.
    pub(crate) timestamp: f64,
}

/// A consistent-enough copy of a histogram for rendering: cumulative bucket
/// counts, with `count` equal to the `+Inf` bucket by construction.
pub(crate) struct HistogramSnapshot {
    pub(crate) cumulative: Vec<u64>,
    pub(crate) sum: f64,
    /// Per bucket, when any were recorded.
    pub(crate) exemplars: Vec<Option<Exemplar>>,
}

impl HistogramSnapshot {
    pub(crate) fn count(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }
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

/// Appends help text with the escapes both formats require there: a
/// backslash or a newline in a help string must not end the line.
fn escape_help(out: &mut String, help: &str) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// `# HELP`, `# TYPE` and, in OpenMetrics, `# UNIT` of a family.
pub(crate) fn header(
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
    let _ = write!(out, "# HELP {name} ");
    escape_help(out, help);
    out.push('\n');
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
        Format::OpenMetrics | Format::Protobuf => header(out, format, name, "counter", None, help),
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
                hex(&exemplar.trace_id),
                hex(&exemplar.span_id),
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

/// `{name}_total{label="value"}` per `(value, count)`, and `_created` in
/// OpenMetrics, for families whose label values are observe's own
/// constants (they need no escaping).
pub(crate) fn write_totals<'a>(
    out: &mut String,
    format: Format,
    name: &str,
    label: &str,
    samples: impl IntoIterator<Item = (&'a str, u64)>,
    const_labels: &str,
    created: f64,
) {
    let mut labels = String::new();
    for (value, count) in samples {
        labels.clear();
        let _ = write!(labels, "{label}=\"{value}\"{const_labels}");
        write_counter(out, format, name, &labels, count, created);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_text_cannot_break_the_line() {
        for format in [Format::Text, Format::OpenMetrics] {
            let mut out = String::new();
            header(&mut out, format, "shop_orders", "gauge", None, "a \\ b\nc");
            assert!(
                out.starts_with("# HELP shop_orders a \\\\ b\\nc\n# TYPE"),
                "{out}"
            );
        }
    }
}
