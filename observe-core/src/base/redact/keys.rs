//! Field names: which are sensitive, and which only name a count.

use super::Settings;

/// Keys normalised into a stack buffer up to this many bytes; longer ones
/// (rare) fall back to a heap string.
const KEY_BUF: usize = 128;

/// What a field name says about its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyClass {
    /// Nothing: the value is scanned like any text.
    Plain,
    /// A secret or personal data: the value is replaced whole.
    Sensitive,
    /// A sensitive word in a name that counts or limits something
    /// (`tokens_used`, `max_password_length`): a number is kept, anything
    /// else is replaced whole.
    Count,
}

/// Classifies a field name; see [`Redactor::is_sensitive_key`](super::Redactor::is_sensitive_key).
pub(super) fn classify(settings: &Settings, key: &str) -> KeyClass {
    let fragment = with_normalised(key, |norm| {
        if norm.is_empty()
            || settings
                .allow
                .binary_search_by(|a| a.as_str().cmp(norm))
                .is_ok()
        {
            return None;
        }
        Some(
            has_default_fragment(norm.as_bytes())
                || settings.deny.iter().any(|f| norm.contains(f.as_str())),
        )
    });
    let Some(fragment) = fragment else {
        return KeyClass::Plain;
    };
    let words = Words::of(key);
    if !fragment && !words.personal {
        KeyClass::Plain
    } else if words.count {
        KeyClass::Count
    } else {
        KeyClass::Sensitive
    }
}

/// The built-in fragments, matched anywhere in the normalised key by
/// [`has_default_fragment`]; this list, which the docs give, is checked
/// against it by a test.
#[cfg(test)]
pub(super) const DEFAULT_FRAGMENTS: [&str; 24] = [
    // Secrets.
    "password",
    "passwd",
    "pwd",
    "passphrase",
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
    "accountkey",
    "sharedaccesskey",
    "sharedaccesssignature",
    "codeverifier",
    // Personal data.
    "phone",
    "passport",
    "birth",
    "socialsecurity",
];

/// Whether the normalised key contains one of [`DEFAULT_FRAGMENTS`]: one
/// walk with a dispatch on each byte instead of a substring search per
/// fragment.
pub(super) fn has_default_fragment(n: &[u8]) -> bool {
    (0..n.len()).any(|i| {
        let rest = &n[i..];
        let any = |frags: &[&str]| frags.iter().any(|f| rest.starts_with(f.as_bytes()));
        match n[i] {
            b'a' => any(&["auth", "apikey", "accountkey"]),
            b'b' => any(&["bearer", "birth"]),
            b'c' => any(&["cookie", "credential", "csrf", "codeverifier"]),
            b'j' => any(&["jwt"]),
            b'p' => any(&[
                "password",
                "passwd",
                "passphrase",
                "pwd",
                "privatekey",
                "phone",
                "passport",
            ]),
            b's' => any(&[
                "secret",
                "session",
                "sharedaccesskey",
                "sharedaccesssignature",
                "socialsecurity",
            ]),
            b't' => any(&["token"]),
            b'x' => any(&["xsrf"]),
            _ => false,
        }
    })
}

/// What the words of a key say: `user.homeAddress` is `user`, `home`,
/// `Address`.
struct Words {
    /// A name for personal data that a fragment cannot say safely (`ssn`
    /// is inside `classname`): see [`Words::of`].
    personal: bool,
    /// The name counts or limits something.
    count: bool,
}

/// Words that make `address` a network or email address, not a postal one.
const NOT_POSTAL: [&str; 18] = [
    "ip",
    "ipv4",
    "ipv6",
    "mac",
    "remote",
    "client",
    "peer",
    "server",
    "local",
    "host",
    "socket",
    "bind",
    "listen",
    "network",
    "destination",
    "source",
    "email",
    "mail",
];

/// Last words that name a count, a size or a limit.
const COUNT_LAST: [&str; 10] = [
    "used",
    "limit",
    "total",
    "remaining",
    "length",
    "len",
    "size",
    "quota",
    "max",
    "min",
];

/// First words that name a count, a size or a limit.
const COUNT_FIRST: [&str; 4] = ["max", "min", "num", "total"];

impl Words {
    fn of(key: &str) -> Self {
        let is = |w: &str, set: &[&str]| set.iter().any(|s| w.eq_ignore_ascii_case(s));
        let mut first = None;
        let mut prev: Option<&str> = None;
        let mut last = None;
        let (mut personal, mut address, mut not_postal) = (false, false, false);
        for w in words(key) {
            first.get_or_insert(w);
            personal |= is(
                w,
                &["ssn", "dob", "iban", "cvv", "cvc", "taxid", "nationalid"],
            );
            address |= is(w, &["address", "addresses", "street"]);
            not_postal |= is(w, &NOT_POSTAL);
            if let Some(p) = prev {
                // `tax_id`, `national_id_number`, `mobile_no`.
                personal |= is(p, &["tax", "taxpayer", "national"])
                    && is(w, &["id", "number", "no", "identifier"]);
                personal |= p.eq_ignore_ascii_case("mobile") && is(w, &["number", "no", "num"]);
            }
            prev = Some(w);
            last = Some(w);
        }
        let (Some(first), Some(last)) = (first, last) else {
            return Self {
                personal: false,
                count: false,
            };
        };
        // `mobile`, `user.mobile`, but not `is_mobile` (a yes/no).
        personal |= last.eq_ignore_ascii_case("mobile") && !is(first, &["is", "has"]);
        personal |= address && !not_postal;
        Self {
            personal,
            count: is(last, &COUNT_LAST) || is(first, &COUNT_FIRST),
        }
    }
}

fn is_separator(c: u8) -> bool {
    matches!(c, b'-' | b'_' | b'.') || c.is_ascii_whitespace() || c == b'\x0b'
}

/// The words of a key: split at `-`, `_`, `.`, whitespace and camelCase
/// humps (`APIKey` is `API`, `Key`).
fn words(key: &str) -> impl Iterator<Item = &str> {
    let b = key.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() && is_separator(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            return None;
        }
        let start = i;
        i += 1;
        while i < b.len() && !is_separator(b[i]) && !is_hump(b, i) {
            i += 1;
        }
        // Splits fall on ASCII bytes, so these are char boundaries.
        key.get(start..i)
    })
}

fn is_hump(b: &[u8], i: usize) -> bool {
    let (prev, c) = (b[i - 1], b[i]);
    c.is_ascii_uppercase()
        && (prev.is_ascii_lowercase()
            || prev.is_ascii_digit()
            || (prev.is_ascii_uppercase() && b.get(i + 1).is_some_and(u8::is_ascii_lowercase)))
}

/// A key lowercased, without `-`, `_`, `.` and whitespace.
pub(super) fn normalised(key: &str) -> impl Iterator<Item = char> + '_ {
    key.chars()
        .filter(|c| !matches!(c, '-' | '_' | '.') && !c.is_whitespace())
        .flat_map(char::to_lowercase)
}

/// Calls `f` with the normalised key, on the stack when it is short.
fn with_normalised<R>(key: &str, f: impl FnOnce(&str) -> R) -> R {
    let mut buf = [0u8; KEY_BUF];
    let mut len = 0;
    if key.is_ascii() {
        // The common case, byte by byte; the same result as `normalised`.
        for &c in key.as_bytes() {
            if is_separator(c) {
                continue;
            }
            match buf.get_mut(len) {
                Some(dst) => *dst = c.to_ascii_lowercase(),
                None => return f(&normalised(key).collect::<String>()),
            }
            len += 1;
        }
    } else {
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
    }
    match std::str::from_utf8(&buf[..len]) {
        Ok(norm) => f(norm),
        // Whole chars were written, so this does not happen; stay correct anyway.
        Err(_) => f(&normalised(key).collect::<String>()),
    }
}

/// `1532`, `-3`, `0.25`: a plain decimal number.
pub(super) fn is_number(v: &[u8]) -> bool {
    let digits = v
        .strip_prefix(b"-")
        .or_else(|| v.strip_prefix(b"+"))
        .unwrap_or(v);
    let mut dot = false;
    !digits.is_empty()
        && digits.first().is_some_and(u8::is_ascii_digit)
        && digits.last().is_some_and(u8::is_ascii_digit)
        && digits.iter().all(|&c| {
            if c == b'.' && !dot {
                dot = true;
                true
            } else {
                c.is_ascii_digit()
            }
        })
}
