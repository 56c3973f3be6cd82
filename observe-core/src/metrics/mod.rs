//! Metric families, the layer above encoding: the HTTP server families of
//! the OpenTelemetry semantic conventions, the application families, the
//! process's own metrics and the signals' counters, with the bounds that
//! keep every label value in a fixed set. Each family renders itself
//! through `crate::encoding`.

pub(crate) mod app;
pub(crate) mod console;
pub(crate) mod guard;
pub(crate) mod histogram;
pub(crate) mod http;
pub(crate) mod intern;
pub mod labels;
pub(crate) mod process;
pub(crate) mod request_labels;
pub(crate) mod rpc;
pub(crate) mod runtime;
pub(crate) mod signals;

use std::sync::RwLock;

use prometheus_client::registry::Registry;

use crate::base::service::Service;
use crate::encoding::protobuf::{encode_into, wire::Writer};
use crate::encoding::{Format, NativeHistograms, ProtobufError, escape_label_value, header};

pub(crate) use app::AppMetrics;
pub use app::{CacheResult, CallOutcome, CounterFamily, Gauge, MetricError, StateSet, States};
pub use http::{DEFAULT_DURATION_BUCKETS, DEFAULT_SIZE_BUCKETS};
pub(crate) use http::{HttpMetrics, Observation, Outcome, RouteMetrics, SeriesKey};

const TARGET_INFO: &str = "target_info";

/// Every family of one `Observe`, and who it speaks for.
#[derive(Debug)]
pub(crate) struct Families {
    pub(crate) service: Service,
    /// Constant labels pre-rendered as `,name="value"...` once at build time.
    pub(crate) const_labels: String,
    pub(crate) http: HttpMetrics,
    /// gRPC calls, recorded instead of the HTTP families.
    pub(crate) rpc: rpc::RpcMetrics,
    pub(crate) app: AppMetrics,
    /// The service's own prometheus-client metrics, rendered last.
    pub(crate) registry: RwLock<Registry>,
    /// When the instance was built: the start of its own counts.
    pub(crate) created: f64,
    /// Which of its requests keep their event line.
    pub(crate) event_sampling: crate::base::sampling::EventSampling,
    /// The operator console's windows and request lists, once an admin
    /// listener is set up.
    pub(crate) console: std::sync::OnceLock<console::Console>,
    /// The tokio runtimes serving the requests (saturation).
    pub(crate) runtimes: runtime::Runtimes,
}

impl Families {
    /// The whole document in a text `format` ([`Format::Protobuf`] gives
    /// the OpenMetrics text the protobuf document is encoded from).
    pub(crate) fn render(&self, format: Format) -> String {
        self.render_text(format, None)
    }

    /// The whole document in the protobuf format. The HTTP histogram
    /// families, which hold nearly every series of a scrape (three per
    /// method, route and status), are encoded straight from their series
    /// with their native buckets; the other families (a few dozen series,
    /// whatever the routes: the process, the runtime, observe's own
    /// counters, the service's prometheus-client registry) are their
    /// OpenMetrics text read back, one source of truth for the many
    /// writers of those. Family order and content are the OpenMetrics
    /// document's. On the (never expected) failure, the OpenMetrics text
    /// comes back with the reason, for the caller to serve instead.
    pub(crate) fn render_protobuf(&self) -> Result<Vec<u8>, (String, ProtobufError)> {
        let none = NativeHistograms::default();
        let mut w = Writer::with_capacity(64 * 1024);
        let mut text = String::with_capacity(16 * 1024);
        self.render_target_info(&mut text, Format::OpenMetrics);
        text.push_str("# EOF\n");
        let head = encode_into(&mut w, &text, &none);
        self.http.encode_histograms(&mut w, &self.const_labels);
        text.clear();
        self.render_after_http(&mut text, Format::OpenMetrics);
        text.push_str("# EOF\n");
        match head.and_then(|()| encode_into(&mut w, &text, &none)) {
            Ok(()) => Ok(w.into_bytes()),
            Err(error) => Err((self.render(Format::OpenMetrics), error)),
        }
    }

    /// The OpenMetrics document with the native buckets beside it, for an
    /// OTLP push built from what a scrape sees.
    #[cfg(feature = "otlp")]
    pub(crate) fn render_for_export(&self, natives: &mut NativeHistograms) -> String {
        self.render_text(Format::OpenMetrics, Some(natives))
    }

    pub(crate) fn render_text(
        &self,
        format: Format,
        natives: Option<&mut NativeHistograms>,
    ) -> String {
        // The text writers know the two text formats; protobuf is read
        // back from OpenMetrics.
        let format = match format {
            Format::Text => Format::Text,
            _ => Format::OpenMetrics,
        };
        let mut out = String::with_capacity(16 * 1024);
        self.render_target_info(&mut out, format);
        self.http
            .render_histograms(&mut out, format, &self.const_labels, natives);
        self.render_after_http(&mut out, format);
        if format == Format::OpenMetrics {
            out.push_str("# EOF\n");
        }
        out
    }

    /// Every family after the HTTP histograms, without `# EOF`.
    fn render_after_http(&self, out: &mut String, format: Format) {
        let const_labels = &self.const_labels;
        self.rpc.render(out, format, const_labels);
        let route_overflowed = self
            .http
            .route_overflowed
            .load(std::sync::atomic::Ordering::Relaxed);
        self.app
            .render(out, format, const_labels, route_overflowed, self.created);
        self.http.labels.render(out, format, const_labels);
        process::render(out, format, const_labels);
        self.runtimes
            .render(out, format, const_labels, self.created);
        signals::render(out, format, const_labels);
        if let Some(console) = self.console.get() {
            console.render(out, format, const_labels, self.created);
        }
        self.http.render_active(out, format, const_labels);
        let registry = self.registry.read().unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail; the encoders only propagate
        // fmt::Error from the writer.
        let encoded = match format {
            Format::Text => prometheus_client::encoding::prometheus_text::encode(out, &registry),
            _ => prometheus_client::encoding::text::encode_registry(out, &registry),
        };
        debug_assert!(encoded.is_ok(), "writing to a String does not fail");
    }

    /// `target_info` carries the resource attributes, as the OpenTelemetry
    /// Prometheus exporters do: `deployment.track` as `deployment_track`.
    fn render_target_info(&self, out: &mut String, format: Format) {
        header(
            out,
            format,
            TARGET_INFO,
            "info",
            None,
            "Target metadata: the service this process runs.",
        );
        let service = &self.service;
        out.push_str(TARGET_INFO);
        out.push_str("{service_name=\"");
        escape_label_value(out, &service.name);
        out.push('"');
        if let Some(version) = &service.version {
            out.push_str(",service_version=\"");
            escape_label_value(out, version);
            out.push('"');
        }
        if let Some(commit) = &service.git_commit {
            out.push_str(",git_commit=\"");
            escape_label_value(out, commit);
            out.push('"');
        }
        // The builder checked every key becomes a distinct, valid label.
        for (key, value) in &service.attributes {
            out.push(',');
            out.extend(key.chars().map(|c| if c == '.' { '_' } else { c }));
            out.push_str("=\"");
            escape_label_value(out, value);
            out.push('"');
        }
        out.push_str(&self.const_labels);
        out.push_str("} 1\n");
    }
}
