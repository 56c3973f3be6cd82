//! A minimal JSON writer for log lines: strings escaped so that no value
//! can break the line or the document.

use std::fmt::Write;

/// Appends `value` as a JSON string literal.
pub(crate) fn string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `"key":` (after a comma unless `first`).
pub(crate) fn key(out: &mut String, name: &str, first: bool) {
    if !first {
        out.push(',');
    }
    string(out, name);
    out.push(':');
}

/// Appends a finite number, or `null` (JSON has no NaN or infinity).
pub(crate) fn number(out: &mut String, value: f64) {
    if value.is_finite() {
        let _ = write!(out, "{value}");
    } else {
        out.push_str("null");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_could_break_a_line() {
        let mut out = String::new();
        string(&mut out, "a\"b\\c\nd\re\u{1}f\u{2028}");
        assert_eq!(out, r#""a\"b\\c\nd\re\u0001f\u2028""#);
        let parsed: String = serde_json_roundtrip(&out);
        assert_eq!(parsed, "a\"b\\c\nd\re\u{1}f\u{2028}");
    }

    fn serde_json_roundtrip(text: &str) -> String {
        // A tiny check without serde: the escapes above are standard JSON.
        text.trim_matches('"')
            .replace("\\\"", "\"")
            .replace("\\n", "\n")
            .replace("\\r", "\r")
            .replace("\\u0001", "\u{1}")
            .replace("\\u2028", "\u{2028}")
            .replace("\\\\", "\\")
    }
}
