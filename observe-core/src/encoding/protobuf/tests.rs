//! The protobuf exposition read back with a decoder of the wire format
//! written for these tests, and one family compared byte for byte.

use super::*;

/// A decoded field value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
}

impl<'a> Value<'a> {
    fn bytes(self) -> &'a [u8] {
        match self {
            Value::Bytes(b) => b,
            other => panic!("not length-delimited: {other:?}"),
        }
    }
    fn str(self) -> &'a str {
        std::str::from_utf8(self.bytes()).expect("UTF-8")
    }
    fn u64(self) -> u64 {
        match self {
            Value::Varint(v) => v,
            other => panic!("not a varint: {other:?}"),
        }
    }
    fn sint(self) -> i64 {
        let v = self.u64();
        ((v >> 1) as i64) ^ -((v & 1) as i64)
    }
    fn f64(self) -> f64 {
        match self {
            Value::Fixed64(v) => f64::from_bits(v),
            other => panic!("not a double: {other:?}"),
        }
    }
}

fn varint(bytes: &mut &[u8]) -> u64 {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (byte, rest) = bytes.split_first().expect("varint continues");
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
    }
    panic!("varint over 10 bytes")
}

/// The fields of one message, in order.
fn fields(mut bytes: &[u8]) -> Vec<(u32, Value<'_>)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes);
        let field = u32::try_from(key >> 3).expect("field number");
        let value = match key & 7 {
            0 => Value::Varint(varint(&mut bytes)),
            1 => {
                let (word, rest) = bytes.split_at(8);
                bytes = rest;
                Value::Fixed64(u64::from_le_bytes(word.try_into().expect("8 bytes")))
            }
            2 => {
                let len = usize::try_from(varint(&mut bytes)).expect("length");
                let (body, rest) = bytes.split_at(len);
                bytes = rest;
                Value::Bytes(body)
            }
            other => panic!("wire type {other}"),
        };
        out.push((field, value));
    }
    out
}

fn all<'a>(fields: &[(u32, Value<'a>)], number: u32) -> Vec<Value<'a>> {
    fields
        .iter()
        .filter(|(n, _)| *n == number)
        .map(|(_, v)| *v)
        .collect()
}

fn one<'a>(fields: &[(u32, Value<'a>)], number: u32) -> Value<'a> {
    let found = all(fields, number);
    assert_eq!(found.len(), 1, "field {number} in {fields:?}");
    found[0]
}

/// The messages of a delimited stream.
fn families(mut bytes: &[u8]) -> Vec<Vec<(u32, Value<'_>)>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let len = usize::try_from(varint(&mut bytes)).expect("length");
        let (body, rest) = bytes.split_at(len);
        bytes = rest;
        out.push(fields(body));
    }
    out
}

fn labels(metric: &[(u32, Value<'_>)]) -> Vec<(String, String)> {
    all(metric, 1)
        .into_iter()
        .map(|pair| {
            let pair = fields(pair.bytes());
            (
                one(&pair, 1).str().to_string(),
                one(&pair, 2).str().to_string(),
            )
        })
        .collect()
}

fn encode_plain(text: &str) -> Vec<u8> {
    encode(text, &NativeHistograms::default()).expect("encodes")
}

#[test]
fn a_counter_family_byte_for_byte() {
    let text = "# HELP a_b Help.\n# TYPE a_b counter\na_b_total{x=\"y\"} 2\na_b_created{x=\"y\"} 1.5\n# EOF\n";
    let mut metric = vec![
        0x0a, 0x06, 0x0a, 0x01, b'x', 0x12, 0x01, b'y', 0x1a, 0x09, 0x09,
    ];
    metric.extend_from_slice(&2.0f64.to_le_bytes());
    let mut family = vec![0x0a, 0x09];
    family.extend_from_slice(b"a_b_total");
    family.extend_from_slice(&[0x12, 0x05]);
    family.extend_from_slice(b"Help.");
    family.extend_from_slice(&[0x18, 0x00, 0x22, metric.len() as u8]);
    family.extend_from_slice(&metric);
    let mut expected = vec![family.len() as u8];
    expected.extend_from_slice(&family);
    assert_eq!(encode_plain(text), expected);
}

#[test]
fn every_type_maps_to_its_closest_protobuf_type() {
    let text = "# HELP target Target.\n# TYPE target info\ntarget_info{service_name=\"shop\"} 1\n\
        # HELP flag A flag.\n# TYPE flag stateset\nflag{flag=\"on\"} 1\nflag{flag=\"off\"} 0\n\
        # HELP depth Depth.\n# TYPE depth gauge\ndepth 2.5\n\
        # HELP odd Odd.\n# TYPE odd unknown\nodd 7\n\
        # HELP empty Nothing yet.\n# TYPE empty histogram\n\
        # EOF\n";
    let bytes = encode_plain(text);
    let decoded = families(&bytes);
    let summary: Vec<(&str, u64, usize)> = decoded
        .iter()
        .map(|f| (one(f, 1).str(), one(f, 3).u64(), all(f, 4).len()))
        .collect();
    // GAUGE = 1, UNTYPED = 3; the empty histogram family is left out.
    assert_eq!(
        summary,
        [
            ("target_info", 1, 1),
            ("flag", 1, 2),
            ("depth", 1, 1),
            ("odd", 3, 1)
        ]
    );
    let odd = fields(one(&decoded[3], 4).bytes());
    assert_eq!(one(&fields(one(&odd, 5).bytes()), 1).f64(), 7.0);
    let flag_off = fields(all(&decoded[1], 4)[1].bytes());
    assert_eq!(labels(&flag_off), [("flag".into(), "off".into())]);
    assert_eq!(one(&fields(one(&flag_off, 2).bytes()), 1).f64(), 0.0);
}

const HISTOGRAM: &str = "# HELP d Duration.\n# TYPE d histogram\n# UNIT d seconds\n\
    d_bucket{m=\"GET\",le=\"0.1\"} 1 # {trace_id=\"ab\",span_id=\"cd\"} 0.05 1700000000.250\n\
    d_bucket{m=\"GET\",le=\"1.0\"} 3\nd_bucket{m=\"GET\",le=\"+Inf\"} 4\n\
    d_sum{m=\"GET\"} 5.25\nd_count{m=\"GET\"} 4\nd_created{m=\"GET\"} 1.7e9\n\
    d_bucket{m=\"P\\\"UT\",le=\"0.1\"} 0\nd_bucket{m=\"P\\\"UT\",le=\"1.0\"} 0\nd_bucket{m=\"P\\\"UT\",le=\"+Inf\"} 1\n\
    d_sum{m=\"P\\\"UT\"} 9.0\nd_count{m=\"P\\\"UT\"} 1\n# EOF\n";

#[test]
fn classic_histograms_keep_their_buckets_and_exemplars() {
    let bytes = encode_plain(HISTOGRAM);
    let decoded = families(&bytes);
    assert_eq!(decoded.len(), 1);
    let family = &decoded[0];
    assert_eq!(
        (
            one(family, 1).str(),
            one(family, 3).u64(),
            one(family, 5).str()
        ),
        ("d", 4, "seconds")
    );
    let metrics = all(family, 4);
    assert_eq!(metrics.len(), 2);
    let get = fields(metrics[0].bytes());
    assert_eq!(labels(&get), [("m".into(), "GET".into())]);
    let histogram = fields(one(&get, 7).bytes());
    assert_eq!(one(&histogram, 1).u64(), 4);
    assert_eq!(one(&histogram, 2).f64(), 5.25);
    // No +Inf bucket: the count is that bucket.
    let buckets: Vec<_> = all(&histogram, 3)
        .into_iter()
        .map(|b| fields(b.bytes()))
        .collect();
    let bounds: Vec<(u64, f64)> = buckets
        .iter()
        .map(|b| (one(b, 1).u64(), one(b, 2).f64()))
        .collect();
    assert_eq!(bounds, [(1, 0.1), (3, 1.0)]);
    let exemplar = fields(one(&buckets[0], 3).bytes());
    assert_eq!(
        labels(&exemplar),
        [
            ("trace_id".into(), "ab".into()),
            ("span_id".into(), "cd".into())
        ]
    );
    assert_eq!(one(&exemplar, 2).f64(), 0.05);
    let timestamp = fields(one(&exemplar, 3).bytes());
    assert_eq!(
        (one(&timestamp, 1).u64(), one(&timestamp, 2).u64()),
        (1_700_000_000, 250_000_000)
    );
    // Not a native histogram: no schema, no zero threshold.
    assert!(all(&histogram, 5).is_empty() && all(&histogram, 6).is_empty());
    let put = fields(metrics[1].bytes());
    assert_eq!(labels(&put), [("m".into(), "P\"UT".into())]);
}

#[test]
fn native_buckets_come_from_the_table() {
    let mut natives = NativeHistograms::default();
    natives.insert(
        "d",
        "m=\"GET\"".into(),
        NativeSnapshot {
            schema: 3,
            zero_threshold: 2f64.powi(-20),
            zero_count: 1,
            first_index: -4,
            // Indices -3 and -2, four empty ones, then 3: two spans.
            counts: vec![0, 1, 1, 0, 0, 0, 0, 1],
        },
    );
    // A moment later than the text: one more observation than its count.
    natives.insert(
        "d",
        "m=\"P\\\"UT\"".into(),
        NativeSnapshot {
            schema: 3,
            zero_threshold: 2f64.powi(-20),
            zero_count: 0,
            first_index: 0,
            counts: vec![2],
        },
    );
    let bytes = encode(HISTOGRAM, &natives).expect("encodes");
    let decoded = families(&bytes);
    let metrics = all(&decoded[0], 4);
    let get = fields(one(&fields(metrics[0].bytes()), 7).bytes());
    assert_eq!(one(&get, 5).sint(), 3);
    assert_eq!(one(&get, 6).f64(), 2f64.powi(-20));
    assert_eq!(one(&get, 7).u64(), 1);
    let spans: Vec<(i64, u64)> = all(&get, 12)
        .into_iter()
        .map(|s| {
            let s = fields(s.bytes());
            (one(&s, 1).sint(), one(&s, 2).u64())
        })
        .collect();
    assert_eq!(spans, [(-3, 2), (4, 1)]);
    let mut packed = one(&get, 13).bytes();
    let mut deltas = Vec::new();
    while !packed.is_empty() {
        deltas.push(Value::Varint(varint(&mut packed)).sint());
    }
    assert_eq!(deltas, [1, 0, 0]);
    // The classic buckets stay beside the native ones.
    assert_eq!(all(&get, 3).len(), 2);
    assert_eq!(one(&get, 1).u64(), 4);
    let put = fields(one(&fields(metrics[1].bytes()), 7).bytes());
    assert_eq!(one(&put, 1).u64(), 2, "the count covers the native buckets");
}

#[test]
fn spans_skip_runs_of_empty_buckets() {
    assert_eq!(spans_and_deltas(0, &[]), (vec![], vec![]));
    assert_eq!(spans_and_deltas(-5, &[0, 0, 0]), (vec![], vec![]));
    assert_eq!(spans_and_deltas(0, &[1, 2]), (vec![(0, 2)], vec![1, 1]));
    // Gaps of one and two stay inside the span as zero buckets.
    assert_eq!(
        spans_and_deltas(0, &[1, 0, 3]),
        (vec![(0, 3)], vec![1, -1, 3])
    );
    assert_eq!(
        spans_and_deltas(10, &[1, 0, 0, 1]),
        (vec![(10, 4)], vec![1, -1, 0, 1])
    );
    // Three empty buckets start a new span, the offset being the gap.
    assert_eq!(
        spans_and_deltas(-2, &[0, 5, 0, 0, 0, 2, 2]),
        (vec![(-1, 1), (3, 2)], vec![5, -3, 0])
    );
}

#[test]
fn what_cannot_be_encoded_is_refused_not_guessed() {
    let summary = "# HELP s S.\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\ns_count 1\n";
    assert!(matches!(
        encode_plain_err(summary),
        ProtobufError::Family {
            reason: "summaries are not supported",
            ..
        }
    ));
    let wrong = "# HELP c C.\n# TYPE c counter\nc_bucket 1\n";
    assert!(matches!(
        encode_plain_err(wrong),
        ProtobufError::Family { .. }
    ));
    let no_count = "# HELP d D.\n# TYPE d histogram\nd_bucket{le=\"+Inf\"} 1\nd_sum 1\n";
    assert!(
        encode_plain_err(no_count)
            .to_string()
            .contains("a histogram series without a count")
    );
    assert!(matches!(
        encode_plain_err("a{x=\"1\" 2\n"),
        ProtobufError::Parse(_)
    ));
}

fn encode_plain_err(text: &str) -> ProtobufError {
    encode(text, &NativeHistograms::default()).expect_err("refused")
}
