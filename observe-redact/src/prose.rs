//! Secrets announced in prose, like detect-secrets' keyword detector:
//! `the password is hunter2`, `API key: abc`, `secret key = xyz`.
//!
//! `key: value` and `key=value` with a sensitive key are pairs (see
//! `scan.rs`); this adds `is` as a separator and the two-word keys `api
//! key`, `secret key`, `private key` and `access key`. After `is`, an
//! unquoted ordinary word (`the token is invalid`, `password is required`)
//! is not a value.

use std::ops::Range;

use super::values::{ValueEnds, is_quote, starts_with_ignore_case};

/// A keyword around the trigger byte `i` (`w`, `c` or `k`, either case)
/// and the value it announces.
pub(super) fn at(b: &[u8], i: usize, ends: &mut ValueEnds) -> Option<Range<usize>> {
    let (start, end, two_words) = keyword(b, i)?;
    if (start > 0 && b[start - 1].is_ascii_alphanumeric())
        || b.get(end).is_some_and(u8::is_ascii_alphanumeric)
    {
        return None;
    }
    let mut j = end;
    while j < b.len() && matches!(b[j], b' ' | b'\t') {
        j += 1;
    }
    let rest = &b[j..];
    let is = j > end
        && starts_with_ignore_case(rest, b"is")
        && rest.get(2).is_none_or(|c| !c.is_ascii_alphanumeric());
    let value = if is {
        let mut k = j + 2;
        if b.get(k) == Some(&b':') {
            k += 1;
        }
        if !matches!(b.get(k), Some(b' ' | b'\t')) {
            return None;
        }
        k
    } else if two_words && matches!(b.get(j), Some(b':' | b'=')) {
        j + 1
    } else {
        return None;
    };
    let span = ends.value(b, value);
    if span.is_empty() || (is && !is_quote(b[span.start - 1]) && is_ordinary_word(&b[span.clone()]))
    {
        return None;
    }
    Some(span)
}

/// The keyword whose trigger byte is at `i`: its range, and whether it is
/// a two-word key (`api key`).
fn keyword(b: &[u8], i: usize) -> Option<(usize, usize, bool)> {
    let at = |from: usize, word: &[u8]| {
        b.get(from..)
            .is_some_and(|r| starts_with_ignore_case(r, word))
    };
    match b[i] | 0x20 {
        // `password`, `passwd`: the `w` is the fifth byte.
        b'w' if i >= 4 && at(i - 4, b"pass") => {
            if at(i + 1, b"ord") {
                Some((i - 4, i + 4, false))
            } else if at(i + 1, b"d") {
                Some((i - 4, i + 2, false))
            } else {
                None
            }
        }
        b'c' if i >= 2 && at(i - 2, b"secret") => Some((i - 2, i + 4, false)),
        b'k' if i >= 2 && at(i - 2, b"token") => Some((i - 2, i + 3, false)),
        b'k' if at(i, b"key") && i >= 2 && b[i - 1] == b' ' => {
            let before = i - 1;
            ["api", "secret", "private", "access"].iter().find_map(|w| {
                let start = before.checked_sub(w.len())?;
                at(start, w.as_bytes()).then_some((start, i + 3, true))
            })
        }
        _ => None,
    }
}

/// Words that follow `password is`, `token is` in ordinary log messages.
const ORDINARY: &[&str] = &[
    "a",
    "about",
    "absent",
    "accepted",
    "active",
    "already",
    "also",
    "always",
    "an",
    "at",
    "available",
    "bad",
    "being",
    "blank",
    "by",
    "changed",
    "complete",
    "compromised",
    "configured",
    "correct",
    "different",
    "disabled",
    "empty",
    "enabled",
    "encrypted",
    "expired",
    "expiring",
    "exposed",
    "false",
    "fine",
    "for",
    "fresh",
    "from",
    "generated",
    "going",
    "good",
    "hashed",
    "here",
    "hidden",
    "ignored",
    "in",
    "inactive",
    "incomplete",
    "incorrect",
    "invalid",
    "it",
    "just",
    "known",
    "leaked",
    "locked",
    "long",
    "malformed",
    "mandatory",
    "masked",
    "missing",
    "needed",
    "never",
    "new",
    "nil",
    "no",
    "none",
    "not",
    "now",
    "null",
    "of",
    "ok",
    "okay",
    "old",
    "on",
    "only",
    "optional",
    "pending",
    "present",
    "ready",
    "redacted",
    "rejected",
    "required",
    "reset",
    "revoked",
    "rotated",
    "same",
    "set",
    "short",
    "stale",
    "still",
    "stored",
    "strong",
    "that",
    "the",
    "this",
    "to",
    "too",
    "undefined",
    "unknown",
    "unset",
    "used",
    "valid",
];

/// An unquoted value that is an ordinary word (`invalid.`, `missing`),
/// trailing punctuation aside.
fn is_ordinary_word(v: &[u8]) -> bool {
    let end = v
        .iter()
        .rposition(u8::is_ascii_alphabetic)
        .map_or(0, |k| k + 1);
    let word = &v[..end];
    v[end..]
        .iter()
        .all(|c| matches!(c, b'.' | b'!' | b'?' | b':' | b')'))
        && ORDINARY
            .iter()
            .any(|w| word.eq_ignore_ascii_case(w.as_bytes()))
}
