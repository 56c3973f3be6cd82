//! Span export with OpenTelemetry (feature `tracing`): the tracer provider
//! is process-wide and installed once; each `Observe` gets a tracer of its
//! own, whose spans are exported under its own resource (`service.name`,
//! `service.version`).

mod builder;
mod export;
mod span;

use std::cell::Cell;
use std::sync::{OnceLock, RwLock};

use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use crate::base::service::Service;

pub use builder::{DEFAULT_QUEUE, TracingBuilder, TracingError, TracingGuard};
pub use opentelemetry_sdk::trace::Sampler;
pub(crate) use span::{
    ClientSpan, current_span_ids, exemplar, finish_request, in_client_span, record_path,
    start_client_span, start_request, subscriber_layer,
};

/// The scope attribute that tells the exporter whose span it is; removed
/// before export.
const SERVICE_KEY: &str = "observe.service";

/// The installed export pipeline.
#[derive(Debug)]
pub(crate) struct Exporting {
    provider: SdkTracerProvider,
    /// One tracer per service name, made once and kept for the life of
    /// the process (like the provider): a request borrows it, no clone.
    tracers: RwLock<Vec<&'static (String, SdkTracer)>>,
    /// `OTEL_RESOURCE_ATTRIBUTES`, for every instance's resource.
    attributes: Vec<KeyValue>,
    export: export::Registrar,
}

/// The process's tracer provider: one, like the export thread it feeds.
static EXPORTING: OnceLock<Exporting> = OnceLock::new();

/// The pipeline, once [`TracingBuilder::init`] found an endpoint.
pub(crate) fn exporting() -> Option<&'static Exporting> {
    EXPORTING.get()
}

/// Whether spans are exported.
pub(crate) fn is_exporting() -> bool {
    EXPORTING.get().is_some()
}

impl Exporting {
    /// The tracer of the instance that installed tracing.
    pub(crate) fn installer_tracer(&self) -> &'static SdkTracer {
        let first = self
            .tracers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .first()
            .copied();
        match first {
            Some((_, tracer)) => tracer,
            // Not reached: `init` makes the installer's tracer first.
            None => &self.tracer_entry("observe").1,
        }
    }

    /// The tracer of `service`, made (and its resource registered with the
    /// exporter) on first use. A thread remembers the last one it used, so
    /// the common case takes no lock.
    pub(crate) fn tracer_for(&self, service: &Service) -> &'static SdkTracer {
        thread_local! {
            static LAST: Cell<Option<&'static (String, SdkTracer)>> = const { Cell::new(None) };
        }
        if let Some(entry) = LAST.get()
            && entry.0 == service.name
        {
            return &entry.1;
        }
        let found = self
            .tracers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .find(|(name, _)| *name == service.name);
        let entry = match found {
            Some(entry) => entry,
            None => {
                self.export
                    .register(service.name.clone(), resource(service, &self.attributes));
                self.tracer_entry(&service.name)
            }
        };
        LAST.set(Some(entry));
        &entry.1
    }

    /// The entry for `name`, made once.
    fn tracer_entry(&self, name: &str) -> &'static (String, SdkTracer) {
        let mut tracers = self.tracers.write().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = tracers.iter().find(|(known, _)| known == name) {
            return entry;
        }
        let scope = InstrumentationScope::builder("observe")
            .with_version(env!("CARGO_PKG_VERSION"))
            .with_attributes([KeyValue::new(SERVICE_KEY, name.to_string())])
            .build();
        let tracer = opentelemetry::trace::TracerProvider::tracer_with_scope(&self.provider, scope);
        // One per service name in the process, like the provider itself.
        let entry: &'static (String, SdkTracer) = Box::leak(Box::new((name.to_string(), tracer)));
        tracers.push(entry);
        entry
    }
}

/// The resource an instance's spans are exported under.
fn resource(service: &Service, attributes: &[KeyValue]) -> Resource {
    let mut resource = Resource::builder()
        .with_service_name(service.name.clone())
        .with_attributes(attributes.iter().cloned());
    if let Some(version) = &service.version {
        resource = resource.with_attribute(KeyValue::new("service.version", version.clone()));
    }
    resource.build()
}
