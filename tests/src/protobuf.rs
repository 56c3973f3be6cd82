//! A reader of the Prometheus protobuf exposition (length-delimited
//! `io.prometheus.client.MetricFamily` messages), on prost's wire
//! decoding rather than observe's own code, turned into the samples a text
//! scraper would see so the two formats can be compared.

use std::collections::BTreeMap;

use prost::bytes::Buf;
use prost::encoding::{WireType, decode_key, decode_varint};

use crate::Sample;

/// `MetricType` values.
pub const COUNTER: u64 = 0;
/// `GAUGE`.
pub const GAUGE: u64 = 1;
/// `UNTYPED`.
pub const UNTYPED: u64 = 3;
/// `HISTOGRAM`.
pub const HISTOGRAM: u64 = 4;

/// One decoded `MetricFamily`.
#[derive(Debug, Clone, Default)]
pub struct Family {
    /// `name`.
    pub name: String,
    /// `help`.
    pub help: String,
    /// `type`.
    pub kind: u64,
    /// `unit`.
    pub unit: String,
    /// `metric`.
    pub metrics: Vec<Metric>,
}

/// One decoded `Metric`.
#[derive(Debug, Clone, Default)]
pub struct Metric {
    /// `label`, by name.
    pub labels: BTreeMap<String, String>,
    /// The value of its `counter`, `gauge` or `untyped`.
    pub value: Option<f64>,
    /// Its `histogram`.
    pub histogram: Option<Histogram>,
}

/// One decoded `Histogram`.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    /// `sample_count`.
    pub count: u64,
    /// `sample_sum`.
    pub sum: f64,
    /// `bucket`: upper bound and cumulative count.
    pub buckets: Vec<(f64, u64)>,
    /// `schema`, when set (a native histogram).
    pub schema: Option<i64>,
    /// `zero_threshold`.
    pub zero_threshold: f64,
    /// `zero_count`.
    pub zero_count: u64,
    /// `positive_span`: offset and length.
    pub spans: Vec<(i64, u64)>,
    /// `positive_delta`.
    pub deltas: Vec<i64>,
}

impl Histogram {
    /// The native buckets as `(index, count)`, from the spans and deltas.
    pub fn native_buckets(&self) -> Vec<(i64, u64)> {
        let mut out = Vec::new();
        let mut deltas = self.deltas.iter();
        let (mut index, mut count) = (0i64, 0i64);
        for (i, (offset, length)) in self.spans.iter().enumerate() {
            index += offset + if i == 0 { 0 } else { 1 };
            for step in 0..*length {
                if step > 0 {
                    index += 1;
                }
                count += deltas.next().expect("a delta per bucket");
                out.push((
                    index,
                    u64::try_from(count).expect("counts are not negative"),
                ));
            }
        }
        assert!(deltas.next().is_none(), "more deltas than buckets");
        out
    }
}

enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
}

fn fields(mut buf: &[u8]) -> Vec<(u32, Value<'_>)> {
    let mut out = Vec::new();
    while buf.has_remaining() {
        let (tag, wire) = decode_key(&mut buf).expect("a field key");
        let value = match wire {
            WireType::Varint => Value::Varint(decode_varint(&mut buf).expect("a varint")),
            WireType::SixtyFourBit => Value::Fixed64(buf.get_u64_le()),
            WireType::LengthDelimited => {
                let len =
                    usize::try_from(decode_varint(&mut buf).expect("a length")).expect("a length");
                let (body, rest) = buf.split_at(len);
                buf = rest;
                Value::Bytes(body)
            }
            other => panic!("unexpected wire type {other:?}"),
        };
        out.push((tag, value));
    }
    out
}

fn string(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

fn zigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Every family of a delimited stream.
pub fn decode(mut bytes: &[u8]) -> Vec<Family> {
    let mut families = Vec::new();
    while bytes.has_remaining() {
        let len = usize::try_from(decode_varint(&mut bytes).expect("a message length"))
            .expect("a length");
        let (body, rest) = bytes.split_at(len);
        bytes = rest;
        let mut family = Family::default();
        for (tag, value) in fields(body) {
            match (tag, value) {
                (1, Value::Bytes(b)) => family.name = string(b),
                (2, Value::Bytes(b)) => family.help = string(b),
                (3, Value::Varint(v)) => family.kind = v,
                (4, Value::Bytes(b)) => family.metrics.push(metric(b)),
                (5, Value::Bytes(b)) => family.unit = string(b),
                (tag, _) => panic!("unexpected MetricFamily field {tag}"),
            }
        }
        families.push(family);
    }
    families
}

fn metric(bytes: &[u8]) -> Metric {
    let mut metric = Metric::default();
    for (tag, value) in fields(bytes) {
        match (tag, value) {
            (1, Value::Bytes(b)) => {
                let (mut name, mut value) = (String::new(), String::new());
                for (tag, field) in fields(b) {
                    match (tag, field) {
                        (1, Value::Bytes(b)) => name = string(b),
                        (2, Value::Bytes(b)) => value = string(b),
                        (tag, _) => panic!("unexpected LabelPair field {tag}"),
                    }
                }
                metric.labels.insert(name, value);
            }
            // Gauge, Counter, Untyped: `value = 1` (a counter's exemplar
            // is field 2).
            (2 | 3 | 5, Value::Bytes(b)) => {
                for (tag, field) in fields(b) {
                    if let (1, Value::Fixed64(v)) = (tag, field) {
                        metric.value = Some(f64::from_bits(v));
                    }
                }
                metric.value.get_or_insert(0.0);
            }
            (7, Value::Bytes(b)) => metric.histogram = Some(histogram(b)),
            (tag, _) => panic!("unexpected Metric field {tag}"),
        }
    }
    metric
}

fn histogram(bytes: &[u8]) -> Histogram {
    let mut h = Histogram::default();
    for (tag, value) in fields(bytes) {
        match (tag, value) {
            (1, Value::Varint(v)) => h.count = v,
            (2, Value::Fixed64(v)) => h.sum = f64::from_bits(v),
            (3, Value::Bytes(b)) => {
                let (mut bound, mut count) = (0.0, 0);
                for (tag, field) in fields(b) {
                    match (tag, field) {
                        (1, Value::Varint(v)) => count = v,
                        (2, Value::Fixed64(v)) => bound = f64::from_bits(v),
                        _ => {}
                    }
                }
                h.buckets.push((bound, count));
            }
            (5, Value::Varint(v)) => h.schema = Some(zigzag(v)),
            (6, Value::Fixed64(v)) => h.zero_threshold = f64::from_bits(v),
            (7, Value::Varint(v)) => h.zero_count = v,
            (12, Value::Bytes(b)) => {
                let (mut offset, mut length) = (0, 0);
                for (tag, field) in fields(b) {
                    match (tag, field) {
                        (1, Value::Varint(v)) => offset = zigzag(v),
                        (2, Value::Varint(v)) => length = v,
                        (tag, _) => panic!("unexpected BucketSpan field {tag}"),
                    }
                }
                h.spans.push((offset, length));
            }
            (13, Value::Bytes(mut packed)) => {
                while packed.has_remaining() {
                    h.deltas
                        .push(zigzag(decode_varint(&mut packed).expect("a delta")));
                }
            }
            (13, Value::Varint(v)) => h.deltas.push(zigzag(v)),
            (tag, _) => panic!("unexpected Histogram field {tag}"),
        }
    }
    h
}

impl Family {
    /// The samples a text scraper sees for this family (a histogram's
    /// `_bucket` with `+Inf`, `_sum` and `_count`), `le` written as Rust
    /// writes an `f64` with `{:?}`.
    pub fn samples(&self) -> Vec<Sample> {
        let mut out = Vec::new();
        for metric in &self.metrics {
            let sample = |name: String, labels: BTreeMap<String, String>, value: f64| Sample {
                name,
                labels,
                value,
            };
            match &metric.histogram {
                None => out.push(sample(
                    self.name.clone(),
                    metric.labels.clone(),
                    metric.value.expect("a value"),
                )),
                Some(h) => {
                    let bounds = h
                        .buckets
                        .iter()
                        .map(|(bound, count)| (format!("{bound:?}"), *count))
                        .chain([("+Inf".to_string(), h.count)]);
                    for (le, count) in bounds {
                        let mut labels = metric.labels.clone();
                        labels.insert("le".into(), le);
                        out.push(sample(
                            format!("{}_bucket", self.name),
                            labels,
                            count as f64,
                        ));
                    }
                    out.push(sample(
                        format!("{}_sum", self.name),
                        metric.labels.clone(),
                        h.sum,
                    ));
                    out.push(sample(
                        format!("{}_count", self.name),
                        metric.labels.clone(),
                        h.count as f64,
                    ));
                }
            }
        }
        out
    }
}
