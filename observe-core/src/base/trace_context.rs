//! W3C Trace Context (`traceparent`, `tracestate`): parsing what callers
//! send, strictly. A malformed header is ignored (a new trace starts),
//! never an error.

use std::borrow::Cow;

use super::ids::hex;

/// The longest `tracestate` passed on, in bytes (the W3C limit is 32
/// members of up to 256 characters; 512 bytes is what vendors propagate).
pub const MAX_TRACESTATE: usize = 512;

/// A caller's span, from its `traceparent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traceparent {
    /// The trace id (16 bytes, not all zero).
    pub trace_id: [u8; 16],
    /// The caller's span id (8 bytes, not all zero).
    pub span_id: [u8; 8],
    /// The caller sampled this trace.
    pub sampled: bool,
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Exactly `2 * N` lowercase hex digits as `N` bytes.
pub(crate) fn decode<const N: usize>(hex: &[u8]) -> Option<[u8; N]> {
    if hex.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        out[i] = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
    }
    Some(out)
}

/// Parses a `traceparent` header by the W3C rules: lowercase hex,
/// `version-traceid-spanid-flags`, version `ff` invalid, version `00`
/// exactly 55 characters, later versions may append `-...`; all-zero ids
/// are invalid. `None` for anything else.
///
/// ```
/// use observe_core::trace::parse_traceparent;
/// let parent = parse_traceparent(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
/// assert!(parent.sampled);
/// assert!(parse_traceparent(b"00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
/// ```
pub fn parse_traceparent(value: &[u8]) -> Option<Traceparent> {
    let value = value.trim_ascii();
    // A comma means several values folded into one header: invalid.
    if value.len() < 55 || value.contains(&b',') {
        return None;
    }
    let version = decode::<1>(&value[0..2])?[0];
    if version == 0xff || (version == 0 && value.len() != 55) {
        return None;
    }
    if version > 0 && value.len() > 55 && value[55] != b'-' {
        return None;
    }
    if value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    let trace_id = decode::<16>(&value[3..35])?;
    let span_id = decode::<8>(&value[36..52])?;
    let flags = decode::<1>(&value[53..55])?[0];
    if trace_id == [0; 16] || span_id == [0; 8] {
        return None;
    }
    Some(Traceparent {
        trace_id,
        span_id,
        sampled: flags & 1 == 1,
    })
}

/// The most members a `tracestate` may have (W3C Trace Context).
pub const MAX_TRACESTATE_MEMBERS: usize = 32;

/// Members longer than this are the first dropped when the list must be
/// cut to [`MAX_TRACESTATE`] (W3C Trace Context, section 3.3.1.1).
const LONG_MEMBER: usize = 128;

fn is_key_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@')
}

/// A key by W3C Trace Context Level 2: a lowercase letter or a digit, then
/// up to 255 of `a-z 0-9 _ - * / @`. Level 1's `tenant@system` split (241
/// and 14 characters) is gone; every Level 1 key is still valid.
fn is_valid_key(key: &[u8]) -> bool {
    match key.split_first() {
        Some((first, rest)) => {
            key.len() <= 256
                && (first.is_ascii_lowercase() || first.is_ascii_digit())
                && rest.iter().all(|b| is_key_char(*b))
        }
        None => false,
    }
}

/// 1 to 256 printable ASCII characters but `,` and `=`, not ending in a
/// space.
fn is_valid_value(value: &[u8]) -> bool {
    (1..=256).contains(&value.len())
        && value.last() != Some(&b' ')
        && value
            .iter()
            .all(|b| (0x20..=0x7e).contains(b) && *b != b',' && *b != b'=')
}

/// The `tracestate` to pass on, by the W3C Trace Context rules: the list
/// (all header lines already joined with `,`) with whitespace around
/// members trimmed and empty members skipped; a key seen twice keeps its
/// first member. Any invalid member, or more than
/// [`MAX_TRACESTATE_MEMBERS`], discards the whole list (`None`), as does
/// an empty one. A list longer than [`MAX_TRACESTATE`] bytes loses members
/// longer than 128 bytes first, then members from the end. Borrowed when
/// the list is passed on as it came.
///
/// ```
/// use observe_core::trace::accept_tracestate;
/// assert_eq!(accept_tracestate(b"congo=t61rcWkgMzE").as_deref(), Some("congo=t61rcWkgMzE"));
/// assert_eq!(accept_tracestate(b" foo=1 ,, bar@dd=2 ").as_deref(), Some("foo=1,bar@dd=2"));
/// assert_eq!(accept_tracestate(b"foo=1,Bad=2"), None); // keys are lowercase
/// ```
pub fn accept_tracestate(value: &[u8]) -> Option<Cow<'_, str>> {
    let text = std::str::from_utf8(value).ok()?;
    let mut members: Vec<&str> = Vec::new();
    let mut changed = false;
    for raw in text.split(',') {
        let member = raw.trim_matches([' ', '\t']);
        if member.len() != raw.len() {
            changed = true;
        }
        if member.is_empty() {
            changed = true;
            continue;
        }
        let (key, member_value) = member.split_once('=')?;
        if !is_valid_key(key.as_bytes()) || !is_valid_value(member_value.as_bytes()) {
            return None;
        }
        if members
            .iter()
            .any(|m| m.split_once('=').is_some_and(|(k, _)| k == key))
        {
            changed = true;
            continue;
        }
        members.push(member);
        if members.len() > MAX_TRACESTATE_MEMBERS {
            return None;
        }
    }
    if members.is_empty() {
        return None;
    }
    let joined_len = |members: &[&str]| {
        members.iter().map(|m| m.len()).sum::<usize>() + members.len().saturating_sub(1)
    };
    if joined_len(&members) > MAX_TRACESTATE {
        changed = true;
        members.retain(|m| m.len() <= LONG_MEMBER);
        while joined_len(&members) > MAX_TRACESTATE {
            members.pop();
        }
        if members.is_empty() {
            return None;
        }
    }
    if !changed {
        return Some(Cow::Borrowed(text));
    }
    Some(Cow::Owned(members.join(",")))
}

/// `00-{trace}-{span}-{flags}`.
pub(crate) fn format_traceparent(trace_id: &[u8; 16], span_id: &[u8; 8], sampled: bool) -> String {
    format!(
        "00-{}-{}-{}",
        hex(trace_id),
        hex(span_id),
        if sampled { "01" } else { "00" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_w3c_rules_hold() {
        let parent = parse_traceparent(GOOD.as_bytes()).unwrap();
        assert_eq!(hex(&parent.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(hex(&parent.span_id), "00f067aa0ba902b7");
        assert_eq!(
            format_traceparent(&parent.trace_id, &parent.span_id, true),
            GOOD
        );
        let unsampled = GOOD.replace("-01", "-00");
        assert!(!parse_traceparent(unsampled.as_bytes()).unwrap().sampled);
        // A later version may carry more fields; whitespace around is fine.
        let future = format!("{}-extra", GOOD.replacen("00", "cc", 1));
        assert!(parse_traceparent(future.as_bytes()).is_some());
        assert!(parse_traceparent(format!(" \t{GOOD} ").as_bytes()).is_some());
        // Two values folded into one header are no value at all.
        assert!(parse_traceparent(format!("{future},{future}").as_bytes()).is_none());
        for bad in [
            "",
            "00",
            &GOOD.to_uppercase(),
            &GOOD.replacen("00", "ff", 1),
            &format!("{GOOD}-extra"),
            &GOOD.replace("4bf92f3577b34da6a3ce929d0e0e4736", &"0".repeat(32)),
            &GOOD.replace("00f067aa0ba902b7", &"0".repeat(16)),
            &GOOD.replace('-', "_"),
            &GOOD.replace("4bf9", "4bg9"),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
        ] {
            assert!(parse_traceparent(bad.as_bytes()).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn tracestate_follows_the_w3c_rules() {
        let ok = |input: &str, output: &str| {
            assert_eq!(
                accept_tracestate(input.as_bytes()).as_deref(),
                Some(output),
                "{input:?}"
            );
        };
        let discarded = |input: &str| {
            assert_eq!(accept_tracestate(input.as_bytes()), None, "{input:?}");
        };
        ok("congo=t61rcWkgMzE", "congo=t61rcWkgMzE");
        ok(
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        );
        ok("foo=1 , bar=2", "foo=1,bar=2");
        ok("\tfoo=1,\t, ,bar=2 ", "foo=1,bar=2");
        ok("foo=1,foo=2", "foo=1");
        ok(
            "fw529a3039@dt=CgWVaQ8JAoGnTEV2c3d1hdk",
            "fw529a3039@dt=CgWVaQ8JAoGnTEV2c3d1hdk",
        );
        ok("0tenant@vendor=x", "0tenant@vendor=x");
        // Level 2 keys: `@` anywhere after the first character, a digit
        // first, no tenant or system limits.
        for key in ["foo@", "foo@@bar", "foo@bar@baz", "1foo", "foo@1bar"] {
            ok(&format!("{key}=1"), &format!("{key}=1"));
        }
        let long = format!("{}@v=1", "t".repeat(242));
        ok(&long, &long);
        let system = format!("t@{}=1", "s".repeat(15));
        ok(&system, &system);
        let longest = format!("{}=1", "k".repeat(256));
        ok(&longest, &longest);
        ok("k*/_-=with space inside", "k*/_-=with space inside");
        ok(
            &format!("a={}", "v".repeat(256)),
            &format!("a={}", "v".repeat(256)),
        );
        let max: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
        ok(&max.join(","), &max.join(","));
        for bad in [
            "",
            " , ",
            "Foo=1",
            "foo",
            "foo=",
            "=1",
            "foo=1=2",
            "foo=a\u{7f}",
            "foo=a\r\nb",
            "@foo=1",
            "foo@Bar=1",
            "_foo=1",
            "foo=1,bar",
        ] {
            discarded(bad);
        }
        discarded(&format!("a={}", "v".repeat(257)));
        discarded(&format!("{}=1", "k".repeat(257)));
        let too_many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        discarded(&too_many.join(","));
    }

    #[test]
    fn long_tracestate_loses_long_members_first_then_the_tail() {
        let long = format!("long={}", "x".repeat(200));
        let members: Vec<String> = (0..20)
            .map(|i| format!("k{i:02}=vvvvvvvvvvvvvvvvvv"))
            .collect();
        let input = format!(
            "{},{long},{}",
            members[..10].join(","),
            members[10..].join(",")
        );
        let kept = accept_tracestate(input.as_bytes()).expect("valid list");
        assert!(kept.len() <= MAX_TRACESTATE, "{}", kept.len());
        assert!(!kept.contains("long="), "{kept}");
        assert!(kept.starts_with("k00="), "{kept}");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_traceparent(&bytes);
            let _ = accept_tracestate(&bytes);
            if let Some(state) = accept_tracestate(&bytes) {
                // What is passed on is itself a valid, normalized list.
                let again = accept_tracestate(state.as_bytes());
                prop_assert_eq!(again.as_deref(), Some(&*state));
                prop_assert!(state.len() <= MAX_TRACESTATE);
            }
        }

        #[test]
        fn near_misses_of_a_valid_header_never_panic(
            index in 0usize..55,
            byte in any::<u8>(),
        ) {
            let mut bytes = GOOD.as_bytes().to_vec();
            bytes[index] = byte;
            if let Some(parent) = parse_traceparent(&bytes) {
                // Whatever parses re-formats to a valid header.
                let again = format_traceparent(&parent.trace_id, &parent.span_id, parent.sampled);
                prop_assert!(parse_traceparent(again.as_bytes()).is_some());
            }
        }
    }
}
