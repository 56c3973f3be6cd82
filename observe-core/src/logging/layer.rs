//! One call sets up logging: a `tracing` layer that remaps levels, filters,
//! redacts and writes JSON (or human) lines to stdout through a bounded,
//! non-blocking queue.

use std::fmt::Write as _;
use std::io::Write;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

use super::json;
use super::redact::{REDACTED, Redactor};
use super::remap::{Remap, RemapError, RemapTable};
use super::time::rfc3339;
use crate::Observe;

/// Default for [`LoggingBuilder::buffer_lines`].
pub const DEFAULT_BUFFER_LINES: usize = 8192;

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for an aggregator (the default).
    Json,
    /// `timestamp LEVEL target: message key=value`, for a terminal.
    Text,
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoggingError {
    /// `RUST_LOG` (or the builder's filter) could not be parsed.
    #[error(
        "invalid {source_name}={value:?}: {reason}; expected comma-separated directives LEVEL or TARGET=LEVEL with levels off, error, warn, info, debug, trace (e.g. \"info,shop=debug,hyper=warn\")"
    )]
    Filter {
        /// `RUST_LOG` or `builder`.
        source_name: String,
        /// The value given.
        value: String,
        /// The parser's complaint.
        reason: String,
    },
    /// A remap entry is malformed.
    #[error(transparent)]
    Remap(#[from] RemapError),
    /// `OBSERVE_LOG_FORMAT` is neither `json` nor `text`.
    #[error("invalid OBSERVE_LOG_FORMAT={0:?}: expected json or text")]
    Format(String),
    /// A global subscriber or `log` logger is already installed.
    #[error("logging is already set up in this process: {0}")]
    AlreadySet(String),
}

/// Lines by level and lines dropped, rendered as `observe_log_events_total`
/// and `observe_log_lines_dropped_total`.
#[derive(Debug, Default)]
pub(crate) struct LogCounters {
    by_level: [AtomicU64; 5],
    dropped: AtomicU64,
}

pub(crate) const LEVELS: [Level; 5] = [
    Level::ERROR,
    Level::WARN,
    Level::INFO,
    Level::DEBUG,
    Level::TRACE,
];

fn level_index(level: Level) -> usize {
    LEVELS.iter().position(|l| *l == level).unwrap_or(2)
}

impl LogCounters {
    pub(crate) fn snapshot(&self) -> ([u64; 5], u64) {
        (
            std::array::from_fn(|i| self.by_level[i].load(Ordering::Relaxed)),
            self.dropped.load(Ordering::Relaxed),
        )
    }
}

enum Message {
    Line(String),
    Flush(SyncSender<()>),
}

/// Where this `Observe`'s lines go once logging is set up; the per-request
/// event is written through it too.
#[derive(Debug)]
pub(crate) struct LogSink {
    targets: Targets,
    remap: RemapTable,
    format: LogFormat,
    pub(crate) redactor: Redactor,
    service: String,
    sender: SyncSender<Message>,
    counters: Arc<LogCounters>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

impl LogSink {
    /// The level an event is treated as, and whether it is written.
    pub(crate) fn decide(&self, target: &str, level: Level) -> Option<Level> {
        let level = self.remap.apply(target, level);
        self.targets.would_enable(target, &level).then_some(level)
    }

    /// Queues a finished line; never blocks. A full queue drops the line
    /// and counts it.
    pub(crate) fn send(&self, level: Level, line: String) {
        self.counters.by_level[level_index(level)].fetch_add(1, Ordering::Relaxed);
        match self.sender.try_send(Message::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn format(&self) -> LogFormat {
        self.format
    }

    /// The opening of every line up to (not including) the message: time,
    /// level, target, service, request id.
    pub(crate) fn begin(
        &self,
        out: &mut String,
        level: Level,
        original: Level,
        target: &str,
        request: Option<&crate::context::RequestContext>,
    ) {
        let ids = request.map(|r| (r.request_id(), r.trace_ids()));
        let now = rfc3339(SystemTime::now());
        match self.format {
            LogFormat::Json => {
                out.push('{');
                json::own_key!(out, "timestamp", first);
                json::plain_string(out, &now);
                json::own_key!(out, "level");
                json::plain_string(out, level.as_str());
                if original != level {
                    json::own_key!(out, "original_level");
                    json::plain_string(out, original.as_str());
                }
                json::own_key!(out, "target");
                json::string(out, target);
                json::own_key!(out, "service");
                json::string(out, &self.service);
                if let Some((id, trace)) = &ids {
                    json::own_key!(out, "request_id");
                    // Sane or generated: `[A-Za-z0-9._:-]` only.
                    json::plain_string(out, id);
                    json::own_key!(out, "trace_id");
                    trace.write_trace_id(out);
                    json::own_key!(out, "span_id");
                    trace.write_span_id(out);
                }
            }
            LogFormat::Text => {
                let _ = write!(out, "{now} {:>5} {target}:", level.as_str());
                if let Some((id, trace)) = &ids {
                    let _ = write!(out, " [{id} trace={}]", trace.trace_id_hex());
                }
            }
        }
    }
}

/// Collects an event's message and fields, redacted.
struct Fields<'a> {
    redactor: &'a Redactor,
    format: LogFormat,
    message: String,
    fields: String,
    first: bool,
}

impl Fields<'_> {
    fn push(&mut self, field: &Field, value: FieldValue<'_>) {
        let name = field.name();
        if name == "message" {
            if let FieldValue::Text(text) = value {
                self.message = self.redactor.redact_value(&text).into_owned();
            }
            return;
        }
        if name.starts_with("log.") {
            // tracing-log's bookkeeping fields (module path, file, line).
            return;
        }
        let sensitive = self.redactor.is_sensitive_key(name);
        match self.format {
            LogFormat::Json => {
                json::key(&mut self.fields, name, self.first);
                match value {
                    _ if sensitive => json::string(&mut self.fields, REDACTED),
                    FieldValue::Text(text) => {
                        json::string(&mut self.fields, &self.redactor.redact_value(&text))
                    }
                    FieldValue::Integer(n) => json::integer(&mut self.fields, n),
                    FieldValue::Number(n) => json::number(&mut self.fields, n),
                    FieldValue::Bool(b) => self.fields.push_str(if b { "true" } else { "false" }),
                }
            }
            LogFormat::Text => {
                let _ = write!(self.fields, " {name}=");
                match value {
                    _ if sensitive => self.fields.push_str(REDACTED),
                    FieldValue::Text(text) => {
                        let _ = write!(self.fields, "{:?}", self.redactor.redact_value(&text));
                    }
                    FieldValue::Integer(n) => {
                        let _ = write!(self.fields, "{n}");
                    }
                    FieldValue::Number(n) => {
                        let _ = write!(self.fields, "{n}");
                    }
                    FieldValue::Bool(b) => {
                        let _ = write!(self.fields, "{b}");
                    }
                }
            }
        }
        self.first = false;
    }
}

enum FieldValue<'a> {
    Text(std::borrow::Cow<'a, str>),
    Integer(i128),
    Number(f64),
    Bool(bool),
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, FieldValue::Text(value.into()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.push(field, FieldValue::Text(format!("{value:?}").into()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::Integer(value.into()));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, FieldValue::Integer(value.into()));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, FieldValue::Number(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }
}

/// The `tracing` layer of [`LoggingBuilder::init`].
struct LogLayer {
    sink: Arc<LogSink>,
    /// Spans are exported: let them through (filtered like events), for
    /// the OpenTelemetry layer beside this one.
    spans: bool,
}

impl LogLayer {
    fn enabled_for(&self, metadata: &Metadata<'_>) -> bool {
        (metadata.is_event() || self.spans)
            && self
                .sink
                .decide(metadata.target(), *metadata.level())
                .is_some()
    }
}

impl<S: Subscriber> Layer<S> for LogLayer {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        // Remapping depends only on the callsite's target and level, so the
        // decision is made once per callsite.
        if self.enabled_for(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        self.enabled_for(metadata)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let metadata = event.metadata();
        // tracing-log events carry the `log` record's target.
        let target = event
            .normalized_metadata()
            .map(|m| m.target().to_string())
            .unwrap_or_else(|| metadata.target().to_string());
        let Some(level) = self.sink.decide(&target, *metadata.level()) else {
            return;
        };
        let mut fields = Fields {
            redactor: &self.sink.redactor,
            format: self.sink.format,
            message: String::new(),
            fields: String::new(),
            first: true,
        };
        event.record(&mut fields);
        let mut line = String::with_capacity(256);
        let request = crate::context::RequestContext::current();
        self.sink.begin(
            &mut line,
            level,
            *metadata.level(),
            &target,
            request.as_deref(),
        );
        match self.sink.format {
            LogFormat::Json => {
                json::own_key!(&mut line, "message");
                json::string(&mut line, &fields.message);
                if !fields.fields.is_empty() {
                    json::own_key!(&mut line, "fields");
                    line.push('{');
                    line.push_str(&fields.fields);
                    line.push('}');
                }
                line.push('}');
            }
            LogFormat::Text => {
                line.push(' ');
                line.push_str(&fields.message);
                line.push_str(&fields.fields);
            }
        }
        line.push('\n');
        self.sink.send(level, line);
        if level == Level::ERROR
            && crate::errors::reports_log_target(&target)
            && let Some(errors) = crate::errors::tracker()
        {
            let normalized = event.normalized_metadata();
            let callsite = normalized.as_ref().unwrap_or(metadata);
            let callsite = format!(
                "{}:{}",
                callsite.file().unwrap_or("?"),
                callsite.line().unwrap_or(0)
            );
            errors.log_line(&target, &callsite, &fields.message, &fields.fields);
        }
    }
}

/// Flushes queued lines when dropped (at most two seconds): keep it alive
/// for the life of `main`.
#[must_use = "dropping the guard flushes and ends logging's writer thread's buffer"]
#[derive(Debug)]
pub struct LogGuard {
    sender: SyncSender<Message>,
}

impl LogGuard {
    /// Waits until every line queued so far is written, at most `timeout`
    /// in all: a stuck stdout cannot hold up shutdown.
    pub fn flush(&self, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        crate::queue::flush_through(&self.sender, Message::Flush, deadline);
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.flush(Duration::from_secs(2));
    }
}

/// Configures logging; from [`Observe::logging`].
pub struct LoggingBuilder {
    observe: Observe,
    format: Option<LogFormat>,
    filter: Option<String>,
    remap: Vec<Remap>,
    buffer_lines: usize,
    redactor: Redactor,
    writer: Option<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for LoggingBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoggingBuilder")
            .field("format", &self.format)
            .field("filter", &self.filter)
            .field("remap", &self.remap)
            .finish_non_exhaustive()
    }
}

impl Observe {
    /// Logging for this service: JSON lines on stdout, `RUST_LOG` filtering
    /// (default `info`), `OBSERVE_LOG_REMAP` level remapping, redaction on.
    /// Finish with [`LoggingBuilder::init`].
    pub fn logging(&self) -> LoggingBuilder {
        LoggingBuilder {
            observe: self.clone(),
            format: None,
            filter: None,
            remap: Vec::new(),
            buffer_lines: DEFAULT_BUFFER_LINES,
            redactor: Redactor::default(),
            writer: None,
        }
    }
}

impl LoggingBuilder {
    /// The line format; by default `OBSERVE_LOG_FORMAT` (`json` or `text`),
    /// else JSON.
    pub fn format(mut self, format: LogFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// Filter directives in `RUST_LOG` syntax, used instead of `RUST_LOG`.
    pub fn filter(mut self, directives: impl Into<String>) -> Self {
        self.filter = Some(directives.into());
        self
    }

    /// Treats `target`'s events at `from` as `to` (after `OBSERVE_LOG_REMAP`'s
    /// rules, and winning over them for the same target).
    pub fn remap(mut self, target: impl Into<String>, from: Level, to: Level) -> Self {
        self.remap.push(Remap::new(target, from, to));
        self
    }

    /// Lines queued for the writer at most (default
    /// [`DEFAULT_BUFFER_LINES`]); past that, lines are dropped and counted.
    pub fn buffer_lines(mut self, lines: usize) -> Self {
        self.buffer_lines = lines.max(1);
        self
    }

    /// The redactor applied to every message and field.
    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// Writes somewhere else than stdout (a file, a pipe in a test).
    pub fn writer(mut self, writer: impl Write + Send + 'static) -> Self {
        self.writer = Some(Box::new(writer));
        self
    }

    /// Installs the process-wide `tracing` subscriber and `log` logger (once
    /// per process) and starts the writer thread. Errors name the bad
    /// setting and what is accepted.
    pub fn init(self) -> Result<LogGuard, LoggingError> {
        let sink = self.build_sink()?;
        let sender = sink.sender.clone();
        let otel = crate::trace::layer();
        let subscriber = tracing_subscriber::registry()
            .with(LogLayer {
                sink: Arc::clone(&sink),
                spans: otel.is_some(),
            })
            .with(otel);
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|e| LoggingError::AlreadySet(e.to_string()))?;
        tracing_log::LogTracer::init().map_err(|e| LoggingError::AlreadySet(e.to_string()))?;
        // `log` filters before tracing-log sees a record: let everything
        // through and decide in the layer, where remapping applies.
        log::set_max_level(log::LevelFilter::Trace);
        let _ = SINK.set(sink);
        Ok(LogGuard { sender })
    }

    fn build_sink(self) -> Result<Arc<LogSink>, LoggingError> {
        let format = match self.format {
            Some(format) => format,
            None => match std::env::var("OBSERVE_LOG_FORMAT").ok().as_deref() {
                None | Some("json") => LogFormat::Json,
                Some("text") => LogFormat::Text,
                Some(other) => return Err(LoggingError::Format(other.to_string())),
            },
        };
        let (source_name, value) = match self.filter {
            Some(filter) => ("builder".to_string(), filter),
            None => (
                "RUST_LOG".to_string(),
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string()),
            ),
        };
        let value = if value.trim().is_empty() {
            "info".to_string()
        } else {
            value
        };
        let targets = Targets::from_str(&value).map_err(|e| LoggingError::Filter {
            source_name,
            value: value.clone(),
            reason: e.to_string(),
        })?;
        let mut remap = match std::env::var("OBSERVE_LOG_REMAP") {
            Ok(spec) => RemapTable::parse(&spec, "OBSERVE_LOG_REMAP")?,
            Err(_) => RemapTable::default(),
        };
        for rule in self.remap {
            remap.push(rule);
        }
        let (sender, receiver) = sync_channel(self.buffer_lines);
        let writer = self.writer.unwrap_or_else(|| Box::new(std::io::stdout()));
        std::thread::Builder::new()
            .name("observe-log-writer".into())
            .spawn(move || write_lines(receiver, writer))
            .map_err(|e| {
                LoggingError::AlreadySet(format!("cannot start the writer thread: {e}"))
            })?;
        let sink = Arc::new(LogSink {
            targets,
            remap,
            format,
            redactor: self.redactor,
            service: self.observe.service_name().to_string(),
            sender,
            counters: Arc::clone(counters()),
        });
        Ok(sink)
    }
}

/// The writer thread: the only place that touches stdout, so a slow or
/// blocked stdout stalls nothing but this thread.
fn write_lines(receiver: Receiver<Message>, writer: Box<dyn Write + Send>) {
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
            Ok(Message::Line(line)) => {
                let _ = out.write_all(line.as_bytes());
                pause = BUSY;
            }
            Ok(Message::Flush(ack)) => {
                let _ = out.flush();
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

/// Logging is process-wide (one global subscriber, one stdout), so are its
/// sink and its counters: every `Observe` in the process writes its events
/// through the sink and renders the counters.
static SINK: OnceLock<Arc<LogSink>> = OnceLock::new();

/// The process's log sink, once logging is set up.
pub(crate) fn sink() -> Option<&'static Arc<LogSink>> {
    SINK.get()
}

/// The process's log line counters.
pub(crate) fn counters() -> &'static Arc<LogCounters> {
    static COUNTERS: OnceLock<Arc<LogCounters>> = OnceLock::new();
    COUNTERS.get_or_init(Arc::default)
}
