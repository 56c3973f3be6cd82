//! Where a value ends: after a pair's separator, or after `is` in prose.

use std::ops::Range;

pub(super) fn is_quote(c: u8) -> bool {
    c == b'"' || c == b'\''
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
    /// `\"...\"`: a quoted string inside a quoted string.
    escaped: Option<Range<usize>>,
}

impl ValueEnds {
    /// The span to redact for a pair whose separator ends just before `start`.
    pub(super) fn value(&mut self, b: &[u8], start: usize) -> Range<usize> {
        let len = b.len();
        let mut j = start;
        while j < len && matches!(b[j], b' ' | b'\t') {
            j += 1;
        }
        if j + 1 < len && b[j] == b'\\' && is_quote(b[j + 1]) {
            let open = j + 2;
            let close = match &self.escaped {
                Some(last) if last.start < open && open <= last.end => last.end,
                _ => escaped_close(b, open, b[j + 1]),
            };
            self.escaped = Some(open..close);
            return open..close;
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

/// Where a string opened by `\"` (or `\'`) at `open` closes: at the `\"`
/// that is not itself escaped once the outer string's escapes are undone
/// (`\\\"` is an escaped quote inside), or at a line end.
fn escaped_close(b: &[u8], open: usize, quote: u8) -> usize {
    let mut k = open;
    let mut escaped = false;
    while k < b.len() {
        let (c, width) = match b[k] {
            b'\\' if k + 1 < b.len() => (b[k + 1], 2),
            // A line end, or the outer string's own closing quote.
            c if c == b'\n' || c == b'\r' || c == quote => return k,
            c => (c, 1),
        };
        if width == 2 && c == quote && !escaped {
            return k;
        }
        escaped = c == b'\\' && width == 2 && !escaped;
        k += width;
    }
    b.len()
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
