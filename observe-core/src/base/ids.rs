//! Ids: trace and span ids (made here or continued from a caller), their
//! hex forms, and request ids.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::ascii::Buffer;

/// The ids of a request's server span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceIds {
    /// The trace id.
    pub trace_id: [u8; 16],
    /// The request's own span id.
    pub span_id: [u8; 8],
    /// Whether the trace is sampled (recorded and exported).
    pub sampled: bool,
}

impl TraceIds {
    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The span id as 16 lowercase hex digits.
    pub fn span_id_hex(&self) -> String {
        hex(&self.span_id)
    }

    /// Appends the trace id, quoted, to a JSON line (no allocation).
    pub(crate) fn write_trace_id(&self, out: &mut String) {
        push_quoted_hex(out, &self.trace_id);
    }

    /// Appends the span id, quoted, to a JSON line (no allocation).
    pub(crate) fn write_span_id(&self, out: &mut String) {
        push_quoted_hex(out, &self.span_id);
    }

    /// Fresh ids for a request nobody sent a `traceparent` for.
    pub(crate) fn new_root() -> Self {
        Self {
            trace_id: new_trace_id(),
            span_id: new_span_id(),
            sampled: false,
        }
    }
}

/// A request id: the caller's when it was sane, else 32 hex digits made
/// here, kept inline (no allocation for the usual, generated case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestId {
    /// Made here: 32 lowercase hex digits (aligned: read as text without
    /// a byte-by-byte check).
    Generated(Buffer<32>),
    /// Sent by the caller (or a middleware before ours), checked sane.
    Given(Box<str>),
}

impl RequestId {
    /// A fresh request id: 32 hex digits, unique in the process and across
    /// processes (a per-process random seed mixed with a counter). Not
    /// secret: it is echoed to the caller, so it comes from a generator of
    /// its own and says nothing about the trace ids to come.
    pub(crate) fn new() -> Self {
        let mut digits = Buffer::<32>::new();
        let (high, low) = digits.bytes_mut().split_at_mut(16);
        write_hex(&unique().to_be_bytes(), high);
        write_hex(&unique().to_be_bytes(), low);
        Self::Generated(digits)
    }

    /// The id's bytes: visible ASCII, a header value as it is.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Generated(digits) => digits.bytes(),
            Self::Given(id) => id.as_bytes(),
        }
    }

    /// The id as text.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Hex digits only: always UTF-8.
            Self::Generated(digits) => digits.as_str(0..),
            Self::Given(id) => id,
        }
    }
}

/// Writes the lowercase hex digits of `bytes` into `out`, two at a time,
/// as far as `out` holds them (two bytes of `out` per byte).
pub(crate) fn write_hex(bytes: &[u8], out: &mut [u8]) {
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(*byte)]);
    }
}

/// The two hex digits of every byte.
const HEX_PAIRS: [[u8; 2]; 256] = {
    let mut pairs = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        pairs[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    pairs
};

/// 64 bits that differ every call: a random seed mixed with a counter
/// (SplitMix64's finaliser), a few instructions. Unique, not unpredictable.
fn unique() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(u64::from(std::process::id()));
        h.finish()
    });
    let mut z = seed
        ^ COUNTER
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

/// Appends lowercase hex of up to 16 bytes, through a stack buffer.
fn push_hex(out: &mut String, bytes: &[u8]) {
    let mut digits = Buffer::<32>::new();
    let bytes = &bytes[..bytes.len().min(16)];
    write_hex(bytes, digits.bytes_mut());
    // The digits start at the buffer's aligned start.
    out.push_str(&digits.as_str(0..)[..bytes.len() * 2]);
}

/// Appends `"hex"`.
pub(crate) fn push_quoted_hex(out: &mut String, bytes: &[u8]) {
    out.push('"');
    push_hex(out, bytes);
    out.push('"');
}

/// 64 random bits: wyrand, one generator per thread, each seeded from the
/// operating system's randomness (std's `RandomState`) and the thread's
/// own count, so no two threads share a sequence. Random as W3C Trace
/// Context asks of trace ids (uniform, so a ratio sampler's share holds),
/// though not secret: like OpenTelemetry's own id generator (a small
/// non-cryptographic generator), it costs a multiplication, not a hash.
fn next_random() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }
    STATE.with(|state| {
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let product = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        (product >> 64) as u64 ^ product as u64
    })
}

/// A thread's seed: a fresh `RandomState` (keys from the operating system,
/// advanced per instance) hashing a process-wide count.
fn seed() -> u64 {
    use std::hash::BuildHasher;
    static THREADS: AtomicU64 = AtomicU64::new(0);
    std::collections::hash_map::RandomState::new().hash_one(THREADS.fetch_add(1, Ordering::Relaxed))
}

/// A new trace id (never all zero).
pub(crate) fn new_trace_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&next_random().to_be_bytes());
    id[8..].copy_from_slice(&(next_random() | 1).to_be_bytes());
    id
}

/// A new span id (never all zero).
pub(crate) fn new_span_id() -> [u8; 8] {
    (next_random() | 1).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_distinct_and_nonzero() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| new_trace_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| *id != [0; 16]));
        assert_ne!(new_span_id(), [0; 8]);
    }

    #[test]
    fn hex_is_lowercase_and_bounded() {
        assert_eq!(hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
        // Ids are 16 bytes at most.
        assert_eq!(hex(&[0x11; 20]), "11".repeat(16));
        let mut short = [b'-'; 5];
        write_hex(&[0xc0, 0xde, 0x01], &mut short);
        assert_eq!(&short, b"c0de-");
        match RequestId::new() {
            RequestId::Generated(digits) => {
                assert!(
                    digits
                        .bytes()
                        .iter()
                        .all(|d| d.is_ascii_hexdigit() && !d.is_ascii_uppercase())
                );
            }
            RequestId::Given(_) => panic!("a new id is generated"),
        }
    }

    #[test]
    fn threads_draw_different_ids_and_a_ratio_sampler_sees_a_fair_coin() {
        let other: Vec<[u8; 16]> =
            std::thread::spawn(|| (0..100).map(|_| new_trace_id()).collect())
                .join()
                .unwrap_or_default();
        let here: std::collections::HashSet<[u8; 16]> = (0..100).map(|_| new_trace_id()).collect();
        assert_eq!(other.len(), 100);
        assert!(other.iter().all(|id| !here.contains(id)));
        // A ratio sampler reads the low 8 bytes: about half of them fall
        // under the half-way mark.
        let low = (0..10_000)
            .filter(|_| {
                u64::from_be_bytes(new_trace_id()[8..].try_into().unwrap_or_default()) < 1 << 63
            })
            .count();
        assert!((4_700..5_300).contains(&low), "{low} of 10,000");
    }
}
