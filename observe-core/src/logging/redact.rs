//! The secret and PII redactor used by logging and error tracking.
//!
//! Two layers, both on by default:
//!
//! * **Field names.** A field whose name is sensitive (`password`,
//!   `access_token`, `X-Api-Key`, `Set-Cookie`, ...) has its value replaced
//!   whole by [`REDACTED`]; see [`Redactor::is_sensitive_key`].
//! * **Values.** Any other value, including free-text messages, is scanned
//!   for secrets: `Bearer`/`Basic` credentials, JWTs, URL userinfo,
//!   `key=value` and `key: value` pairs with a sensitive key, email addresses
//!   and Luhn-valid card numbers. Control characters (CR, LF, ...) become
//!   spaces so a value can never forge a log line.
//!
//! Scanning is hand-written (no regex): each scanner walks the value once,
//! and a clean value comes back borrowed, without allocating.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

/// What a sensitive value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Key fragments that make a field name sensitive, already normalised.
const DEFAULT_DENYLIST: [&str; 15] = [
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "auth",
    "cookie",
    "session",
    "credential",
    "privatekey",
    "jwt",
    "bearer",
    "csrf",
    "xsrf",
];

/// Keys normalised into a stack buffer up to this many bytes; longer ones
/// (rare) fall back to a heap string.
const KEY_BUF: usize = 128;

/// Replaces secrets and PII in log fields and messages.
///
/// Cheap to clone (a reference count); `Redactor::default()` is on with the
/// default denylist, emails and card numbers.
///
/// ```
/// use observe_core::logging::Redactor;
///
/// let redactor = Redactor::default();
/// assert!(redactor.is_sensitive_key("X-Api-Key"));
/// assert_eq!(redactor.redact_field("client_secret", "s3cr3t"), "[REDACTED]");
/// assert_eq!(
///     redactor.redact_value("GET /cb?token=abc&page=2"),
///     "GET /cb?token=[REDACTED]&page=2"
/// );
/// assert_eq!(
///     redactor.redact_value("Authorization: Bearer abc.def"),
///     "Authorization: Bearer [REDACTED]"
/// );
/// ```
#[derive(Clone, Debug)]
pub struct Redactor {
    inner: Arc<Settings>,
}

#[derive(Debug)]
struct Settings {
    /// Normalised, non-empty, sorted and deduplicated.
    deny: Vec<String>,
    /// Normalised, sorted and deduplicated: looked up by binary search.
    allow: Vec<String>,
    emails: bool,
    cards: bool,
}

impl Default for Redactor {
    fn default() -> Self {
        RedactorBuilder::default().build()
    }
}

impl Redactor {
    /// A builder starting from the defaults: the default denylist, no
    /// allowlist, emails and card numbers redacted.
    ///
    /// ```
    /// use observe_core::logging::Redactor;
    ///
    /// let redactor = Redactor::builder()
    ///     .deny_key("ssn")
    ///     .allow_key("token_count")
    ///     .emails(false)
    ///     .build();
    /// assert!(redactor.is_sensitive_key("user_ssn"));
    /// assert!(!redactor.is_sensitive_key("token_count"));
    /// assert_eq!(redactor.redact_value("mail bob@example.com"), "mail bob@example.com");
    /// ```
    pub fn builder() -> RedactorBuilder {
        RedactorBuilder::default()
    }

    /// Whether a field *name* is sensitive, so that its value must be
    /// replaced entirely.
    ///
    /// The name is normalised (lowercased; `-`, `_`, `.` and whitespace
    /// removed) and is sensitive when it contains a denylist fragment
    /// (`password`, `passwd`, `pwd`, `secret`, `token`, `apikey`, `auth`,
    /// `cookie`, `session`, `credential`, `privatekey`, `jwt`, `bearer`,
    /// `csrf`, `xsrf` and those added with [`RedactorBuilder::deny_key`]),
    /// unless it is exactly an allowed key ([`RedactorBuilder::allow_key`]).
    ///
    /// ```
    /// let redactor = observe_core::logging::Redactor::default();
    /// assert!(redactor.is_sensitive_key("Set-Cookie"));
    /// assert!(redactor.is_sensitive_key("sessionId"));
    /// assert!(!redactor.is_sensitive_key("duration_ms"));
    /// ```
    pub fn is_sensitive_key(&self, key: &str) -> bool {
        with_normalised(key, |norm| {
            !norm.is_empty()
                && self
                    .inner
                    .allow
                    .binary_search_by(|a| a.as_str().cmp(norm))
                    .is_err()
                && self
                    .inner
                    .deny
                    .iter()
                    .any(|frag| norm.contains(frag.as_str()))
        })
    }

    /// The value with its sensitive parts replaced by [`REDACTED`] and its
    /// control characters (except tab) replaced by a space.
    ///
    /// Returns [`Cow::Borrowed`] without allocating when nothing changed.
    ///
    /// ```
    /// use std::borrow::Cow;
    /// let redactor = observe_core::logging::Redactor::default();
    /// assert!(matches!(redactor.redact_value("order shipped"), Cow::Borrowed(_)));
    /// assert_eq!(
    ///     redactor.redact_value("login password=hunter2 user=bob"),
    ///     "login password=[REDACTED] user=bob"
    /// );
    /// assert_eq!(redactor.redact_value("a\r\nINFO forged"), "a  INFO forged");
    /// ```
    pub fn redact_value<'a>(&self, value: &'a str) -> Cow<'a, str> {
        let b = value.as_bytes();
        let mut userinfo = Vec::new();
        scan_userinfo(b, &mut userinfo);
        let mut spans = Vec::new();
        scan_schemes(b, &mut spans);
        scan_jwts(b, &mut spans);
        self.scan_pairs(value, &mut spans);
        if self.inner.emails {
            scan_emails(b, &userinfo, &mut spans);
        }
        if self.inner.cards {
            scan_cards(b, &mut spans);
        }
        spans.append(&mut userinfo);
        if spans.is_empty() && !has_unsafe_chars(value) {
            return Cow::Borrowed(value);
        }
        Cow::Owned(rewrite(value, spans))
    }

    /// The value to log for a field: [`REDACTED`] when
    /// [`is_sensitive_key(key)`](Self::is_sensitive_key), else
    /// [`redact_value(value)`](Self::redact_value).
    ///
    /// ```
    /// let redactor = observe_core::logging::Redactor::default();
    /// assert_eq!(redactor.redact_field("db_password", "hunter2"), "[REDACTED]");
    /// assert_eq!(redactor.redact_field("route", "/users/{id}"), "/users/{id}");
    /// ```
    pub fn redact_field<'a>(&self, key: &str, value: &'a str) -> Cow<'a, str> {
        if self.is_sensitive_key(key) {
            Cow::Borrowed(REDACTED)
        } else {
            self.redact_value(value)
        }
    }

    /// `key=value` and `key: value` pairs (also `"key": "value"` and URL
    /// query parameters) whose key is sensitive.
    fn scan_pairs(&self, s: &str, out: &mut Vec<Range<usize>>) {
        let b = s.as_bytes();
        let mut ends = ValueEnds::default();
        // Every separator is looked at, also those inside a value already
        // redacted: `password=api_key: abc` hides a second pair whose value
        // reaches past the first one's.
        for i in 0..b.len() {
            let sep = b[i];
            if sep != b'=' && sep != b':' {
                continue;
            }
            if sep == b':' && b.get(i + 1..i + 3) == Some(b"//") {
                continue; // `scheme://`: the userinfo scanner's business
            }
            // Back over `key`, `key `, `"key"`: separators are none of these
            // bytes, so successive back-scans never overlap.
            let mut key_end = i;
            while key_end > 0 && matches!(b[key_end - 1], b' ' | b'\t') {
                key_end -= 1;
            }
            if key_end > 0 && is_quote(b[key_end - 1]) {
                key_end -= 1;
            }
            let mut key_start = key_end;
            while key_start > 0 && is_key_byte(b[key_start - 1]) {
                key_start -= 1;
            }
            let sensitive = key_start < key_end
                && s.get(key_start..key_end)
                    .is_some_and(|key| self.is_sensitive_key(key));
            if !sensitive || (sep == b':' && is_host_port(b, key_start, i)) {
                continue;
            }
            let span = ends.value(b, i + 1);
            if !span.is_empty() {
                out.push(span);
            }
        }
    }
}

/// Builds a [`Redactor`]; see [`Redactor::builder`].
#[derive(Clone, Debug)]
pub struct RedactorBuilder {
    deny: Vec<String>,
    allow: Vec<String>,
    emails: bool,
    cards: bool,
}

impl Default for RedactorBuilder {
    fn default() -> Self {
        Self {
            deny: DEFAULT_DENYLIST.iter().map(|f| (*f).to_owned()).collect(),
            allow: Vec::new(),
            emails: true,
            cards: true,
        }
    }
}

impl RedactorBuilder {
    /// Adds a key fragment: a field name containing it (after normalisation,
    /// see [`Redactor::is_sensitive_key`]) is sensitive. Can be repeated. A
    /// fragment that normalises to nothing (`""`, `"_"`) is ignored.
    pub fn deny_key(mut self, fragment: impl Into<String>) -> Self {
        self.deny.push(fragment.into());
        self
    }

    /// Exempts one exact key (compared after normalisation, so
    /// `token_count` also exempts `tokenCount`) that would otherwise match
    /// the denylist, e.g. `token_count` or `author`. Can be repeated.
    pub fn allow_key(mut self, key: impl Into<String>) -> Self {
        self.allow.push(key.into());
        self
    }

    /// Whether email addresses in values are redacted (default `true`).
    pub fn emails(mut self, on: bool) -> Self {
        self.emails = on;
        self
    }

    /// Whether card numbers (13 to 19 digits, optionally grouped by single
    /// spaces or dashes, passing the Luhn check) in values are redacted
    /// (default `true`).
    pub fn card_numbers(mut self, on: bool) -> Self {
        self.cards = on;
        self
    }

    /// Builds the [`Redactor`].
    pub fn build(self) -> Redactor {
        let normalise_all = |keys: Vec<String>| {
            let mut keys: Vec<String> = keys
                .iter()
                .map(|k| normalised(k).collect::<String>())
                .filter(|k| !k.is_empty())
                .collect();
            keys.sort_unstable();
            keys.dedup();
            keys
        };
        Redactor {
            inner: Arc::new(Settings {
                deny: normalise_all(self.deny),
                allow: normalise_all(self.allow),
                emails: self.emails,
                cards: self.cards,
            }),
        }
    }
}

/// A key lowercased, without `-`, `_`, `.` and whitespace.
fn normalised(key: &str) -> impl Iterator<Item = char> + '_ {
    key.chars()
        .filter(|c| !matches!(c, '-' | '_' | '.') && !c.is_whitespace())
        .flat_map(char::to_lowercase)
}

/// Calls `f` with the normalised key, on the stack when it is short.
fn with_normalised<R>(key: &str, f: impl FnOnce(&str) -> R) -> R {
    let mut buf = [0u8; KEY_BUF];
    let mut len = 0;
    for c in normalised(key) {
        let n = c.len_utf8();
        match buf.get_mut(len..len + n) {
            Some(dst) => {
                c.encode_utf8(dst);
                len += n;
            }
            None => return f(&normalised(key).collect::<String>()),
        }
    }
    match std::str::from_utf8(&buf[..len]) {
        Ok(norm) => f(norm),
        // Whole chars were written, so this does not happen; stay correct anyway.
        Err(_) => f(&normalised(key).collect::<String>()),
    }
}

/// Bytes a key may be made of inside free text (`user[password]`,
/// `x-api-key`, `db.password`).
fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'[' | b']')
}

fn is_quote(c: u8) -> bool {
    c == b'"' || c == b'\''
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

/// Finds the values of sensitive pairs. Value scans start in increasing
/// order; the end of the last scan of each kind is remembered, because a
/// scan starting inside it ends at the same place (it reads the same bytes
/// in the same way). So no byte is scanned twice per kind and the whole pass
/// stays linear even for `token=token=token=...`.
#[derive(Default)]
struct ValueEnds {
    unquoted: Option<Range<usize>>,
    double: Option<Range<usize>>,
    single: Option<Range<usize>>,
}

impl ValueEnds {
    /// The span to redact for a pair whose separator ends just before `start`.
    fn value(&mut self, b: &[u8], start: usize) -> Range<usize> {
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
fn is_value_end(c: u8) -> bool {
    c.is_ascii_whitespace() || matches!(c, b'&' | b',' | b';' | b'"' | b'\'')
}

/// `Bearer <token>` or `Basic <creds>` (any case) starting at `i`: the
/// token's range. The token is the following run of non-whitespace bytes,
/// stopping at a quote so `"Bearer abc"` keeps its closing quote.
fn scheme_token(b: &[u8], i: usize) -> Option<Range<usize>> {
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

fn starts_with_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .get(..needle.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(needle))
}

/// `Bearer <token>` and `Basic <creds>` anywhere in the text.
fn scan_schemes(b: &[u8], out: &mut Vec<Range<usize>>) {
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

/// JWTs (and JWEs): `eyJ...` followed by at least two more dot-separated
/// base64url segments, each at least 4 characters.
fn scan_jwts(b: &[u8], out: &mut Vec<Range<usize>>) {
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
fn scan_userinfo(b: &[u8], out: &mut Vec<Range<usize>>) {
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

fn is_email_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// `local@domain.tld`: local part `[A-Za-z0-9._%+-]+`, a domain of at least
/// two labels, the last all letters and at least 2 long. An `@` that ends a
/// URL userinfo (sorted in `userinfo`) is not an email.
fn scan_emails(b: &[u8], userinfo: &[Range<usize>], out: &mut Vec<Range<usize>>) {
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
fn scan_cards(b: &[u8], out: &mut Vec<Range<usize>>) {
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

fn luhn(digits: &[u8]) -> bool {
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
fn is_unsafe_char(c: char) -> bool {
    (c.is_ascii_control() && c != '\t') || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn has_unsafe_chars(s: &str) -> bool {
    // Byte pre-check: 0xC2 and 0xE2 lead the UTF-8 of NEL, LS and PS.
    s.bytes()
        .any(|c| (c < 0x20 && c != b'\t') || c == 0x7f || c == 0xc2 || c == 0xe2)
        && s.chars().any(is_unsafe_char)
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
fn rewrite(value: &str, mut spans: Vec<Range<usize>>) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(value: &str) -> String {
        Redactor::default().redact_value(value).into_owned()
    }

    #[test]
    fn redactor_is_cheap_to_share() {
        fn check<T: Clone + std::fmt::Debug + Send + Sync>() {}
        check::<Redactor>();
        check::<RedactorBuilder>();
        let a = Redactor::default();
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.inner, &b.inner));
    }

    #[test]
    fn sensitive_keys() {
        let redactor = Redactor::default();
        for key in [
            "access_token",
            "client_secret",
            "X-Api-Key",
            "x_api_key",
            "apiKey",
            "API_KEY",
            "Authorization",
            "Set-Cookie",
            "sessionId",
            "db_password",
            "PRIVATE_KEY",
            "x-csrf-token",
            "X-XSRF-TOKEN",
            "passwd",
            "user.pwd",
            "aws credentials",
            "id_jwt",
            "bearer",
        ] {
            assert!(redactor.is_sensitive_key(key), "{key} should be sensitive");
        }
    }

    #[test]
    fn ordinary_keys_are_not_sensitive() {
        let redactor = Redactor::default();
        for key in [
            "user_id",
            "route",
            "status",
            "method",
            "duration_ms",
            "path",
            "cache",
            "",
            "---",
        ] {
            assert!(
                !redactor.is_sensitive_key(key),
                "{key} should not be sensitive"
            );
        }
    }

    #[test]
    fn allow_key_exempts_exact_normalised_keys_only() {
        let redactor = Redactor::builder().allow_key("token_count").build();
        assert!(!redactor.is_sensitive_key("token_count"));
        assert!(!redactor.is_sensitive_key("tokenCount"));
        assert!(redactor.is_sensitive_key("access_token"));
        assert!(redactor.is_sensitive_key("token_count_secret"));
        assert_eq!(redactor.redact_value("token_count=5"), "token_count=5");
        assert_eq!(r("token_count=5"), "token_count=[REDACTED]");
    }

    #[test]
    fn deny_key_adds_fragments() {
        let redactor = Redactor::builder().deny_key("SSN").deny_key("_").build();
        assert!(redactor.is_sensitive_key("user_ssn"));
        assert!(
            !redactor.is_sensitive_key("user_id"),
            "empty fragment ignored"
        );
        assert!(!Redactor::default().is_sensitive_key("user_ssn"));
        assert_eq!(redactor.redact_value("ssn=123-45"), "ssn=[REDACTED]");
    }

    #[test]
    fn long_and_unicode_keys() {
        let redactor = Redactor::default();
        let long = format!("{}_password", "x".repeat(500));
        assert!(redactor.is_sensitive_key(&long));
        assert!(!redactor.is_sensitive_key(&"é".repeat(200)));
        assert!(redactor.is_sensitive_key("PASSWORT_Ü_password"));
        assert!(
            Redactor::builder()
                .deny_key("Kennwort")
                .build()
                .is_sensitive_key("MEIN_KENNWORT")
        );
    }

    #[test]
    fn redact_field_replaces_sensitive_fields_whole() {
        let redactor = Redactor::default();
        assert_eq!(redactor.redact_field("access_token", "abc"), REDACTED);
        assert_eq!(
            redactor.redact_field("Set-Cookie", "sid=1; Path=/"),
            REDACTED
        );
        assert_eq!(redactor.redact_field("user_id", "42"), "42");
        assert_eq!(
            redactor.redact_field("url", "https://u:p@example.com/"),
            "https://[REDACTED]@example.com/"
        );
        assert!(matches!(
            redactor.redact_field("route", "/users"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn bearer_and_basic_credentials() {
        assert_eq!(r("Bearer abc.def"), "Bearer [REDACTED]");
        assert_eq!(
            r("auth failed for bearer abc.def now"),
            "auth failed for bearer [REDACTED] now"
        );
        assert_eq!(r("BASIC dXNlcjpwYXNz"), "BASIC [REDACTED]");
        assert_eq!(
            r("Authorization: Bearer abc"),
            "Authorization: Bearer [REDACTED]"
        );
        assert_eq!(
            r(r#"{"authorization":"Bearer abc"}"#),
            r#"{"authorization":"Bearer [REDACTED]"}"#
        );
        assert_eq!(
            r("header \"Bearer xyz\" sent"),
            "header \"Bearer [REDACTED]\" sent"
        );
        assert_eq!(
            r("xBearer a Bearer b"),
            "xBearer [REDACTED] Bearer [REDACTED]"
        );
        // No token, or no whitespace after the scheme: nothing to hide.
        for clean in ["Bearer", "Bearer   ", "Basically fine", "bearers only"] {
            assert_eq!(r(clean), clean);
        }
    }

    #[test]
    fn jwts() {
        let jwt =
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(r(&format!("got {jwt} from idp")), "got [REDACTED] from idp");
        assert_eq!(r(&format!("id={jwt}")), "id=[REDACTED]");
        assert_eq!(
            r("jwe eyJhbGci.abcd.efgh.ijkl.mnop end"),
            "jwe [REDACTED] end"
        );
        for clean in [
            "eyJhbGciOi",
            "eyJ.abcd.efgh",
            "eyJabc.de.fghi",
            "xeyJhbGc.abcd.efgh",
            "eyJhbGc.abcd",
        ] {
            assert_eq!(r(clean), clean);
        }
    }

    #[test]
    fn url_userinfo() {
        assert_eq!(
            r("https://user:pass@example.com/x"),
            "https://[REDACTED]@example.com/x"
        );
        assert_eq!(
            r("connect postgres://app:s3cr3t@db.internal:5432/shop failed"),
            "connect postgres://[REDACTED]@db.internal:5432/shop failed"
        );
        assert_eq!(
            r("ssh://git@example.com/repo"),
            "ssh://[REDACTED]@example.com/repo"
        );
        assert_eq!(r("https://u:p@ss@host/"), "https://[REDACTED]@host/");
        assert_eq!(
            r("a://https://u:pw@host.io/"),
            "a://https://[REDACTED]@host.io/"
        );
        for clean in [
            "https://example.com/x",
            "https://example.com/a@b",
            "https://@example.com/",
            "http://auth-service:8080/health",
            "http://session.example.com:443",
        ] {
            assert_eq!(r(clean), clean);
        }
    }

    #[test]
    fn sensitive_pairs_in_text() {
        assert_eq!(
            r("GET /cb?token=abc&page=2"),
            "GET /cb?token=[REDACTED]&page=2"
        );
        assert_eq!(
            r("password=hunter2 user=bob"),
            "password=[REDACTED] user=bob"
        );
        assert_eq!(r("X-Api-Key: abc123, next"), "X-Api-Key: [REDACTED], next");
        assert_eq!(r("client_secret = xyz;"), "client_secret = [REDACTED];");
        assert_eq!(
            r(r#"{"password": "hunter 2", "user": "bob"}"#),
            r#"{"password": "[REDACTED]", "user": "bob"}"#
        );
        assert_eq!(
            r(r#"{"token":"a\"b","n":1}"#),
            r#"{"token":"[REDACTED]","n":1}"#
        );
        assert_eq!(
            r("form user[password]=x&a=1"),
            "form user[password]=[REDACTED]&a=1"
        );
        assert_eq!(
            r("Set-Cookie: sid=abc; Path=/"),
            "Set-Cookie: [REDACTED]; Path=/"
        );
        assert_eq!(r("password=a=b=c"), "password=[REDACTED]");
        // A pair hidden in another's value, its own value reaching further.
        assert_eq!(r("password=api_key: abc"), "password=[REDACTED] [REDACTED]");
        assert_eq!(r("pwd=token:\"a b\" c"), "pwd=[REDACTED]\"[REDACTED]\" c");
        for clean in [
            "page=2&sort=asc",
            "status: ok",
            "route=/users/{id} method=GET",
            "token=&page=2",
            "Error: timeout",
        ] {
            assert_eq!(r(clean), clean);
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            r("Please contact jane.doe+shop@mail.example.co.uk today."),
            "Please contact [REDACTED] today."
        );
        assert_eq!(r("mailto:bob@example.com"), "mailto:[REDACTED]");
        for clean in ["a@b", "user@localhost", "@handle", "x@host.c", "x@host.c0m"] {
            assert_eq!(r(clean), clean);
        }
        let off = Redactor::builder().emails(false).build();
        assert_eq!(
            off.redact_value("mail bob@example.com"),
            "mail bob@example.com"
        );
    }

    #[test]
    fn card_numbers() {
        for card in [
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "4111111111111111",
            "378282246310005",
        ] {
            assert_eq!(
                r(&format!("card {card} ok")),
                "card [REDACTED] ok",
                "{card}"
            );
        }
        assert_eq!(
            r("on 2024-01-15 4111 1111 1111 1111"),
            "on 2024-01-15 [REDACTED]"
        );
        for clean in [
            "order 1234567890123",
            "ts 1700000000123",
            "4111 1111  1111 1111",
            "id 41111111111111111111111",
            "n=4111 1111 111",
        ] {
            assert_eq!(r(clean), clean);
        }
        let off = Redactor::builder().card_numbers(false).build();
        assert_eq!(
            off.redact_value("4111 1111 1111 1111"),
            "4111 1111 1111 1111"
        );
    }

    #[test]
    fn control_characters_cannot_forge_lines() {
        assert_eq!(r("a\r\nINFO forged"), "a  INFO forged");
        assert_eq!(r("tab\tkept"), "tab\tkept");
        assert_eq!(r("bell\u{7}\u{1b}[31m"), "bell  [31m");
        assert_eq!(r("ls\u{2028}ps\u{2029}nel\u{85}é"), "ls ps nel é");
        assert_eq!(r("password=x\nINFO y"), "password=[REDACTED] INFO y");
    }

    #[test]
    fn clean_values_are_borrowed() {
        for clean in [
            "",
            "order shipped to warehouse",
            "GET /users/42 200 in 3ms",
            "naïve café ☕ résumé",
            "ratio 3:2, x=1",
        ] {
            assert!(
                matches!(r_cow(clean), Cow::Borrowed(s) if s == clean),
                "{clean}"
            );
        }
    }

    fn r_cow(value: &str) -> Cow<'_, str> {
        Redactor::default().redact_value(value)
    }

    #[test]
    fn pathological_inputs_stay_linear() {
        let redactor = Redactor::default();
        for unit in [
            "token=",
            "token:\"",
            "Bearer ",
            "bearer",
            "eyJa.",
            "eyJabcd.",
            "a@",
            "a@b.",
            "1 ",
            "1-",
            "://",
            "://a@",
            "\\",
            "password=\"\\",
        ] {
            let input = unit.repeat(200_000 / unit.len());
            let out = redactor.redact_value(&input);
            assert!(!out.contains('\n'));
        }
        let digits = "1".repeat(200_000);
        assert_eq!(redactor.redact_value(&digits), digits);
    }

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                "(?s).{0,8}",
                "[a-z0-9 ]{0,8}",
                "[0-9 -]{0,20}",
                Just("Bearer ".to_owned()),
                Just("password=".to_owned()),
                Just("\"token\": \"".to_owned()),
                Just("://".to_owned()),
                Just("@".to_owned()),
                Just("eyJ".to_owned()),
                Just(".".to_owned()),
                Just("\\".to_owned()),
                Just("\r\n".to_owned()),
            ],
            0..24,
        )
        .prop_map(|parts| parts.concat())
    }

    fn config() -> ProptestConfig {
        // No regression files: this suite must not write into the tree.
        ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::with_cases(256)
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn never_panics_and_never_breaks_lines(value in text()) {
            let out = Redactor::default().redact_value(&value);
            prop_assert!(!out.contains('\n') && !out.contains('\r'), "{out:?}");
        }

        #[test]
        fn arbitrary_strings_never_panic(value in any::<String>()) {
            let redactor = Redactor::default();
            let out = redactor.redact_value(&value);
            prop_assert!(!out.contains('\n') && !out.contains('\r'));
            let _ = redactor.is_sensitive_key(&value);
        }

        #[test]
        fn planted_secrets_never_survive(
            prefix in text(),
            suffix in text(),
            secret in "[A-Za-z0-9]{8,32}",
            form in 0..6usize,
        ) {
            let planted = match form {
                0 => format!("password={secret}"),
                1 => format!("Bearer {secret}"),
                2 => format!("api_key: {secret}"),
                3 => format!("?access_token={secret}&x=1"),
                4 => format!("https://user:{secret}@example.com/"),
                _ => format!("\"client_secret\":\"{secret}\""),
            };
            prop_assume!(!prefix.contains(&secret) && !suffix.contains(&secret));
            let value = format!("{prefix}{planted}{suffix}");
            let out = Redactor::default().redact_value(&value);
            prop_assert!(!out.contains(&secret), "{value:?} -> {out:?}");
        }

        #[test]
        fn clean_text_is_borrowed_and_unchanged(value in "[A-Za-z ,;!?'()-]{0,200}") {
            let lower = value.to_ascii_lowercase();
            prop_assume!(!lower.contains("bearer") && !lower.contains("basic"));
            let out = Redactor::default().redact_value(&value);
            prop_assert!(matches!(out, Cow::Borrowed(s) if s == value));
        }
    }
}
