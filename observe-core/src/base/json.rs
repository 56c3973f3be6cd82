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

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the 8 bytes in `word` may be special: a zero byte after
/// XOR with `"`, `\\` or 0xE2, or a byte below 0x20 (the classic
/// "has zero / has less" bit tricks). False positives are possible (the
/// byte loop then looks closer), false negatives are not.
#[inline]
fn may_be_special(word: u64) -> bool {
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let below_space = word.wrapping_sub(0x20 * ONES) & !word & HIGHS;
    below_space
        | has_zero(word ^ (u64::from(b'"') * ONES))
        | has_zero(word ^ (u64::from(b'\\') * ONES))
        | has_zero(word ^ (0xe2 * ONES))
        != 0
}

/// The index of the first byte at or after `i` that may need an escape, or
/// `bytes.len()`: eight bytes at a time. Fewer than eight left are checked
/// as one more word ending at the last byte (overlapping bytes already
/// checked, or padded with a clean byte), so a clean string has no
/// byte-by-byte tail; a word that may hold a special byte is looked at
/// byte by byte.
#[inline]
fn skip_clean(bytes: &[u8], mut i: usize) -> usize {
    let len = bytes.len();
    let word_of = |chunk: &[u8]| {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        u64::from_le_bytes(word)
    };
    loop {
        while let Some(chunk) = bytes.get(i..i + 8) {
            if may_be_special(word_of(chunk)) {
                break;
            }
            i += 8;
        }
        if i == len {
            return i;
        }
        if i + 8 > len {
            let tail = if len >= 8 {
                word_of(&bytes[len - 8..])
            } else {
                let mut padded = [b'a'; 8];
                padded[..len - i].copy_from_slice(&bytes[i..]);
                u64::from_le_bytes(padded)
            };
            if !may_be_special(tail) {
                return len;
            }
        }
        let end = (i + 8).min(len);
        while i < end {
            if SPECIAL[usize::from(bytes[i])] {
                return i;
            }
            i += 1;
        }
        if i == len {
            return i;
        }
    }
}

/// Appends `value` as a JSON string literal. Runs of bytes that need no
/// escape are skipped eight at a time and copied in bulk: this is the
/// hottest loop of a log line.
pub(crate) fn string(out: &mut String, value: &str) {
    let bytes = value.as_bytes();
    let mut i = skip_clean(bytes, 0);
    // Most strings need no escape at all: copied at once.
    if i == bytes.len() {
        out.reserve(value.len() + 2);
        out.push('"');
        out.push_str(value);
        out.push('"');
        return;
    }
    out.push('"');
    let mut start = 0;
    while i < bytes.len() {
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
                    i = skip_clean(bytes, i + 1);
                    continue;
                }
                out.push_str(&value[start..i]);
                out.push_str(if bytes[i + 2] == 0xa8 {
                    "\\u2028"
                } else {
                    "\\u2029"
                });
                start = i + 3;
                i = skip_clean(bytes, start);
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
        start = i + 1;
        i = skip_clean(bytes, start);
    }
    out.push_str(&value[start..]);
    out.push('"');
}

/// Appends an integer. Digits by hand: `i128`'s `Display` costs more than
/// the rest of a small field.
#[inline]
pub(crate) fn integer(out: &mut String, value: impl Into<i128>) {
    let value: i128 = value.into();
    if value < 0 {
        out.push('-');
    }
    match u64::try_from(value.unsigned_abs()) {
        Ok(n) => unsigned(out, n),
        // u128 division is a library call per digit: only past u64.
        Err(_) => {
            let _ = write!(out, "{}", value.unsigned_abs());
        }
    }
}

/// Appends the digits of `n`.
#[inline]
fn unsigned(out: &mut String, n: u64) {
    // Most of an event's integers are one digit (counts of nothing).
    if n < 10 {
        out.push(char::from(b'0' + n as u8));
    } else {
        digits(out, n);
    }
}

/// Appends the digits of `n`, 10 or more.
fn digits(out: &mut String, mut n: u64) {
    let digit = |d: u64| char::from(b'0' + d as u8);
    // Statuses and small sizes: two or three digits, pushed directly.
    if n < 1000 {
        if n >= 100 {
            out.push(digit(n / 100));
        }
        out.push(digit(n / 10 % 10));
        out.push(digit(n % 10));
        return;
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    while n > 0 {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    // Pushed one by one: for a few digits, cheaper than a UTF-8 check of
    // the slice.
    out.reserve(digits.len() - at);
    for &digit in &digits[at..] {
        out.push(char::from(digit));
    }
}

/// Appends a duration in milliseconds to the microsecond: exactly what
/// [`number`] prints for `micros as f64 / 1e3` (`411.062`, `0.04`, `0`),
/// written from the integer instead of through float formatting, which
/// cost a request event ~450 instructions per duration.
pub(crate) fn millis(out: &mut String, duration: std::time::Duration) {
    let micros = duration.as_micros();
    // Below 2^40 µs (12.7 days) an f64 of the milliseconds is exact to far
    // under a microsecond, so its shortest form is the decimal below;
    // longer ones take the float path.
    if micros >= 1 << 40 {
        number(out, micros as f64 / 1e3);
        return;
    }
    let micros = micros as u64;
    unsigned(out, micros / 1000);
    let fraction = micros % 1000;
    if fraction != 0 {
        let digits = [
            b'.',
            b'0' + (fraction / 100) as u8,
            b'0' + (fraction / 10 % 10) as u8,
            b'0' + (fraction % 10) as u8,
        ];
        // Trailing zeros dropped, as float printing does.
        let len = if fraction.is_multiple_of(100) {
            2
        } else if fraction.is_multiple_of(10) {
            3
        } else {
            4
        };
        for &digit in &digits[..len] {
            out.push(char::from(digit));
        }
    }
}

/// Appends `value` quoted, without escaping: only for text known to need
/// none (hex ids, timestamps, level names, sane request ids).
pub(crate) fn plain_string(out: &mut String, value: &str) {
    debug_assert!(value.bytes().all(|b| !SPECIAL[usize::from(b)]));
    out.push('"');
    out.push_str(value);
    out.push('"');
}

/// Appends `{"name":"value",...}`, each value redacted by `redactor` as a
/// field of its name (an audit line's fields, the event's labels and
/// fields).
pub(crate) fn redacted_object<'a>(
    out: &mut String,
    redactor: &observe_redact::Redactor,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    out.push('{');
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        key(out, name, i == 0);
        string(out, &redactor.redact_field(name, value));
    }
    out.push('}');
}

/// Appends `"key":` (after a comma unless `first`), escaping `name`.
pub(crate) fn key(out: &mut String, name: &str, first: bool) {
    if !first {
        out.push(',');
    }
    string(out, name);
    out.push(':');
}

/// `"name":` for observe's own key names, which need no escaping, as one
/// compile-time string (`first`: no comma before it).
macro_rules! own_key {
    ($out:expr, $name:literal, first) => {
        $out.push_str(concat!("\"", $name, "\":"))
    };
    ($out:expr, $name:literal) => {
        $out.push_str(concat!(",\"", $name, "\":"))
    };
}
pub(crate) use own_key;

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

    #[test]
    fn a_string_is_clean_exactly_when_no_byte_needs_an_escape() {
        // Every length to past three words, a special byte at every place
        // (and none): the word-wise check agrees with the byte table.
        for len in 0..30 {
            for special in [
                None,
                Some(b'"'),
                Some(b'\\'),
                Some(b'\n'),
                Some(0x1f),
                Some(0xe2),
            ] {
                for at in 0..len.max(1) {
                    let mut bytes = vec![b'k'; len];
                    if let (Some(b), true) = (special, at < len) {
                        bytes[at] = b;
                    }
                    let expected = !bytes.iter().any(|b| SPECIAL[usize::from(*b)]);
                    let first = bytes.iter().position(|b| SPECIAL[usize::from(*b)]);
                    assert_eq!(skip_clean(&bytes, 0) == bytes.len(), expected, "{bytes:?}");
                    assert_eq!(skip_clean(&bytes, 0), first.unwrap_or(len), "{bytes:?}");
                }
            }
        }
        // Escaped through either path, the same text as serde's.
        for text in [
            "",
            "GET",
            "/users/{id}",
            "observe::request",
            "a\"b",
            "x\u{2028}y",
            "ü~\u{7f}",
        ] {
            let mut out = String::new();
            string(&mut out, text);
            assert_eq!(serde_json_roundtrip(&out), text, "{out}");
        }
    }

    #[test]
    fn milliseconds_print_as_the_float_would() {
        let check = |micros: u64| {
            let duration = std::time::Duration::from_micros(micros);
            let mut fast = String::new();
            millis(&mut fast, duration);
            let mut float = String::new();
            number(&mut float, micros as f64 / 1e3);
            assert_eq!(fast, float, "{micros} µs");
        };
        (0..300_000).for_each(check);
        // Long ones, on both sides of the float path's threshold.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            check(x % (1 << 41));
        }
        for micros in [(1 << 40) - 1, 1 << 40, (1 << 40) + 1, u64::MAX] {
            check(micros);
        }
        // Sub-microsecond parts are dropped, as `as_micros` does.
        let mut out = String::new();
        millis(&mut out, std::time::Duration::from_nanos(411_062_999));
        assert_eq!(out, "411.062");
    }

    #[test]
    fn integers_print_as_display_does() {
        for n in [
            0i128,
            7,
            -7,
            10,
            99,
            100,
            i64::MAX.into(),
            i64::MIN.into(),
            u64::MAX.into(),
            i128::MIN,
            i128::MAX,
        ] {
            let mut out = String::new();
            integer(&mut out, n);
            assert_eq!(out, n.to_string());
        }
        for n in (-2_000i128..=2_000).chain([9_999, 10_000, 65_535, 1 << 40]) {
            let mut out = String::new();
            integer(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_round_trips_through_a_json_parser(text in ".{0,80}", noise in proptest::collection::vec(0u8..0x80, 0..40)) {
            // Mix arbitrary Unicode with ASCII control characters and quotes.
            let mixed: String = text.chars().chain(noise.iter().map(|b| char::from(*b))).collect();
            let mut out = String::new();
            string(&mut out, &mixed);
            let parsed: String = serde_json::from_str(&out).expect("valid JSON");
            proptest::prop_assert_eq!(parsed, mixed);
            let one_line = !out.contains('\n') && !out.contains('\u{2028}');
            proptest::prop_assert!(one_line, "{:?}", out);
        }
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
