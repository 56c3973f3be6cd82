//! W3C Trace Context (`traceparent`, `tracestate`): parsing what callers
//! send, strictly. A malformed header is ignored (a new trace starts),
//! never an error.

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

fn decode<const N: usize>(hex: &[u8]) -> Option<[u8; N]> {
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
    if value.len() < 55 {
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

/// The `tracestate` to pass on: printable ASCII up to [`MAX_TRACESTATE`]
/// bytes, else nothing.
pub fn accept_tracestate(value: &[u8]) -> Option<&str> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > MAX_TRACESTATE {
        return None;
    }
    if !value.iter().all(|b| (0x20..=0x7e).contains(b)) {
        return None;
    }
    std::str::from_utf8(value).ok()
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
        // A later version may carry more fields.
        let future = format!("{}-extra", GOOD.replacen("00", "cc", 1));
        assert!(parse_traceparent(future.as_bytes()).is_some());
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
    fn tracestate_is_bounded_and_printable() {
        assert_eq!(
            accept_tracestate(b"congo=t61rcWkgMzE"),
            Some("congo=t61rcWkgMzE")
        );
        assert_eq!(accept_tracestate(&[b'a'; MAX_TRACESTATE + 1]), None);
        assert_eq!(accept_tracestate(b"a=\r\nb"), None);
        assert_eq!(accept_tracestate(b""), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_traceparent(&bytes);
            let _ = accept_tracestate(&bytes);
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
