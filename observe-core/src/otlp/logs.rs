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

use std::borrow::Cow;

use super::proto::{resource, scope};
use super::{Destination, Signal, Transport};
use crate::base::queue::{Flushed, flush_through};
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
        flush_through(&self.sender, Message::Flush, deadline) == Flushed::Done
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
/// text, at INFO). Each line is read once, straight into its record's
/// protobuf: no JSON tree is built.
pub(crate) fn encode(lines: &[String], installing: &Service, now: u64) -> Vec<u8> {
    // Each record on its own, with the service it speaks for.
    let mut records: Vec<(Option<String>, Vec<u8>)> = Vec::with_capacity(lines.len());
    for line in lines {
        let mut w = Writer::with_capacity(line.len());
        let service = match record(&mut w, line, now) {
            Ok(service) => service,
            Err(_) => {
                w = Writer::with_capacity(line.len());
                w.fixed64(field::TIME, now);
                w.fixed64(field::OBSERVED_TIME, now);
                w.int64(field::SEVERITY_NUMBER, severity("INFO"));
                w.message(field::BODY, |any| any.string(1, line.trim_end()));
                None
            }
        };
        records.push((service, w.into_bytes()));
    }
    // Grouped by service, in first-seen order.
    let mut services: Vec<&str> = Vec::new();
    for (service, _) in &records {
        let name = service.as_deref().unwrap_or(installing.name.as_str());
        if !services.contains(&name) {
            services.push(name);
        }
    }
    let size = records.iter().map(|(_, r)| r.len() + 4).sum::<usize>();
    let mut w = Writer::with_capacity(size + 256);
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
                for (service, bytes) in &records {
                    if service.as_deref().unwrap_or(installing.name.as_str()) == name {
                        sl.raw_message(field::LOG_RECORDS, bytes);
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

/// Writes the `LogRecord` of one JSON line into `w`; the service it
/// speaks for, if it names one.
fn record(w: &mut Writer, line: &str, now: u64) -> Result<Option<String>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(line);
    let seen = serde::de::DeserializeSeed::deserialize(Line { w, now }, &mut deserializer)?;
    deserializer.end()?;
    Ok(seen)
}

/// A key, borrowed from the line when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Visit)
    }
}

/// The top-level object of a line, written as a `LogRecord`.
struct Line<'w> {
    w: &'w mut Writer,
    now: u64,
}

impl<'de> serde::de::DeserializeSeed<'de> for Line<'_> {
    type Value = Option<String>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Line<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON log line")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<Option<String>, A::Error> {
        let w = self.w;
        let mut time = None;
        let mut level: Option<Key<'de>> = None;
        let mut service = None;
        let mut trace = None;
        let mut span = None;
        let mut event = false;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match key.as_ref() {
                "timestamp" => {
                    let Key(text) = map.next_value::<Key<'de>>()?;
                    time = crate::base::time::rfc3339_unix_nanos(&text);
                }
                "level" => level = Some(map.next_value::<Key<'de>>()?),
                "service" => service = Some(map.next_value::<Key<'de>>()?.0.into_owned()),
                "trace_id" => trace = hex16(&map.next_value::<Key<'de>>()?.0),
                "span_id" => span = hex8(&map.next_value::<Key<'de>>()?.0),
                "message" => {
                    w.message(field::BODY, |any| map.next_value_seed(AnyValue(any)))?;
                }
                "fields" => map.next_value_seed(Attributes { w, event: false })?,
                "event" => {
                    event = true;
                    map.next_value_seed(Attributes { w, event: true })?;
                }
                other => {
                    w.message(field::ATTRIBUTES, |kv| {
                        kv.string(1, other);
                        kv.message(2, |any| map.next_value_seed(AnyValue(any)))
                    })?;
                }
            }
        }
        w.fixed64(field::TIME, time.unwrap_or(self.now));
        w.fixed64(field::OBSERVED_TIME, self.now);
        let level = level.map_or(Cow::Borrowed("INFO"), |Key(level)| level);
        w.int64(field::SEVERITY_NUMBER, severity(&level));
        w.string(field::SEVERITY_TEXT, &level);
        if let Some(trace) = trace {
            w.bytes(field::TRACE_ID, &trace);
            // The line carries no sampled flag.
            w.fixed32(field::FLAGS, 0);
        }
        if let Some(span) = span {
            w.bytes(field::SPAN_ID, &span);
        }
        if event {
            w.string(field::EVENT_NAME, "observe.request");
        }
        Ok(service)
    }
}

/// An object whose entries become attributes: the handler's `fields`, or
/// the request `event` (renamed where a semantic convention has a name;
/// nulls left out).
struct Attributes<'w> {
    w: &'w mut Writer,
    event: bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for Attributes<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Attributes<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
            let key = if self.event {
                EVENT_NAMES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or(name.as_ref(), |(_, semconv)| semconv)
            } else {
                name.as_ref()
            };
            let start = self.w.len();
            let written = self.w.message(field::ATTRIBUTES, |kv| {
                kv.string(1, key);
                kv.message(2, |any| map.next_value_seed(AnyValue(any)))
            })?;
            // A null is no attribute.
            if !written {
                self.w.truncate(start);
            }
        }
        Ok(())
    }
}

/// A JSON value written as an OTLP `AnyValue` (objects as maps, arrays
/// as arrays); `false` for a null (an empty `AnyValue`).
struct AnyValue<'w>(&'w mut Writer);

impl<'de> serde::de::DeserializeSeed<'de> for AnyValue<'_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for AnyValue<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E>(self, v: &str) -> Result<bool, E> {
        self.0.string(1, v);
        Ok(true)
    }

    fn visit_bool<E>(self, v: bool) -> Result<bool, E> {
        self.0.uint64(2, u64::from(v));
        Ok(true)
    }

    fn visit_i64<E>(self, v: i64) -> Result<bool, E> {
        self.0.int64(3, v);
        Ok(true)
    }

    fn visit_u64<E>(self, v: u64) -> Result<bool, E> {
        match i64::try_from(v) {
            Ok(v) => self.0.int64(3, v),
            Err(_) => self.0.double(4, v as f64),
        }
        Ok(true)
    }

    fn visit_f64<E>(self, v: f64) -> Result<bool, E> {
        self.0.double(4, v);
        Ok(true)
    }

    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        self.0.message(5, |array| {
            loop {
                let start = array.len();
                let more = array.message(1, |element| seq.next_element_seed(AnyValue(element)))?;
                if more.is_none() {
                    // The element written for the end of the sequence.
                    array.truncate(start);
                    return Ok(());
                }
            }
        })?;
        Ok(true)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        self.0.message(6, |list| {
            while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                list.message(1, |kv| {
                    kv.string(1, &key);
                    kv.message(2, |any| map.next_value_seed(AnyValue(any)))
                })?;
            }
            Ok(())
        })?;
        Ok(true)
    }
}

/// An id of the line: lines carry lowercase hex, uppercase is read too.
fn hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut digits = [0u8; 32];
    let digits = digits.get_mut(..text.len())?;
    digits.copy_from_slice(text.as_bytes());
    digits.make_ascii_lowercase();
    crate::base::trace_context::decode::<N>(digits)
}

fn hex16(text: &str) -> Option<[u8; 16]> {
    hex::<16>(text)
}

fn hex8(text: &str) -> Option<[u8; 8]> {
    hex::<8>(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ids_are_read_in_either_case_and_only_whole() {
        let lower = hex8("00f067aa0ba902b7");
        assert_eq!(
            lower,
            Some([0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7])
        );
        assert_eq!(hex8("00F067AA0BA902B7"), lower);
        assert_eq!(hex8("00f067aa0ba902b"), None);
        assert_eq!(hex8("00f067aa0ba902bz"), None);
        assert_eq!(hex16(&"a".repeat(40)), None);
        assert_eq!(hex16(&"0a".repeat(16)), Some([0x0a; 16]));
    }
}
