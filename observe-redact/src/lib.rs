//! The secret and PII redactor: every value an `Observe` sends out (log
//! lines, request events, error events, span attributes) goes through it.
//!
//! Two layers, both on by default:
//!
//! * **Field names.** A field whose name is sensitive has its value
//!   replaced whole by [`REDACTED`]; see [`Redactor::is_sensitive_key`].
//!   Secrets: `password`, `access_token`, `X-Api-Key`, `Set-Cookie`,
//!   `AccountKey`, ... Personal data: `phone`, `mobile`, `ssn`,
//!   `home_address`, `date_of_birth`, `dob`, `iban`, `passport`, `tax_id`,
//!   `national_id`, `cvv`.
//! * **Values.** Any other value, including free-text messages, is scanned
//!   in one pass (see [`Redactor::redact_value`] for the full list):
//!   - credentials: `Bearer`/`Basic` credentials, JWTs, URL userinfo,
//!     `key=value` / `key: value` / `"key": "value"` pairs (also JSON
//!     escaped inside a string) with a sensitive key, OAuth's `?code=` and a
//!     signed URL's `&sig=`, prose such as `the password is hunter2` or
//!     `API key: abc`; query and form values are also matched
//!     percent-decoded (`email=someone%40example.org`);
//!   - token shapes that secret scanners know: AWS access key ids (and a
//!     secret access key on the same line as one, or as the word `secret`), Google
//!     API keys and OAuth secrets, GitHub, GitLab, Slack (tokens and
//!     webhooks), Stripe, Twilio, SendGrid, npm, PyPI, OpenAI-style `sk-`
//!     keys, and PEM private key blocks;
//!   - personal data by shape: email addresses, card numbers (Luhn), E.164
//!     phone numbers, US social security numbers, IBANs (mod 97).
//!
//!   Control characters (CR, LF, ...) become spaces so a value can never
//!   forge a log line.
//!
//! Left alone: UUIDs, trace and span ids, hex hashes, timestamps (RFC 3339
//! and Unix), prices, version strings, prose that mentions a password or a
//! token without giving one, and numbers under names that count something
//! (`tokens_used = 1532`; see [`Redactor::is_sensitive_key`]).
//!
//! Scanning is hand-written (no regex): one pass over the bytes, each
//! check started by a byte that can begin what it looks for, and a clean
//! value comes back borrowed, without allocating.

#![cfg_attr(docsrs, feature(doc_cfg))]

use std::borrow::Cow;
use std::sync::Arc;

use keys::{KeyClass, classify, is_number, normalised};

/// What a sensitive value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Replaces secrets and PII in log fields and messages.
///
/// Cheap to clone (a reference count); `Redactor::default()` is on with the
/// default key rules and every value check.
///
/// ```
/// use observe_redact::Redactor;
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
/// assert_eq!(
///     redactor.redact_value("push with ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 failed"),
///     "push with [REDACTED] failed"
/// );
/// // A count under a name with `token` in it is not a secret.
/// assert_eq!(redactor.redact_value("tokens_used=1532"), "tokens_used=1532");
/// ```
#[derive(Clone, Debug)]
pub struct Redactor {
    inner: Arc<Settings>,
}

#[derive(Debug)]
struct Settings {
    /// This redactor's identity for the classification memo (`keys`):
    /// unique in the process, never 0.
    id: u64,
    /// Fragments added with `deny_key`: normalised, non-empty, sorted and
    /// deduplicated. The built-in ones are matched by `keys`.
    deny: Vec<String>,
    /// Normalised, sorted and deduplicated: looked up by binary search.
    allow: Vec<String>,
    emails: bool,
    cards: bool,
    phones: bool,
    ssns: bool,
    ibans: bool,
}

impl Default for Redactor {
    fn default() -> Self {
        RedactorBuilder::default().build()
    }
}

impl Redactor {
    /// A builder starting from the defaults: the built-in key rules, no
    /// allowlist, every value check on.
    ///
    /// ```
    /// use observe_redact::Redactor;
    ///
    /// let redactor = Redactor::builder()
    ///     .deny_key("kennwort")
    ///     .allow_key("token_count")
    ///     .emails(false)
    ///     .build();
    /// assert!(redactor.is_sensitive_key("MEIN_KENNWORT"));
    /// assert!(!redactor.is_sensitive_key("token_count"));
    /// assert_eq!(redactor.redact_value("mail bob@example.com"), "mail bob@example.com");
    /// ```
    pub fn builder() -> RedactorBuilder {
        RedactorBuilder::default()
    }

    /// Whether a field *name* is sensitive, so that its value must be
    /// replaced entirely.
    ///
    /// A name is sensitive when:
    ///
    /// * normalised (lowercased; `-`, `_`, `.` and whitespace removed), it
    ///   contains a fragment: `password`, `passwd`, `pwd`, `passphrase`,
    ///   `secret`, `token`, `apikey`, `auth`, `cookie`, `session`,
    ///   `credential`, `privatekey`, `jwt`, `bearer`, `csrf`, `xsrf`,
    ///   `accountkey`, `sharedaccesskey`, `sharedaccesssignature`,
    ///   `codeverifier` (secrets), `phone`, `passport`, `birth`,
    ///   `socialsecurity` (personal data), or one added with
    ///   [`RedactorBuilder::deny_key`]; or
    /// * its last word is `pass` (`pass`, `user_pass`, `db.pass`; a
    ///   fragment would catch `passenger` and `bypass`); or
    /// * one of its words (split at `-`, `_`, `.`, spaces and camelCase) is
    ///   `ssn`, `dob`, `iban`, `cvv`, `cvc`, `taxid` or `nationalid`; or two
    ///   words are `tax`/`taxpayer`/`national` then `id`/`number`/`no`; or
    ///   its last word is `mobile` (not `is_mobile`, a yes/no) or it has
    ///   `mobile` then `number`/`no`; or
    /// * one of its words is `address`, `addresses` or `street` and none
    ///   says it is a network or email address (`ip`, `ipv4`, `ipv6`,
    ///   `mac`, `remote`, `client`, `peer`, `server`, `local`, `host`,
    ///   `socket`, `bind`, `listen`, `network`, `destination`, `source`,
    ///   `email`, `mail`). So `home_address` and `user.address` are
    ///   replaced, but `client.address` and `ip_address` are not: a
    ///   client's IP is personal data too, and observe leaves it out at the
    ///   source unless opted in (Sentry's client-address headers) rather
    ///   than hide every network address an operator needs; an email
    ///   address is caught by its value;
    ///
    /// unless it is exactly an allowed key ([`RedactorBuilder::allow_key`]),
    /// or it **names a count**: its first word is `max`, `min`, `num` or
    /// `total`, or its last word is `used`, `limit`, `total`, `remaining`,
    /// `length`, `len`, `size`, `quota`, `max` or `min` (`tokens_used`,
    /// `token_limit`, `max_tokens`, `password_length`). Such a field holds a
    /// number, which is kept: written as an integer it is not sensitive,
    /// and [`redact_field`](Self::redact_field) and `key=value` pairs in
    /// text keep it when it is a plain number but replace anything else
    /// (`token_limit=abc` is redacted). `password=1234` is still a secret.
    ///
    /// ```
    /// let redactor = observe_redact::Redactor::default();
    /// assert!(redactor.is_sensitive_key("Set-Cookie"));
    /// assert!(redactor.is_sensitive_key("sessionId"));
    /// assert!(redactor.is_sensitive_key("user.phoneNumber"));
    /// assert!(redactor.is_sensitive_key("shipping_address"));
    /// assert!(redactor.is_sensitive_key("SSN"));
    /// assert!(redactor.is_sensitive_key("smtp.pass"));
    /// assert!(!redactor.is_sensitive_key("passenger"));
    /// assert!(!redactor.is_sensitive_key("duration_ms"));
    /// assert!(!redactor.is_sensitive_key("client.address"));
    /// assert!(!redactor.is_sensitive_key("class_name"));
    /// assert!(!redactor.is_sensitive_key("tokens_used"));
    /// assert!(!redactor.is_sensitive_key("max_tokens"));
    /// ```
    pub fn is_sensitive_key(&self, key: &str) -> bool {
        classify(&self.inner, key) == KeyClass::Sensitive
    }

    /// The value with its sensitive parts replaced by [`REDACTED`] and its
    /// control characters (except tab) replaced by a space.
    ///
    /// Replaced:
    ///
    /// * `Bearer <token>`, `Basic <credentials>` (the scheme stays), JWTs,
    ///   the userinfo of `scheme://user:pass@host`;
    /// * the value of `key=value`, `key: value`, `"key": "value"`,
    ///   `\"key\": \"value\"` and `?key=value` when the key is sensitive
    ///   ([`is_sensitive_key`](Self::is_sensitive_key)), a name that counts
    ///   something holding a non-number, or OAuth's `code`, `sig`,
    ///   `signature` as a query or form parameter (`?code=`, `&sig=`);
    /// * the value of any other `key=value` (a query or form parameter)
    ///   with percent-escapes or `+`, when its decoded text holds something
    ///   listed here (`email=someone%40example.org`): the value is replaced
    ///   whole, as it stands; clean encoded values (`q=red+shoes`) stay;
    /// * prose: `password`, `passwd`, `secret`, `token`, `api key`, `secret
    ///   key`, `private key` or `access key` followed by `is`, `:` or `=`
    ///   and a value (`the password is hunter2`); after `is`, an ordinary
    ///   word (`the token is invalid`) is not a value;
    /// * tokens by shape, prefix included: AWS access key ids (`AKIA`,
    ///   `ASIA`, `ABIA`, `ACCA`, `A3T` + 16), and AWS secret access keys (40
    ///   base64 characters with both cases) on a line that also holds an
    ///   access key id or the word `secret`; Google API keys (`AIza` + 35),
    ///   OAuth client secrets (`GOCSPX-`) and access tokens (`ya29.`);
    ///   GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` + 36, `github_pat_`);
    ///   GitLab (`glpat-`, `gldt-`, `glrt-`, `glptt-`, `glcbt-`, `glsoat-` +
    ///   20); Slack (`xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-`, `xoxe-`,
    ///   `xapp-`; the secret path of `hooks.slack.com/services/...`); Stripe
    ///   secret and restricted keys (`sk_live_`, `rk_test_`, ...; not the
    ///   public `pk_`) and `whsec_`; Twilio API keys (`SK` + 32 hex; not
    ///   `AC` account ids); SendGrid (`SG.` + 22 + `.` + 43); npm (`npm_` +
    ///   36); PyPI (`pypi-AgEIcHlwaS5vcmc...`); OpenAI-style keys (`sk-`,
    ///   `sk-proj-`, ... + 20 or more); Hugging Face (`hf_`); Shopify
    ///   (`shpat_`, ...); DigitalOcean (`dop_v1_`, ...); age secret keys.
    ///   Azure connection strings are pairs (`AccountKey=`,
    ///   `SharedAccessKey=`, `&sig=`);
    /// * PEM private keys, from `-----BEGIN ... PRIVATE KEY-----` to the end
    ///   of the matching `-----END` line, also with escaped newlines (`\n`);
    ///   without an END line, to the end of the value;
    /// * email addresses, card numbers (13 to 19 digits starting 2 to 6,
    ///   Luhn-valid, grouped as cards are), E.164 phone numbers (`+`, 8 to
    ///   15 digits, with spaces, dashes or one group in parentheses), US
    ///   social security numbers (`123-45-6789`, outside the never-issued
    ///   ranges), IBANs (the country's length, mod-97 valid, plain or in
    ///   groups of four).
    ///
    /// Returns [`Cow::Borrowed`] without allocating when nothing changed.
    ///
    /// ```
    /// use std::borrow::Cow;
    /// let redactor = observe_redact::Redactor::default();
    /// assert!(matches!(redactor.redact_value("order shipped"), Cow::Borrowed(_)));
    /// assert_eq!(
    ///     redactor.redact_value("login password=hunter2 user=bob"),
    ///     "login password=[REDACTED] user=bob"
    /// );
    /// assert_eq!(
    ///     redactor.redact_value("the password is hunter2, the token is invalid"),
    ///     "the password is [REDACTED], the token is invalid"
    /// );
    /// assert_eq!(
    ///     redactor.redact_value("call +44 20 7946 0958 or pay DE89 3704 0044 0532 0130 00"),
    ///     "call [REDACTED] or pay [REDACTED]"
    /// );
    /// assert_eq!(
    ///     redactor.redact_value("GET /unsubscribe?email=someone%40example.org&list=news"),
    ///     "GET /unsubscribe?email=[REDACTED]&list=news"
    /// );
    /// assert_eq!(redactor.redact_value("a\r\nINFO forged"), "a  INFO forged");
    /// ```
    pub fn redact_value<'a>(&self, value: &'a str) -> Cow<'a, str> {
        let found = scan::scan(&self.inner, value);
        if found.spans.is_empty() && !found.unsafe_chars {
            return Cow::Borrowed(value);
        }
        Cow::Owned(rewrite::rewrite(value, found.spans))
    }

    /// The value to log for a field: [`REDACTED`] when the name is
    /// sensitive ([`is_sensitive_key`](Self::is_sensitive_key)) or counts
    /// something but the value is not a plain number; else
    /// [`redact_value(value)`](Self::redact_value).
    ///
    /// ```
    /// let redactor = observe_redact::Redactor::default();
    /// assert_eq!(redactor.redact_field("db_password", "hunter2"), "[REDACTED]");
    /// assert_eq!(redactor.redact_field("password", "1234"), "[REDACTED]");
    /// assert_eq!(redactor.redact_field("route", "/users/{id}"), "/users/{id}");
    /// assert_eq!(redactor.redact_field("token_limit", "4096"), "4096");
    /// assert_eq!(redactor.redact_field("token_limit", "abc"), "[REDACTED]");
    /// ```
    pub fn redact_field<'a>(&self, key: &str, value: &'a str) -> Cow<'a, str> {
        match classify(&self.inner, key) {
            KeyClass::Plain => self.redact_value(value),
            KeyClass::Count if is_number(value.as_bytes()) => Cow::Borrowed(value),
            KeyClass::Count | KeyClass::Sensitive => Cow::Borrowed(REDACTED),
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
    phones: bool,
    ssns: bool,
    ibans: bool,
}

impl Default for RedactorBuilder {
    fn default() -> Self {
        Self {
            deny: Vec::new(),
            allow: Vec::new(),
            emails: true,
            cards: true,
            phones: true,
            ssns: true,
            ibans: true,
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
    /// `token_count` also exempts `tokenCount`) that would otherwise be
    /// sensitive, e.g. `token_count` or `author`. Can be repeated.
    pub fn allow_key(mut self, key: impl Into<String>) -> Self {
        self.allow.push(key.into());
        self
    }

    /// Whether email addresses in values are redacted (default `true`).
    pub fn emails(mut self, on: bool) -> Self {
        self.emails = on;
        self
    }

    /// Whether card numbers (13 to 19 digits starting 2 to 6, optionally
    /// grouped by single spaces or dashes, passing the Luhn check) in values
    /// are redacted (default `true`).
    pub fn card_numbers(mut self, on: bool) -> Self {
        self.cards = on;
        self
    }

    /// Whether E.164 phone numbers (`+` and 8 to 15 digits) in values are
    /// redacted (default `true`).
    pub fn phone_numbers(mut self, on: bool) -> Self {
        self.phones = on;
        self
    }

    /// Whether US social security numbers (`123-45-6789`) in values are
    /// redacted (default `true`).
    pub fn ssns(mut self, on: bool) -> Self {
        self.ssns = on;
        self
    }

    /// Whether IBANs in values are redacted (default `true`).
    pub fn ibans(mut self, on: bool) -> Self {
        self.ibans = on;
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
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Redactor {
            inner: Arc::new(Settings {
                id: IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                deny: normalise_all(self.deny),
                allow: normalise_all(self.allow),
                emails: self.emails,
                cards: self.cards,
                phones: self.phones,
                ssns: self.ssns,
                ibans: self.ibans,
            }),
        }
    }
}

mod keys;
mod pii;
mod prose;
mod rewrite;
mod scan;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_pii;
#[cfg(test)]
mod tests_props;
#[cfg(test)]
mod tests_shapes;
mod tokens;
mod values;
