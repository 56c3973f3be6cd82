//! Span export with OpenTelemetry (feature `tracing`): the tracer provider
//! is process-wide and installed once; each `Observe` gets a tracer of its
//! own, whose spans are exported under its own resource (`service.name`,
//! `service.version`).

mod builder;
mod export;
mod span;

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
    /// One tracer per instance, by service name.
    tracers: RwLock<Vec<(String, SdkTracer)>>,
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
    pub(crate) fn installer_tracer(&self) -> SdkTracer {
        let tracers = self.tracers.read().unwrap_or_else(|p| p.into_inner());
        match tracers.first() {
            Some((_, tracer)) => tracer.clone(),
            None => opentelemetry::trace::TracerProvider::tracer(&self.provider, "observe"),
        }
    }

    /// The tracer of `service`, made (and its resource registered with the
    /// exporter) on first use.
    pub(crate) fn tracer_for(&self, service: &Service) -> SdkTracer {
        let found = self
            .tracers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(name, _)| *name == service.name)
            .map(|(_, tracer)| tracer.clone());
        if let Some(tracer) = found {
            return tracer;
        }
        let mut tracers = self.tracers.write().unwrap_or_else(|p| p.into_inner());
        if let Some((_, tracer)) = tracers.iter().find(|(name, _)| *name == service.name) {
            return tracer.clone();
        }
        self.export
            .register(service.name.clone(), resource(service, &self.attributes));
        let scope = InstrumentationScope::builder("observe")
            .with_version(env!("CARGO_PKG_VERSION"))
            .with_attributes([KeyValue::new(SERVICE_KEY, service.name.clone())])
            .build();
        let tracer = opentelemetry::trace::TracerProvider::tracer_with_scope(&self.provider, scope);
        tracers.push((service.name.clone(), tracer.clone()));
        tracer
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
