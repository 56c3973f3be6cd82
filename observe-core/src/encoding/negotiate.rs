//! `Accept` header negotiation between the Prometheus protobuf format,
//! OpenMetrics and Prometheus text.

use super::Format;

/// Media ranges looked at, at most: a scraper sends four or five, and a
/// hostile header must not cost more than a bounded scan.
const MAX_RANGES: usize = 32;

/// The protobuf media type, and the parameters that make it the
/// delimited `MetricFamily` stream Prometheus asks for.
const PROTOBUF: &str = "application/vnd.google.protobuf";
const PROTOBUF_PROTO: &str = "io.prometheus.client.MetricFamily";
const PROTOBUF_ENCODING: &str = "delimited";

/// Chooses the format for an `Accept` header value.
///
/// OpenMetrics is chosen when the client accepts
/// `application/openmetrics-text` (version 1.0.0 or unversioned) with a
/// quality at least as high as anything that maps to Prometheus text
/// (`text/plain`, `text/*`, `*/*`). Anything else, including a missing or
/// malformed header, gives Prometheus text 0.0.4, which every scraper reads.
/// This never chooses [`Format::Protobuf`]: [`Observe::scrape`](crate::Observe::scrape)
/// offers it too when native histograms are on.
///
/// ```
/// use observe_core::{negotiate, Format};
/// let prometheus = "application/openmetrics-text;version=1.0.0,\
///     application/openmetrics-text;version=0.0.1;q=0.75,\
///     text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
/// assert_eq!(negotiate(Some(prometheus)), Format::OpenMetrics);
/// assert_eq!(negotiate(Some("text/plain")), Format::Text);
/// assert_eq!(negotiate(None), Format::Text);
/// ```
pub fn negotiate(accept: Option<&str>) -> Format {
    negotiate_offering(accept, false)
}

/// [`negotiate`], with the protobuf format on offer when `protobuf`: it
/// wins when the client names it exactly
/// (`application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`)
/// with a quality at least as high as every text format's. A wildcard
/// never picks it: binary is only for a client that asked for it.
pub(crate) fn negotiate_offering(accept: Option<&str>, protobuf: bool) -> Format {
    let Some(accept) = accept else {
        return Format::Text;
    };
    let mut best_protobuf = 0.0f32;
    let mut best_openmetrics = 0.0f32;
    let mut best_text = 0.0f32;
    for range in accept.split(',').take(MAX_RANGES) {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let mut q = 1.0f32;
        let mut version = None;
        let mut proto = None;
        let mut encoding = None;
        for param in parts {
            let Some((name, value)) = param.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "q" => q = parse_quality(value),
                "version" => version = Some(value),
                "proto" => proto = Some(value),
                "encoding" => encoding = Some(value),
                _ => {}
            }
        }
        if media.eq_ignore_ascii_case(PROTOBUF) {
            if proto == Some(PROTOBUF_PROTO)
                && encoding.is_some_and(|e| e.eq_ignore_ascii_case(PROTOBUF_ENCODING))
            {
                best_protobuf = best_protobuf.max(q);
            }
        } else if media.eq_ignore_ascii_case("application/openmetrics-text") {
            if matches!(version, None | Some("1.0.0")) {
                best_openmetrics = best_openmetrics.max(q);
            }
        } else if media.eq_ignore_ascii_case("text/plain") {
            if matches!(version, None | Some("0.0.4")) {
                best_text = best_text.max(q);
            }
        } else if media == "*/*" || media.eq_ignore_ascii_case("text/*") {
            best_text = best_text.max(q);
        }
    }
    if protobuf && best_protobuf > 0.0 && best_protobuf >= best_openmetrics.max(best_text) {
        Format::Protobuf
    } else if best_openmetrics > 0.0 && best_openmetrics >= best_text {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// RFC 9110 qvalue: 0 to 1 with up to three decimals; junk counts as 0 so a
/// malformed range can never win.
fn parse_quality(value: &str) -> f32 {
    match value.parse::<f32>() {
        Ok(q) if (0.0..=1.0).contains(&q) => q,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_scraper_gets_openmetrics() {
        let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(Some(accept)), Format::OpenMetrics);
    }

    #[test]
    fn text_when_preferred_or_unknown() {
        assert_eq!(negotiate(Some("text/plain;version=0.0.4")), Format::Text);
        assert_eq!(
            negotiate(Some("application/openmetrics-text;q=0.4, text/plain")),
            Format::Text
        );
        assert_eq!(negotiate(Some("application/json")), Format::Text);
        assert_eq!(negotiate(Some("*/*")), Format::Text);
        assert_eq!(negotiate(Some("")), Format::Text);
        assert_eq!(
            negotiate(Some("application/openmetrics-text;version=2.0.0")),
            Format::Text
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text;q=nan")),
            Format::Text
        );
    }

    #[test]
    fn case_and_spacing_are_tolerated() {
        assert_eq!(
            negotiate(Some(
                " Application/OpenMetrics-Text ; Version=1.0.0 ; q=0.9 , text/plain;q=0.5"
            )),
            Format::OpenMetrics
        );
    }

    #[test]
    fn hostile_headers_are_bounded() {
        let long = "a/b;q=0.1,".repeat(100_000);
        assert_eq!(negotiate(Some(&long)), Format::Text);
        assert_eq!(negotiate(Some(";;;;,,,,==;q=;")), Format::Text);
    }

    /// What Prometheus 2.42 sends with `--enable-feature=native-histograms`.
    const NATIVE_SCRAPER: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    #[test]
    fn protobuf_only_when_offered_and_preferred() {
        assert_eq!(
            negotiate_offering(Some(NATIVE_SCRAPER), true),
            Format::Protobuf
        );
        // Off for this instance: the same scraper reads OpenMetrics.
        assert_eq!(negotiate(Some(NATIVE_SCRAPER)), Format::OpenMetrics);
        assert_eq!(
            negotiate_offering(Some(NATIVE_SCRAPER), false),
            Format::OpenMetrics
        );
        let offered = |accept| negotiate_offering(Some(accept), true);
        assert_eq!(
            offered(
                " Application/Vnd.Google.Protobuf ; proto=io.prometheus.client.MetricFamily ; Encoding=\"Delimited\""
            ),
            Format::Protobuf
        );
        // Other encodings, other messages, a missing parameter, a wildcard
        // or a lower quality than text: text.
        for accept in [
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=compact-text",
            "application/vnd.google.protobuf;proto=other.Message;encoding=delimited",
            "application/vnd.google.protobuf;encoding=delimited",
            "application/vnd.google.protobuf",
            "*/*",
            "application/*",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.4,text/plain;q=0.5",
        ] {
            assert_ne!(offered(accept), Format::Protobuf, "{accept}");
        }
        assert_eq!(
            offered(
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.4,application/openmetrics-text;q=0.5"
            ),
            Format::OpenMetrics
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any header, however malformed, picks one of the formats, and
        /// protobuf only when it is on offer.
        #[test]
        fn any_header_is_answered(accept in ".{0,300}") {
            let format = negotiate(Some(&accept));
            proptest::prop_assert!(matches!(format, Format::Text | Format::OpenMetrics));
            let _ = negotiate_offering(Some(&accept), true);
        }

        /// Without an exact protobuf range, offering protobuf changes
        /// nothing.
        #[test]
        fn protobuf_only_when_named(
            ranges in proptest::collection::vec("(text/plain|\\*/\\*|application/json|application/openmetrics-text|application/vnd.google.protobuf(;encoding=text)?)(;q=0\\.[0-9])?", 0..6)
        ) {
            let accept = ranges.join(",");
            proptest::prop_assert_eq!(
                negotiate_offering(Some(&accept), true),
                negotiate(Some(&accept))
            );
        }

        /// Adding ranges that do not mention OpenMetrics never turns a text
        /// answer into OpenMetrics.
        #[test]
        fn openmetrics_only_when_asked(
            ranges in proptest::collection::vec("(text/plain|\\*/\\*|application/json|text/html)(;q=0\\.[0-9])?", 0..6)
        ) {
            let accept = ranges.join(",");
            proptest::prop_assert_eq!(negotiate(Some(&accept)), Format::Text);
        }

        /// An OpenMetrics range with the highest quality always wins.
        #[test]
        fn openmetrics_wins_when_preferred(
            q in 1u8..=9,
            others in proptest::collection::vec("(text/plain|\\*/\\*)", 0..4)
        ) {
            let mut ranges: Vec<String> = others.iter().map(|o| format!("{o};q=0.{}", q - 1)).collect();
            ranges.push(format!("application/openmetrics-text;version=1.0.0;q=0.{q}"));
            proptest::prop_assert_eq!(negotiate(Some(&ranges.join(","))), Format::OpenMetrics);
        }
    }
}
