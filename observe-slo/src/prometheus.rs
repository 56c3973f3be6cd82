//! Asks a Prometheus-compatible HTTP API (Prometheus, Thanos, Mimir,
//! VictoriaMetrics: anything that answers `GET /api/v1/query`) for both
//! sides' counts and judges them (feature `judge`). Blocking: a judgement
//! is a handful of instant queries, run by a deploy pipeline, not a
//! request path.

use std::time::Duration;

use serde_json::Value;

use super::judge::{Counts, Judge, JudgeError, Judgement};
use super::query::{Side, is_duration};
use super::{Slo, Slos};
use observe_core::labels::is_valid_label_name;

/// Why a judgement could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The URL is not an http(s) URL with a host.
    #[error(
        "invalid Prometheus URL {0:?}: expected http:// or https://, a host and an optional path, e.g. http://127.0.0.1:9090"
    )]
    Url(String),
    /// The window is not a Prometheus duration.
    #[error("invalid window {0:?}: expected a Prometheus duration such as 10m, 1h or 90s")]
    Window(String),
    /// The label is not a label name.
    #[error(
        "invalid label {0:?}: expected a target_info label name such as service_version or deployment_track"
    )]
    Label(String),
    /// The judge's settings or the SLOs are invalid.
    #[error(transparent)]
    Judge(#[from] JudgeError),
    /// No connection, or no answer in time.
    #[error("cannot reach Prometheus at {url}: {error}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What went wrong.
        error: String,
    },
    /// An answer that is not a successful query result.
    #[error("Prometheus at {url} refused the query {query}: {error}")]
    Refused {
        /// The URL asked.
        url: String,
        /// The PromQL.
        query: String,
        /// The status and the API's error, or what could not be read.
        error: String,
    },
    /// The change to judge is not in the past.
    #[error("the change at {0} is not in the past: expected a time before now")]
    NotYet(String),
    /// A StateSet with no series, or no change, in the lookback.
    #[error(
        "no change of {metric}{{job={job:?}}} in the last {lookback} ({series} series seen): expected the name of a StateSet of this service that changed state"
    )]
    NoChange {
        /// The StateSet's metric name.
        metric: String,
        /// The job.
        job: String,
        /// How far back it looked.
        lookback: String,
        /// How many series of it there were (0: none at all).
        series: usize,
    },
    /// One side names no instance.
    #[error(
        "no target_info series with {}={:?} for the {} (job {:?}, last {}); values seen: {}",
        .0.label, .0.value, .0.side, .0.job, .0.window, .0.seen
    )]
    UnknownSide(Box<UnknownSide>),
}

/// A side whose value no `target_info` series carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSide {
    /// `baseline` or `canary`.
    pub side: &'static str,
    /// The label.
    pub label: String,
    /// The value asked for.
    pub value: String,
    /// The job.
    pub job: String,
    /// The window.
    pub window: String,
    /// The values that exist, comma-separated, or `none`.
    pub seen: String,
}

/// A range query's points of one series: `(Unix seconds, value)`.
pub type Points = Vec<(f64, f64)>;

/// Which two sides to compare, and over which window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comparison<'a> {
    /// The `target_info` label that tells the sides apart.
    pub label: &'a str,
    /// Its value on the baseline.
    pub baseline: &'a str,
    /// Its value on the canary.
    pub canary: &'a str,
    /// A Prometheus duration, e.g. `10m`.
    pub window: &'a str,
}

/// A Prometheus-compatible HTTP API.
#[derive(Debug, Clone)]
pub struct PrometheusApi {
    base: String,
    client: reqwest::blocking::Client,
}

impl PrometheusApi {
    /// The API at `url` (`http://127.0.0.1:9090`, or with a path prefix
    /// such as Thanos' or Mimir's `https://mimir/prometheus`); every
    /// request gives up after `timeout`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, QueryError> {
        let parsed: Option<http::Uri> = url.parse().ok();
        let ok = parsed.is_some_and(|u| {
            matches!(u.scheme_str(), Some("http" | "https"))
                && u.host().is_some_and(|h| !h.is_empty())
                && u.query().is_none()
        });
        if !ok {
            return Err(QueryError::Url(url.to_string()));
        }
        // reqwest is built with rustls and no default crypto provider.
        observe_core::install_crypto_provider();
        let client = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| QueryError::Unreachable {
                url: url.to_string(),
                error: chain(&e),
            })?;
        Ok(Self {
            base: url.trim_end_matches('/').to_string(),
            client,
        })
    }

    /// The samples of an instant query at the current time: each series'
    /// labels and value.
    pub fn query(&self, promql: &str) -> Result<Vec<(Value, f64)>, QueryError> {
        self.query_at(promql, None)
    }

    /// The samples of an instant query evaluated at `time` (Unix seconds;
    /// `None`: now).
    pub fn query_at(
        &self,
        promql: &str,
        time: Option<f64>,
    ) -> Result<Vec<(Value, f64)>, QueryError> {
        let mut parameters = format!("query={}", form_encode(promql));
        if let Some(time) = time {
            parameters.push_str(&format!("&time={time:.3}"));
        }
        let (data, refused) = self.get("query", promql, &parameters)?;
        let number = |value: &Value| value.as_str().and_then(|v| v.parse::<f64>().ok());
        match data["resultType"].as_str() {
            Some("vector") => data["result"]
                .as_array()
                .ok_or_else(|| refused("a vector without results".to_string()))?
                .iter()
                .map(|sample| {
                    let value = number(&sample["value"][1])
                        .ok_or_else(|| refused(format!("a sample without a value: {sample}")))?;
                    Ok((sample["metric"].clone(), value))
                })
                .collect(),
            Some("scalar") => {
                let value = number(&data["result"][1])
                    .ok_or_else(|| refused("a scalar without a value".to_string()))?;
                Ok(vec![(Value::Null, value)])
            }
            other => Err(refused(format!("an unexpected result type {other:?}"))),
        }
    }

    /// A range query from `start` to `end` (Unix seconds) every `step`
    /// seconds: each series' labels and `(time, value)` points.
    pub fn query_range(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Vec<(Value, Points)>, QueryError> {
        let parameters = format!(
            "query={}&start={start:.3}&end={end:.3}&step={step:.3}",
            form_encode(promql)
        );
        let (data, refused) = self.get("query_range", promql, &parameters)?;
        if data["resultType"] != "matrix" {
            return Err(refused(format!(
                "an unexpected result type {}",
                data["resultType"]
            )));
        }
        let series = data["result"]
            .as_array()
            .ok_or_else(|| refused("a matrix without results".to_string()))?;
        series
            .iter()
            .map(|series| {
                let points = series["values"]
                    .as_array()
                    .ok_or_else(|| refused(format!("a series without values: {series}")))?
                    .iter()
                    .filter_map(|point| {
                        let time = point[0].as_f64()?;
                        let value = point[1].as_str()?.parse::<f64>().ok()?;
                        Some((time, value))
                    })
                    .collect();
                Ok((series["metric"].clone(), points))
            })
            .collect()
    }

    /// `GET /api/v1/{endpoint}?{parameters}`: the response's `data`, and a
    /// maker of errors naming the query.
    fn get<'q>(
        &self,
        endpoint: &str,
        promql: &'q str,
        parameters: &str,
    ) -> Result<(Value, impl Fn(String) -> QueryError + 'q), QueryError> {
        let url = format!("{}/api/v1/{endpoint}", self.base);
        let refused = {
            let url = url.clone();
            move |error: String| QueryError::Refused {
                url: url.clone(),
                query: promql.to_string(),
                error,
            }
        };
        let unreachable = |e: reqwest::Error| QueryError::Unreachable {
            url: url.clone(),
            error: chain(&e),
        };
        let response = self
            .client
            .get(format!("{url}?{parameters}"))
            .send()
            .map_err(unreachable)?;
        let status = response.status();
        let body = response.text().map_err(unreachable)?;
        let mut json: Value = serde_json::from_str(&body).map_err(|_| {
            refused(format!(
                "{status}, and the body is not a Prometheus API response: {}",
                body.chars().take(200).collect::<String>()
            ))
        })?;
        if json["status"] != "success" {
            return Err(refused(format!(
                "{status}: {}",
                json["error"].as_str().unwrap_or("no error message")
            )));
        }
        Ok((json["data"].take(), refused))
    }

    /// The sum of an instant query's values; `None` when it has none (or
    /// only non-finite ones).
    fn total(&self, promql: &str, time: Option<f64>) -> Result<Option<f64>, QueryError> {
        let samples = self.query_at(promql, time)?;
        let finite: Vec<f64> = samples
            .into_iter()
            .map(|(_, v)| v)
            .filter(|v| v.is_finite())
            .collect();
        Ok((!finite.is_empty()).then(|| finite.iter().sum()))
    }

    /// One side's counts of `slo`; `None` when a series is missing.
    pub(super) fn counts(
        &self,
        slos: &Slos,
        slo: &Slo,
        side: Side<'_>,
        window: &str,
        time: Option<f64>,
    ) -> Result<Option<Counts>, QueryError> {
        let queries = slos.side_queries(slo, side, window);
        let Some(requests) = self.total(&queries.requests, time)? else {
            return Ok(None);
        };
        let counted = self.total(&queries.counted, time)?;
        Ok(match (queries.counts_bad, counted) {
            (true, bad) => Some(Counts::new(requests, bad.unwrap_or(0.0))),
            (false, Some(good)) => Some(Counts::new(requests, requests - good)),
            (false, None) => None,
        })
    }

    /// Checks that `value` names instances, else says which values exist.
    fn check_side(
        &self,
        slos: &Slos,
        comparison: &Comparison<'_>,
        side: &'static str,
        value: &str,
    ) -> Result<(), QueryError> {
        let samples = self.query(&slos.side_values_query(comparison.label, comparison.window))?;
        let seen: Vec<String> = samples
            .iter()
            .filter_map(|(labels, _)| labels[comparison.label].as_str().map(str::to_string))
            .collect();
        if seen.iter().any(|v| v == value) {
            return Ok(());
        }
        Err(QueryError::UnknownSide(Box::new(UnknownSide {
            side,
            label: comparison.label.to_string(),
            value: value.to_string(),
            job: slos.service().to_string(),
            window: comparison.window.to_string(),
            seen: if seen.is_empty() {
                "none".to_string()
            } else {
                seen.join(", ")
            },
        })))
    }

    /// Judges the canary against the baseline on every SLO of `slos`,
    /// from the counts this API has for the window.
    pub fn judge(
        &self,
        judge: &Judge,
        slos: &Slos,
        comparison: &Comparison<'_>,
    ) -> Result<Judgement, QueryError> {
        if !is_duration(comparison.window) {
            return Err(QueryError::Window(comparison.window.to_string()));
        }
        if !is_valid_label_name(comparison.label) {
            return Err(QueryError::Label(comparison.label.to_string()));
        }
        judge.check()?;
        self.check_side(slos, comparison, "baseline", comparison.baseline)?;
        self.check_side(slos, comparison, "canary", comparison.canary)?;
        let mut counted = Vec::with_capacity(slos.slos().len());
        for slo in slos.slos() {
            let side = |value| Side {
                label: comparison.label,
                value,
            };
            counted.push((
                self.counts(
                    slos,
                    slo,
                    side(comparison.baseline),
                    comparison.window,
                    None,
                )?,
                self.counts(slos, slo, side(comparison.canary), comparison.window, None)?,
            ));
        }
        let mut counted = counted.into_iter();
        Ok(judge.judge(slos, |_| counted.next().unwrap_or((None, None)))?)
    }
}

/// An error and its causes, without the request's URL (already named):
/// "error sending request: ... Connection refused".
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `application/x-www-form-urlencoded` for a query parameter.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_are_refused_by_name() {
        for bad in ["127.0.0.1:9090", "ftp://x", "http://", "http://h/?q=1"] {
            let err = PrometheusApi::new(bad, Duration::from_secs(1)).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        assert!(PrometheusApi::new("https://mimir/prometheus/", Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn nothing_listening_is_unreachable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let api = PrometheusApi::new(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2))
            .unwrap();
        let err = api.query("up").unwrap_err();
        assert!(matches!(err, QueryError::Unreachable { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with(&format!(
                "cannot reach Prometheus at http://127.0.0.1:{port}/api/v1/query"
            )),
            "{err}"
        );
    }

    #[test]
    fn queries_are_form_encoded() {
        assert_eq!(
            form_encode("a{b=\"c\"} [5m]"),
            "a%7Bb%3D%22c%22%7D%20%5B5m%5D"
        );
    }
}
