//! The families `/metrics` serves, pushed as an OTLP
//! `ExportMetricsServiceRequest` every `OTEL_METRIC_EXPORT_INTERVAL`.
//!
//! The request is built from the same OpenMetrics document a scrape gets
//! (read back as the protobuf exposition is), so a push and a scrape agree
//! on every count. Mapping:
//! - names and units: the HTTP and gRPC families take their OpenTelemetry
//!   names (`http.server.request.duration` in `s`,
//!   `http.server.request.body.size` and `…response.body.size` in `By`,
//!   `http.server.active_requests`, `rpc.server.call.duration`) and their
//!   labels their attribute names (`http.request.method`, `http.route`,
//!   `http.response.status_code` as an integer, `error.type`, `rpc.*`);
//!   every other family keeps its Prometheus family name (a counter's
//!   without `_total`), its labels, and its unit (`seconds` → `s`, `bytes`
//!   → `By`);
//! - counters → monotonic cumulative `Sum`s whose start time is the
//!   counter's `_created`; gauges, state sets and unknowns → `Gauge`;
//! - histograms → cumulative `Histogram`s with explicit bounds and the
//!   exemplars' trace and span ids, or, for a series with native buckets
//!   (`native_histograms(true)`), a cumulative `ExponentialHistogram` of
//!   the same scale (OpenTelemetry's bucket `i` is Prometheus' `i + 1`);
//! - `target_info` → the resource (`service.name`, `service.version` and
//!   `OTEL_RESOURCE_ATTRIBUTES`), not a metric.
//!
//! It costs requests nothing: the push reads the same atomics a scrape
//! does, on the exporter's own thread.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::proto::{int_attribute, resource, scope, string_attribute};
use super::{Destination, OtlpError, Signal, Transport};
use crate::encoding::parse::{self, Family, Kind, Parser, label_pairs, split_le};
use crate::encoding::protobuf::wire::Writer;
use crate::encoding::{NativeHistograms, NativeSnapshot};
use crate::metrics::Families;
use crate::metrics::signals::counters;

/// The default push interval (the specification's 60 s).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// Families renamed to their OpenTelemetry semantic-convention names.
const SEMCONV: [(&str, &str, &str); 5] = [
    (
        "http_server_request_duration_seconds",
        "http.server.request.duration",
        "s",
    ),
    (
        "http_server_request_body_size_bytes",
        "http.server.request.body.size",
        "By",
    ),
    (
        "http_server_response_body_size_bytes",
        "http.server.response.body.size",
        "By",
    ),
    (
        "http_server_active_requests",
        "http.server.active_requests",
        "{request}",
    ),
    (
        "rpc_server_duration_seconds",
        "rpc.server.call.duration",
        "s",
    ),
];

/// Labels renamed to their attribute names; the `true` ones are integers.
const ATTRIBUTES: [(&str, &str, bool); 10] = [
    ("http_request_method", "http.request.method", false),
    ("http_route", "http.route", false),
    (
        "http_response_status_code",
        "http.response.status_code",
        true,
    ),
    ("error_type", "error.type", false),
    ("url_scheme", "url.scheme", false),
    (
        "network_protocol_version",
        "network.protocol.version",
        false,
    ),
    ("rpc_system", "rpc.system", false),
    ("rpc_service", "rpc.service", false),
    ("rpc_method", "rpc.method", false),
    ("rpc_grpc_status_code", "rpc.grpc.status_code", true),
];

// Field numbers of opentelemetry/proto/metrics/v1/metrics.proto.
mod field {
    pub(super) const RESOURCE_METRICS: u32 = 1;
    pub(super) const SCOPE_METRICS: u32 = 2;
    pub(super) const METRICS: u32 = 2;
    pub(super) const NAME: u32 = 1;
    pub(super) const DESCRIPTION: u32 = 2;
    pub(super) const UNIT: u32 = 3;
    pub(super) const GAUGE: u32 = 5;
    pub(super) const SUM: u32 = 7;
    pub(super) const HISTOGRAM: u32 = 9;
    pub(super) const EXPONENTIAL_HISTOGRAM: u32 = 10;
    pub(super) const DATA_POINTS: u32 = 1;
    pub(super) const TEMPORALITY: u32 = 2;
    pub(super) const MONOTONIC: u32 = 3;
    pub(super) const CUMULATIVE: i64 = 2;
}

/// What one encoding holds, for the exporter's counters.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Encoded {
    pub(crate) body: Vec<u8>,
    pub(crate) data_points: u64,
}

fn unix_nanos(seconds: f64) -> u64 {
    (seconds * 1e9).max(0.0) as u64
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The request for `families` now.
pub(crate) fn encode(families: &Families) -> Result<Encoded, String> {
    let mut natives = NativeHistograms::default();
    let text = families.render_for_export(&mut natives);
    encode_document(&text, &natives, families, now_nanos())
}

fn encode_document(
    text: &str,
    natives: &NativeHistograms,
    families: &Families,
    now: u64,
) -> Result<Encoded, String> {
    let mut w = Writer::with_capacity(text.len() / 2);
    let mut points = 0u64;
    let mut failure = None;
    w.message(field::RESOURCE_METRICS, |rm| {
        resource(rm, &families.service);
        rm.message(field::SCOPE_METRICS, |sm| {
            scope(sm);
            let mut parser = Parser::new(text);
            let mut family = Family::default();
            loop {
                match parser.next_family(&mut family) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(error) => {
                        failure = Some(error.to_string());
                        break;
                    }
                }
                if family.samples.is_empty() || family.name == "target_info" {
                    continue;
                }
                points += write_metric(sm, &family, natives, now);
            }
        });
    });
    match failure {
        Some(error) => Err(error),
        None => Ok(Encoded {
            body: w.into_bytes(),
            data_points: points,
        }),
    }
}

/// The OpenTelemetry name and unit of a family.
fn name_and_unit<'a>(family: &Family<'a>) -> (Cow<'a, str>, Cow<'a, str>) {
    if let Some((_, name, unit)) = SEMCONV.iter().find(|(n, _, _)| *n == family.name) {
        return (Cow::Borrowed(name), Cow::Borrowed(unit));
    }
    let unit = match family.unit {
        Some("seconds") => "s",
        Some("bytes") => "By",
        Some(other) => other,
        None => "",
    };
    (Cow::Borrowed(family.name), Cow::Borrowed(unit))
}

/// The data point's attributes from a label set (`le` already removed).
fn attributes(w: &mut Writer, field: u32, labels: &str) {
    for (name, value) in label_pairs(labels) {
        match ATTRIBUTES.iter().find(|(label, _, _)| *label == name) {
            Some((_, key, true)) => match value.parse::<i64>() {
                Ok(number) => int_attribute(w, field, key, number),
                Err(_) => string_attribute(w, field, key, &value),
            },
            Some((_, key, false)) => string_attribute(w, field, key, &value),
            None => string_attribute(w, field, name, &value),
        }
    }
}

/// Writes one family as a `Metric`; its data points.
fn write_metric(w: &mut Writer, family: &Family<'_>, natives: &NativeHistograms, now: u64) -> u64 {
    let (name, unit) = name_and_unit(family);
    let mut points = 0;
    w.message(field::METRICS, |m| {
        m.string(field::NAME, &name);
        if let Some(help) = &family.help {
            m.string(field::DESCRIPTION, help);
        }
        if !unit.is_empty() {
            m.string(field::UNIT, &unit);
        }
        points = match family.kind {
            Kind::Counter => write_sum(m, family, now),
            Kind::Histogram => write_histogram(m, family, natives, now),
            _ => write_gauge(m, family, now),
        };
    });
    points
}

/// The `_created` sample of the counter sample at `at`: the next line, as
/// OpenMetrics writes them (searched for otherwise), in Unix nanoseconds.
fn created(family: &Family<'_>, at: usize) -> Option<u64> {
    let labels = family.samples[at].labels;
    let is_its = |s: &&parse::Sample<'_>| s.name.ends_with("_created") && s.labels == labels;
    family
        .samples
        .get(at + 1)
        .filter(is_its)
        .or_else(|| family.samples.iter().find(is_its))
        .map(|s| unix_nanos(s.value))
}

fn write_sum(m: &mut Writer, family: &Family<'_>, now: u64) -> u64 {
    let mut points = 0;
    m.message(field::SUM, |sum| {
        for (at, sample) in family.samples.iter().enumerate() {
            if !sample.name.ends_with("_total") {
                continue;
            }
            sum.message(field::DATA_POINTS, |p| {
                attributes(p, 7, sample.labels);
                p.fixed64(2, created(family, at).unwrap_or(0));
                p.fixed64(3, now);
                p.double(4, sample.value);
                if let Some(exemplar) = &sample.exemplar {
                    p.message(5, |e| write_exemplar(e, exemplar, now));
                }
            });
            points += 1;
        }
        sum.int64(field::TEMPORALITY, field::CUMULATIVE);
        sum.uint64(field::MONOTONIC, 1);
    });
    points
}

fn write_gauge(m: &mut Writer, family: &Family<'_>, now: u64) -> u64 {
    let mut points = 0;
    m.message(field::GAUGE, |gauge| {
        for sample in family
            .samples
            .iter()
            .filter(|s| !s.name.ends_with("_created"))
        {
            gauge.message(field::DATA_POINTS, |p| {
                attributes(p, 7, sample.labels);
                p.fixed64(3, now);
                p.double(4, sample.value);
            });
            points += 1;
        }
    });
    points
}

/// One histogram series gathered from its lines.
struct Series<'a> {
    labels: Cow<'a, str>,
    bounds: Vec<f64>,
    cumulative: Vec<u64>,
    exemplars: Vec<parse::Exemplar<'a>>,
    sum: f64,
    count: u64,
    created: u64,
}

fn gather<'a>(family: &Family<'a>) -> Vec<Series<'a>> {
    let mut all: Vec<Series<'a>> = Vec::new();
    for sample in &family.samples {
        let suffix = sample.name.strip_prefix(family.name).unwrap_or_default();
        let (labels, bound) = match suffix {
            "_bucket" => match split_le(sample.labels) {
                Some((labels, le)) => (labels, parse::parse_float(le)),
                None => continue,
            },
            _ => (Cow::Borrowed(sample.labels), None),
        };
        if all.last().is_none_or(|s| s.labels != labels) {
            all.push(Series {
                labels,
                bounds: Vec::new(),
                cumulative: Vec::new(),
                exemplars: Vec::new(),
                sum: 0.0,
                count: 0,
                created: 0,
            });
        }
        let Some(series) = all.last_mut() else {
            continue;
        };
        match (suffix, bound) {
            ("_bucket", Some(bound)) => {
                series.bounds.push(bound);
                series.cumulative.push(sample.value as u64);
                if let Some(exemplar) = sample.exemplar {
                    series.exemplars.push(exemplar);
                }
            }
            ("_sum", _) => series.sum = sample.value,
            ("_count", _) => series.count = sample.value as u64,
            ("_created", _) => series.created = unix_nanos(sample.value),
            _ => {}
        }
    }
    all
}

fn write_histogram(
    m: &mut Writer,
    family: &Family<'_>,
    natives: &NativeHistograms,
    now: u64,
) -> u64 {
    let series = gather(family);
    // A family is exponential when its series have native buckets.
    let exponential = series
        .iter()
        .any(|s| natives.get(family.name, &s.labels).is_some());
    let mut points = 0;
    if exponential {
        m.message(field::EXPONENTIAL_HISTOGRAM, |h| {
            for s in &series {
                let Some(native) = natives.get(family.name, &s.labels) else {
                    continue;
                };
                h.message(field::DATA_POINTS, |p| {
                    write_exponential_point(p, s, native, now)
                });
                points += 1;
            }
            h.int64(field::TEMPORALITY, field::CUMULATIVE);
        });
    } else {
        m.message(field::HISTOGRAM, |h| {
            for s in &series {
                h.message(field::DATA_POINTS, |p| {
                    attributes(p, 9, &s.labels);
                    p.fixed64(2, s.created);
                    p.fixed64(3, now);
                    p.fixed64(4, s.count);
                    p.double(5, s.sum);
                    // Per-bucket counts; the last is +Inf's.
                    let counts: Vec<u64> = s
                        .cumulative
                        .iter()
                        .scan(0u64, |previous, c| {
                            let n = c.saturating_sub(*previous);
                            *previous = *c;
                            Some(n)
                        })
                        .collect();
                    p.packed_fixed64(6, &counts);
                    let bounds: Vec<f64> =
                        s.bounds.iter().copied().filter(|b| b.is_finite()).collect();
                    p.packed_double(7, &bounds);
                    for exemplar in &s.exemplars {
                        p.message(8, |e| write_exemplar(e, exemplar, now));
                    }
                });
                points += 1;
            }
            h.int64(field::TEMPORALITY, field::CUMULATIVE);
        });
    }
    points
}

fn write_exponential_point(p: &mut Writer, s: &Series<'_>, native: &NativeSnapshot, now: u64) {
    attributes(p, 1, &s.labels);
    p.fixed64(2, s.created);
    p.fixed64(3, now);
    // The buckets were read a moment apart from the classic count.
    p.fixed64(4, native.total().max(s.count));
    p.double(5, s.sum);
    p.sint32(6, native.schema);
    p.fixed64(7, native.zero_count);
    if !native.counts.is_empty() {
        p.message(8, |b| {
            // Prometheus' bucket i is (base^(i-1), base^i]; OpenTelemetry's
            // (base^i, base^(i+1)].
            b.sint32(1, native.first_index - 1);
            b.packed_uint64(2, &native.counts);
        });
    }
    for exemplar in &s.exemplars {
        p.message(11, |e| write_exemplar(e, exemplar, now));
    }
    p.double(14, native.zero_threshold);
}

/// An `Exemplar`: its value, time, and the trace and span ids from its
/// labels (the other labels as filtered attributes).
fn write_exemplar(e: &mut Writer, exemplar: &parse::Exemplar<'_>, now: u64) {
    e.fixed64(2, exemplar.timestamp.map_or(now, unix_nanos));
    e.double(3, exemplar.value);
    for (name, value) in label_pairs(exemplar.labels) {
        match name {
            "trace_id" | "span_id" => {
                if let Some(bytes) = hex_bytes(&value) {
                    e.bytes(if name == "trace_id" { 5 } else { 4 }, &bytes);
                }
            }
            _ => string_attribute(e, 7, name, &value),
        }
    }
}

fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Sets up the metrics push: [`Observe::metrics_export`](crate::Observe::metrics_export).
#[derive(Debug)]
#[must_use = "nothing is exported until `init` or `try_init`"]
pub struct MetricsExportBuilder {
    families: Arc<Families>,
    interval: Option<Duration>,
    endpoint: Option<String>,
}

impl MetricsExportBuilder {
    pub(crate) fn new(families: Arc<Families>) -> Self {
        Self {
            families,
            interval: None,
            endpoint: None,
        }
    }

    /// The push interval, instead of `OTEL_METRIC_EXPORT_INTERVAL`.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Exports to this full URL (`http://collector:4318/v1/metrics`)
    /// whatever `OTEL_METRICS_EXPORTER` says; the other settings still come
    /// from the environment.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// [`try_init`](Self::try_init), panicking with the error.
    ///
    /// # Panics
    /// When a setting is wrong; the message names it.
    #[track_caller]
    pub fn init(self) -> MetricsExportGuard {
        match self.try_init() {
            Ok(guard) => guard,
            Err(error) => panic!("{error}"),
        }
    }

    /// Starts pushing when `OTEL_METRICS_EXPORTER=otlp` (or an
    /// [`endpoint`](Self::endpoint) was given); otherwise the guard does
    /// nothing. Errors name the variable and what it accepts.
    pub fn try_init(self) -> Result<MetricsExportGuard, OtlpError> {
        let interval = match self.interval {
            Some(interval) => interval,
            None => match std::env::var("OTEL_METRIC_EXPORT_INTERVAL") {
                Ok(value) if !value.trim().is_empty() => match value.trim().parse::<u64>() {
                    Ok(ms) if (100..=86_400_000).contains(&ms) => Duration::from_millis(ms),
                    _ => {
                        return Err(OtlpError::new(
                            "OTEL_METRIC_EXPORT_INTERVAL",
                            &value,
                            "milliseconds, from 100 to 86400000",
                        ));
                    }
                },
                _ => DEFAULT_INTERVAL,
            },
        };
        let destination = match self.endpoint {
            Some(url) => {
                let url = super::check_url("MetricsExportBuilder::endpoint", &url)?;
                let from_env = super::destination(Signal::Metrics)?;
                Some(Destination {
                    url,
                    ..from_env.unwrap_or(Destination {
                        url: String::new(),
                        headers: Vec::new(),
                        timeout: Duration::from_secs(10),
                        gzip: false,
                    })
                })
            }
            None => {
                if !super::exporter_wanted(Signal::Metrics)?.otlp {
                    return Ok(MetricsExportGuard { stop: None });
                }
                Some(super::destination(Signal::Metrics)?.ok_or_else(|| {
                    OtlpError::new(
                        "OTEL_METRICS_EXPORTER",
                        "otlp",
                        "an endpoint too: set OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                    )
                })?)
            }
        };
        let Some(destination) = destination else {
            return Ok(MetricsExportGuard { stop: None });
        };
        let transport = Transport::new(Signal::Metrics, destination).map_err(|e| {
            OtlpError::new(
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                &e,
                "a client could be built",
            )
        })?;
        let (stop, stopped) = mpsc::channel::<mpsc::Sender<()>>();
        let families = self.families;
        std::thread::Builder::new()
            .name("observe-otlp-metrics".into())
            .spawn(move || push(&families, &transport, interval, &stopped))
            .map_err(|e| OtlpError::new("(thread)", &e.to_string(), "a thread could start"))?;
        Ok(MetricsExportGuard { stop: Some(stop) })
    }
}

/// The exporter thread: a push every `interval`, and a last one when the
/// guard asks.
fn push(
    families: &Families,
    transport: &Transport,
    interval: Duration,
    stopped: &mpsc::Receiver<mpsc::Sender<()>>,
) {
    let export = || match encode(families) {
        Ok(encoded) => {
            if !transport.send(encoded.body) {
                counters()
                    .otlp
                    .dropped(Signal::Metrics.index(), false, encoded.data_points);
            }
        }
        Err(error) => tracing::warn!(target: "observe::otlp", %error, "metrics not exported"),
    };
    loop {
        match stopped.recv_timeout(interval) {
            Err(RecvTimeoutError::Timeout) => export(),
            Ok(done) => {
                export();
                let _ = done.send(());
                return;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Pushes a last time when dropped (waiting at most 10 s): keep it alive
/// for the life of `main`.
#[derive(Debug)]
#[must_use = "dropping the guard stops the push"]
pub struct MetricsExportGuard {
    stop: Option<mpsc::Sender<mpsc::Sender<()>>>,
}

impl MetricsExportGuard {
    /// Whether metrics are being pushed.
    pub fn is_exporting(&self) -> bool {
        self.stop.is_some()
    }
}

impl Drop for MetricsExportGuard {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let (done, finished) = mpsc::channel();
            if stop.send(done).is_ok() {
                let _ = finished.recv_timeout(Duration::from_secs(10));
            }
        }
    }
}

#[cfg(test)]
pub(crate) fn encode_for_test(families: &Families, now: u64) -> Encoded {
    let mut natives = NativeHistograms::default();
    let text = families.render_for_export(&mut natives);
    encode_document(&text, &natives, families, now).expect("encodes")
}
