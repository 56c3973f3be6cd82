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
