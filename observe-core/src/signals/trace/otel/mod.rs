//! Span export with OpenTelemetry (feature `tracing`): the tracer provider
//! is process-wide and installed once; each `Observe` gets a tracer of its
//! own, whose spans are exported under its own resource (`service.name`,
//! `service.version`).

mod builder;
mod export;
mod sampling;
mod span;

use std::cell::Cell;
use std::sync::{OnceLock, RwLock};

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use crate::base::service::Service;

pub use builder::{DEFAULT_SPAN_QUEUE, TracingBuilder, TracingError, TracingGuard};
/// The sampler type [`TracingBuilder::sampler`] takes (OpenTelemetry's).
pub use opentelemetry_sdk::trace::Sampler;
pub(crate) use span::{
    ClientSpan, current_span_ids, exemplar, finish_request, finish_rpc, in_client_span,
    record_path, start_client_span, start_request, subscriber_layer,
};

/// One instance's tracer: its provider (its resource), feeding the shared
/// export queue.
#[derive(Debug)]
pub(crate) struct Instance {
    name: String,
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

/// The installed export pipeline.
#[derive(Debug)]
pub(crate) struct Exporting {
    /// One per service name, made once and kept for the life of the
    /// process (like the pipeline): a request borrows its tracer.
    instances: RwLock<Vec<&'static Instance>>,
    queue: export::Queue,
    sampler: Sampler,
    /// Whether the sampler may read a span's attributes (else a server
    /// span's decision is taken without building them).
    reads_attributes: bool,
    /// `OTEL_RESOURCE_ATTRIBUTES`, for every instance's resource.
    attributes: Vec<KeyValue>,
}

/// The process's export pipeline: one, like the export thread it feeds.
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
    /// The configured sampler, for the decision observe takes before the
    /// SDK builds a server span.
    pub(crate) fn sampler(&self) -> &Sampler {
        &self.sampler
    }

    /// Whether the sampler may read a span's attributes.
    pub(crate) fn sampler_reads_attributes(&self) -> bool {
        self.reads_attributes
    }

    /// The instance that installed tracing (made first, by `init`).
    pub(crate) fn installer(&self) -> Option<&'static Instance> {
        self.instances
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .first()
            .copied()
    }

    /// The tracer of `service`, made on first use. A thread remembers the
    /// last one it used, so the common case takes no lock.
    pub(crate) fn tracer_for(&self, service: &Service) -> &'static SdkTracer {
        &self.instance_for(service).tracer
    }

    pub(crate) fn instance_for(&self, service: &Service) -> &'static Instance {
        thread_local! {
            static LAST: Cell<Option<&'static Instance>> = const { Cell::new(None) };
        }
        if let Some(instance) = LAST.get()
            && instance.name == service.name
        {
            return instance;
        }
        let found = self
            .instances
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .find(|i| i.name == service.name);
        let instance = found.unwrap_or_else(|| self.add(service));
        LAST.set(Some(instance));
        instance
    }

    /// A provider for `service`, with its resource, on the shared queue.
    fn add(&self, service: &Service) -> &'static Instance {
        let mut instances = self.instances.write().unwrap_or_else(|p| p.into_inner());
        if let Some(instance) = instances.iter().find(|i| i.name == service.name) {
            return instance;
        }
        let provider = SdkTracerProvider::builder()
            .with_span_processor(self.queue.processor(instances.len()))
            .with_sampler(sampling::Presampled(self.sampler.clone()))
            .with_id_generator(sampling::Ids)
            .with_resource(resource(service, &self.attributes))
            .build();
        let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "observe");
        // One per service name in the process, like the pipeline itself.
        let instance: &'static Instance = Box::leak(Box::new(Instance {
            name: service.name.clone(),
            provider,
            tracer,
        }));
        instances.push(instance);
        instance
    }
}

impl Instance {
    /// The instance's tracer.
    pub(crate) fn tracer(&self) -> &SdkTracer {
        &self.tracer
    }

    /// The instance's provider, to flush and shut down.
    pub(crate) fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }
}

/// The resource an instance's spans are exported under.
fn resource(service: &Service, attributes: &[KeyValue]) -> Resource {
    // The builder's attributes, then the variable's: the later wins.
    let mut resource = Resource::builder()
        .with_service_name(service.name.clone())
        .with_attributes(
            service
                .attributes
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .with_attributes(attributes.iter().cloned());
    if let Some(version) = &service.version {
        resource = resource.with_attribute(KeyValue::new("service.version", version.clone()));
    }
    resource.build()
}
