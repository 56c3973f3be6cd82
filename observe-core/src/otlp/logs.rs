//! Log lines and request events as OTLP `LogRecord`s
//! (`OTEL_LOGS_EXPORTER=otlp`, with the `logging` feature).
//!
//! Logging's writer thread hands each finished JSON line (already
//! redacted, exactly what stdout would get) to this exporter's bounded
//! queue; its own thread reads the lines back, batches them (up to
//! [`LOG_BATCH_RECORDS`] records or one second) and posts an
//! `ExportLogsServiceRequest`. A request thread does nothing more than for
//! a stdout line. Mapping of a line:
//! - `timestamp` → `time_unix_nano`; `level` → `severity_number` (TRACE 1,
//!   DEBUG 5, INFO 9, WARN 13, ERROR 17) and `severity_text`; `message` →
//!   the body; `trace_id`, `span_id` → the record's ids;
//! - the request event (`event`, target `observe::request`) →
//!   `event_name` `observe.request` and attributes under the semantic
//!   conventions' names where one exists (`http.request.method`,
//!   `http.route`, `http.response.status_code`, `error.type`,
//!   `http.request.body.size`, `http.response.body.size`), the rest under
//!   their event names (`duration_ms`, `dependencies`, `cache`, ...;
//!   objects and arrays as OTLP maps and arrays);
//! - `fields` → attributes by their names; `target`, `request_id` and any
//!   other key → attributes;
//! - `service` → the resource's `service.name` (lines are grouped by it).

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::proto::{resource, scope};
use super::{Destination, Signal, Transport};
use crate::base::service::Service;
use crate::encoding::protobuf::wire::Writer;
use crate::metrics::signals::counters;

/// Records per export request at most (the specification's default).
pub const LOG_BATCH_RECORDS: usize = 512;
/// Lines waiting for the exporter at most; more are dropped and counted.
pub const LOG_QUEUE_LINES: usize = 8192;
/// How long a record waits for its batch to fill at most.
const SCHEDULE_DELAY: Duration = Duration::from_secs(1);

/// The request event's fields that have a semantic-convention name.
const EVENT_NAMES: [(&str, &str); 6] = [
    ("method", "http.request.method"),
    ("route", "http.route"),
    ("status", "http.response.status_code"),
    ("error_type", "error.type"),
    ("request_body_bytes", "http.request.body.size"),
    ("response_body_bytes", "http.response.body.size"),
];

enum Message {
    Line(String),
    Flush(SyncSender<()>),
}

/// The exporter's end of the queue, held by logging's writer thread.
#[derive(Debug)]
pub(crate) struct LineExporter {
    sender: SyncSender<Message>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

impl LineExporter {
    /// Starts the exporter thread for `service` (the installing instance,
    /// whose resource attributes its lines get).
    pub(crate) fn start(destination: Destination, service: Service) -> Result<Self, String> {
        let transport = Transport::new(Signal::Logs, destination)?;
        let (sender, receiver) = sync_channel(LOG_QUEUE_LINES);
        std::thread::Builder::new()
            .name("observe-otlp-logs".into())
            .spawn(move || export(&receiver, &transport, &service))
            .map_err(|e| e.to_string())?;
        Ok(Self { sender })
    }

    /// Queues a line; never blocks. A full queue drops it and counts it.
    pub(crate) fn push(&self, line: String) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.sender.try_send(Message::Line(line))
        {
            counters().otlp.dropped(Signal::Logs.index(), true, 1);
        }
    }

    /// Exports what is queued and waits for it, until `deadline`.
    pub(crate) fn flush(&self, deadline: Instant) -> bool {
        let (ack, acked) = sync_channel(1);
        let queued = loop {
            match self.sender.try_send(Message::Flush(ack.clone())) {
                Ok(()) => break true,
                Err(TrySendError::Full(_)) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => break false,
            }
        };
        queued
            && acked
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .is_ok()
    }
}

/// The exporter thread.
fn export(receiver: &Receiver<Message>, transport: &Transport, service: &Service) {
    let mut batch: Vec<String> = Vec::with_capacity(LOG_BATCH_RECORDS);
    let mut oldest: Option<Instant> = None;
    let send = |batch: &mut Vec<String>| {
        if batch.is_empty() {
            return;
        }
        let body = encode(batch, service, now_nanos());
        if !transport.send(body) {
            counters()
                .otlp
                .dropped(Signal::Logs.index(), false, batch.len() as u64);
        }
        batch.clear();
    };
    loop {
        let wait = oldest.map_or(SCHEDULE_DELAY, |t| {
            SCHEDULE_DELAY.saturating_sub(t.elapsed())
        });
        match receiver.recv_timeout(wait) {
            Ok(Message::Line(line)) => {
                batch.push(line);
                oldest.get_or_insert_with(Instant::now);
                if batch.len() >= LOG_BATCH_RECORDS {
                    send(&mut batch);
                    oldest = None;
                }
            }
            Ok(Message::Flush(ack)) => {
                send(&mut batch);
                oldest = None;
                let _ = ack.send(());
            }
            Err(RecvTimeoutError::Timeout) => {
                send(&mut batch);
                oldest = None;
            }
            Err(RecvTimeoutError::Disconnected) => {
                send(&mut batch);
                return;
            }
        }
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

// Field numbers of opentelemetry/proto/logs/v1/logs.proto.
mod field {
    pub(super) const RESOURCE_LOGS: u32 = 1;
    pub(super) const SCOPE_LOGS: u32 = 2;
    pub(super) const LOG_RECORDS: u32 = 2;
    pub(super) const TIME: u32 = 1;
    pub(super) const SEVERITY_NUMBER: u32 = 2;
    pub(super) const SEVERITY_TEXT: u32 = 3;
    pub(super) const BODY: u32 = 5;
    pub(super) const ATTRIBUTES: u32 = 6;
    pub(super) const FLAGS: u32 = 8;
    pub(super) const TRACE_ID: u32 = 9;
    pub(super) const SPAN_ID: u32 = 10;
    pub(super) const OBSERVED_TIME: u32 = 11;
    pub(super) const EVENT_NAME: u32 = 12;
}

/// The request for `lines` (JSON lines; one that is not is sent as its
/// text, at INFO).
pub(crate) fn encode(lines: &[String], installing: &Service, now: u64) -> Vec<u8> {
    let parsed: Vec<Map<String, Value>> = lines
        .iter()
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => map,
            _ => {
                let mut map = Map::new();
                map.insert("message".into(), Value::from(line.trim_end()));
                map
            }
        })
        .collect();
    // Lines by the service they speak for, in first-seen order.
    let mut services: Vec<&str> = Vec::new();
    for line in &parsed {
        let name = line
            .get("service")
            .and_then(Value::as_str)
            .unwrap_or(installing.name.as_str());
        if !services.contains(&name) {
            services.push(name);
        }
    }
    let mut w = Writer::with_capacity(lines.iter().map(String::len).sum::<usize>());
    for name in services {
        w.message(field::RESOURCE_LOGS, |rl| {
            if name == installing.name {
                resource(rl, installing);
            } else {
                rl.message(1, |r| {
                    super::proto::string_attribute(r, 1, "service.name", name)
                });
            }
            rl.message(field::SCOPE_LOGS, |sl| {
                scope(sl);
                for line in &parsed {
                    let speaker = line
                        .get("service")
                        .and_then(Value::as_str)
                        .unwrap_or(installing.name.as_str());
                    if speaker == name {
                        sl.message(field::LOG_RECORDS, |r| record(r, line, now));
                    }
                }
            });
        });
    }
    w.into_bytes()
}

fn severity(level: &str) -> i64 {
    match level {
        "TRACE" => 1,
        "DEBUG" => 5,
        "INFO" => 9,
        "WARN" => 13,
        "ERROR" => 17,
        _ => 0,
    }
}

fn record(r: &mut Writer, line: &Map<String, Value>, now: u64) {
    let time = line
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(crate::base::time::parse_rfc3339)
        .map_or(now, |seconds| (seconds * 1e9) as u64);
    r.fixed64(field::TIME, time);
    r.fixed64(field::OBSERVED_TIME, now);
    let level = line.get("level").and_then(Value::as_str).unwrap_or("INFO");
    r.int64(field::SEVERITY_NUMBER, severity(level));
    r.string(field::SEVERITY_TEXT, level);
    if let Some(message) = line.get("message") {
        r.message(field::BODY, |any| any_value(any, message));
    }
    for (key, value) in line {
        match key.as_str() {
            "timestamp" | "level" | "message" | "service" | "trace_id" | "span_id" => {}
            "fields" => {
                if let Value::Object(fields) = value {
                    for (name, value) in fields {
                        attribute(r, name, value);
                    }
                }
            }
            "event" => {
                if let Value::Object(event) = value {
                    for (name, value) in event {
                        let key = EVENT_NAMES
                            .iter()
                            .find(|(n, _)| n == name)
                            .map_or(name.as_str(), |(_, semconv)| semconv);
                        if !value.is_null() {
                            attribute(r, key, value);
                        }
                    }
                }
            }
            _ => attribute(r, key, value),
        }
    }
    let trace = line.get("trace_id").and_then(Value::as_str).and_then(hex16);
    if let Some(trace) = trace {
        r.bytes(field::TRACE_ID, &trace);
        // Bit 0-7: the trace flags; the line carries no sampled flag.
        r.fixed32(field::FLAGS, 0);
    }
    if let Some(span) = line.get("span_id").and_then(Value::as_str).and_then(hex8) {
        r.bytes(field::SPAN_ID, &span);
    }
    if line.contains_key("event") {
        r.string(field::EVENT_NAME, "observe.request");
    }
}

fn attribute(w: &mut Writer, key: &str, value: &Value) {
    w.message(field::ATTRIBUTES, |kv| {
        kv.string(1, key);
        kv.message(2, |any| any_value(any, value));
    });
}

/// A JSON value as an OTLP `AnyValue`.
fn any_value(any: &mut Writer, value: &Value) {
    match value {
        Value::String(text) => any.string(1, text),
        Value::Bool(flag) => any.uint64(2, u64::from(*flag)),
        Value::Number(number) => match number.as_i64() {
            Some(int) => any.int64(3, int),
            None => any.double(4, number.as_f64().unwrap_or(f64::NAN)),
        },
        Value::Array(items) => any.message(5, |array| {
            for item in items {
                array.message(1, |element| any_value(element, item));
            }
        }),
        Value::Object(map) => any.message(6, |list| {
            for (key, item) in map {
                list.message(1, |kv| {
                    kv.string(1, key);
                    kv.message(2, |element| any_value(element, item));
                });
            }
        }),
        // An empty AnyValue stands for null.
        Value::Null => {}
    }
}

fn hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn hex16(text: &str) -> Option<[u8; 16]> {
    hex::<16>(text)
}

fn hex8(text: &str) -> Option<[u8; 8]> {
    hex::<8>(text)
}
