//! The secret and PII redactor: every value an `Observe` sends out (log
//! lines, request events, error events, span attributes) goes through it.
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

use scan::{
    ValueEnds, has_unsafe_chars, is_host_port, is_key_byte, is_quote, rewrite, scan_cards,
    scan_emails, scan_jwts, scan_schemes, scan_userinfo,
};

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
/// use observe_core::Redactor;
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
    /// use observe_core::Redactor;
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
    /// let redactor = observe_core::Redactor::default();
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
    /// let redactor = observe_core::Redactor::default();
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
    /// let redactor = observe_core::Redactor::default();
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

mod scan;
#[cfg(test)]
mod tests;
