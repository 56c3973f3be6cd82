//! A panic as one JSON (or text) line (and OTLP record), written from observe's panic hook
//! instead of the standard hook's plain text, so a log pipeline reading
//! stdout and stderr as JSON gets one record per panic.

use std::panic::PanicHookInfo;

use tracing::Level;

use super::sink::LogSink;
use crate::base::json;
use crate::base::line::{LineRequest, LogFormat};
use crate::context::RequestContext;

/// The target of panic lines.
pub const PANIC_TARGET: &str = "observe::panic";

/// The panic's message, as `panic!` gave it.
fn message<'a>(info: &'a PanicHookInfo<'_>) -> &'a str {
    match info.payload().downcast_ref::<&str>() {
        Some(text) => text,
        None => info
            .payload()
            .downcast_ref::<String>()
            .map_or("Box<dyn Any>", String::as_str),
    }
}

/// Writes one ERROR line for the panic; `false` when the filter drops it
/// (then the standard hook still speaks).
pub(super) fn write(sink: &LogSink, info: &PanicHookInfo<'_>) -> bool {
    let Some(level) = sink.decide(PANIC_TARGET, Level::ERROR) else {
        return false;
    };
    let request = RequestContext::current();
    let service = request
        .as_deref()
        .map_or(sink.service(), RequestContext::service);
    let redactor = &service.redactor;
    let text = redactor.redact_value(message(info));
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
    let thread = std::thread::current();
    let thread = thread.name().unwrap_or("<unnamed>");
    let route = request.as_deref().map(RequestContext::route);
    // Only when RUST_BACKTRACE (or RUST_LIB_BACKTRACE) asks for one, as the
    // standard hook does; resolved here, on the panicking thread.
    let backtrace = std::backtrace::Backtrace::capture();
    let backtrace = (backtrace.status() == std::backtrace::BacktraceStatus::Captured)
        .then(|| backtrace.to_string());
    let ids = request.as_deref().map(|r| LineRequest {
        request_id: r.request_id(),
        trace: r.current_ids(),
    });
    let mut line = sink.begin(level, Level::ERROR, PANIC_TARGET, service, ids, 256);
    #[cfg(feature = "otlp")]
    if let Some(record) = &mut line.record {
        record.body(&text);
        let mut attributes = record.attributes();
        if let Some(location) = &location {
            attributes.string("panic.location", location);
        }
        attributes.string("thread.name", thread);
        if let Some(route) = &route {
            attributes.string("http.route", route);
        }
        if let Some(backtrace) = &backtrace {
            attributes.string("backtrace", backtrace);
        }
    }
    if let Some(line) = &mut line.text {
        match sink.format() {
            LogFormat::Json => {
                json::own_key!(line, "message");
                json::string(line, &text);
                json::own_key!(line, "fields");
                line.push('{');
                json::own_key!(line, "panic.location", first);
                match &location {
                    Some(location) => json::string(line, location),
                    None => line.push_str("null"),
                }
                json::own_key!(line, "thread.name");
                json::string(line, thread);
                if let Some(route) = &route {
                    json::own_key!(line, "http.route");
                    json::string(line, route);
                }
                if let Some(backtrace) = &backtrace {
                    json::own_key!(line, "backtrace");
                    json::string(line, backtrace);
                }
                line.push_str("}}");
            }
            LogFormat::Text => {
                use std::fmt::Write as _;
                let _ = write!(
                    line,
                    " panicked: {text} panic.location={} thread.name={thread:?}",
                    location.as_deref().unwrap_or("?")
                );
                if let Some(route) = &route {
                    let _ = write!(line, " http.route={route:?}");
                }
                if let Some(backtrace) = &backtrace {
                    line.push('\n');
                    line.push_str(backtrace);
                }
            }
        }
        line.push('\n');
    }
    sink.send(level, line);
    true
}
