//! The protocol buffers wire format, as much of it as the exposition
//! needs: varints, zigzag integers, doubles, strings, nested and packed
//! fields, and the length-delimited framing of a stream of messages.
//!
//! A nested message is written in place after one byte kept for its
//! length, which nearly every message fits; a longer one moves its own
//! bytes once to make room for the rest of the varint. No size pass and no
//! scratch buffer per message is needed.

/// Wire types (the low three bits of a field's key).
const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LEN: u64 = 2;
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
const FIXED32: u64 = 5;

/// Bytes of the longest varint (a `u64`).
const MAX_VARINT: usize = 10;

/// Appends protobuf fields to a byte buffer.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    // Always inlined: a call per varint cost more than the varint (most
    // are one byte: keys, lengths, small counts).
    #[inline(always)]
    fn varint(&mut self, value: u64) {
        // Keys, lengths and most counts fit one byte.
        if value < 0x80 {
            self.buf.push(value as u8);
        } else {
            let mut bytes = [0u8; MAX_VARINT];
            let n = encode_varint(value, &mut bytes);
            self.buf.extend_from_slice(&bytes[..n]);
        }
    }

    /// Bytes written elsewhere, as they are (fields of the message being
    /// written).
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    #[inline]
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The key and length of a length-delimited field (a string, bytes or
    /// a message) whose `len` bytes the caller writes next: for a message
    /// whose size is known before it is written, which then is not moved
    /// to make room for its length.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    #[inline]
    pub(crate) fn len_header(&mut self, field: u32, len: usize) {
        self.key(field, LEN);
        self.varint(len as u64);
    }

    #[inline(always)]
    fn key(&mut self, field: u32, wire: u64) {
        self.varint((u64::from(field) << 3) | wire);
    }

    /// A `uint64` or `uint32` field.
    #[inline]
    pub(crate) fn uint64(&mut self, field: u32, value: u64) {
        self.key(field, VARINT);
        self.varint(value);
    }

    /// An `int64` field (two's complement: ten bytes when negative), and
    /// `int32` or enum fields, which protobuf sign-extends the same way.
    #[inline]
    pub(crate) fn int64(&mut self, field: u32, value: i64) {
        self.key(field, VARINT);
        self.varint(value as u64);
    }

    /// A `sint32` field (zigzag).
    pub(crate) fn sint32(&mut self, field: u32, value: i32) {
        self.key(field, VARINT);
        self.varint(u64::from(zigzag32(value)));
    }

    /// A `double` field.
    #[inline]
    pub(crate) fn double(&mut self, field: u32, value: f64) {
        self.key(field, FIXED64);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    /// A `string` field.
    #[inline]
    pub(crate) fn string(&mut self, field: u32, value: &str) {
        self.key(field, LEN);
        self.varint(value.len() as u64);
        self.buf.extend_from_slice(value.as_bytes());
    }

    /// An embedded message field whose fields `write` appends.
    pub(crate) fn message<R>(&mut self, field: u32, write: impl FnOnce(&mut Self) -> R) -> R {
        self.key(field, LEN);
        self.length_prefixed(write)
    }

    /// A packed `repeated sint64` field; nothing for no values.
    pub(crate) fn packed_sint64(&mut self, field: u32, values: &[i64]) {
        if values.is_empty() {
            return;
        }
        self.message(field, |w| {
            for value in values {
                w.varint(zigzag64(*value));
            }
        });
    }

    /// A `fixed64` field (OTLP's timestamps and counts).
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    #[inline]
    pub(crate) fn fixed64(&mut self, field: u32, value: u64) {
        self.key(field, FIXED64);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    /// A `fixed32` field.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    #[inline]
    pub(crate) fn fixed32(&mut self, field: u32, value: u32) {
        self.key(field, FIXED32);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    /// A `bytes` field.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    #[inline]
    pub(crate) fn bytes(&mut self, field: u32, value: &[u8]) {
        self.key(field, LEN);
        self.varint(value.len() as u64);
        self.buf.extend_from_slice(value);
    }

    /// An embedded message field whose encoding is `bytes` already.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    #[inline]
    pub(crate) fn raw_message(&mut self, field: u32, bytes: &[u8]) {
        self.bytes(field, bytes);
    }

    /// Bytes written so far.
    #[cfg(all(test, feature = "otlp"))]
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Drops what was written after `len` bytes.
    #[cfg(all(test, feature = "otlp"))]
    pub(crate) fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// A packed `repeated fixed64` field; nothing for no values.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(crate) fn packed_fixed64(&mut self, field: u32, values: &[u64]) {
        self.packed_eight_bytes(field, values.iter().map(|v| v.to_le_bytes()));
    }

    /// A packed `repeated double` field; nothing for no values.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(crate) fn packed_double(&mut self, field: u32, values: &[f64]) {
        self.packed_eight_bytes(field, values.iter().map(|v| v.to_le_bytes()));
    }

    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    fn packed_eight_bytes(&mut self, field: u32, values: impl ExactSizeIterator<Item = [u8; 8]>) {
        if values.len() == 0 {
            return;
        }
        self.key(field, LEN);
        self.varint(values.len() as u64 * 8);
        for value in values {
            self.buf.extend_from_slice(&value);
        }
    }

    /// A packed `repeated uint64` field; nothing for no values.
    #[cfg_attr(not(any(feature = "profiling", feature = "otlp")), allow(dead_code))]
    pub(crate) fn packed_uint64(&mut self, field: u32, values: &[u64]) {
        if values.is_empty() {
            return;
        }
        self.message(field, |w| {
            for value in values {
                w.varint(*value);
            }
        });
    }

    /// A packed `repeated int64` field (two's complement); nothing for no
    /// values.
    #[cfg_attr(not(feature = "profiling"), allow(dead_code))]
    pub(crate) fn packed_int64(&mut self, field: u32, values: &[i64]) {
        if values.is_empty() {
            return;
        }
        self.message(field, |w| {
            for value in values {
                w.varint(*value as u64);
            }
        });
    }

    /// One message of a delimited stream: its length as a varint, then the
    /// message (what `encoding=delimited` means in the media type).
    pub(crate) fn delimited<R>(&mut self, write: impl FnOnce(&mut Self) -> R) -> R {
        self.length_prefixed(write)
    }

    fn length_prefixed<R>(&mut self, write: impl FnOnce(&mut Self) -> R) -> R {
        // One byte holds lengths below 128.
        self.buf.push(0);
        let start = self.buf.len();
        let result = write(self);
        let length = (self.buf.len() - start) as u64;
        let mut prefix = [0u8; MAX_VARINT];
        let n = encode_varint(length, &mut prefix);
        self.buf[start - 1] = prefix[0];
        if n > 1 {
            // One move of the message's bytes (a memmove), not a rotation.
            self.buf.splice(start..start, prefix[1..n].iter().copied());
        }
        result
    }
}

/// The bytes `value` takes as a varint.
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Writes `value` as a varint into `out`; returns the bytes used.
fn encode_varint(mut value: u64, out: &mut [u8; MAX_VARINT]) -> usize {
    let mut n = 0;
    while value >= 0x80 {
        out[n] = (value as u8) | 0x80;
        value >>= 7;
        n += 1;
    }
    out[n] = value as u8;
    n + 1
}

fn zigzag32(value: i32) -> u32 {
    ((value << 1) ^ (value >> 31)) as u32
}

fn zigzag64(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(write: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::default();
        write(&mut w);
        w.into_bytes()
    }

    #[test]
    fn varint_lengths_are_what_is_written() {
        for value in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let written = bytes(|w| w.uint64(1, value));
            assert_eq!(varint_len(value), written.len() - 1, "{value}");
        }
    }

    #[test]
    fn varints_and_zigzag_match_the_protobuf_examples() {
        // The encoding guide's examples: 150 is 96 01; field 1 varint 150
        // is 08 96 01.
        assert_eq!(bytes(|w| w.uint64(1, 150)), [0x08, 0x96, 0x01]);
        assert_eq!(bytes(|w| w.uint64(1, 1)), [0x08, 0x01]);
        assert_eq!(bytes(|w| w.uint64(2, u64::MAX)).len(), 1 + 10);
        // Zigzag: 0 → 0, -1 → 1, 1 → 2, -2 → 3, i32::MIN → u32::MAX.
        assert_eq!(
            [0, -1, 1, -2, 2147483647, -2147483648].map(zigzag32),
            [0, 1, 2, 3, 4294967294, 4294967295]
        );
        assert_eq!([0, -1, 1, -2].map(zigzag64), [0, 1, 2, 3]);
        assert_eq!(bytes(|w| w.sint32(1, -2)), [0x08, 0x03]);
        // A negative int64 takes ten bytes.
        assert_eq!(bytes(|w| w.int64(3, -1)).len(), 1 + 10);
    }

    #[test]
    fn strings_doubles_and_nested_messages_are_length_prefixed() {
        // The guide's example: field 2, "testing" is 12 07 74 65 73 74 69 6e 67.
        assert_eq!(
            bytes(|w| w.string(2, "testing")),
            [0x12, 0x07, b't', b'e', b's', b't', b'i', b'n', b'g']
        );
        let mut double = vec![0x09];
        double.extend_from_slice(&1.5f64.to_le_bytes());
        assert_eq!(bytes(|w| w.double(1, 1.5)), double);
        // Field 3 holding {field 1: 150} is 1a 03 08 96 01.
        assert_eq!(
            bytes(|w| w.message(3, |m| m.uint64(1, 150))),
            [0x1a, 0x03, 0x08, 0x96, 0x01]
        );
        // A body of 200 bytes needs a two-byte length, put in front of it.
        let long = "x".repeat(197);
        let out = bytes(|w| w.delimited(|m| m.string(1, &long)));
        assert_eq!(&out[..2], [200 | 0x80, 0x01]);
        assert_eq!(&out[2..5], [0x0a, 197 | 0x80, 0x01]);
        assert_eq!(out.len(), 2 + 200);
    }

    #[test]
    fn packed_fields_hold_zigzag_values() {
        assert_eq!(
            bytes(|w| w.packed_sint64(13, &[1, -1, 2])),
            [0x6a, 0x03, 0x02, 0x01, 0x04]
        );
        assert!(bytes(|w| w.packed_sint64(13, &[])).is_empty());
    }
}
