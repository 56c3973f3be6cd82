//! Finished spans go to one export thread through a bounded queue; the
//! thread batches them and sends OTLP/HTTP. A dead or slow collector only
//! fills the queue: further spans are dropped and counted, requests never
//! wait.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use opentelemetry::Context as OtelContext;

use crate::queue::{Flushed, flush_through};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

/// Spans sent per OTLP request at most.
const MAX_BATCH: usize = 512;

/// How long a span may wait for its batch to fill.
const BATCH_DELAY: Duration = Duration::from_millis(500);

/// The span attribute marking a span not to export (a request to an
/// excluded route, known only when it ends).
pub(crate) const DISCARD: &str = "observe.discard";

/// Spans exported and dropped, rendered in every `Observe`'s exposition.
#[derive(Debug, Default)]
pub(crate) struct SpanCounters {
    exported: AtomicU64,
    queue_full: AtomicU64,
    export_failed: AtomicU64,
}

impl SpanCounters {
    /// Exported, dropped for a full queue, dropped by a failed export.
    pub(crate) fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.exported.load(Ordering::Relaxed),
            self.queue_full.load(Ordering::Relaxed),
            self.export_failed.load(Ordering::Relaxed),
        )
    }
}

pub(crate) fn counters() -> &'static SpanCounters {
    static COUNTERS: OnceLock<SpanCounters> = OnceLock::new();
    COUNTERS.get_or_init(SpanCounters::default)
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
        Ok(Self { queue: sender })
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
            counters().queue_full.fetch_add(1, Ordering::Relaxed);
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

fn run<E: SpanExporter>(mut exporter: E, receiver: &Receiver<Message>) {
    let mut batch: Vec<SpanData> = Vec::with_capacity(MAX_BATCH);
    let mut oldest: Option<Instant> = None;
    loop {
        let wait = oldest.map_or(Duration::from_secs(3600), |t| {
            BATCH_DELAY.saturating_sub(t.elapsed())
        });
        match receiver.recv_timeout(wait) {
            Ok(Message::Span(span)) => {
                batch.push(*span);
                oldest.get_or_insert_with(Instant::now);
                if batch.len() >= MAX_BATCH {
                    export(&exporter, &mut batch);
                    oldest = None;
                }
            }
            Ok(Message::Resource(resource)) => exporter.set_resource(&resource),
            Ok(Message::Flush(ack)) => {
                export(&exporter, &mut batch);
                oldest = None;
                let _ = ack.send(());
            }
            Err(RecvTimeoutError::Timeout) => {
                export(&exporter, &mut batch);
                oldest = None;
            }
            Err(RecvTimeoutError::Disconnected) => {
                export(&exporter, &mut batch);
                return;
            }
        }
    }
}

fn export<E: SpanExporter>(exporter: &E, batch: &mut Vec<SpanData>) {
    if batch.is_empty() {
        return;
    }
    let spans = std::mem::take(batch);
    let count = spans.len() as u64;
    let counter = match block_on(exporter.export(spans)) {
        Ok(()) => &counters().exported,
        Err(_) => &counters().export_failed,
    };
    counter.fetch_add(count, Ordering::Relaxed);
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
