//! `observe.logging()`: settings, validation, and the one installation of
//! the process-wide subscriber.

use std::io::Write;
use std::sync::Arc;
use std::sync::mpsc::sync_channel;

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

use super::layer::{ErrorLineHook, LogLayer, SpansLayer};
use super::remap::{Remap, RemapError, RemapTable};
use super::sink::{LogSink, LoggingGuard, write_lines};
use observe_redact::Redactor;

use super::{LogFormat, SINK};
use crate::base::process_wide::{self, AlreadyInstalled, Installation};
use crate::base::service::Service;

/// Default for [`LoggingBuilder::buffer_lines`].
pub const DEFAULT_BUFFER_LINES: usize = 8192;

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
    /// A subscriber is already installed: by observe (which instance is
    /// named), or by someone else.
    #[error("logging is already set up in this process: {0}")]
    AlreadySet(String),
    /// The writer thread could not be started.
    #[error("cannot start the log writer thread: {0}")]
    Thread(String),
    /// An OTLP setting (`OTEL_LOGS_EXPORTER`, `OTEL_EXPORTER_OTLP_*`) is
    /// wrong.
    #[cfg(feature = "otlp")]
    #[error(transparent)]
    Otlp(#[from] crate::otlp::OtlpError),
}

impl From<AlreadyInstalled> for LoggingError {
    fn from(e: AlreadyInstalled) -> Self {
        LoggingError::AlreadySet(e.to_string())
    }
}

/// Configures logging; from [`Observe::logging`](crate::Observe::logging).
pub struct LoggingBuilder {
    service: Service,
    format: Option<LogFormat>,
    filter: Option<String>,
    remap: Vec<Remap>,
    buffer_lines: usize,
    writer: Option<Box<dyn Write + Send>>,
    spans: Option<SpansLayer>,
    errors: Option<ErrorLineHook>,
    std_panic_output: bool,
}

impl std::fmt::Debug for LoggingBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoggingBuilder")
            .field("service", &self.service.name)
            .field("format", &self.format)
            .field("filter", &self.filter)
            .field("remap", &self.remap)
            .finish_non_exhaustive()
    }
}

impl LoggingBuilder {
    /// Logging for `service`; the facade passes the span layer and the
    /// ERROR-line hook of the other signals, if they are there.
    pub(crate) fn new(
        service: Service,
        spans: Option<SpansLayer>,
        errors: Option<ErrorLineHook>,
    ) -> Self {
        Self {
            service,
            format: None,
            filter: None,
            remap: Vec::new(),
            buffer_lines: DEFAULT_BUFFER_LINES,
            writer: None,
            spans,
            errors,
            std_panic_output: false,
        }
    }

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

    /// The redactor for lines written outside any request, instead of the
    /// `Observe`'s own ([`ObserveBuilder::redactor`](crate::ObserveBuilder::redactor)).
    /// Lines inside a request use the request's instance's redactor.
    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.service.redactor = redactor;
        self
    }

    /// Keeps the standard panic hook's plain-text message on stderr beside
    /// observe's panic line (default off: every panic is one line, for a
    /// pipeline that parses stdout and stderr as JSON). For local runs in
    /// the text format.
    pub fn std_panic_output(mut self, on: bool) -> Self {
        self.std_panic_output = on;
        self
    }

    /// Writes somewhere else than stdout (a file, a pipe in a test).
    pub fn writer(mut self, writer: impl Write + Send + 'static) -> Self {
        self.writer = Some(Box::new(writer));
        self
    }

    /// [`try_init`](Self::try_init), panicking with its error: for `main`,
    /// where a bad setting should stop the process with a message that
    /// names it (as `tracing_subscriber`'s `init` does).
    ///
    /// # Panics
    /// When logging cannot start; the message is the error's.
    #[track_caller]
    pub fn init(self) -> LoggingGuard {
        match self.try_init() {
            Ok(guard) => guard,
            Err(error) => panic!("{error}"),
        }
    }

    /// Installs the process-wide `tracing` subscriber and `log` logger (once
    /// per process), observe's panic hook (a panic becomes one ERROR line
    /// under `observe::panic` with its message, `panic.location`,
    /// `thread.name`, the request's ids and route, and a `backtrace` when
    /// `RUST_BACKTRACE` asks for one) and starts the writer thread. Errors name the bad
    /// setting and what is accepted; a second call names the instance that
    /// installed logging first.
    pub fn try_init(self) -> Result<LoggingGuard, LoggingError> {
        let (targets, remap, format) = self.settings()?;
        process_wide::claim(Installation::Subscriber, &self.service.name)?;
        let installed = self.install(targets, remap, format);
        if installed.is_err() {
            process_wide::release(Installation::Subscriber);
        }
        installed
    }

    fn settings(&self) -> Result<((Targets, String), RemapTable, LogFormat), LoggingError> {
        let format = match self.format {
            Some(format) => format,
            None => match std::env::var("OBSERVE_LOG_FORMAT").ok().as_deref() {
                None | Some("json") => LogFormat::Json,
                Some("text") => LogFormat::Text,
                Some(other) => return Err(LoggingError::Format(other.to_string())),
            },
        };
        let (source_name, value) = match &self.filter {
            Some(filter) => ("builder".to_string(), filter.clone()),
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
        let targets = super::level::parse(&value).map_err(|reason| LoggingError::Filter {
            source_name,
            value: value.clone(),
            reason,
        })?;
        let mut remap = match std::env::var("OBSERVE_LOG_REMAP") {
            Ok(spec) => RemapTable::parse(&spec, "OBSERVE_LOG_REMAP")?,
            Err(_) => RemapTable::default(),
        };
        for rule in &self.remap {
            remap.push(rule.clone());
        }
        Ok(((targets, value), remap, format))
    }

    fn install(
        self,
        (targets, directives): (Targets, String),
        remap: RemapTable,
        format: LogFormat,
    ) -> Result<LoggingGuard, LoggingError> {
        let (sender, receiver) = sync_channel(self.buffer_lines);
        let (console, otlp) = otlp_lines(&self.service)?;
        let text = self.writer.is_some() || console;
        let exporter = otlp.clone();
        let writer = match (self.writer, console) {
            (Some(writer), _) => writer,
            (None, true) => Box::new(std::io::stdout()),
            (None, false) => Box::new(std::io::sink()),
        };
        std::thread::Builder::new()
            .name("observe-log-writer".into())
            .spawn(move || write_lines(receiver, writer, otlp))
            .map_err(|e| LoggingError::Thread(e.to_string()))?;
        let sink = Arc::new(LogSink {
            level: super::level::LevelFilter::new(targets, directives.trim().to_string()),
            remap,
            format,
            text,
            exporter,
            service: self.service,
            sender: sender.clone(),
        });
        let spans = self.spans.is_some();
        let subscriber = tracing_subscriber::registry()
            .with(self.spans)
            .with(LogLayer {
                sink: Arc::clone(&sink),
                spans,
                errors: self.errors,
            });
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|e| LoggingError::AlreadySet(e.to_string()))?;
        tracing_log::LogTracer::init().map_err(|e| LoggingError::AlreadySet(e.to_string()))?;
        // `log` filters before tracing-log sees a record: let everything
        // through and decide in the layer, where remapping applies.
        log::set_max_level(log::LevelFilter::Trace);
        // Every panic becomes one line, whoever's thread it is on.
        let line_sink = Arc::clone(&sink);
        crate::base::panic_hook::set_line(
            Box::new(move |info| super::panic::write(&line_sink, info)),
            self.std_panic_output,
        );
        let _ = SINK.set(sink);
        Ok(LoggingGuard { sender })
    }
}

/// Where lines go besides the writer: `OTEL_LOGS_EXPORTER` says whether
/// stdout gets them (`console`, the default) and whether they are exported
/// over OTLP (`otlp`, which needs an endpoint). Records are written as
/// lines are, so either line format can go with them.
#[cfg(feature = "otlp")]
fn otlp_lines(
    service: &Service,
) -> Result<(bool, Option<crate::otlp::logs::LineExporter>), LoggingError> {
    use crate::otlp::{OtlpError, Signal, destination, exporter_wanted};
    let choice = exporter_wanted(Signal::Logs)?;
    if !choice.otlp {
        return Ok((choice.console, None));
    }
    let destination = destination(Signal::Logs)?.ok_or_else(|| {
        OtlpError::new(
            "OTEL_LOGS_EXPORTER",
            "otlp",
            "an endpoint too: set OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        )
    })?;
    let exporter = crate::otlp::logs::LineExporter::start(destination, service.clone())
        .map_err(LoggingError::Thread)?;
    Ok((choice.console, Some(exporter)))
}

/// Without the `otlp` feature, lines go to the writer only.
#[cfg(not(feature = "otlp"))]
fn otlp_lines(_service: &Service) -> Result<(bool, Option<super::sink::NoExporter>), LoggingError> {
    Ok((true, None))
}
