//! Vendor token shapes (the formats secret scanners look for), PEM private
//! key blocks and webhook URLs. Each check starts at a trigger byte the
//! main pass hands it and reads a bounded number of bytes unless it matches.
//!
//! The shapes are the published ones: a fixed prefix, then a body of a
//! known alphabet and (minimum) length, starting at a word boundary. A
//! match is replaced whole, prefix included.

use std::ops::Range;

/// Characters of a token body.
#[derive(Clone, Copy)]
enum Body {
    /// `[A-Za-z0-9]`
    Alnum,
    /// `[A-Za-z0-9_]`
    Word,
    /// `[A-Za-z0-9_-]`, base64url
    Url,
    /// `[A-Za-z0-9_.-]`
    UrlDot,
    /// `[A-Z0-9]`
    Upper,
}

impl Body {
    fn has(self, c: u8) -> bool {
        match self {
            Body::Alnum => c.is_ascii_alphanumeric(),
            Body::Word => c.is_ascii_alphanumeric() || c == b'_',
            Body::Url => c.is_ascii_alphanumeric() || c == b'_' || c == b'-',
            Body::UrlDot => c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'),
            Body::Upper => c.is_ascii_uppercase() || c.is_ascii_digit(),
        }
    }
}

/// The end of the run of `body` characters from `i`.
fn run(b: &[u8], mut i: usize, body: Body) -> usize {
    while i < b.len() && body.has(b[i]) {
        i += 1;
    }
    i
}

/// At least `min` body characters from `i`: the end of the run. Reads
/// `min` bytes when there are fewer, so a failed check stays bounded.
fn body_min(b: &[u8], i: usize, body: Body, min: usize) -> Option<usize> {
    let head = b.get(i..i + min)?;
    head.iter()
        .all(|&c| body.has(c))
        .then(|| run(b, i + min, body))
}

/// Exactly `n` body characters from `i`, then no more of them.
fn body_exact(b: &[u8], i: usize, body: Body, n: usize) -> Option<usize> {
    let head = b.get(i..i + n)?;
    (head.iter().all(|&c| body.has(c)) && b.get(i + n).is_none_or(|&c| !body.has(c)))
        .then_some(i + n)
}

fn at_boundary(b: &[u8], i: usize) -> bool {
    i == 0 || !b[i - 1].is_ascii_alphanumeric()
}

/// A token whose prefix ends at the punctuation byte `p` (`-`, `_` or `.`):
/// `ghp_`, `glpat-`, `SG.`, ... The prefix head is the alphanumeric run
/// before `p`, at most 7 bytes, at a word boundary.
pub(super) fn at_punct(b: &[u8], p: usize) -> Option<Range<usize>> {
    // Every prefix head ends in one of these bytes: most `-`, `_` and `.`
    // (`eu-west-1`, `12.99`) are rejected here.
    if p == 0
        || !matches!(
            b[p - 1],
            b'p' | b'o'
                | b'u'
                | b's'
                | b'r'
                | b'b'
                | b'm'
                | b'k'
                | b'c'
                | b'f'
                | b't'
                | b'a'
                | b'e'
                | b'i'
                | b'X'
                | b'E'
                | b'G'
                | b'9'
        )
    {
        return None;
    }
    let mut s = p;
    while s > 0 && p - s < 7 && b[s - 1].is_ascii_alphanumeric() {
        s -= 1;
    }
    if s == p || !at_boundary(b, s) {
        return None;
    }
    let head = &b[s..p];
    let after = p + 1;
    let rest = b.get(after..).unwrap_or_default();
    let end = match (b[p], head) {
        // GitHub: personal, OAuth, user-to-server, server-to-server, refresh.
        (b'_', b"ghp" | b"gho" | b"ghu" | b"ghs" | b"ghr") => body_min(b, after, Body::Alnum, 36),
        // GitHub fine-grained personal access tokens.
        (b'_', b"github") if rest.starts_with(b"pat_") => body_min(b, after + 4, Body::Word, 50),
        (b'_', b"npm") => body_min(b, after, Body::Alnum, 36),
        // Stripe secret and restricted keys (publishable `pk_` ones are public).
        (b'_', b"sk" | b"rk")
            if rest.starts_with(b"live_")
                || rest.starts_with(b"test_")
                || rest.starts_with(b"prod_") =>
        {
            body_min(b, after + 5, Body::Alnum, 10)
        }
        // Stripe webhook signing secrets.
        (b'_', b"whsec") => body_min(b, after, Body::Alnum, 24),
        // Hugging Face.
        (b'_', b"hf") => body_min(b, after, Body::Alnum, 30),
        // Shopify access tokens and shared secrets.
        (b'_', b"shpat" | b"shpss" | b"shpca" | b"shppa") => body_min(b, after, Body::Alnum, 32),
        // DigitalOcean personal, OAuth and refresh tokens.
        (b'_', b"dop" | b"doo" | b"dor") if rest.starts_with(b"v1_") => {
            body_min(b, after + 3, Body::Alnum, 64)
        }
        // GitLab personal, deploy, runner, pipeline trigger tokens.
        (b'-', b"glpat" | b"gldt" | b"glrt" | b"glptt" | b"glcbt" | b"glsoat") => {
            body_min(b, after, Body::UrlDot, 20)
        }
        // Slack bot, user, app, refresh, config tokens; app-level tokens.
        (b'-', b"xoxb" | b"xoxp" | b"xoxa" | b"xoxr" | b"xoxs" | b"xoxe" | b"xapp") => {
            body_min(b, after, Body::Url, 10)
        }
        // PyPI API tokens: a macaroon for pypi.org or test.pypi.org.
        (b'-', b"pypi")
            if rest.starts_with(b"AgEIcHlwaS5vcmc")
                || rest.starts_with(b"AgENdGVzdC5weXBpLm9yZw") =>
        {
            body_min(b, after, Body::Url, 50)
        }
        // OpenAI-style keys: `sk-`, `sk-proj-`, `sk-ant-api03-`, ...
        (b'-', b"sk") => openai_body(b, after),
        // Google OAuth client secrets.
        (b'-', b"GOCSPX") => body_min(b, after, Body::Url, 20),
        // age secret keys.
        (b'-', b"AGE") if rest.starts_with(b"SECRET-KEY-1") => {
            body_min(b, after + 12, Body::Upper, 50)
        }
        // SendGrid: `SG.` + 22 + `.` + 43.
        (b'.', b"SG") => body_exact(b, after, Body::Url, 22)
            .filter(|&dot| b.get(dot) == Some(&b'.'))
            .and_then(|dot| body_min(b, dot + 1, Body::Url, 43)),
        // Google OAuth access tokens.
        (b'.', b"ya29") => body_min(b, after, Body::Url, 20),
        // Slack webhooks: only the secret path is replaced.
        (b'.', b"hooks") => return slack_webhook(b, after),
        _ => None,
    }?;
    Some(s..end)
}

/// The body of an OpenAI-style `sk-` key: at least 20 base64url bytes
/// that, within the first 64, mix uppercase, lowercase and digits, or hold
/// a 16-long alphanumeric stretch with a digit or an uppercase letter.
/// Kebab-case names (`sk-learn-pipeline`) do neither.
fn openai_body(b: &[u8], i: usize) -> Option<usize> {
    // Judge the first 64 bytes, and only read on past them on a match:
    // `sk-sk-sk-...` must not be read to its end at every `-`.
    let mut seen = i;
    while seen < b.len() && seen - i < 64 && Body::Url.has(b[seen]) {
        seen += 1;
    }
    if seen - i < 20 {
        return None;
    }
    let (mut upper, mut lower, mut digit) = (false, false, false);
    let (mut stretch, mut mixed, mut long) = (0, false, false);
    for &c in &b[i..seen] {
        upper |= c.is_ascii_uppercase();
        lower |= c.is_ascii_lowercase();
        digit |= c.is_ascii_digit();
        if c.is_ascii_alphanumeric() {
            stretch += 1;
            mixed |= c.is_ascii_digit() || c.is_ascii_uppercase();
            long |= stretch >= 16 && mixed;
        } else {
            (stretch, mixed) = (0, false);
        }
    }
    (long || (upper && lower && digit)).then(|| run(b, seen, Body::Url))
}

/// `hooks.slack.com/services/T.../B.../...` from just after `hooks`: the
/// path after `services/` (or `workflows/`).
fn slack_webhook(b: &[u8], i: usize) -> Option<Range<usize>> {
    let rest = b.get(i..)?;
    let host = b"slack.com/";
    if !rest.starts_with(host) {
        return None;
    }
    let path = i + host.len();
    let kind = [&b"services/"[..], b"workflows/"]
        .into_iter()
        .find(|k| b[path..].starts_with(k))?;
    let start = path + kind.len();
    let mut end = start;
    while end < b.len() && (Body::Url.has(b[end]) || b[end] == b'/') {
        end += 1;
    }
    (end - start >= 8).then_some(start..end)
}

/// A token starting with the uppercase letter at `p`: AWS access key ids,
/// Google API keys, Twilio API keys.
pub(super) fn at_upper(b: &[u8], p: usize) -> Option<Range<usize>> {
    if !at_boundary(b, p) {
        return None;
    }
    let rest = &b[p..];
    let end = if rest.starts_with(b"AIza") {
        body_min(b, p + 4, Body::Url, 35)
    } else if [&b"AKIA"[..], b"ASIA", b"ABIA", b"ACCA"]
        .iter()
        .any(|pre| rest.starts_with(pre))
        || (rest.starts_with(b"A3T") && rest.get(3).is_some_and(|&c| Body::Upper.has(c)))
    {
        // 20 characters in all, no more.
        body_exact(b, p + 4, Body::Upper, 16)
            .filter(|&e| b.get(e).is_none_or(|c| !c.is_ascii_alphanumeric()))
    } else if rest.starts_with(b"SK") {
        // Twilio API key sids: `SK` + 32 hex. (`AC` + 32 hex is an account
        // id, not a secret.)
        let hex = b.get(p + 2..p + 34)?;
        (hex.iter().all(u8::is_ascii_hexdigit)
            && b.get(p + 34).is_none_or(|c| !c.is_ascii_alphanumeric()))
        .then_some(p + 34)
    } else {
        None
    }?;
    Some(p..end)
}

/// A PEM private key block from its `-----BEGIN ... PRIVATE KEY-----` line
/// at `p` to the end of its `-----END ...-----` line, or to the end of the
/// value when that is missing (a truncated line). Newlines may be real or
/// escaped (`\n`): only the markers are looked for.
pub(super) fn pem_at(b: &[u8], p: usize) -> Option<Range<usize>> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const END: &[u8] = b"-----END ";
    const DASHES: &[u8] = b"-----";
    if !b[p..].starts_with(BEGIN) {
        return None;
    }
    let label = p + BEGIN.len();
    let label_end = pem_label_end(b, label);
    if !b[label_end..].starts_with(DASHES) || !contains(&b[label..label_end], b"PRIVATE KEY") {
        return None;
    }
    let body = label_end + DASHES.len();
    let Some(at) = find(&b[body..], END) else {
        return Some(p..b.len());
    };
    let end_label = body + at + END.len();
    let end_label_end = pem_label_end(b, end_label);
    let end = if b[end_label_end..].starts_with(DASHES) {
        end_label_end + DASHES.len()
    } else {
        end_label_end
    };
    Some(p..end)
}

/// The end of a PEM label (`RSA PRIVATE KEY`), at most 64 bytes.
fn pem_label_end(b: &[u8], mut i: usize) -> usize {
    let start = i;
    while i < b.len() && i - start < 64 && (Body::Upper.has(b[i]) || b[i] == b' ') {
        i += 1;
    }
    i
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
