//! Where lines go: a bounded queue that never blocks a request, drained by
//! one writer thread, the only place that touches stdout.

use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::Duration;

use super::level::LevelFilter;
use super::remap::RemapTable;
use crate::base::line::{self, LineRequest, LogFormat};
use crate::base::queue::{Flushed, flush_through};
use crate::base::service::Service;
use crate::metrics::signals::counters;
use tracing::Level;

pub(super) enum Message {
    /// A line's text, for the writer.
    Line(String),
    Flush(SyncSender<()>),
}

/// A record written beside (or instead of) a line's text, for the OTLP
/// exporter.
#[cfg(feature = "otlp")]
pub(crate) use crate::otlp::logs::Record;

/// Without the `otlp` feature there are no records.
#[cfg(not(feature = "otlp"))]
#[derive(Debug)]
pub(crate) enum Record {}

/// A line being written: its text when the writer (stdout, or the writer
/// given) wants lines, and its OTLP record when logs are exported. Each
/// producer writes both from the same values, so neither is read back
/// from the other.
#[derive(Debug)]
pub(crate) struct Line {
    /// The text, JSON or plain, after its opening.
    pub(crate) text: Option<String>,
    /// The record, after its opening.
    pub(crate) record: Option<Record>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

/// The installed logging: filter, remapping, format, the installing
/// instance's identity (for lines outside any request) and the queue.
#[derive(Debug)]
pub(crate) struct LogSink {
    /// The filter, replaceable at run time.
    pub(super) level: LevelFilter,
    pub(super) remap: RemapTable,
    pub(super) format: LogFormat,
    /// Whether the writer wants lines (stdout, or the writer given).
    pub(super) text: bool,
    /// Where records go, when logs are exported over OTLP: straight from
    /// the thread that wrote them to the exporter's queue.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(super) exporter: Option<Exporter>,
    /// Who speaks outside a request: the installing instance.
    pub(super) service: Service,
    pub(super) sender: SyncSender<Message>,
}

fn level_index(level: Level) -> usize {
    match level {
        Level::ERROR => 0,
        Level::WARN => 1,
        Level::INFO => 2,
        Level::DEBUG => 3,
        Level::TRACE => 4,
    }
}

impl LogSink {
    /// The level an event is treated as, and whether it is written.
    pub(crate) fn decide(&self, target: &str, level: Level) -> Option<Level> {
        let level = self.remap.apply(target, level);
        self.level.enables(target, &level).then_some(level)
    }

    /// Queues a finished line: its text for the writer, its record for the
    /// exporter. Never blocks: a full queue drops what it cannot take and
    /// counts it (`observe_log_lines_dropped_total`, or the exporter's
    /// `observe_otlp_items_dropped_total{reason="queue_full"}`).
    pub(crate) fn send(&self, level: Level, line: Line) {
        let counters = &counters().logs;
        counters.line(level_index(level));
        #[cfg(feature = "otlp")]
        if let (Some(record), Some(exporter)) = (line.record, &self.exporter) {
            exporter.push(record.finish());
        }
        #[cfg(not(feature = "otlp"))]
        if let Some(record) = line.record {
            match record {}
        }
        let Some(text) = line.text else {
            return;
        };
        match self.sender.try_send(Message::Line(text)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => counters.dropped(),
        }
    }

    /// The line format.
    pub(crate) fn format(&self) -> LogFormat {
        self.format
    }

    /// The service lines outside any request speak for.
    pub(crate) fn service(&self) -> &Service {
        &self.service
    }

    /// A line for `service`, inside `request` if any, opened up to (not
    /// including) the message: its text (`capacity` bytes reserved) when
    /// the writer wants lines, its record when logs are exported.
    pub(crate) fn begin(
        &self,
        level: Level,
        original: Level,
        target: &str,
        service: &Service,
        request: Option<LineRequest<'_>>,
        capacity: usize,
    ) -> Line {
        let text = self.text.then(|| {
            let mut out = String::with_capacity(capacity);
            line::begin(
                &mut out,
                self.format,
                level,
                original,
                target,
                service,
                request,
            );
            out
        });
        #[cfg(feature = "otlp")]
        let record = self.exporter.is_some().then(|| {
            let mut record = Record::begin(level, original, target, request, capacity);
            if service.name != self.service.name {
                record.set_service(&service.name);
            }
            record
        });
        #[cfg(not(feature = "otlp"))]
        let record = None;
        Line { text, record }
    }
}

/// Flushes queued lines when dropped (at most two seconds): keep it alive
/// for the life of `main`.
#[must_use = "dropping the guard flushes and ends logging's writer thread's buffer"]
#[derive(Debug)]
pub struct LoggingGuard {
    pub(super) sender: SyncSender<Message>,
}

impl LoggingGuard {
    /// Waits until every line queued so far is written, at most `timeout`
    /// in all: a stuck stdout cannot hold up shutdown. Returns whether
    /// every line was written.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        flush_through(&self.sender, Message::Flush, deadline) == Flushed::Done
    }
}

impl Drop for LoggingGuard {
    fn drop(&mut self) {
        let _ = self.flush(Duration::from_secs(2));
    }
}

/// The OTLP exporter lines are handed to, when `OTEL_LOGS_EXPORTER` has
/// `otlp`.
#[cfg(feature = "otlp")]
pub(super) type Exporter = crate::otlp::logs::LineExporter;

/// Without the `otlp` feature there is none.
#[cfg(not(feature = "otlp"))]
#[derive(Debug, Clone)]
pub(super) enum NoExporter {}

#[cfg(not(feature = "otlp"))]
pub(super) type Exporter = NoExporter;

#[cfg(not(feature = "otlp"))]
impl NoExporter {
    fn flush(&self, _deadline: std::time::Instant) -> bool {
        match *self {}
    }
}

/// The writer thread: the only place that touches stdout, so a slow or
/// blocked stdout stalls nothing but this thread. With an OTLP exporter,
/// a flush flushes it too (records go to its queue from the threads that
/// write them).
pub(super) fn write_lines(
    receiver: Receiver<Message>,
    writer: Box<dyn Write + Send>,
    otlp: Option<Exporter>,
) {
    use std::sync::mpsc::TryRecvError;
    // The thread polls instead of blocking in `recv`: a blocked receiver
    // makes every sender wake it (a futex call per line); polling lets a
    // busy service hand over lines with a few atomic operations. Idle, the
    // pause doubles up to 50 ms, so a quiet service wakes 20 times a second
    // and a line waits at most that long.
    const BUSY: Duration = Duration::from_millis(1);
    const IDLE: Duration = Duration::from_millis(50);
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, writer);
    let mut pause = BUSY;
    loop {
        match receiver.try_recv() {
            Ok(Message::Line(text)) => {
                let _ = out.write_all(text.as_bytes());
                pause = BUSY;
            }
            Ok(Message::Flush(ack)) => {
                let _ = out.flush();
                if let Some(otlp) = &otlp {
                    let _ = otlp.flush(std::time::Instant::now() + Duration::from_secs(5));
                }
                let _ = ack.send(());
            }
            Err(TryRecvError::Empty) => {
                let _ = out.flush();
                std::thread::sleep(pause);
                pause = (pause * 2).min(IDLE);
            }
            Err(TryRecvError::Disconnected) => {
                let _ = out.flush();
                return;
            }
        }
    }
}
