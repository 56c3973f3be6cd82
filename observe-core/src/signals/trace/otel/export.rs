//! Finished spans go to one export thread through a bounded queue; the
//! thread batches them and sends OTLP/HTTP. A dead or slow collector only
//! fills the queue: further spans are dropped and counted, requests never
//! wait. Each instance has a provider of its own (its resource: its
//! `service.name`); all of them feed this one queue, and the thread sends
//! each instance's spans under its resource.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use opentelemetry::Context as OtelContext;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

use crate::base::queue::{Flushed, flush_through};
use crate::metrics::signals::counters;

/// Spans sent per OTLP request at most.
const MAX_BATCH: usize = 512;

/// How long a span may wait for its batch to fill.
const BATCH_DELAY: Duration = Duration::from_millis(500);

/// The span attribute marking a span not to export (a request to an
/// excluded route, known only when it ends).
pub(crate) const DISCARD: &str = "observe.discard";

enum Message {
    /// A finished span of instance `.1`.
    Span(Box<SpanData>, usize),
    /// The resource of instance `.0`.
    Resource(usize, Resource),
    Flush(SyncSender<()>),
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

/// The export thread's queue; [`Queue::processor`] makes the span
/// processor of one instance's provider.
#[derive(Debug, Clone)]
pub(crate) struct Queue {
    sender: SyncSender<Message>,
}

impl Queue {
    /// Starts the export thread; `make_exporter` runs on it (the OTLP
    /// exporter's blocking HTTP client must not be created inside an async
    /// runtime). Its error is returned here.
    pub(crate) fn start<E, F>(queue: usize, make_exporter: F) -> Result<Self, String>
    where
        E: SpanExporter + 'static,
        F: FnOnce() -> Result<E, String> + Send + 'static,
    {
        let (sender, receiver) = sync_channel(queue);
        let (built, outcome) = sync_channel(1);
        std::thread::Builder::new()
            .name("observe-traces".into())
            .spawn(move || match make_exporter() {
                Ok(exporter) => {
                    let _ = built.send(Ok(()));
                    run(exporter, &receiver);
                }
                Err(e) => {
                    let _ = built.send(Err(e));
                }
            })
            .map_err(|e| format!("cannot start the export thread: {e}"))?;
        outcome
            .recv()
            .map_err(|_| "the export thread stopped".to_string())??;
        Ok(Self { sender })
    }

    /// The span processor for instance `instance`'s provider.
    pub(crate) fn processor(&self, instance: usize) -> InstanceProcessor {
        InstanceProcessor {
            sender: self.sender.clone(),
            instance,
        }
    }
}

/// One instance's span processor: hands its spans, marked with the
/// instance, to the shared export thread.
#[derive(Debug)]
pub(crate) struct InstanceProcessor {
    sender: SyncSender<Message>,
    instance: usize,
}

impl InstanceProcessor {
    fn flush(&self, timeout: Duration) -> OTelSdkResult {
        let deadline = Instant::now() + timeout;
        match flush_through(&self.sender, Message::Flush, deadline) {
            // A stopped export thread has nothing left to flush.
            Flushed::Done | Flushed::Gone => Ok(()),
            Flushed::TimedOut => Err(OTelSdkError::Timeout(timeout)),
        }
    }
}

impl SpanProcessor for InstanceProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &OtelContext) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled()
            || span.attributes.iter().any(|kv| kv.key.as_str() == DISCARD)
        {
            return;
        }
        let message = Message::Span(Box::new(span), self.instance);
        if self.sender.try_send(message).is_err() {
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
        // Blocking is fine here: it happens once, when the provider is built.
        let _ = self
            .sender
            .send(Message::Resource(self.instance, resource.clone()));
    }
}

fn run<E: SpanExporter>(mut exporter: E, receiver: &Receiver<Message>) {
    let mut batch: Vec<(SpanData, usize)> = Vec::with_capacity(MAX_BATCH);
    let mut resources: Vec<Resource> = Vec::new();
    let mut oldest: Option<Instant> = None;
    loop {
        let wait = oldest.map_or(Duration::from_secs(3600), |t| {
            BATCH_DELAY.saturating_sub(t.elapsed())
        });
        match receiver.recv_timeout(wait) {
            Ok(Message::Span(span, instance)) => {
                batch.push((*span, instance));
                oldest.get_or_insert_with(Instant::now);
                if batch.len() >= MAX_BATCH {
                    export(&mut exporter, &mut batch, &resources);
                    oldest = None;
                }
            }
            Ok(Message::Resource(instance, resource)) => {
                if resources.len() <= instance {
                    resources.resize_with(instance + 1, || Resource::builder_empty().build());
                }
                resources[instance] = resource;
            }
            Ok(Message::Flush(ack)) => {
                export(&mut exporter, &mut batch, &resources);
                oldest = None;
                let _ = ack.send(());
            }
            Err(RecvTimeoutError::Timeout) => {
                export(&mut exporter, &mut batch, &resources);
                oldest = None;
            }
            Err(RecvTimeoutError::Disconnected) => {
                export(&mut exporter, &mut batch, &resources);
                return;
            }
        }
    }
}

/// Exports the batch, one OTLP request per instance, each under its
/// instance's resource.
fn export<E: SpanExporter>(
    exporter: &mut E,
    batch: &mut Vec<(SpanData, usize)>,
    resources: &[Resource],
) {
    let mut spans = std::mem::take(batch);
    while let Some(&(_, instance)) = spans.first() {
        // One instance (the usual case) needs no sorting out.
        let group = if spans.iter().all(|(_, of)| *of == instance) {
            std::mem::take(&mut spans)
        } else {
            let (group, rest): (Vec<_>, Vec<_>) =
                spans.into_iter().partition(|(_, of)| *of == instance);
            spans = rest;
            group
        };
        if let Some(resource) = resources.get(instance) {
            exporter.set_resource(resource);
        }
        let group: Vec<SpanData> = group.into_iter().map(|(span, _)| span).collect();
        let count = group.len() as u64;
        let counters = &counters().spans;
        let counter = match block_on(exporter.export(group)) {
            Ok(()) => &counters.exported,
            Err(_) => &counters.export_failed,
        };
        counter.fetch_add(count, Ordering::Relaxed);
    }
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
