//! Builds the redacted value from the spans the pass found.

use std::ops::Range;

use super::REDACTED;

/// Characters that could start a new line in a log viewer: ASCII control
/// characters except tab, and the Unicode line breaks NEL, LS and PS.
fn is_unsafe_char(c: char) -> bool {
    (c.is_ascii_control() && c != '\t') || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Appends `seg` with unsafe characters replaced by a space.
fn push_clean(out: &mut String, seg: &str) {
    let mut last = 0;
    for (idx, c) in seg.char_indices() {
        if is_unsafe_char(c) {
            out.push_str(&seg[last..idx]);
            out.push(' ');
            last = idx + c.len_utf8();
        }
    }
    out.push_str(&seg[last..]);
}

/// The value with the (possibly overlapping) spans replaced by one
/// [`REDACTED`] per merged span.
pub(super) fn rewrite(value: &str, mut spans: Vec<Range<usize>>) -> String {
    spans.sort_unstable_by_key(|r| (r.start, r.end));
    let mut out = String::with_capacity(value.len() + REDACTED.len());
    let mut pos = 0;
    let mut k = 0;
    while k < spans.len() {
        let mut span = spans[k].clone();
        k += 1;
        while k < spans.len() && spans[k].start <= span.end {
            span.end = span.end.max(spans[k].end);
            k += 1;
        }
        // Spans start and end at ASCII bytes, so `get` succeeds; if it ever
        // did not, fail closed.
        match value.get(pos..span.start) {
            Some(seg) => push_clean(&mut out, seg),
            None => out.push_str(REDACTED),
        }
        out.push_str(REDACTED);
        pos = span.end.max(pos);
    }
    match value.get(pos..) {
        Some(seg) => push_clean(&mut out, seg),
        None => out.push_str(REDACTED),
    }
    out
}
