//! A strict parser of the OpenMetrics text observe renders (its own
//! families and prometheus-client's), back into families: what the
//! protobuf encoder reads, so both formats come from one document and can
//! never disagree on a name, a label or a value.
//!
//! It borrows from the document: label sets stay raw text (checked once
//! here, unescaped only when encoded), so parsing allocates per family,
//! not per sample.

use std::borrow::Cow;

/// The family types OpenMetrics 1.0 names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    StateSet,
    Info,
    Summary,
    #[default]
    Unknown,
}

impl Kind {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "counter" => Kind::Counter,
            "gauge" => Kind::Gauge,
            "histogram" => Kind::Histogram,
            "gaugehistogram" => Kind::GaugeHistogram,
            "stateset" => Kind::StateSet,
            "info" => Kind::Info,
            "summary" => Kind::Summary,
            "unknown" => Kind::Unknown,
            _ => return None,
        })
    }
}

/// One metric family: its metadata and samples, in document order.
#[derive(Debug, Default)]
pub(crate) struct Family<'a> {
    /// The OpenMetrics family name (a counter's without `_total`, an
    /// info's without `_info`).
    pub(crate) name: &'a str,
    pub(crate) kind: Kind,
    pub(crate) help: Option<Cow<'a, str>>,
    pub(crate) unit: Option<&'a str>,
    pub(crate) samples: Vec<Sample<'a>>,
}

/// One sample line.
#[derive(Debug)]
pub(crate) struct Sample<'a> {
    pub(crate) name: &'a str,
    /// The label set as written between the braces (checked, still
    /// escaped); empty without braces.
    pub(crate) labels: &'a str,
    pub(crate) value: f64,
    /// Seconds, when the line has one.
    pub(crate) timestamp: Option<f64>,
    pub(crate) exemplar: Option<Exemplar<'a>>,
}

/// The exemplar after a sample's ` # `.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exemplar<'a> {
    pub(crate) labels: &'a str,
    pub(crate) value: f64,
    pub(crate) timestamp: Option<f64>,
}

/// Why the document could not be read back.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("OpenMetrics line {line}: {reason}")]
pub(crate) struct ParseError {
    /// 1-based.
    pub(crate) line: usize,
    pub(crate) reason: &'static str,
}

/// Parses an OpenMetrics document (`# EOF` optional) into its families.
/// Samples before any metadata become `unknown` families of their own.
#[cfg(test)]
pub(crate) fn parse(text: &str) -> Result<Vec<Family<'_>>, ParseError> {
    let mut parser = Parser::new(text);
    let mut families = Vec::new();
    loop {
        let mut family = Family::default();
        if !parser.next_family(&mut family)? {
            return Ok(families);
        }
        families.push(family);
    }
}

/// Reads a document one family at a time, so the encoder reuses one
/// vector of samples instead of holding the whole document's.
pub(crate) struct Parser<'a> {
    lines: std::iter::Enumerate<std::str::Lines<'a>>,
    /// The first line of the next family, read one line too far.
    pending: Option<(usize, &'a str)>,
    /// `# EOF` was read.
    done: bool,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self {
            lines: text.lines().enumerate(),
            pending: None,
            done: false,
        }
    }

    /// Reads the next family into `family` (its samples' vector reused);
    /// `false` at the end of the document.
    pub(crate) fn next_family(&mut self, family: &mut Family<'a>) -> Result<bool, ParseError> {
        family.samples.clear();
        family.kind = Kind::Unknown;
        family.help = None;
        family.unit = None;
        let mut started = false;
        while !self.done {
            let Some((number, line)) = self.pending.take().or_else(|| self.lines.next()) else {
                break;
            };
            let fail = |reason| ParseError {
                line: number + 1,
                reason,
            };
            if line == "# EOF" {
                self.done = true;
                break;
            }
            if let Some(comment) = line.strip_prefix("# ") {
                let (keyword, rest) = comment.split_once(' ').ok_or(fail("bare comment"))?;
                let (name, rest) = match rest.split_once(' ') {
                    Some((name, rest)) => (name, rest),
                    None => (rest, ""),
                };
                if !is_metric_name(name) {
                    return Err(fail("invalid metric name"));
                }
                // A family's metadata lines come together, before its
                // samples; anything else starts the next family.
                if started && (family.name != name || !family.samples.is_empty()) {
                    self.pending = Some((number, line));
                    return Ok(true);
                }
                started = true;
                family.name = name;
                match keyword {
                    "HELP" => family.help = Some(unescape_help(rest)),
                    "TYPE" => family.kind = Kind::parse(rest).ok_or(fail("unknown type"))?,
                    "UNIT" => family.unit = Some(rest),
                    _ => return Err(fail("unknown comment keyword")),
                }
                continue;
            }
            if line.is_empty() || line.starts_with('#') {
                return Err(fail("empty line or comment without a keyword"));
            }
            let sample = parse_sample(line).map_err(fail)?;
            // `shop_orders_total` belongs to `shop_orders`; the encoder
            // checks the suffix against the family's type.
            let belongs = started
                && sample
                    .name
                    .strip_prefix(family.name)
                    .is_some_and(|suffix| suffix.is_empty() || suffix.starts_with('_'));
            if !belongs {
                if started {
                    self.pending = Some((number, line));
                    return Ok(true);
                }
                started = true;
                family.name = sample.name;
            }
            family.samples.push(sample);
        }
        Ok(started)
    }
}

fn parse_sample(line: &str) -> Result<Sample<'_>, &'static str> {
    let name_end = line
        .find(['{', ' '])
        .ok_or("a sample needs a value after its name")?;
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err("invalid metric name");
    }
    let (labels, rest) = match line[name_end..].strip_prefix('{') {
        Some(after) => {
            let end = label_set_end(after)?;
            (&after[..end], &after[end + 1..])
        }
        None => ("", &line[name_end..]),
    };
    let rest = rest
        .strip_prefix(' ')
        .ok_or("expected a space before the value")?;
    // A byte search, not a substring one: this runs for every line.
    let (sample, exemplar) = match rest.find('#') {
        Some(hash) => {
            let sample = rest[..hash]
                .strip_suffix(' ')
                .ok_or("expected a space before an exemplar")?;
            let exemplar = rest[hash + 1..]
                .strip_prefix(' ')
                .ok_or("expected a space after an exemplar's #")?;
            (sample, Some(exemplar))
        }
        None => (rest, None),
    };
    let (value, timestamp) = value_and_timestamp(sample)?;
    let exemplar = match exemplar {
        None => None,
        Some(text) => {
            let after = text
                .strip_prefix('{')
                .ok_or("an exemplar starts with a label set")?;
            let end = label_set_end(after)?;
            let rest = after[end + 1..]
                .strip_prefix(' ')
                .ok_or("expected a space before the exemplar's value")?;
            let (value, timestamp) = value_and_timestamp(rest)?;
            Some(Exemplar {
                labels: &after[..end],
                value,
                timestamp,
            })
        }
    };
    Ok(Sample {
        name,
        labels,
        value,
        timestamp,
        exemplar,
    })
}

fn value_and_timestamp(text: &str) -> Result<(f64, Option<f64>), &'static str> {
    let (value, timestamp) = match text.split_once(' ') {
        Some((value, timestamp)) => (value, Some(timestamp)),
        None => (text, None),
    };
    let value = parse_float(value).ok_or("invalid value")?;
    let timestamp = match timestamp {
        Some(t) => Some(parse_float(t).ok_or("invalid timestamp")?),
        None => None,
    };
    Ok((value, timestamp))
}

/// A number as OpenMetrics writes it: decimal, exponent, `NaN`, `+Inf`,
/// `-Inf`.
pub(crate) fn parse_float(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ if text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) =>
        {
            text.parse().ok()
        }
        _ => None,
    }
}

/// Where the label set that starts `text` (after its `{`) ends: the index
/// of its `}`. Checks every pair on the way.
fn label_set_end(text: &str) -> Result<usize, &'static str> {
    let bytes = text.as_bytes();
    let mut at = 0;
    loop {
        match bytes.get(at) {
            Some(b'}') => return Ok(at),
            None => return Err("unterminated label set"),
            Some(_) => {}
        }
        let name_len = bytes[at..]
            .iter()
            .position(|b| *b == b'=')
            .ok_or("a label needs =\"value\"")?;
        if !is_label_name(&text[at..at + name_len]) {
            return Err("invalid label name");
        }
        at += name_len + 1;
        if bytes.get(at) != Some(&b'"') {
            return Err("a label value is quoted");
        }
        at += 1;
        loop {
            at += bytes[at..]
                .iter()
                .position(|b| matches!(b, b'"' | b'\\'))
                .ok_or("unterminated label value")?;
            if bytes[at] == b'"' {
                break;
            }
            match bytes.get(at + 1) {
                Some(b'\\' | b'"' | b'n') => at += 2,
                _ => return Err("invalid escape in a label value"),
            }
        }
        at += 1;
        match bytes.get(at) {
            Some(b',') => at += 1,
            Some(b'}') => {}
            _ => return Err("expected , or } after a label"),
        }
    }
}

/// The pairs of a label set [`parse`] checked: names and unescaped values.
pub(crate) fn label_pairs(labels: &str) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
    raw_pairs(labels).map(|pair| (pair.name, unescape_value(pair.raw_value)))
}

/// One pair of a checked label set, where it sits in the text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawPair<'a> {
    pub(crate) name: &'a str,
    /// Still escaped.
    pub(crate) raw_value: &'a str,
    /// Byte range of `name="value"` in the label set.
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// The pairs of a label set [`parse`] checked, with their positions.
pub(crate) fn raw_pairs(labels: &str) -> impl Iterator<Item = RawPair<'_>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let rest = labels.get(at..)?;
        // A checked label name holds no `=`; its value's quote follows.
        let equals = rest.find('=')?;
        let value_start = at + equals + 2;
        // The closing quote is the first one no backslash escapes.
        let bytes = labels.as_bytes();
        let mut end = value_start;
        while end < bytes.len() && bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        let pair = RawPair {
            name: &labels[at..at + equals],
            raw_value: labels.get(value_start..end)?,
            start: at,
            end: end + 1,
        };
        at = end + 1;
        if bytes.get(at) == Some(&b',') {
            at += 1;
        }
        Some(pair)
    })
}

/// The label set without its `le` pair, and that pair's value: a
/// histogram bucket's series and bound. Borrowed when `le` comes last, as
/// both encoders write it.
pub(crate) fn split_le(labels: &str) -> Option<(Cow<'_, str>, &str)> {
    if let Some((rest, le)) = last_pair_le(labels) {
        return Some((Cow::Borrowed(rest), le));
    }
    let le = raw_pairs(labels).find(|pair| pair.name == "le")?;
    let before = labels[..le.start].trim_end_matches(',');
    let after = labels[le.end..].trim_start_matches(',');
    let rest = match (before.is_empty(), after.is_empty()) {
        (_, true) => Cow::Borrowed(before),
        (true, false) => Cow::Borrowed(after),
        (false, false) => Cow::Owned(format!("{before},{after}")),
    };
    Some((rest, le.raw_value))
}

/// [`split_le`] for the common case, `le` last, found from the end: the
/// last pair's opening quote is the last quote no odd run of backslashes
/// escapes (a value's own quotes are all escaped).
fn last_pair_le(labels: &str) -> Option<(&str, &str)> {
    let body = labels.strip_suffix('"')?;
    let bytes = body.as_bytes();
    let mut at = body.len();
    let open = loop {
        let quote = bytes[..at].iter().rposition(|b| *b == b'"')?;
        let backslashes = bytes[..quote]
            .iter()
            .rev()
            .take_while(|b| **b == b'\\')
            .count();
        if backslashes % 2 == 0 {
            break quote;
        }
        at = quote;
    };
    let name_end = body[..open].strip_suffix('=')?;
    let rest = match name_end.strip_suffix("le")? {
        "" => "",
        before => before.strip_suffix(',')?,
    };
    Some((rest, &body[open + 1..]))
}

fn unescape_value(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        // `parse` let only `\\`, `\"` and `\n` through.
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    Cow::Owned(out)
}

/// Help text escapes only `\\` and `\n`; any other backslash is itself.
fn unescape_help(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some('n')) => {
                out.push('\n');
                chars.next();
            }
            ('\\', Some('\\')) => {
                out.push('\\');
                chars.next();
            }
            (c, _) => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn is_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests;
