//! The one pass behind [`Redactor::redact_value`](super::Redactor::redact_value).
//!
//! A table gives each byte a class; most bytes (letters, spaces) have none
//! and cost one lookup. A byte with a class starts the checks that can
//! begin there (`:` a URL userinfo or a `key: value` pair, `_` a `ghp_`
//! token, a digit a card number, ...). Each check reads a bounded stretch
//! unless it matches, and those that read far remember where they stopped
//! so no stretch is read twice: the pass stays linear.

use std::ops::Range;

use super::keys::{KeyClass, classify, is_number};
use super::values::{ValueEnds, is_quote, is_value_end, scheme_token};
use super::{Settings, pii, prose, tokens};

/// Byte classes: which checks a byte can start.
const NONE: u8 = 0;
const COLON: u8 = 1;
const EQUALS: u8 = 2;
const AT: u8 = 3;
/// `b` or `B`: `Bearer`, `Basic`.
const SCHEME: u8 = 4;
/// `J`, the third byte of a JWT's `eyJ`.
const JOT: u8 = 5;
const DIGIT: u8 = 6;
const PLUS: u8 = 7;
const DASH: u8 = 8;
/// `_` and `.`, inside token prefixes.
const PUNCT: u8 = 9;
/// `A` and `S`, which start AWS, Google and Twilio keys.
const UPPER: u8 = 10;
/// `w`, `c`, `k` (either case): inside `password`, `secret`, `token`, `key`.
const PROSE: u8 = 11;
/// Control characters and the lead bytes of NEL, LS and PS.
const UNSAFE: u8 = 12;

static CLASS: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut t = [NONE; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = UNSAFE;
        c += 1;
    }
    t[b'\t' as usize] = NONE;
    t[0x7f] = UNSAFE;
    t[0xc2] = UNSAFE;
    t[0xe2] = UNSAFE;
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = DIGIT;
        d += 1;
    }
    t[b':' as usize] = COLON;
    t[b'=' as usize] = EQUALS;
    t[b'@' as usize] = AT;
    t[b'b' as usize] = SCHEME;
    t[b'B' as usize] = SCHEME;
    t[b'J' as usize] = JOT;
    t[b'+' as usize] = PLUS;
    t[b'-' as usize] = DASH;
    t[b'_' as usize] = PUNCT;
    t[b'.' as usize] = PUNCT;
    t[b'A' as usize] = UPPER;
    t[b'S' as usize] = UPPER;
    let prose = b"wWcCkK";
    let mut k = 0;
    while k < prose.len() {
        t[prose[k] as usize] = PROSE;
        k += 1;
    }
    t
}

/// What the pass found: the ranges to replace (possibly overlapping), and
/// whether there are characters to neutralise.
pub(super) struct Found {
    pub(super) spans: Vec<Range<usize>>,
    pub(super) unsafe_chars: bool,
}

/// The state of one pass: each `*_next` is where a check may start again
/// after a match (or a long read) it made.
struct Pass<'a> {
    settings: &'a Settings,
    s: &'a str,
    b: &'a [u8],
    out: Vec<Range<usize>>,
    unsafe_chars: bool,
    ends: ValueEnds,
    userinfo_next: usize,
    /// The last URL userinfo: an `@` inside it ends it, not an email.
    userinfo: Option<Range<usize>>,
    schemes_next: usize,
    jwt_next: usize,
    cards_next: usize,
    tokens_next: usize,
    pem_next: usize,
    /// Where a query or form value with escapes may be decoded again.
    encoded_next: usize,
    /// An AWS access key id or the word `secret` was seen: lines holding
    /// one are searched for a secret access key after the pass.
    aws_context: bool,
}

pub(super) fn scan(settings: &Settings, s: &str) -> Found {
    let b = s.as_bytes();
    let mut pass = Pass {
        settings,
        s,
        b,
        out: Vec::new(),
        unsafe_chars: false,
        ends: ValueEnds::default(),
        userinfo_next: 0,
        userinfo: None,
        schemes_next: 0,
        jwt_next: 0,
        cards_next: 0,
        tokens_next: 0,
        pem_next: 0,
        encoded_next: 0,
        aws_context: false,
    };
    let mut i = 0;
    // Most bytes start nothing: skip them in a tight loop.
    while let Some(skip) = b[i..].iter().position(|&c| CLASS[usize::from(c)] != NONE) {
        i += skip;
        match CLASS[usize::from(b[i])] {
            COLON => {
                pass.userinfo_at(i);
                pass.pair_at(i);
            }
            EQUALS => pass.pair_at(i),
            AT => pass.email_at(i),
            SCHEME => pass.scheme_at(i),
            JOT => pass.jwt_at(i),
            DIGIT => {
                // The whole run of digits is handled here.
                i = pass.digits_at(i);
                continue;
            }
            PLUS => {
                if settings.phones
                    && let Some(span) = pii::phone_at(b, i)
                {
                    pass.out.push(span);
                }
            }
            DASH => {
                pass.pem_at(i);
                pass.token_at(i, tokens::at_punct);
            }
            PUNCT => pass.token_at(i, tokens::at_punct),
            UPPER => pass.token_at(i, tokens::at_upper),
            PROSE => {
                pass.aws_context |= is_secret_word_at(b, i);
                if let Some(span) = prose::at(b, i, &mut pass.ends) {
                    pass.out.push(span);
                }
            }
            _ => pass.unsafe_chars |= is_unsafe_at(b, i),
        }
        i += 1;
    }
    if pass.aws_context {
        aws_secret_keys(b, &mut pass.out);
    }
    Found {
        spans: pass.out,
        unsafe_chars: pass.unsafe_chars,
    }
}

impl Pass<'_> {
    /// `scheme://user:pass@host`: the userinfo between `://` and the last
    /// `@` of the authority.
    fn userinfo_at(&mut self, i: usize) {
        let b = self.b;
        if i < self.userinfo_next || b.get(i + 1..i + 3) != Some(b"//") {
            return;
        }
        let start = i + 3;
        let mut j = start;
        let mut at = None;
        while j < b.len()
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
            self.out.push(start..at);
            self.userinfo = Some(start..at);
        }
        // The authority may end at the `:` of the next `://`.
        self.userinfo_next = j.saturating_sub(1).max(i + 1);
    }

    /// `local@domain.tld`: local part `[A-Za-z0-9._%+-]+`, a domain of at
    /// least two labels, the last all letters and at least 2 long. An `@`
    /// that ends a URL userinfo is not an email.
    fn email_at(&mut self, at: usize) {
        let b = self.b;
        if !self.settings.emails
            || self
                .userinfo
                .as_ref()
                .is_some_and(|r| r.start <= at && at <= r.end)
        {
            return;
        }
        let mut start = at;
        while start > 0 && is_email_local(b[start - 1]) {
            start -= 1;
        }
        if start == at {
            return;
        }
        let mut j = at + 1;
        let mut labels = 0;
        let mut end = None;
        loop {
            let label = j;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-') {
                j += 1;
            }
            if j == label {
                break;
            }
            labels += 1;
            if labels >= 2 && j - label >= 2 && b[label..j].iter().all(u8::is_ascii_alphabetic) {
                end = Some(j);
            }
            if j + 1 < b.len() && b[j] == b'.' {
                j += 1;
            } else {
                break;
            }
        }
        if let Some(end) = end {
            self.out.push(start..end);
        }
    }

    /// `Bearer <token>` and `Basic <creds>` anywhere in the text.
    fn scheme_at(&mut self, i: usize) {
        if i < self.schemes_next {
            return;
        }
        if let Some(token) = scheme_token(self.b, i) {
            // Resume at the token, not after it: a token may end with another
            // scheme (`xBearer abc`), whose own token lies further on.
            self.schemes_next = token.start;
            self.out.push(token);
        }
    }

    /// JWTs (and JWEs): `eyJ...` followed by at least two more dot-separated
    /// base64url segments, each at least 4 characters. `j` is at the `J`.
    fn jwt_at(&mut self, j: usize) {
        const MIN: usize = 4;
        let b = self.b;
        let Some(i) = j.checked_sub(2) else { return };
        if &b[i..j] != b"ey" || i < self.jwt_next || (i > 0 && is_base64url(b[i - 1])) {
            return;
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
            self.out.push(i..end);
        }
        self.jwt_next = end.max(i + 1);
    }

    /// A run of digits from `i`: card numbers, SSNs and IBANs start at one.
    /// Returns the end of the run.
    fn digits_at(&mut self, i: usize) -> usize {
        let b = self.b;
        let settings = self.settings;
        if i == 0 || !b[i - 1].is_ascii_digit() {
            if settings.ssns
                && let Some(span) = pii::ssn_at(b, i)
            {
                self.out.push(span);
            }
            if settings.ibans
                && let Some(span) = pii::iban_at(b, i)
            {
                self.out.push(span);
            }
        }
        let mut end = i + 1;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if settings.cards && i >= self.cards_next {
            // A lone number of another length is no card: skip the windows.
            let grouped =
                end + 1 < b.len() && matches!(b[end], b' ' | b'-') && b[end + 1].is_ascii_digit();
            self.cards_next = if grouped || (13..=19).contains(&(end - i)) {
                pii::cards_at(b, i, &mut self.out)
            } else {
                end
            };
        }
        end
    }

    /// A token shape starting around `i`; a match is skipped over.
    fn token_at(&mut self, i: usize, at: fn(&[u8], usize) -> Option<Range<usize>>) {
        if i < self.tokens_next {
            return;
        }
        if let Some(span) = at(self.b, i) {
            self.tokens_next = span.end;
            self.aws_context |= is_aws_key_id(&self.b[span.clone()]);
            self.out.push(span);
        }
    }

    fn pem_at(&mut self, i: usize) {
        if i < self.pem_next {
            return;
        }
        if let Some(span) = tokens::pem_at(self.b, i) {
            self.pem_next = span.end;
            self.tokens_next = self.tokens_next.max(span.end);
            self.out.push(span);
        }
    }

    /// A `key=value` or `key: value` pair (also `"key": "value"`, escaped
    /// `\"key\": \"value\"` and URL query parameters) at the separator `i`,
    /// whose key is sensitive.
    ///
    /// Every separator is looked at, also those inside a value already
    /// redacted: `password=api_key: abc` hides a second pair whose value
    /// reaches past the first one's.
    fn pair_at(&mut self, i: usize) {
        let b = self.b;
        let sep = b[i];
        if sep == b':' && b.get(i + 1..i + 3) == Some(b"//") {
            return; // `scheme://`: the userinfo check's business
        }
        // Back over `key`, `key `, `"key"`, `\"key\"`: separators are none of
        // these bytes, so successive back-scans never overlap.
        let mut key_end = i;
        while key_end > 0 && matches!(b[key_end - 1], b' ' | b'\t') {
            key_end -= 1;
        }
        if key_end > 0 && is_quote(b[key_end - 1]) {
            key_end -= 1;
            if key_end > 0 && b[key_end - 1] == b'\\' {
                key_end -= 1;
            }
        }
        let mut key_start = key_end;
        while key_start > 0 && is_key_byte(b[key_start - 1]) {
            key_start -= 1;
        }
        let Some(key) = self.s.get(key_start..key_end).filter(|k| !k.is_empty()) else {
            return;
        };
        let class = match classify(self.settings, key) {
            KeyClass::Plain if sep == b'=' && is_query_secret(b, key_start, key) => {
                KeyClass::Sensitive
            }
            class => class,
        };
        if class == KeyClass::Plain {
            if sep == b'=' {
                self.encoded_value_at(i);
            }
            return;
        }
        if sep == b':' && is_host_port(b, key_start, i) {
            return;
        }
        let span = self.ends.value(b, i + 1);
        // `{"tokens_used": 1532}`: the closing bracket is not the value's.
        let value = &b[span.clone()];
        let number = value
            .iter()
            .rposition(|c| !matches!(c, b'}' | b']' | b')'))
            .is_some_and(|last| is_number(&value[..=last]));
        if span.is_empty() || (class == KeyClass::Count && number) {
            return;
        }
        self.out.push(span);
    }
}

impl Pass<'_> {
    /// The value of a `key=value` pair whose key says nothing (a query or
    /// form parameter, mostly) when it has percent-escapes or a `+`: its
    /// decoded text is scanned too (`email=someone%40example.org`,
    /// `q=Bearer%20abc`), and if anything in it is to be redacted the whole
    /// value is, as it stands. A value without escapes is read once, for the
    /// `%`, and left alone; each value is decoded at most once.
    fn encoded_value_at(&mut self, i: usize) {
        /// Decoded on the stack up to this length; longer values on the heap.
        const STACK: usize = 256;
        if i < self.encoded_next {
            return;
        }
        let b = self.b;
        let start = i + 1;
        let mut end = start;
        let mut escaped = false;
        while end < b.len() && !is_value_end(b[end]) {
            escaped |= matches!(b[end], b'%' | b'+');
            end += 1;
        }
        self.encoded_next = end;
        if !escaped {
            return;
        }
        let value = &b[start..end];
        let mut stack = [0u8; STACK];
        let mut heap = Vec::new();
        let buf = if value.len() <= STACK {
            &mut stack[..value.len()]
        } else {
            heap.resize(value.len(), 0);
            &mut heap[..]
        };
        let n = percent_decode(value, buf);
        // Escapes that decode to no UTF-8 text hold nothing to find.
        let Ok(decoded) = std::str::from_utf8(&buf[..n]) else {
            return;
        };
        if !scan(self.settings, decoded).spans.is_empty() {
            self.out.push(start..end);
        }
    }
}

/// Decodes `%XX` escapes and `+` (a space in a form body) from `value` into
/// `out` (at least as long); returns the decoded length. A `%` not followed
/// by two hex digits stays as it is.
fn percent_decode(value: &[u8], out: &mut [u8]) -> usize {
    let hex = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let (mut i, mut n) = (0, 0);
    while i < value.len() {
        let byte = match value[i] {
            b'%' => match (
                value.get(i + 1).and_then(|&c| hex(c)),
                value.get(i + 2).and_then(|&c| hex(c)),
            ) {
                (Some(hi), Some(lo)) => {
                    i += 2;
                    hi << 4 | lo
                }
                _ => b'%',
            },
            b'+' => b' ',
            c => c,
        };
        out[n] = byte;
        n += 1;
        i += 1;
    }
    n
}

/// Whether the prose byte at `i` (a `c` or `C`) is the `c` of the word
/// `secret`, in any case.
fn is_secret_word_at(b: &[u8], i: usize) -> bool {
    i >= 2
        && matches!(b[i], b'c' | b'C')
        && b.get(i - 2..i + 4)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"secret"))
}

/// An AWS access key id: `AKIA` or `ASIA` and 16 upper-case letters or
/// digits.
fn is_aws_key_id(token: &[u8]) -> bool {
    token.len() == 20
        && (token.starts_with(b"AKIA") || token.starts_with(b"ASIA"))
        && token[4..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// AWS secret access keys, after the pass saw an AWS key id or the word
/// `secret`: on each line that holds one, every run of exactly 40
/// base64 characters (`A-Z a-z 0-9 + /`) with both upper- and lower-case
/// letters. A hex digest (a commit hash) has one case only and is kept.
fn aws_secret_keys(b: &[u8], out: &mut Vec<Range<usize>>) {
    let is_b64 = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    for line in b.split(|&c| c == b'\n' || c == b'\r') {
        let offset = line.as_ptr() as usize - b.as_ptr() as usize;
        let context = line.windows(6).any(|w| w.eq_ignore_ascii_case(b"secret"))
            || line.windows(20).any(is_aws_key_id);
        if !context {
            continue;
        }
        let mut i = 0;
        while i < line.len() {
            if !is_b64(line[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < line.len() && is_b64(line[i]) {
                i += 1;
            }
            let run = &line[start..i];
            if run.len() == 40
                && line.get(i) != Some(&b'=')
                && run.iter().any(u8::is_ascii_uppercase)
                && run.iter().any(u8::is_ascii_lowercase)
            {
                out.push(offset + start..offset + i);
            }
        }
    }
}

/// Query and form parameters that carry a secret under a short name, only
/// as `?name=`, `&name=`, `#name=` or at the start of the value: OAuth's
/// `code`, a shared access signature's `sig`, a signed URL's `signature`.
/// The word `code` in prose is not one.
fn is_query_secret(b: &[u8], key_start: usize, key: &str) -> bool {
    (key_start == 0 || matches!(b[key_start - 1], b'?' | b'&' | b'#'))
        && ["code", "sig", "signature", "x-amz-signature"]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k))
}

/// Bytes a key may be made of inside free text (`user[password]`,
/// `x-api-key`, `db.password`).
pub(super) fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'[' | b']')
}

/// `//auth-service:8080/` or `@auth.example.com:443`: a host and port in a
/// URL authority, not a `key: value` pair.
fn is_host_port(b: &[u8], key_start: usize, colon: usize) -> bool {
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

fn is_base64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// The end of the base64url run starting at `i`.
fn base64url_run(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_base64url(b[i]) {
        i += 1;
    }
    i
}

fn is_email_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// Whether the byte at `i`, one the class table calls unsafe, starts a
/// character that could start a new line in a log viewer: ASCII control
/// characters except tab, and the Unicode line breaks NEL, LS and PS.
fn is_unsafe_at(b: &[u8], i: usize) -> bool {
    match b[i] {
        0xc2 => b.get(i + 1) == Some(&0x85),
        0xe2 => matches!(b.get(i + 1..i + 3), Some([0x80, 0xa8 | 0xa9])),
        _ => true,
    }
}
