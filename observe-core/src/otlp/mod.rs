//! OTLP/HTTP out of the process, for fleets that collect with the
//! OpenTelemetry Collector, Prometheus 3, Mimir, Loki 3 or VictoriaMetrics
//! (feature `otlp`): the metrics `/metrics` serves, pushed on an interval
//! ([`metrics`]), and the log lines and request events as log records
//! (`logs`, with the `logging` feature). Spans go through the `tracing`
//! signal's exporter, as before.
//!
//! Both read the standard variables, the per-signal one first:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `OTEL_METRICS_EXPORTER`, `OTEL_LOGS_EXPORTER` | `otlp` to export; `none` or unset for no export (logs: `console` is stdout, the default; `otlp,console` both) | unset |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | the base URL; `/v1/metrics` and `/v1/logs` under it | unset: nothing exported |
//! | `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` | the full URL for one signal | unset |
//! | `OTEL_EXPORTER_OTLP_HEADERS` (and `_METRICS_`/`_LOGS_HEADERS`) | `key=value,key2=value2`, values percent-decoded: a tenant's `X-Scope-OrgID=acme`, an `Authorization` | none |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT` (and per signal) | milliseconds per request | 10000 |
//! | `OTEL_EXPORTER_OTLP_COMPRESSION` (and per signal) | `gzip` or `none` | `none` |
//! | `OTEL_METRIC_EXPORT_INTERVAL` | milliseconds between pushes | 60000 |
//!
//! A bad value stops `try_init` with an error naming the variable and what
//! it accepts.
//!
//! **Cost** (`bench/instructions.sh`, all threads; `bench/README.md`): the
//! metrics push costs requests nothing (it reads at export time what a
//! scrape reads). OTLP logs cost what stdout lines do: each line's
//! producer writes its `LogRecord` at format time, as it writes the JSON
//! line (no line is read back), and hands it straight to the exporter's
//! queue. A request whose two lines go to OTLP instead of stdout costs
//! 0.97× one logged to stdout (axum 32,513 against 33,432 instructions;
//! actix-web 44,709 against 46,153). With both on, a request pays for both.
//!
//! Records are written as lines are, so `OBSERVE_LOG_FORMAT=text` on
//! stdout goes with OTLP export; the records are the same.
//!
//! **Delivery.** Each signal has one thread of its own and a bounded queue:
//! a request never waits for the network. A request answered 429, 502, 503
//! or 504, or that fails to connect, is retried up to twice, after the
//! server's `Retry-After` (seconds, at most 30) or a back-off of 1 then
//! 2 s; then it is dropped and counted. 400 and other 4xx are not retried
//! (the server will not take it). What was sent and lost is counted in
//! `observe_otlp_exports_total{signal,outcome}` and
//! `observe_otlp_items_dropped_total{signal,reason}`.

#[cfg(feature = "logging")]
pub mod logs;
pub mod metrics;

#[cfg(feature = "logging")]
pub use logs::{EVENT_ATTRIBUTES, LOG_BATCH_RECORDS, LOG_QUEUE_LINES};
pub use metrics::{DEFAULT_INTERVAL, MetricsExportBuilder, MetricsExportGuard};

use std::time::Duration;

use crate::base::resource::percent_decode;
use crate::metrics::signals::counters;

/// The OTLP signals observe exports itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Metrics,
    #[cfg_attr(not(feature = "logging"), allow(dead_code))]
    Logs,
}

impl Signal {
    fn path(self) -> &'static str {
        match self {
            Signal::Metrics => "v1/metrics",
            Signal::Logs => "v1/logs",
        }
    }

    /// Its index in the OTLP counters.
    pub(crate) fn index(self) -> usize {
        match self {
            Signal::Metrics => 0,
            Signal::Logs => 1,
        }
    }
}

/// A setting that cannot be used, by the variable that holds it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}={value:?}: {expected}")]
pub struct OtlpError {
    /// The variable (or builder method) whose value is wrong.
    pub variable: String,
    /// The value, cut at 100 characters.
    pub value: String,
    /// What it accepts.
    pub expected: &'static str,
}

impl OtlpError {
    pub(crate) fn new(variable: &str, value: &str, expected: &'static str) -> Self {
        Self {
            variable: variable.to_string(),
            value: value.chars().take(100).collect(),
            expected,
        }
    }
}

/// Where and how one signal is sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Destination {
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Duration,
    pub(crate) gzip: bool,
}

// Every variable the exporters read, each by its name in `read`.
const METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
const LOGS_EXPORTER: &str = "OTEL_LOGS_EXPORTER";
const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
const METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
const LOGS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT";
const HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
const METRICS_HEADERS: &str = "OTEL_EXPORTER_OTLP_METRICS_HEADERS";
const LOGS_HEADERS: &str = "OTEL_EXPORTER_OTLP_LOGS_HEADERS";
const TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
const METRICS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT";
const LOGS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT";
const COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
const METRICS_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION";
const LOGS_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION";

/// The value of one of the variables above, trimmed; `None` when unset
/// or blank.
fn read(name: &'static str) -> Option<(String, String)> {
    let value = match name {
        METRICS_EXPORTER => std::env::var(METRICS_EXPORTER),
        LOGS_EXPORTER => std::env::var(LOGS_EXPORTER),
        ENDPOINT => std::env::var(ENDPOINT),
        METRICS_ENDPOINT => std::env::var(METRICS_ENDPOINT),
        LOGS_ENDPOINT => std::env::var(LOGS_ENDPOINT),
        HEADERS => std::env::var(HEADERS),
        METRICS_HEADERS => std::env::var(METRICS_HEADERS),
        LOGS_HEADERS => std::env::var(LOGS_HEADERS),
        TIMEOUT => std::env::var(TIMEOUT),
        METRICS_TIMEOUT => std::env::var(METRICS_TIMEOUT),
        LOGS_TIMEOUT => std::env::var(LOGS_TIMEOUT),
        COMPRESSION => std::env::var(COMPRESSION),
        METRICS_COMPRESSION => std::env::var(METRICS_COMPRESSION),
        LOGS_COMPRESSION => std::env::var(LOGS_COMPRESSION),
        _ => return None,
    };
    value
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| (name.to_string(), v.trim().to_string()))
}

/// A signal's own variable, else the generic one.
fn either(own: &'static str, generic: &'static str) -> Option<(String, String)> {
    read(own).or_else(|| read(generic))
}

/// `OTEL_{SIGNAL}_EXPORTER` says `otlp` (alone or in a list).
pub(crate) fn exporter_wanted(signal: Signal) -> Result<ExporterChoice, OtlpError> {
    let variable = match signal {
        Signal::Metrics => METRICS_EXPORTER,
        Signal::Logs => LOGS_EXPORTER,
    };
    let value = read(variable).map(|(_, v)| v).unwrap_or_default();
    let mut choice = ExporterChoice {
        otlp: false,
        console: value.is_empty(),
    };
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part {
            "otlp" => choice.otlp = true,
            "console" if signal == Signal::Logs => choice.console = true,
            "none" => {}
            _ => {
                return Err(OtlpError::new(
                    variable,
                    &value,
                    match signal {
                        Signal::Logs => "otlp, console, none, or a comma-separated list of them",
                        Signal::Metrics => "otlp or none",
                    },
                ));
            }
        }
    }
    Ok(choice)
}

/// What `OTEL_{SIGNAL}_EXPORTER` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExporterChoice {
    pub(crate) otlp: bool,
    /// Logs only: lines on stdout too.
    pub(crate) console: bool,
}

/// The signal's destination from the standard variables, the per-signal
/// ones first; `None` when no endpoint is set.
pub(crate) fn destination(signal: Signal) -> Result<Option<Destination>, OtlpError> {
    let [endpoint, headers, timeout, compression] = match signal {
        Signal::Metrics => [
            METRICS_ENDPOINT,
            METRICS_HEADERS,
            METRICS_TIMEOUT,
            METRICS_COMPRESSION,
        ],
        Signal::Logs => [LOGS_ENDPOINT, LOGS_HEADERS, LOGS_TIMEOUT, LOGS_COMPRESSION],
    };
    let url = match read(endpoint) {
        Some((name, url)) => check_url(&name, &url)?,
        None => match read(ENDPOINT) {
            Some((name, base)) => {
                let base = check_url(&name, &base)?;
                format!("{}/{}", base.trim_end_matches('/'), signal.path())
            }
            None => return Ok(None),
        },
    };
    let headers = match either(headers, HEADERS) {
        Some((name, value)) => parse_headers(&name, &value)?,
        None => Vec::new(),
    };
    let timeout = match either(timeout, TIMEOUT) {
        Some((name, value)) => match value.parse::<u64>() {
            Ok(ms) if (1..=600_000).contains(&ms) => Duration::from_millis(ms),
            _ => {
                return Err(OtlpError::new(
                    &name,
                    &value,
                    "milliseconds, from 1 to 600000",
                ));
            }
        },
        None => Duration::from_secs(10),
    };
    let gzip = match either(compression, COMPRESSION) {
        Some((name, value)) => match value.as_str() {
            "gzip" => true,
            "none" => false,
            _ => return Err(OtlpError::new(&name, &value, "gzip or none")),
        },
        None => false,
    };
    Ok(Some(Destination {
        url,
        headers,
        timeout,
        gzip,
    }))
}

fn check_url(variable: &str, url: &str) -> Result<String, OtlpError> {
    let parsed: Option<http::Uri> = url.parse().ok();
    match parsed {
        Some(uri)
            if matches!(uri.scheme_str(), Some("http" | "https"))
                && uri.host().is_some_and(|h| !h.is_empty()) =>
        {
            Ok(url.to_string())
        }
        _ => Err(OtlpError::new(
            variable,
            url,
            "an http:// or https:// URL, such as http://collector:4318",
        )),
    }
}

/// `key=value,key2=value2`, values (and keys) percent-decoded, as the
/// OpenTelemetry specification has it.
fn parse_headers(variable: &str, value: &str) -> Result<Vec<(String, String)>, OtlpError> {
    let mut headers = Vec::new();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || {
            OtlpError::new(
                variable,
                value,
                "comma-separated key=value pairs (values percent-encoded), such as X-Scope-OrgID=acme",
            )
        };
        let (key, val) = pair.split_once('=').ok_or_else(bad)?;
        let key = percent_decode(key.trim()).ok_or_else(bad)?;
        let val = percent_decode(val.trim()).ok_or_else(bad)?;
        if http::HeaderName::from_bytes(key.as_bytes()).is_err()
            || http::HeaderValue::from_str(&val).is_err()
        {
            return Err(bad());
        }
        headers.push((key, val));
    }
    Ok(headers)
}

/// Sends one signal's requests: a blocking client on the signal's own
/// thread.
pub(crate) struct Transport {
    client: reqwest::blocking::Client,
    destination: Destination,
    signal: Signal,
}

/// Attempts per request: the first and two retries.
const ATTEMPTS: u32 = 3;
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

impl Transport {
    pub(crate) fn new(signal: Signal, destination: Destination) -> Result<Self, String> {
        crate::base::tls::install_crypto_provider();
        let client = reqwest::blocking::Client::builder()
            .timeout(destination.timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            destination,
            signal,
        })
    }

    /// POSTs `body` (an `Export*ServiceRequest`), retrying what the
    /// specification calls retryable; whether it was taken.
    pub(crate) fn send(&self, body: Vec<u8>) -> bool {
        let counters = &counters().otlp;
        let body = bytes::Bytes::from(if self.destination.gzip {
            crate::base::gzip::compress(&body)
        } else {
            body
        });
        // Each attempt shares the one body (no copy per attempt).
        for attempt in 1..=ATTEMPTS {
            let mut request = self
                .client
                .post(&self.destination.url)
                .header("content-type", "application/x-protobuf")
                .body(body.clone());
            if self.destination.gzip {
                request = request.header("content-encoding", "gzip");
            }
            for (key, value) in &self.destination.headers {
                request = request.header(key.as_str(), value.as_str());
            }
            let wait = match request.send() {
                Ok(response) if response.status().is_success() => {
                    counters.export(self.signal.index(), true);
                    return true;
                }
                Ok(response) if matches!(response.status().as_u16(), 429 | 502 | 503 | 504) => {
                    retry_after(response.headers())
                        .unwrap_or(Duration::from_secs(u64::from(attempt)))
                }
                Ok(_) => break,
                Err(_) => Duration::from_secs(u64::from(attempt)),
            };
            if attempt < ATTEMPTS {
                std::thread::sleep(wait.min(MAX_RETRY_AFTER));
            }
        }
        counters.export(self.signal.index(), false);
        false
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by OTLP
/// receivers).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// OTLP's common messages, written with the protobuf writer.
pub(crate) mod proto {
    use crate::encoding::protobuf::wire::Writer;

    /// A `KeyValue` with a string value, as field `field` of the message.
    pub(crate) fn string_attribute(w: &mut Writer, field: u32, key: &str, value: &str) {
        w.message(field, |kv| {
            kv.string(1, key);
            kv.message(2, |any| any.string(1, value));
        });
    }

    /// A `KeyValue` with an integer value.
    pub(crate) fn int_attribute(w: &mut Writer, field: u32, key: &str, value: i64) {
        w.message(field, |kv| {
            kv.string(1, key);
            kv.message(2, |any| any.int64(3, value));
        });
    }

    /// The `Resource` (field 1 of `ResourceMetrics`/`ResourceLogs`):
    /// `service.name`, `service.version` and the other attributes.
    pub(crate) fn resource(w: &mut Writer, service: &crate::base::service::Service) {
        w.message(1, |r| {
            string_attribute(r, 1, "service.name", &service.name);
            if let Some(version) = &service.version {
                string_attribute(r, 1, "service.version", version);
            }
            for (key, value) in &service.attributes {
                string_attribute(r, 1, key, value);
            }
            string_attribute(r, 1, "telemetry.sdk.name", "observe");
            string_attribute(r, 1, "telemetry.sdk.language", "rust");
        });
    }

    /// The `InstrumentationScope` (field 1 of `Scope*`).
    pub(crate) fn scope(w: &mut Writer) {
        w.message(1, |s| {
            s.string(1, "observe");
            s.string(2, env!("CARGO_PKG_VERSION"));
        });
    }
}

#[cfg(test)]
mod tests;
