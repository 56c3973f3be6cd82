//! The `tracing` layer: remaps levels, filters, redacts and formats each
//! event into one line for the sink.

use std::fmt::Write as _;
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::layer::{Context, Layer};

use super::sink::{LogSink, Record};
use crate::base::json;
use crate::base::line::{LineRequest, LogFormat};
use crate::context::RequestContext;
use observe_redact::{REDACTED, Redactor};

/// An ERROR line (after remapping), handed to whoever reports errors.
#[derive(Debug)]
pub(crate) struct ErrorLine<'a> {
    /// The event's target (the `log` record's for `log` events).
    pub(crate) target: &'a str,
    /// `file:line` of the callsite.
    pub(crate) callsite: &'a str,
    /// The message, redacted.
    pub(crate) message: &'a str,
    /// The fields as written, redacted.
    pub(crate) fields: &'a str,
}

/// What the facade gives logging to forward ERROR lines with: logging
/// itself knows nothing of error tracking.
pub(crate) type ErrorLineHook = fn(&ErrorLine<'_>);

/// A layer carrying spans elsewhere (OpenTelemetry), added beside ours.
pub(crate) type SpansLayer = Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync + 'static>;

/// Collects an event's message and fields, redacted: the fields as text
/// when the line (or the error forward) wants them, and as attributes of
/// the record when there is one.
struct Fields<'a> {
    redactor: &'a Redactor,
    format: LogFormat,
    message: String,
    /// Whether `fields` is written.
    text: bool,
    fields: String,
    first: bool,
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    record: Option<&'a mut Record>,
}

impl Fields<'_> {
    /// Writes the message with `write`, then redacts it (in place unless
    /// redaction rewrote it).
    fn set_message(&mut self, write: impl FnOnce(&mut String)) {
        self.message.clear();
        write(&mut self.message);
        let redacted = match self.redactor.redact_value(&self.message) {
            std::borrow::Cow::Owned(redacted) => Some(redacted),
            std::borrow::Cow::Borrowed(_) => None,
        };
        if let Some(redacted) = redacted {
            self.message = redacted;
        }
    }

    fn push(&mut self, field: &Field, value: FieldValue<'_>) {
        let name = field.name();
        if name == "message" {
            if let FieldValue::Text(text) = value {
                self.set_message(|message| message.push_str(&text));
            }
            return;
        }
        if name.starts_with("log.") {
            // tracing-log's bookkeeping fields (module path, file, line).
            return;
        }
        let sensitive = self.redactor.is_sensitive_key(name);
        let value = match value {
            _ if sensitive => FieldValue::Text(REDACTED.into()),
            FieldValue::Text(text) => {
                let redacted = match self.redactor.redact_value(&text) {
                    std::borrow::Cow::Owned(redacted) => Some(redacted),
                    std::borrow::Cow::Borrowed(_) => None,
                };
                FieldValue::Text(redacted.map_or(text, std::borrow::Cow::Owned))
            }
            other => other,
        };
        #[cfg(feature = "otlp")]
        if let Some(record) = self.record.as_deref_mut() {
            let mut attributes = record.attributes();
            match &value {
                FieldValue::Text(text) => attributes.string(name, text),
                FieldValue::Integer(n) => attributes.int(name, *n),
                FieldValue::Number(n) => attributes.double(name, *n),
                FieldValue::Bool(b) => attributes.bool(name, *b),
            }
        }
        if !self.text {
            return;
        }
        if self.first {
            // Room for a few fields at once (a reused buffer has it).
            self.fields.reserve(128);
        }
        match self.format {
            LogFormat::Json => {
                json::key(&mut self.fields, name, self.first);
                match value {
                    FieldValue::Text(text) => json::string(&mut self.fields, &text),
                    FieldValue::Integer(n) => json::integer(&mut self.fields, n),
                    FieldValue::Number(n) => json::number(&mut self.fields, n),
                    FieldValue::Bool(b) => self.fields.push_str(if b { "true" } else { "false" }),
                }
            }
            LogFormat::Text => {
                let _ = write!(self.fields, " {name}=");
                match value {
                    // Redacted values print bare, as they always have.
                    FieldValue::Text(text) if sensitive => self.fields.push_str(&text),
                    FieldValue::Text(text) => {
                        let _ = write!(self.fields, "{text:?}");
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
        if field.name() == "message" {
            // Formatted straight into the message's (reused) buffer.
            self.set_message(|message| {
                let _ = write!(message, "{value:?}");
            });
            return;
        }
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

thread_local! {
    /// A thread's message and fields buffers, reused line after line (a
    /// line being written takes them; a nested one makes its own).
    static SCRATCH: std::cell::Cell<(String, String)> = const {
        std::cell::Cell::new((String::new(), String::new()))
    };
}

/// Past this capacity a buffer is not kept for the next line.
const SCRATCH_KEPT: usize = 4096;

/// The `tracing` layer of [`LoggingBuilder::init`](super::LoggingBuilder::init).
pub(super) struct LogLayer {
    pub(super) sink: Arc<LogSink>,
    /// Spans are exported: let them through (filtered like events), for
    /// the span layer beside this one.
    pub(super) spans: bool,
    /// Where ERROR lines are forwarded, if anywhere.
    pub(super) errors: Option<ErrorLineHook>,
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
        // tracing-log events carry the `log` record's target (borrowed, as
        // the callsite's is).
        let normalized = event.normalized_metadata();
        let target = normalized
            .as_ref()
            .map_or(metadata.target(), |m| m.target());
        let Some(level) = self.sink.decide(target, *metadata.level()) else {
            return;
        };
        // Inside a request, the line speaks for the request's instance.
        let request = RequestContext::current();
        let service = request
            .as_deref()
            .map_or(self.sink.service(), RequestContext::service);
        let format = self.sink.format();
        let ids = request.as_deref().map(|r| LineRequest {
            request_id: r.request_id(),
            // Inside a dependency call, the call's span.
            trace: r.current_ids(),
        });
        let mut line = self
            .sink
            // The opening inside a request is ~200 bytes: room for the
            // message and a few fields without growing.
            .begin(level, *metadata.level(), target, service, ids, 512);
        let forward = level == Level::ERROR && self.errors.is_some();
        // The message and fields are written into this thread's buffers,
        // kept from line to line: no allocation per line for either.
        let (mut message, mut fields) = SCRATCH.take();
        message.clear();
        fields.clear();
        let mut visitor = Fields {
            redactor: &service.redactor,
            format,
            message,
            text: line.text.is_some() || forward,
            fields,
            first: true,
            record: line.record.as_mut(),
        };
        event.record(&mut visitor);
        let Fields {
            message, fields, ..
        } = visitor;
        #[cfg(feature = "otlp")]
        if let Some(record) = &mut line.record {
            record.body(&message);
        }
        if let Some(text) = &mut line.text {
            match format {
                LogFormat::Json => {
                    json::own_key!(text, "message");
                    json::string(text, &message);
                    if !fields.is_empty() {
                        json::own_key!(text, "fields");
                        text.push('{');
                        text.push_str(&fields);
                        text.push('}');
                    }
                    text.push('}');
                }
                LogFormat::Text => {
                    text.push(' ');
                    text.push_str(&message);
                    text.push_str(&fields);
                }
            }
            text.push('\n');
        }
        self.sink.send(level, line);
        if level == Level::ERROR
            && let Some(forward) = self.errors
        {
            let callsite = normalized.as_ref().unwrap_or(metadata);
            let callsite = format!(
                "{}:{}",
                callsite.file().unwrap_or("?"),
                callsite.line().unwrap_or(0)
            );
            forward(&ErrorLine {
                target,
                callsite: &callsite,
                message: &message,
                fields: &fields,
            });
        }
        // Kept for the next line unless one line made them large.
        if message.capacity() <= SCRATCH_KEPT && fields.capacity() <= SCRATCH_KEPT {
            SCRATCH.set((message, fields));
        }
    }
}

#[cfg(test)]
#[cfg(feature = "otlp")]
mod tests {
    // Test scaffolding: a failed unwrap is a failed test.
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::sync::mpsc::sync_channel;

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::otlp::logs::reference::assert_same;
    use crate::signals::logging::sink::Message;

    /// Our layer over a sink of every level for a service `shop`, lines
    /// in `format` (8 at most) to the receiver, records to `exporter`.
    fn layered(
        format: LogFormat,
        exporter: Option<super::super::sink::Exporter>,
    ) -> (
        impl tracing::Subscriber + Send + Sync,
        std::sync::mpsc::Receiver<Message>,
    ) {
        let observe = crate::Observe::builder()
            .service_name("shop")
            .build()
            .unwrap();
        let (sender, receiver) = sync_channel(8);
        let sink = Arc::new(LogSink {
            level: super::super::level::LevelFilter::new(
                tracing_subscriber::filter::Targets::new().with_default(Level::TRACE),
                String::new(),
            ),
            remap: Default::default(),
            format,
            text: true,
            exporter,
            service: observe.service().clone(),
            sender,
        });
        let subscriber = tracing_subscriber::registry().with(LogLayer {
            sink,
            spans: false,
            errors: None,
        });
        (subscriber, receiver)
    }

    /// The line and record of one event, with lines in `format`.
    fn emit(format: LogFormat) -> (String, crate::otlp::logs::Exported) {
        let (exporter, records) = crate::otlp::logs::TestQueue::exporter();
        let (subscriber, receiver) = layered(format, Some(exporter));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                target: "shop::db",
                password = "hunter2",
                rows = -3i64,
                big = u64::MAX,
                ratio = 0.25,
                cached = true,
                query = ?("select", 1),
                "slow \"query\" {}",
                7
            );
        });
        let (Ok(Message::Line(line)), Some(mut record)) = (receiver.try_recv(), records.next())
        else {
            panic!("one line with its record");
        };
        assert!(!line.contains("hunter2"), "{line}");
        record.set_service_for_test("shop");
        (line, record)
    }

    /// An event's record holds what its JSON line holds: the message, the
    /// fields of every kind (a sensitive one redacted), the level and
    /// target; with text lines on stdout, the record is the same.
    #[test]
    fn the_record_is_the_line() {
        let (line, record) = emit(LogFormat::Json);
        assert!(line.contains("\"password\":\"[REDACTED]\""), "{line}");
        assert_same(&line, record);
        let (text, record) = emit(LogFormat::Text);
        assert!(text.contains("password=[REDACTED]"), "{text}");
        assert_same(&line, record);
    }

    /// Lines written one after another on a thread (which reuses its
    /// message and fields buffers) each hold only their own.
    #[test]
    fn each_line_holds_only_its_own_message_and_fields() {
        let (subscriber, receiver) = layered(LogFormat::Json, None);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                user_id = 7,
                token = "abc",
                "a long first message {}",
                "x".repeat(200)
            );
            tracing::info!("second");
            tracing::info!(plan = "pro", "third");
        });
        let lines: Vec<serde_json::Value> = receiver
            .try_iter()
            .map(|m| match m {
                Message::Line(line) => serde_json::from_str(&line).unwrap(),
                _ => panic!("a line"),
            })
            .collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0]["message"]
                .as_str()
                .unwrap()
                .starts_with("a long first message x")
        );
        assert_eq!(lines[0]["fields"]["user_id"], 7);
        assert_eq!(lines[0]["fields"]["token"], "[REDACTED]");
        assert_eq!(lines[1]["message"], "second");
        assert!(lines[1].get("fields").is_none(), "{}", lines[1]);
        assert_eq!(lines[2]["message"], "third");
        assert_eq!(lines[2]["fields"], serde_json::json!({"plan": "pro"}));
    }
}
