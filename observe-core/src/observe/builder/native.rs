//! Native histograms: the builder's switch and `OBSERVE_NATIVE_HISTOGRAMS`.

use super::{BuildError, ObserveBuilder};

/// The variable [`ObserveBuilder::build`] reads for native histograms.
pub(super) const VARIABLE: &str = "OBSERVE_NATIVE_HISTOGRAMS";

impl ObserveBuilder {
    /// Gives `http_server_request_duration_seconds` native (exponential)
    /// histogram buckets beside its classic ones, and lets `/metrics`
    /// answer in the Prometheus protobuf format to a scraper that prefers
    /// it (Prometheus 2.40+ with `--enable-feature=native-histograms`, a
    /// Prometheus 3 set to scrape native histograms). Text scrapers see
    /// the same classic document as before. Default off.
    ///
    /// The native buckets are schema 3 (each bucket's bound 2^(1/8) ≈ 1.09
    /// times the one before, whatever the latency), with a zero bucket up
    /// to 2^-20 s (about 1 µs) and a fixed range up to
    /// 128 s (slower requests count in the top bucket): 1.7 KiB more per
    /// duration series, allocated with the series, and one more atomic add
    /// per request. No Cargo feature: it needs no dependency.
    ///
    /// A native histogram has a bucket for every ~9% of latency, from a
    /// microsecond to minutes, so a p99 is close to the truth wherever it
    /// falls without choosing buckets, and Prometheus stores each series
    /// as one series instead of one per bucket. An observation is an index
    /// from the float's exponent bits and a search among 8 bounds, and one
    /// relaxed atomic add: no lock, no allocation, no `log()`. The
    /// body-size and dependency histograms stay classic.
    ///
    /// Prometheus 2.42 with `--enable-feature=native-histograms` sends
    /// `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,...`
    /// and gets protobuf ([`Format::Protobuf`](crate::Format::Protobuf));
    /// without the flag it sends the OpenMetrics-first header and gets
    /// OpenMetrics, classic buckets and all. Scraping protobuf, Prometheus
    /// 2.42 stores the native histogram *instead of* the classic `_bucket`
    /// series (later versions can keep both); query it by its bare name:
    ///
    /// ```text
    /// histogram_quantile(0.99, sum by (http_route) (rate(http_server_request_duration_seconds[5m])))
    /// ```
    ///
    /// Against two real Prometheus scraping the same service, the native
    /// p99 was 6% off the clients' measure and the classic one 57%
    /// (bench/README.md, with the cost: +41 instructions per request on
    /// axum; a protobuf scrape 3.5× an OpenMetrics one in time and a
    /// seventh of its size).
    ///
    /// `OBSERVE_NATIVE_HISTOGRAMS` (`1`/`true`, `0`/`false`) wins over this
    /// setting at [`build`](Self::build), so a deploy can turn them on for
    /// a Prometheus that scrapes protobuf; anything else fails the build
    /// with an error naming the variable, the value and what is accepted.
    ///
    /// ```
    /// let observe = observe_core::Observe::builder()
    ///     .native_histograms(true)
    ///     .build()?;
    /// assert!(observe.native_histograms());
    /// # Ok::<(), observe_core::BuildError>(())
    /// ```
    pub fn native_histograms(mut self, on: bool) -> Self {
        self.native_histograms = on;
        self
    }

    /// Whether the instance built gets native histograms.
    pub(super) fn native_histograms_setting(&self) -> Result<bool, BuildError> {
        let value = match std::env::var(VARIABLE) {
            Ok(value) => value,
            Err(std::env::VarError::NotPresent) => return Ok(self.native_histograms),
            Err(std::env::VarError::NotUnicode(raw)) => {
                return Err(BuildError::NativeHistograms(
                    raw.to_string_lossy().into_owned(),
                ));
            }
        };
        Ok(parse(&value)?.unwrap_or(self.native_histograms))
    }
}

/// The variable's value: on, off, or `None` for empty.
fn parse(value: &str) -> Result<Option<bool>, BuildError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "1" | "true" => Ok(Some(true)),
        "0" | "false" => Ok(Some(false)),
        _ => Err(BuildError::NativeHistograms(value.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Observe;

    #[test]
    fn on_off_and_unset() {
        assert_eq!(parse("1"), Ok(Some(true)));
        assert_eq!(parse(" TRUE "), Ok(Some(true)));
        assert_eq!(parse("0"), Ok(Some(false)));
        assert_eq!(parse("false"), Ok(Some(false)));
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("  "), Ok(None));
    }

    #[test]
    fn a_malformed_value_names_the_variable_and_what_is_accepted() {
        let err = parse("yes please").unwrap_err();
        assert_eq!(err, BuildError::NativeHistograms("yes please".into()));
        assert_eq!(
            err.to_string(),
            "invalid OBSERVE_NATIVE_HISTOGRAMS=\"yes please\": expected 1 or true (native histograms on), 0 or false (off), or unset"
        );
    }

    #[test]
    fn off_by_default_on_when_asked() {
        assert!(!Observe::builder().build().unwrap().native_histograms());
        let on = Observe::builder().native_histograms(true).build().unwrap();
        assert!(on.native_histograms());
    }
}
