//! `/metrics` exposition: content negotiation and one coherent document in
//! Prometheus text 0.0.4 or OpenMetrics 1.0.0.
//!
//! prometheus-client cannot write `_created` samples, which OpenMetrics uses
//! to tell a restarted process's fresh counters from a reset. observe's own
//! families are therefore written by the small encoder in this module, and
//! the user's [`prometheus_client::registry::Registry`] is appended by
//! prometheus-client's encoder, so one document carries both.

mod negotiate;
mod writer;

pub use negotiate::negotiate;
pub(crate) use writer::{
    counter_header, escape_label_value, float, gauge_header, histogram_header, write_counter,
    write_histogram, write_labels, write_sample,
};

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4: the default, understood by every scraper.
    Text,
    /// OpenMetrics 1.0.0 text: adds `_created`, units and `# EOF`.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` header value for a document in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// A rendered `/metrics` response: what a framework's endpoint sends.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// The `Content-Type` header value.
    pub content_type: &'static str,
    /// The document.
    pub body: String,
}

impl crate::Observe {
    /// Negotiates the format for an `Accept` header value and renders the
    /// document: the whole of a `/metrics` endpoint but the I/O. CPU work
    /// proportional to the number of series, see [`render`](Self::render).
    ///
    /// ```
    /// let observe = observe_core::Observe::builder().build().unwrap();
    /// let scrape = observe.scrape(Some("application/openmetrics-text; version=1.0.0"));
    /// assert_eq!(scrape.content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
    /// ```
    pub fn scrape(&self, accept: Option<&str>) -> Scrape {
        let format = negotiate(accept);
        Scrape {
            content_type: format.content_type(),
            body: self.render(format),
        }
    }

    /// Renders every metric of this instance in `format`.
    ///
    /// Recording is never blocked for longer than it takes to copy the
    /// pointers to the series; the formatting itself runs without locks on
    /// the hot path. It is CPU work proportional to the number of series, so
    /// async endpoints should call it from a blocking-friendly context (the
    /// framework crates use `spawn_blocking`).
    ///
    /// ```
    /// use observe_core::{Format, Observe};
    /// let observe = Observe::builder().service_name("shop").build().unwrap();
    /// let text = observe.render(Format::OpenMetrics);
    /// assert!(text.ends_with("# EOF\n"));
    /// ```
    pub fn render(&self, format: Format) -> String {
        let mut out = String::with_capacity(16 * 1024);
        writer::write_http(&mut out, self, format);
        let registry = self
            .inner
            .registry
            .read()
            .unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail; the encoders only propagate
        // fmt::Error from the writer.
        let encoded = match format {
            Format::Text => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
            }
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode_registry(&mut out, &registry)
            }
        };
        debug_assert!(encoded.is_ok(), "writing to a String does not fail");
        if format == Format::OpenMetrics {
            out.push_str("# EOF\n");
        }
        out
    }
}
