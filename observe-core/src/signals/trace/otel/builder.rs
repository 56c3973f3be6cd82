//! `observe.tracing()`: settings from the OpenTelemetry variables and the
//! one installation of the process-wide tracer provider.

use std::sync::RwLock;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};

use super::{EXPORTING, Exporting, export};
use crate::base::process_wide::{self, Installation};
use crate::base::service::Service;

/// Default for [`TracingBuilder::queue`].
pub const DEFAULT_SPAN_QUEUE: usize = 2048;

/// Why tracing could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TracingError {
    /// The endpoint is not an http(s) URL.
    #[error(
        "invalid {variable}={value:?}: expected an http:// or https:// URL such as http://localhost:4318"
    )]
    Endpoint {
        /// The variable (or `builder`).
        variable: String,
        /// The value given.
        value: String,
    },
    /// `OTEL_TRACES_SAMPLER` names no known sampler.
    #[error(
        "invalid OTEL_TRACES_SAMPLER={0:?}: expected always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio"
    )]
    Sampler(String),
    /// `OTEL_TRACES_SAMPLER_ARG` is not a ratio.
    #[error("invalid OTEL_TRACES_SAMPLER_ARG={0:?}: expected a number from 0 to 1, e.g. 0.25")]
    SamplerArg(String),
    /// `OTEL_RESOURCE_ATTRIBUTES` is malformed.
    #[error("invalid OTEL_RESOURCE_ATTRIBUTES={0:?}: expected comma-separated key=value pairs")]
    ResourceAttributes(String),
    /// The exporter could not be built.
    #[error("cannot start trace export: {0}")]
    Export(String),
    /// Logging was set up first (the span layer must be added when
    /// logging installs the subscriber).
    #[error("{0}")]
    Order(&'static str),
    /// Tracing was already set up in this process (the message names the
    /// instance that did).
    #[error("tracing is already set up in this process: {0}")]
    AlreadySet(String),
}

/// Flushes and stops export when dropped (at most its shutdown timeout).
#[must_use = "dropping the guard flushes and ends trace export"]
#[derive(Debug)]
pub struct TracingGuard {
    provider: Option<SdkTracerProvider>,
    timeout: Duration,
}

impl TracingGuard {
    /// Whether spans are exported (an endpoint was found).
    pub fn is_exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Waits until the spans finished so far are exported, at most
    /// `timeout`; returns whether that worked.
    pub fn flush(&self, timeout: Duration) -> bool {
        let Some(provider) = self.provider.clone() else {
            return true;
        };
        // The SDK's flush takes no deadline: it runs on a thread of its
        // own, and a stuck exporter costs the caller `timeout` at most.
        let (done, result) = std::sync::mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("observe-trace-flush".into())
            .spawn(move || {
                let _ = done.send(provider.force_flush().is_ok());
            });
        spawned.is_ok() && result.recv_timeout(timeout).unwrap_or(false)
    }
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown_with_timeout(self.timeout);
        }
    }
}

/// Configures tracing; from [`Observe::tracing`](crate::Observe::tracing).
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let observe = observe_core::Observe::builder().service_name("shop").build()?;
/// // OTEL_EXPORTER_OTLP_ENDPOINT unset: nothing is exported, but requests
/// // still get trace ids (continued from `traceparent`) for logs and events.
/// let _traces = observe.tracing().try_init()?;
/// // Then, with the `logging` feature: observe.logging().try_init()?, which
/// // adds the span layer to the subscriber it installs.
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TracingBuilder {
    service: Service,
    endpoint: Option<String>,
    sampler: Option<Sampler>,
    queue: usize,
    export_timeout: Duration,
    shutdown_timeout: Duration,
}

impl TracingBuilder {
    /// Tracing speaking for `service`.
    pub(crate) fn new(service: Service) -> Self {
        Self {
            service,
            endpoint: None,
            sampler: None,
            queue: DEFAULT_SPAN_QUEUE,
            export_timeout: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(2),
        }
    }
}

impl TracingBuilder {
    /// The OTLP/HTTP base URL (`http://collector:4318`), used instead of
    /// the variables; spans go to `{endpoint}/v1/traces`. Empty: no export.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The sampler, used instead of `OTEL_TRACES_SAMPLER` (default: parent
    /// based, always on).
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// Finished spans waiting for export at most (default
    /// [`DEFAULT_SPAN_QUEUE`]); past that they are dropped and counted.
    pub fn queue(mut self, spans: usize) -> Self {
        self.queue = spans.max(1);
        self
    }

    /// How long one export may take (default 5 s).
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = timeout;
        self
    }

    /// [`try_init`](Self::try_init), panicking with its error: for `main`,
    /// where a bad setting should stop the process with a message that
    /// names it (as `tracing_subscriber`'s `init` does).
    ///
    /// # Panics
    /// When tracing cannot start; the message is the error's.
    #[track_caller]
    pub fn init(self) -> TracingGuard {
        match self.try_init() {
            Ok(guard) => guard,
            Err(error) => panic!("{error}"),
        }
    }

    /// Starts tracing (once per process, before logging): installs the
    /// process-wide tracer provider. Without an
    /// endpoint nothing is exported and the guard does nothing; request ids
    /// for logs are still made. Errors name the variable and what it
    /// accepts.
    pub fn try_init(self) -> Result<TracingGuard, TracingError> {
        let (variable, endpoint) = match self.endpoint {
            Some(endpoint) => ("builder".to_string(), endpoint),
            None => match std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
                Ok(full) if !full.trim().is_empty() => {
                    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".to_string(), full)
                }
                _ => (
                    "OTEL_EXPORTER_OTLP_ENDPOINT".to_string(),
                    std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or_default(),
                ),
            },
        };
        let endpoint = endpoint.trim().to_string();
        // Whether the sampler may read a span's attributes: not one of the
        // built-in samplers the variable names, nor a plain built-in one
        // given here; a parent-based one given here wraps a sampler observe
        // cannot see into.
        let (sampler, reads_attributes) = match self.sampler {
            Some(sampler) => {
                let blind = matches!(
                    sampler,
                    Sampler::AlwaysOn | Sampler::AlwaysOff | Sampler::TraceIdRatioBased(_)
                );
                (sampler, !blind)
            }
            None => (sampler_from_env()?, false),
        };
        let attributes = resource_attributes_from_env()?;
        let url = if endpoint.is_empty() {
            None
        } else {
            Some(
                signal_url(&variable, &endpoint).ok_or_else(|| TracingError::Endpoint {
                    variable: variable.clone(),
                    value: endpoint.clone(),
                })?,
            )
        };
        // Claimed first: a second set-up is told who set tracing up, not
        // that logging came first.
        process_wide::claim(Installation::TracerProvider, &self.service.name)
            .map_err(|e| TracingError::AlreadySet(e.to_string()))?;
        if process_wide::is_installed(Installation::Subscriber) {
            process_wide::release(Installation::TracerProvider);
            return Err(TracingError::Order(
                "set up tracing before logging: logging installs the subscriber that carries the tracing layer",
            ));
        }
        let Some(url) = url else {
            return Ok(TracingGuard {
                provider: None,
                timeout: self.shutdown_timeout,
            });
        };
        crate::base::tls::install_crypto_provider();
        let timeout = self.export_timeout;
        let started = export::Queue::start(self.queue, move || {
            use opentelemetry_otlp::WithExportConfig;
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(url)
                .with_timeout(timeout)
                .build()
                .map_err(|e| e.to_string())
        });
        let queue = match started {
            Ok(queue) => queue,
            Err(e) => {
                process_wide::release(Installation::TracerProvider);
                return Err(TracingError::Export(e));
            }
        };
        let exporting = EXPORTING.get_or_init(|| Exporting {
            instances: RwLock::default(),
            queue,
            sampler,
            reads_attributes,
            attributes,
        });
        // The installing instance comes first: lines and spans outside any
        // request speak for it. Its provider is the one the guard flushes;
        // every instance's provider feeds the same queue.
        let provider = exporting.instance_for(&self.service).provider().clone();
        Ok(TracingGuard {
            provider: Some(provider),
            timeout: self.shutdown_timeout,
        })
    }
}

/// `{base}/v1/traces` for the generic variable or the builder, the URL as
/// given for the traces-specific variable; `None` unless http(s).
fn signal_url(variable: &str, endpoint: &str) -> Option<String> {
    let parsed: http::Uri = endpoint.parse().ok()?;
    if !matches!(parsed.scheme_str(), Some("http" | "https"))
        || parsed.host().is_none_or(str::is_empty)
    {
        return None;
    }
    if variable == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" {
        Some(endpoint.to_string())
    } else {
        Some(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
    }
}

fn sampler_from_env() -> Result<Sampler, TracingError> {
    let name = std::env::var("OTEL_TRACES_SAMPLER").unwrap_or_default();
    let arg = std::env::var("OTEL_TRACES_SAMPLER_ARG").ok();
    // Checked even when the sampler takes no argument: a typo must not
    // wait for the day someone switches to a ratio sampler.
    let ratio = match arg.as_deref().map(str::trim) {
        None | Some("") => 1.0,
        Some(text) => text
            .parse::<f64>()
            .ok()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(|| TracingError::SamplerArg(text.to_string()))?,
    };
    Ok(match name.trim() {
        "" | "parentbased_always_on" => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        "parentbased_always_off" => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        "parentbased_traceidratio" => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
        }
        "always_on" => Sampler::AlwaysOn,
        "always_off" => Sampler::AlwaysOff,
        "traceidratio" => Sampler::TraceIdRatioBased(ratio),
        other => return Err(TracingError::Sampler(other.to_string())),
    })
}

fn resource_attributes_from_env() -> Result<Vec<KeyValue>, TracingError> {
    let Ok(text) = std::env::var("OTEL_RESOURCE_ATTRIBUTES") else {
        return Ok(Vec::new());
    };
    let mut attributes = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                attributes.push(KeyValue::new(
                    key.trim().to_string(),
                    value.trim().to_string(),
                ));
            }
            _ => return Err(TracingError::ResourceAttributes(text.clone())),
        }
    }
    Ok(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_http_urls() {
        assert_eq!(
            signal_url("builder", "http://localhost:4318/").as_deref(),
            Some("http://localhost:4318/v1/traces")
        );
        assert_eq!(
            signal_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://c:1/x").as_deref(),
            Some("https://c:1/x")
        );
        assert_eq!(signal_url("builder", "localhost:4318"), None);
        assert_eq!(signal_url("builder", "ftp://c"), None);
    }
}
