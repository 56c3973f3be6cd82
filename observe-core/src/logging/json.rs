//! A minimal JSON writer for log lines: strings escaped so that no value
//! can break the line or the document.

use std::fmt::Write;

/// Bytes that may need an escape: `"`, `\\`, control characters, and the
/// lead byte of U+2028/U+2029.
static SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0xe2] = true;
    table
};

/// Appends `value` as a JSON string literal. Runs of bytes that need no
/// escape are skipped by a table lookup and copied in bulk: this is the
/// hottest loop of a log line.
pub(crate) fn string(out: &mut String, value: &str) {
    out.push('"');
    let bytes = value.as_bytes();
    let mut start = 0;
    let mut i = 0;
    loop {
        while i < bytes.len() && !SPECIAL[usize::from(bytes[i])] {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        let b = bytes[i];
        let escape: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0xe2 => {
                // U+2028 and U+2029 (E2 80 A8/A9) end lines in JavaScript.
                let separator = bytes.get(i + 1) == Some(&0x80)
                    && matches!(bytes.get(i + 2), Some(0xa8 | 0xa9));
                if !separator {
                    i += 1;
                    continue;
                }
                out.push_str(&value[start..i]);
                out.push_str(if bytes[i + 2] == 0xa8 {
                    "\\u2028"
                } else {
                    "\\u2029"
                });
                i += 3;
                start = i;
                continue;
            }
            _ => None,
        };
        out.push_str(&value[start..i]);
        match escape {
            Some(escape) => out.push_str(escape),
            None => {
                let _ = write!(out, "\\u{:04x}", b);
            }
        }
        i += 1;
        start = i;
    }
    out.push_str(&value[start..]);
    out.push('"');
}

/// Appends an integer.
pub(crate) fn integer(out: &mut String, value: impl Into<i128>) {
    let _ = write!(out, "{}", value.into());
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
