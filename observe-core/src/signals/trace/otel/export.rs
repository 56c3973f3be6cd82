//! Finished spans go to one export thread through a bounded queue; the
//! thread batches them and sends OTLP/HTTP. A dead or slow collector only
//! fills the queue: further spans are dropped and counted, requests never
//! wait.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use opentelemetry::{Context as OtelContext, InstrumentationScope};
use opentelemetry_sdk::Resource;

use super::SERVICE_KEY;
use crate::base::queue::{Flushed, flush_through};
use crate::metrics::signals::counters;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

/// Spans sent per OTLP request at most.
const MAX_BATCH: usize = 512;

/// How long a span may wait for its batch to fill.
const BATCH_DELAY: Duration = Duration::from_millis(500);

/// The span attribute marking a span not to export (a request to an
/// excluded route, known only when it ends).
pub(crate) const DISCARD: &str = "observe.discard";

/// The resources of the instances, by service name, shared with the
/// export thread.
type Resources = Arc<RwLock<Vec<(String, Resource)>>>;

/// Registers each instance's resource with the export thread.
#[derive(Debug, Clone, Default)]
pub(crate) struct Registrar {
    resources: Resources,
}

impl Registrar {
    /// Spans of `service` are exported under `resource` from now on.
    pub(crate) fn register(&self, service: String, resource: Resource) {
        let mut resources = self.resources.write().unwrap_or_else(|p| p.into_inner());
        if !resources.iter().any(|(name, _)| *name == service) {
            resources.push((service, resource));
        }
    }
}

enum Message {
    Span(Box<SpanData>),
    Resource(Resource),
    Flush(SyncSender<()>),
}

/// The span processor installed by [`TracingBuilder::init`](super::TracingBuilder::init).
#[derive(Debug)]
pub(crate) struct QueueProcessor {
    queue: SyncSender<Message>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

impl QueueProcessor {
    /// Starts the export thread; `make_exporter` runs on it (the OTLP
    /// exporter's blocking HTTP client must not be created inside an async
    /// runtime). Its error is returned here.
    pub(crate) fn start<E, F>(queue: usize, make_exporter: F) -> Result<(Self, Registrar), String>
    where
        E: SpanExporter + 'static,
        F: FnOnce() -> Result<E, String> + Send + 'static,
    {
        let (sender, receiver) = sync_channel(queue);
        let (built, outcome) = sync_channel(1);
        let registrar = Registrar::default();
        let resources = Arc::clone(&registrar.resources);
        std::thread::Builder::new()
            .name("observe-traces".into())
            .spawn(move || match make_exporter() {
                Ok(exporter) => {
                    let _ = built.send(Ok(()));
                    run(exporter, &receiver, &resources);
                }
                Err(e) => {
                    let _ = built.send(Err(e));
                }
            })
            .map_err(|e| format!("cannot start the export thread: {e}"))?;
        outcome
            .recv()
            .map_err(|_| "the export thread stopped".to_string())??;
        Ok((Self { queue: sender }, registrar))
    }

    fn flush(&self, timeout: Duration) -> OTelSdkResult {
        let deadline = Instant::now() + timeout;
        match flush_through(&self.queue, Message::Flush, deadline) {
            // A stopped export thread has nothing left to flush.
            Flushed::Done | Flushed::Gone => Ok(()),
            Flushed::TimedOut => Err(OTelSdkError::Timeout(timeout)),
        }
    }
}

impl SpanProcessor for QueueProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &OtelContext) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled()
            || span.attributes.iter().any(|kv| kv.key.as_str() == DISCARD)
        {
            return;
        }
        if self.queue.try_send(Message::Span(Box::new(span))).is_err() {
            counters().spans.queue_full.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.flush(Duration::from_secs(5))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.flush(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        let _ = self.queue.try_send(Message::Resource(resource.clone()));
    }
}

fn run<E: SpanExporter>(mut exporter: E, receiver: &Receiver<Message>, resources: &Resources) {
    let mut batch: Vec<SpanData> = Vec::with_capacity(MAX_BATCH);
    let mut oldest: Option<Instant> = None;
    // The provider's resource: for spans of no registered instance.
    let mut default = Resource::builder_empty().build();
    loop {
        let wait = oldest.map_or(Duration::from_secs(3600), |t| {
            BATCH_DELAY.saturating_sub(t.elapsed())
        });
        match receiver.recv_timeout(wait) {
            Ok(Message::Span(span)) => {
                batch.push(*span);
                oldest.get_or_insert_with(Instant::now);
                if batch.len() >= MAX_BATCH {
                    export(&mut exporter, &mut batch, resources, &default);
                    oldest = None;
                }
            }
            Ok(Message::Resource(resource)) => default = resource,
            Ok(Message::Flush(ack)) => {
                export(&mut exporter, &mut batch, resources, &default);
                oldest = None;
                let _ = ack.send(());
            }
            Err(RecvTimeoutError::Timeout) => {
                export(&mut exporter, &mut batch, resources, &default);
                oldest = None;
            }
            Err(RecvTimeoutError::Disconnected) => {
                export(&mut exporter, &mut batch, resources, &default);
                return;
            }
        }
    }
}

/// Exports the batch, one OTLP request per instance, each under its
/// instance's resource.
fn export<E: SpanExporter>(
    exporter: &mut E,
    batch: &mut Vec<SpanData>,
    resources: &Resources,
    default: &Resource,
) {
    if batch.is_empty() {
        return;
    }
    let mut spans = std::mem::take(batch);
    while !spans.is_empty() {
        let service = instance_of(&spans[0]);
        let (mut group, rest): (Vec<_>, Vec<_>) = spans
            .into_iter()
            .partition(|span| instance_of(span) == service);
        spans = rest;
        let resource = service.as_deref().and_then(|service| {
            let resources = resources.read().unwrap_or_else(|p| p.into_inner());
            resources
                .iter()
                .find(|(name, _)| name == service)
                .map(|(_, resource)| resource.clone())
        });
        exporter.set_resource(resource.as_ref().unwrap_or(default));
        for span in &mut group {
            span.instrumentation_scope = clean_scope(&span.instrumentation_scope);
        }
        let count = group.len() as u64;
        let counters = &counters().spans;
        let counter = match block_on(exporter.export(group)) {
            Ok(()) => &counters.exported,
            Err(_) => &counters.export_failed,
        };
        counter.fetch_add(count, Ordering::Relaxed);
    }
}

/// The service whose tracer made `span`.
fn instance_of(span: &SpanData) -> Option<String> {
    span.instrumentation_scope
        .attributes()
        .find(|kv| kv.key.as_str() == SERVICE_KEY)
        .map(|kv| kv.value.as_str().into_owned())
}

/// The scope without observe's routing attribute.
fn clean_scope(scope: &InstrumentationScope) -> InstrumentationScope {
    let mut clean = InstrumentationScope::builder(scope.name().to_owned());
    if let Some(version) = scope.version() {
        clean = clean.with_version(version.to_owned());
    }
    clean
        .with_attributes(
            scope
                .attributes()
                .filter(|kv| kv.key.as_str() != SERVICE_KEY)
                .cloned(),
        )
        .build()
}

/// Runs a future to completion on this thread (the OTLP HTTP exporter's
/// future does its I/O with a blocking client, so it is ready at once).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}
