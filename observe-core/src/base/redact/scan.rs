//! The scanners behind [`Redactor::redact_value`](super::Redactor::redact_value):
//! each walks the value once and reports the byte ranges to replace.

use std::ops::Range;

use super::REDACTED;

/// Bytes a key may be made of inside free text (`user[password]`,
/// `x-api-key`, `db.password`).
pub(super) fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'[' | b']')
}

pub(super) fn is_quote(c: u8) -> bool {
    c == b'"' || c == b'\''
}

/// `//auth-service:8080/` or `@auth.example.com:443`: a host and port in a
/// URL authority, not a `key: value` pair.
pub(super) fn is_host_port(b: &[u8], key_start: usize, colon: usize) -> bool {
    let in_authority = (key_start >= 1 && b[key_start - 1] == b'@')
        || (key_start >= 2 && &b[key_start - 2..key_start] == b"//");
    if !in_authority {
        return false;
    }
    let digits = b[colon + 1..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    let end = colon + 1 + digits;
    (1..=5).contains(&digits)
        && b.get(end)
            .is_none_or(|&c| matches!(c, b'/' | b'?' | b'#') || c.is_ascii_whitespace())
}

/// Finds the values of sensitive pairs. Value scans start in increasing
/// order; the end of the last scan of each kind is remembered, because a
/// scan starting inside it ends at the same place (it reads the same bytes
/// in the same way). So no byte is scanned twice per kind and the whole pass
/// stays linear even for `token=token=token=...`.
#[derive(Default)]
pub(super) struct ValueEnds {
    unquoted: Option<Range<usize>>,
    double: Option<Range<usize>>,
    single: Option<Range<usize>>,
}

impl ValueEnds {
    /// The span to redact for a pair whose separator ends just before `start`.
    pub(super) fn value(&mut self, b: &[u8], start: usize) -> Range<usize> {
        let len = b.len();
        let mut j = start;
        while j < len && matches!(b[j], b' ' | b'\t') {
            j += 1;
        }
        if j < len && is_quote(b[j]) {
            let quote = b[j];
            let open = j + 1;
            let cache = if quote == b'"' {
                &mut self.double
            } else {
                &mut self.single
            };
            let close = match cache {
                Some(last) if last.start < open && open <= last.end => last.end,
                _ => {
                    let mut k = open;
                    while k < len {
                        match b[k] {
                            b'\\' => k += 2,
                            c if c == quote || c == b'\n' || c == b'\r' => break,
                            _ => k += 1,
                        }
                    }
                    k.min(len)
                }
            };
            *cache = Some(open..close);
            // `"Bearer abc"` keeps its scheme visible, like the scheme scanner.
            return match scheme_token(b, open) {
                Some(token) if token.end <= close => token.start..close,
                _ => open..close,
            };
        }
        if let Some(token) = scheme_token(b, j) {
            return token;
        }
        let end = match &self.unquoted {
            Some(last) if last.start <= j && j <= last.end => last.end,
            _ => {
                let mut k = j;
                while k < len && !is_value_end(b[k]) {
                    k += 1;
                }
                k
            }
        };
        self.unquoted = Some(j..end);
        j..end
    }
}

/// Where an unquoted value ends.
pub(super) fn is_value_end(c: u8) -> bool {
    c.is_ascii_whitespace() || matches!(c, b'&' | b',' | b';' | b'"' | b'\'')
}

/// `Bearer <token>` or `Basic <creds>` (any case) starting at `i`: the
/// token's range. The token is the following run of non-whitespace bytes,
/// stopping at a quote so `"Bearer abc"` keeps its closing quote.
pub(super) fn scheme_token(b: &[u8], i: usize) -> Option<Range<usize>> {
    let rest = b.get(i..)?;
    let scheme = if starts_with_ignore_case(rest, b"bearer") {
        6
    } else if starts_with_ignore_case(rest, b"basic") {
        5
    } else {
        return None;
    };
    let len = b.len();
    let mut j = i + scheme;
    let gap = j;
    while j < len && b[j].is_ascii_whitespace() {
        j += 1;
    }
    if j == gap {
        return None;
    }
    if j < len && is_quote(b[j]) {
        j += 1;
    }
    let start = j;
    while j < len && !b[j].is_ascii_whitespace() && !is_quote(b[j]) {
        j += 1;
    }
    (j > start).then_some(start..j)
}

pub(super) fn starts_with_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .get(..needle.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(needle))
}

/// `Bearer <token>` and `Basic <creds>` anywhere in the text.
pub(super) fn scan_schemes(b: &[u8], out: &mut Vec<Range<usize>>) {
    let mut i = 0;
    while i < b.len() {
        if b[i] | 0x20 == b'b'
            && let Some(token) = scheme_token(b, i)
        {
            // Resume at the token, not after it: a token may end with another
            // scheme (`xBearer abc`), whose own token lies further on.
            i = token.start;
            out.push(token);
            continue;
        }
        i += 1;
    }
}

pub(super) fn is_base64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// The end of the base64url run starting at `i`.
pub(super) fn base64url_run(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_base64url(b[i]) {
        i += 1;
    }
    i
}

/// JWTs (and JWEs): `eyJ...` followed by at least two more dot-separated
/// base64url segments, each at least 4 characters.
pub(super) fn scan_jwts(b: &[u8], out: &mut Vec<Range<usize>>) {
    const MIN: usize = 4;
    let mut i = 0;
    while i + 3 <= b.len() {
        if &b[i..i + 3] != b"eyJ" || (i > 0 && is_base64url(b[i - 1])) {
            i += 1;
            continue;
        }
        // Resume after the segments already read on a mismatch: a JWT cannot
        // start inside them (its own segments would have matched here).
        let mut end = base64url_run(b, i);
        let mut segments = 1;
        let mut ok = end - i >= MIN;
        while ok && segments < 3 && b.get(end) == Some(&b'.') {
            let next = base64url_run(b, end + 1);
            ok = next - (end + 1) >= MIN;
            end = next;
            segments += 1;
        }
        if ok && segments == 3 {
            // Further segments (a JWE has five) belong to the token too.
            while b.get(end) == Some(&b'.') {
                let next = base64url_run(b, end + 1);
                if next == end + 1 {
                    break;
                }
                end = next;
            }
            out.push(i..end);
        }
        i = end.max(i + 1);
    }
}

/// `scheme://user:pass@host`: the userinfo between `://` and the last `@`
/// of the authority.
pub(super) fn scan_userinfo(b: &[u8], out: &mut Vec<Range<usize>>) {
    let len = b.len();
    let mut i = 0;
    while i + 3 <= len {
        if &b[i..i + 3] != b"://" {
            i += 1;
            continue;
        }
        let start = i + 3;
        let mut j = start;
        let mut at = None;
        while j < len
            && !matches!(b[j], b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`')
            && !b[j].is_ascii_whitespace()
        {
            if b[j] == b'@' {
                at = Some(j);
            }
            j += 1;
        }
        if let Some(at) = at
            && at > start
        {
            out.push(start..at);
        }
        // The authority may end at the `:` of the next `://`.
        i = j.saturating_sub(1).max(i + 1);
    }
}

pub(super) fn is_email_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// `local@domain.tld`: local part `[A-Za-z0-9._%+-]+`, a domain of at least
/// two labels, the last all letters and at least 2 long. An `@` that ends a
/// URL userinfo (sorted in `userinfo`) is not an email.
pub(super) fn scan_emails(b: &[u8], userinfo: &[Range<usize>], out: &mut Vec<Range<usize>>) {
    let len = b.len();
    let mut url = 0;
    for at in 0..len {
        if b[at] != b'@' {
            continue;
        }
        while url < userinfo.len() && userinfo[url].end < at {
            url += 1;
        }
        if userinfo
            .get(url)
            .is_some_and(|r| r.start <= at && at <= r.end)
        {
            continue;
        }
        let mut start = at;
        while start > 0 && is_email_local(b[start - 1]) {
            start -= 1;
        }
        if start == at {
            continue;
        }
        let mut j = at + 1;
        let mut labels = 0;
        let mut end = None;
        loop {
            let label = j;
            while j < len && (b[j].is_ascii_alphanumeric() || b[j] == b'-') {
                j += 1;
            }
            if j == label {
                break;
            }
            labels += 1;
            if labels >= 2 && j - label >= 2 && b[label..j].iter().all(u8::is_ascii_alphabetic) {
                end = Some(j);
            }
            if j + 1 < len && b[j] == b'.' {
                j += 1;
            } else {
                break;
            }
        }
        if let Some(end) = end {
            out.push(start..end);
        }
    }
}

/// Card numbers: 13 to 19 digits in groups separated by single spaces or
/// dashes, passing the Luhn check. Every window of whole groups inside a
/// longer run (`2024-01-15 4111 1111 1111 1111`) is tried.
pub(super) fn scan_cards(b: &[u8], out: &mut Vec<Range<usize>>) {
    const MIN: usize = 13;
    const MAX: usize = 19;
    let len = b.len();
    // The start of the group after the one ending at `end`, if any.
    let next_group = |end: usize| -> Option<usize> {
        (end + 1 < len && matches!(b[end], b' ' | b'-') && b[end + 1].is_ascii_digit())
            .then_some(end + 1)
    };
    let mut i = 0;
    while i < len {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut group = i;
        loop {
            // Windows starting at `group`: at most MAX digits are read.
            let mut digits = [0u8; MAX];
            let mut n = 0;
            let mut j = group;
            'window: loop {
                while j < len && b[j].is_ascii_digit() {
                    match digits.get_mut(n) {
                        Some(d) => *d = b[j] - b'0',
                        None => break 'window,
                    }
                    n += 1;
                    j += 1;
                }
                if n >= MIN && luhn(&digits[..n]) {
                    out.push(group..j);
                }
                match next_group(j) {
                    Some(next) => j = next,
                    None => break,
                }
            }
            let mut end = group;
            while end < len && b[end].is_ascii_digit() {
                end += 1;
            }
            match next_group(end) {
                Some(next) => group = next,
                None => {
                    i = end;
                    break;
                }
            }
        }
    }
}

pub(super) fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &d)| {
            let d = u32::from(d);
            match k % 2 {
                0 => d,
                _ if d * 2 > 9 => d * 2 - 9,
                _ => d * 2,
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Characters that could start a new line in a log viewer: ASCII control
/// characters except tab, and the Unicode line breaks NEL, LS and PS.
pub(super) fn is_unsafe_char(c: char) -> bool {
    (c.is_ascii_control() && c != '\t') || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}')
}

pub(super) fn has_unsafe_chars(s: &str) -> bool {
    // Byte pre-check: 0xC2 and 0xE2 lead the UTF-8 of NEL, LS and PS.
    s.bytes()
        .any(|c| (c < 0x20 && c != b'\t') || c == 0x7f || c == 0xc2 || c == 0xe2)
        && s.chars().any(is_unsafe_char)
}

/// Appends `seg` with unsafe characters replaced by a space.
pub(super) fn push_clean(out: &mut String, seg: &str) {
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
