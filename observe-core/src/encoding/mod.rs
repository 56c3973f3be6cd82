//! Encoding, the layer above the primitives: the exposition formats
//! (Prometheus text 0.0.4, OpenMetrics 1.0.0, the Prometheus protobuf
//! format) and their negotiation.
//!
//! prometheus-client cannot write `_created` samples, which OpenMetrics uses
//! to tell a restarted process's fresh counters from a reset. observe's own
//! families are therefore written by the small encoder in `text`, and the
//! user's [`prometheus_client::registry::Registry`] is appended by
//! prometheus-client's encoder, so one document carries both. The protobuf
//! format writes the HTTP histograms (nearly every series) straight from
//! their series with their native buckets, and reads the rest of the
//! OpenMetrics document back (`parse`) to re-encode it (`protobuf`).

mod negotiate;
pub(crate) mod parse;
pub(crate) mod protobuf;
pub(crate) mod text;

pub use negotiate::negotiate;
pub(crate) use negotiate::negotiate_offering;
pub(crate) use protobuf::{NativeHistograms, NativeSnapshot, ProtobufError};
pub(crate) use text::{
    Exemplar, HistogramSnapshot, counter_header, escape_label_value, float, gauge_header, header,
    histogram_header, write_counter, write_histogram, write_labels, write_sample, write_totals,
};

/// An exposition format.
///
/// Non-exhaustive: exposition formats keep coming (OpenMetrics 2.0 is in
/// the works), and a match on them should not break when one does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// Prometheus text format 0.0.4: the default, understood by every scraper.
    Text,
    /// OpenMetrics 1.0.0 text: adds `_created`, units and `# EOF`.
    OpenMetrics,
    /// The Prometheus protobuf format (length-delimited
    /// `io.prometheus.client.MetricFamily` messages): binary, and the only
    /// format Prometheus 2.x reads native histograms from. Negotiated only
    /// for an `Observe` with
    /// [`native_histograms`](crate::ObserveBuilder::native_histograms) on.
    ///
    /// **Fast, and one source of truth**: the HTTP histogram families
    /// (three series per method, route and status: nearly all of a
    /// scrape) are written straight from their series, with the native
    /// buckets, so a protobuf scrape costs less than an OpenMetrics one
    /// (0.63× for 1,500 label sets, `--bench scrape`). Everything else (a
    /// few dozen series whatever the traffic: the process, the runtime,
    /// observe's own counters, the prometheus-client registry, health
    /// checks) is the OpenMetrics text observe renders anyway, read back by
    /// a small strict parser and re-encoded by a small protobuf writer. So
    /// text and protobuf cannot disagree on a name, a label or a value (the
    /// tests decode the protobuf with prost and compare sample for sample,
    /// and hold the direct histograms to the read-back path's bytes).
    /// No crate does it: prost would pull prost-derive and syn for a dozen
    /// fields, and prometheus-client's protobuf encoder encodes only its
    /// own registry types and pulls prost-build. The mapping:
    ///
    /// | OpenMetrics | protobuf |
    /// |---|---|
    /// | counter `x` (`x_total`) | `COUNTER` named `x_total` (as client_golang names it; Prometheus reads a counter's series name from the family name) |
    /// | gauge | `GAUGE` |
    /// | stateset | `GAUGE`, one series per state (0 or 1) |
    /// | info `x` (`x_info`) | `GAUGE` named `x_info`, value 1 |
    /// | unknown | `UNTYPED` |
    /// | histogram / gaugehistogram | `HISTOGRAM` / `GAUGE_HISTOGRAM`, classic buckets without `+Inf` (the count is that bucket), native buckets as spans and deltas |
    /// | `_created` | dropped (Prometheus 2.42's protobuf has no field for it) |
    /// | exemplars | on the counter or the classic bucket (where Prometheus 2.42 reads a native histogram's exemplars too) |
    ///
    /// A summary (nothing in observe writes one) cannot be encoded: should
    /// the encoding ever fail, the scrape is answered in OpenMetrics, which
    /// such a scraper accepts too, with a WARN line saying why.
    Protobuf,
}

impl Format {
    /// The `Content-Type` header value for a document in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Protobuf => {
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
            }
        }
    }
}

/// A rendered `/metrics` response: what a framework's endpoint sends.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// The `Content-Type` header value.
    pub content_type: &'static str,
    /// The document: UTF-8 text, or binary for [`Format::Protobuf`].
    pub body: Vec<u8>,
}

impl Scrape {
    /// The document as text, for the text formats (a test, a log, a
    /// file). A binary document comes back with its invalid bytes
    /// replaced, so check [`content_type`](Self::content_type) first where
    /// the format was negotiated.
    pub fn into_text(self) -> String {
        String::from_utf8(self.body)
            .unwrap_or_else(|binary| String::from_utf8_lossy(binary.as_bytes()).into_owned())
    }
}
