//! The opening every log line shares, whoever writes it (the log layer or
//! the request event): time, level, target, service and the request's ids.

use std::fmt::Write as _;
use std::time::SystemTime;

use tracing::Level;

use super::ids::TraceIds;
use super::json;
use super::service::Service;
use super::time::push_rfc3339;

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for an aggregator (the default).
    Json,
    /// `timestamp LEVEL target: message key=value`, for a terminal.
    Text,
}

/// The request a line is written in: its id and trace.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineRequest<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) trace: TraceIds,
}

/// Writes the opening of a line up to (not including) the message.
/// `original` is the level before remapping.
pub(crate) fn begin(
    out: &mut String,
    format: LogFormat,
    level: Level,
    original: Level,
    target: &str,
    service: &Service,
    request: Option<LineRequest<'_>>,
) {
    let now = SystemTime::now();
    match format {
        LogFormat::Json => {
            out.push('{');
            json::own_key!(out, "timestamp", first);
            out.push('"');
            push_rfc3339(out, now);
            out.push('"');
            json::own_key!(out, "level");
            json::plain_string(out, level.as_str());
            if original != level {
                json::own_key!(out, "original_level");
                json::plain_string(out, original.as_str());
            }
            json::own_key!(out, "target");
            json::string(out, target);
            json::own_key!(out, "service");
            // Escaped and quoted once, when the instance was built.
            out.push_str(service.json_name());
            if let Some(request) = request {
                json::own_key!(out, "request_id");
                // Sane or generated: `[A-Za-z0-9._:-]` only.
                json::plain_string(out, request.request_id);
                json::own_key!(out, "trace_id");
                request.trace.write_trace_id(out);
                json::own_key!(out, "span_id");
                request.trace.write_span_id(out);
            }
        }
        LogFormat::Text => {
            push_rfc3339(out, now);
            let _ = write!(out, " {:>5} {target}:", level.as_str());
            if let Some(request) = request {
                let _ = write!(
                    out,
                    " [{} trace={}]",
                    request.request_id,
                    request.trace.trace_id_hex()
                );
            }
        }
    }
}
